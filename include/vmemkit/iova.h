/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IOVA windows: a window is [start, start + size) in a device's IO virtual
 * address space.  All range checks are written so that no intermediate sum
 * can wrap: a window may end exactly at 2^64 and a request may be anywhere.
 *
 * No locking: these are pure value helpers.
 */
#ifndef _VMEMKIT_IOVA_H
#define _VMEMKIT_IOVA_H

#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/types.h>

/**
 * struct vmk_iova_window - a window of IO virtual addresses
 * @start: first IOVA of the window
 * @size: length in bytes; zero means the window does not exist
 */
struct vmk_iova_window {
	u64 start;
	u64 size;
};

/**
 * vmk_iova_window_valid() - whether a window is non-empty and does not wrap
 * @w: the window
 *
 * A window ending exactly at 2^64 (start + size == 0 in u64) is valid.
 */
static inline bool vmk_iova_window_valid(const struct vmk_iova_window *w)
{
	return w->size && w->size - 1 <= U64_MAX - w->start;
}

/**
 * vmk_iova_window_last() - last IOVA of a valid window (inclusive)
 * @w: a valid window
 */
static inline u64 vmk_iova_window_last(const struct vmk_iova_window *w)
{
	return w->start + (w->size - 1);
}

/**
 * vmk_iova_window_contains() - whether [@iova, @iova + @size) lies in @w
 * @w: a valid window
 * @iova: first IOVA of the request
 * @size: length of the request in bytes
 *
 * A zero @size is never contained.  No sum is formed that can overflow.
 */
static inline bool vmk_iova_window_contains(const struct vmk_iova_window *w,
					    u64 iova, u64 size)
{
	if (!size || size > w->size || iova < w->start)
		return false;
	return iova - w->start <= w->size - size;
}

/**
 * vmk_iova_window_overlaps() - whether two valid windows share an IOVA
 * @a: a valid window
 * @b: a valid window
 */
static inline bool vmk_iova_window_overlaps(const struct vmk_iova_window *a,
					    const struct vmk_iova_window *b)
{
	return a->start <= vmk_iova_window_last(b) &&
	       b->start <= vmk_iova_window_last(a);
}

/**
 * vmk_iova_aligned() - whether @iova and @size are multiples of @pgsize
 * @iova: first IOVA
 * @size: length in bytes
 * @pgsize: the IOMMU page size; must be a power of two
 *
 * Return: true if both are aligned.  A zero @size counts as aligned; callers
 * reject it separately with vmk_iova_window_contains().
 */
static inline bool vmk_iova_aligned(u64 iova, u64 size, u64 pgsize)
{
	return !((iova | size) & (pgsize - 1));
}

/**
 * vmk_iova_check() - validate a request against a window and a page size
 * @w: a valid window
 * @iova: first IOVA of the request
 * @size: length in bytes
 * @pgsize: the IOMMU page size; must be a power of two
 *
 * The one check every MAP/UNMAP style request should make before it touches
 * any state.
 *
 * Return: 0 if the request is non-empty, aligned to @pgsize and inside @w;
 * -EINVAL if it is empty or unaligned; -ERANGE if it leaves the window.
 */
static inline int vmk_iova_check(const struct vmk_iova_window *w, u64 iova,
				 u64 size, u64 pgsize)
{
	if (!size || !is_power_of_2(pgsize) ||
	    !vmk_iova_aligned(iova, size, pgsize))
		return -EINVAL;
	if (!vmk_iova_window_contains(w, iova, size))
		return -ERANGE;
	return 0;
}

#endif /* _VMEMKIT_IOVA_H */
