// SPDX-License-Identifier: GPL-2.0-only
/*
 * sPAPR v2 pre-registered memory: userspace pins (and is charged for) a
 * region once; MAP_DMA then only points TCEs at pages of a region, which
 * makes it as cheap as filling a table and programming the IOMMU.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/slab.h>

#include "stce.h"

/**
 * stce_mem_find() - the registered region holding [@ua, @ua + @size)
 * @c: the container, locked
 * @ua: user address
 * @size: length in bytes, non-zero
 *
 * Return: the region, or NULL if no single region holds the whole range.
 */
struct stce_mem *stce_mem_find(struct stce_container *c, u64 ua, u64 size)
{
	struct vmk_iova_window r;
	struct stce_mem *mem;

	list_for_each_entry(mem, &c->mems, node) {
		r.start = mem->ua;
		r.size = mem->size;
		if (vmk_iova_window_contains(&r, ua, size))
			return mem;
	}
	return NULL;
}

/**
 * stce_mem_register() - pin and charge a region of the current mm
 * @c: the container, locked; its owner is the current mm
 * @ua: page-aligned user address
 * @size: page-aligned non-zero length
 *
 * Return: 0; -EINVAL for a bad range; -EBUSY if it overlaps a registered
 * region; -ENOMEM over RLIMIT_MEMLOCK or out of memory; -EFAULT (or the
 * GUP error) if a page cannot be pinned.
 */
int stce_mem_register(struct stce_container *c, u64 ua, u64 size)
{
	struct vmk_iova_window want = { .start = ua, .size = size }, r;
	struct stce_mem *mem;
	int ret;

	lockdep_assert_held(&c->lock);
	if (!size || !PAGE_ALIGNED(ua) || !PAGE_ALIGNED(size) ||
	    !vmk_iova_window_valid(&want) || ua + size > TASK_SIZE)
		return -EINVAL;
	list_for_each_entry(mem, &c->mems, node) {
		r.start = mem->ua;
		r.size = mem->size;
		if (vmk_iova_window_overlaps(&r, &want))
			return -EBUSY;
	}

	mem = kzalloc_obj(*mem, GFP_KERNEL_ACCOUNT);
	if (!mem)
		return -ENOMEM;
	mem->ua = ua;
	mem->size = size;
	vmk_page_array_init(&mem->pa, VMK_PA_PINNED);
	ret = vmk_page_array_pin_user(&mem->pa, ua, size >> PAGE_SHIFT,
				      FOLL_WRITE | FOLL_LONGTERM, true);
	if (ret) {
		kfree(mem);
		return ret;
	}
	list_add_tail(&mem->node, &c->mems);
	c->pinned += mem->pa.nr_pages;
	atomic_long_add(mem->pa.nr_pages, &stce_stats.pinned_pages);
	return 0;
}

static void stce_mem_free(struct stce_container *c, struct stce_mem *mem)
{
	c->pinned -= mem->pa.nr_pages;
	atomic_long_sub(mem->pa.nr_pages, &stce_stats.pinned_pages);
	list_del(&mem->node);
	/* The device may have written any page of a registered region. */
	vmk_page_array_release(&mem->pa, true);
	kfree(mem);
}

/**
 * stce_mem_unregister() - unpin and un-charge a registered region
 * @c: the container, locked
 * @ua: the address it was registered with
 * @size: the size it was registered with
 *
 * Return: 0, -EINVAL for a bad range, -ENOENT if no region was registered
 * with exactly this address and size, -EBUSY while TCEs point into it.
 */
int stce_mem_unregister(struct stce_container *c, u64 ua, u64 size)
{
	struct stce_mem *mem;

	lockdep_assert_held(&c->lock);
	if (!size || !PAGE_ALIGNED(ua) || !PAGE_ALIGNED(size))
		return -EINVAL;
	mem = stce_mem_find(c, ua, size);
	if (!mem || mem->ua != ua || mem->size != size)
		return -ENOENT;
	if (mem->mapped)
		return -EBUSY;
	stce_mem_free(c, mem);
	return 0;
}

/**
 * stce_mem_release_all() - unregister every region
 * @c: the container, being released; no TCE is in use any more
 */
void stce_mem_release_all(struct stce_container *c)
{
	struct stce_mem *mem, *tmp;

	list_for_each_entry_safe(mem, tmp, &c->mems, node)
		stce_mem_free(c, mem);
}
