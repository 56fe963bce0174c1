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
#include <linux/minmax.h>
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
 * struct vmk_iova_range - an inclusive range of IOVAs, [@start, @last]
 * @start: first IOVA
 * @last: last IOVA, at least @start
 *
 * What an IOMMU domain's geometry gives.  An aperture may cover all 2^64
 * IOVAs (AMD's v1 tables and virtio-iommu report [0, ~0]), whose size does
 * not fit in a u64: keep apertures as a range, never as a window.
 */
struct vmk_iova_range {
	u64 start;
	u64 last;
};

/**
 * vmk_iova_range_contains() - whether [@iova, @iova + @size) lies in @r
 * @r: a range
 * @iova: first IOVA of the request
 * @size: length of the request in bytes
 *
 * A zero @size is never contained.  No sum is formed that can overflow.
 */
static inline bool vmk_iova_range_contains(const struct vmk_iova_range *r,
					   u64 iova, u64 size)
{
	if (!size || iova < r->start || iova > r->last)
		return false;
	return size - 1 <= r->last - iova;
}

/**
 * vmk_iova_range_fits() - whether a window of @size bytes fits in @r at all
 * @r: a range
 * @size: length in bytes, non-zero
 */
static inline bool vmk_iova_range_fits(const struct vmk_iova_range *r,
				       u64 size)
{
	return size && size - 1 <= r->last - r->start;
}

/**
 * vmk_iova_range_and() - narrow @a to its intersection with @b
 * @a: a range, narrowed in place
 * @b: a range
 *
 * Return: false, with @a unchanged, if the two share no IOVA.
 */
static inline bool vmk_iova_range_and(struct vmk_iova_range *a,
				      const struct vmk_iova_range *b)
{
	u64 start = max(a->start, b->start);
	u64 last = min(a->last, b->last);

	if (start > last)
		return false;
	a->start = start;
	a->last = last;
	return true;
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
