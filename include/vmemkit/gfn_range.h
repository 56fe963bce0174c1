/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * GFN ranges: half-open [start, end) intervals of guest frame numbers.
 *
 * Every conversion from a user-supplied (address, size) pair to a GFN range
 * in vmemkit goes through vmk_gfn_range_from_bytes(), so the alignment,
 * zero-size and overflow rules are written exactly once.  A range is never
 * empty once built; helpers that may produce an empty result say so.
 *
 * No locking: these are pure value helpers.
 */
#ifndef _VMEMKIT_GFN_RANGE_H
#define _VMEMKIT_GFN_RANGE_H

#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/types.h>

/**
 * struct vmk_gfn_range - a half-open range of guest frame numbers
 * @start: first GFN in the range
 * @end: first GFN after the range; @end > @start for a valid range
 */
struct vmk_gfn_range {
	u64 start;
	u64 end;
};

/**
 * vmk_gfn_range_from_bytes() - build a GFN range from a byte address and size
 * @addr: byte address of the first page; must be PAGE_SIZE aligned
 * @size: length in bytes; must be non-zero and PAGE_SIZE aligned
 * @nr_gfns: number of GFNs in the space the range must fit in (GFNs
 *	     [0, @nr_gfns) are valid)
 * @out: the resulting range, written only on success
 *
 * Return: 0 on success; -EINVAL if @size is zero, either value is unaligned,
 * @addr + @size overflows, or the range does not fit below @nr_gfns.
 */
static inline int vmk_gfn_range_from_bytes(u64 addr, u64 size, u64 nr_gfns,
					   struct vmk_gfn_range *out)
{
	u64 last;

	if (!size || !PAGE_ALIGNED(addr) || !PAGE_ALIGNED(size))
		return -EINVAL;
	if (check_add_overflow(addr, size - 1, &last))
		return -EINVAL;
	if ((last >> PAGE_SHIFT) >= nr_gfns)
		return -EINVAL;
	out->start = addr >> PAGE_SHIFT;
	out->end = (last >> PAGE_SHIFT) + 1;
	return 0;
}

/**
 * vmk_gfn_range_nr() - number of GFNs in a range
 * @r: a valid range
 */
static inline u64 vmk_gfn_range_nr(const struct vmk_gfn_range *r)
{
	return r->end - r->start;
}

/**
 * vmk_gfn_range_contains() - whether @gfn lies inside @r
 * @r: a valid range
 * @gfn: the GFN to test
 */
static inline bool vmk_gfn_range_contains(const struct vmk_gfn_range *r,
					  u64 gfn)
{
	return gfn >= r->start && gfn < r->end;
}

/**
 * vmk_gfn_range_overlaps() - whether two ranges share at least one GFN
 * @a: a valid range
 * @b: a valid range
 */
static inline bool vmk_gfn_range_overlaps(const struct vmk_gfn_range *a,
					  const struct vmk_gfn_range *b)
{
	return a->start < b->end && b->start < a->end;
}

/**
 * vmk_gfn_range_intersect() - intersection of two ranges
 * @a: a valid range
 * @b: a valid range
 * @out: the intersection, written only when it is not empty
 *
 * Return: true if the ranges overlap (and @out was written), else false.
 */
static inline bool vmk_gfn_range_intersect(const struct vmk_gfn_range *a,
					   const struct vmk_gfn_range *b,
					   struct vmk_gfn_range *out)
{
	if (!vmk_gfn_range_overlaps(a, b))
		return false;
	out->start = max(a->start, b->start);
	out->end = min(a->end, b->end);
	return true;
}

/**
 * vmk_gfn_range_split() - split a range in two at @at
 * @r: a valid range
 * @at: the first GFN of the upper part; must satisfy start < @at < end
 * @lo: receives [start, @at)
 * @hi: receives [@at, end)
 *
 * @lo or @hi may alias @r.
 *
 * Return: 0 on success, -EINVAL if @at would leave either part empty.
 */
static inline int vmk_gfn_range_split(const struct vmk_gfn_range *r, u64 at,
				      struct vmk_gfn_range *lo,
				      struct vmk_gfn_range *hi)
{
	u64 start = r->start, end = r->end;

	if (at <= start || at >= end)
		return -EINVAL;
	lo->start = start;
	lo->end = at;
	hi->start = at;
	hi->end = end;
	return 0;
}

/**
 * vmk_gfn_range_to_bytes() - byte address and size of a range
 * @r: a valid range inside a space of at most 2^(64 - PAGE_SHIFT) GFNs
 * @addr: receives the byte address of the first GFN
 * @size: receives the length in bytes
 */
static inline void vmk_gfn_range_to_bytes(const struct vmk_gfn_range *r,
					  u64 *addr, u64 *size)
{
	*addr = r->start << PAGE_SHIFT;
	*size = vmk_gfn_range_nr(r) << PAGE_SHIFT;
}

/**
 * vmk_gfn_range_next_chunk() - step through a range in bounded chunks
 * @r: the valid range to walk
 * @chunk: the current piece; set @chunk->end = @r->start before the first
 *	   call
 * @max_gfns: the largest piece; must be non-zero
 *
 * Useful to drop a lock or reschedule every @max_gfns GFNs of a large range::
 *
 *	chunk.end = r->start;
 *	while (vmk_gfn_range_next_chunk(r, &chunk, SZ_512))
 *		do_something(&chunk);
 *
 * The last piece may be shorter.
 *
 * Return: true with the next piece in @chunk, false when @r is exhausted.
 */
static inline bool vmk_gfn_range_next_chunk(const struct vmk_gfn_range *r,
					    struct vmk_gfn_range *chunk,
					    u64 max_gfns)
{
	if (chunk->end >= r->end)
		return false;
	chunk->start = chunk->end;
	chunk->end = chunk->start + min(max_gfns, r->end - chunk->start);
	return true;
}

#endif /* _VMEMKIT_GFN_RANGE_H */
