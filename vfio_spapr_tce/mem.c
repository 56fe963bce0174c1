// SPDX-License-Identifier: GPL-2.0-only
/*
 * sPAPR v2 pre-registered memory: userspace pins (and is charged for) a
 * region once per mm, whatever number of containers register it; MAP_DMA
 * then only points TCEs at pages of a region, which makes it as cheap as
 * filling a table and programming the IOMMU.
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

/*
 * Registered memory is shared per mm, as POWER keeps it in the mm
 * (mm_iommu_*): containers of one process that register the same range
 * share one pinned, once-charged region.  stce_regions_lock protects
 * stce_regions and every region's @users; it nests inside a container's
 * lock.  It is never held while pages are pinned or unpinned, so
 * registrations (of any process) do not wait for each other's GUP: a new
 * region is pinned first and inserted after the list is checked again.
 */
static DEFINE_MUTEX(stce_regions_lock);
static LIST_HEAD(stce_regions);

/*
 * Under stce_regions_lock: the region of @mm registered as exactly
 * [@ua, @ua + @size), with a user taken; ERR_PTR(-EINVAL) if a region of
 * @mm overlaps the range without matching it (as POWER); NULL if none
 * overlaps it.
 */
static struct stce_region *stce_region_lookup(struct mm_struct *mm, u64 ua,
					      u64 size)
{
	struct vmk_iova_window want = { .start = ua, .size = size }, r;
	struct stce_region *reg;

	lockdep_assert_held(&stce_regions_lock);
	list_for_each_entry(reg, &stce_regions, node) {
		if (reg->mm != mm)
			continue;
		if (reg->ua == ua && reg->size == size) {
			reg->users++;
			return reg;
		}
		r.start = reg->ua;
		r.size = reg->size;
		if (vmk_iova_window_overlaps(&r, &want))
			return ERR_PTR(-EINVAL);
	}
	return NULL;
}

/*
 * The region of @mm registered as exactly [@ua, @ua + @size), taking a
 * user; a new one, pinned and charged, if no region of @mm overlaps the
 * range.  Return it or an ERR_PTR: -EINVAL if a region of @mm overlaps
 * the range without matching it (as POWER), -ENOMEM, or the pin error.
 *
 * Two containers of @mm may pin the same range at once.  The one that
 * inserts its region first wins; the other then shares that region (or
 * gets -EINVAL if it overlaps another range) and returns its own pins
 * and charge before returning, so locked_vm ends up charged exactly once.
 */
static struct stce_region *stce_region_get(struct mm_struct *mm, u64 ua,
					   u64 size)
{
	struct stce_region *reg, *new;
	int ret;

	mutex_lock(&stce_regions_lock);
	reg = stce_region_lookup(mm, ua, size);
	mutex_unlock(&stce_regions_lock);
	if (reg)
		return reg;

	new = kzalloc_obj(*new, GFP_KERNEL_ACCOUNT);
	if (!new)
		return ERR_PTR(-ENOMEM);
	new->mm = mm;
	new->ua = ua;
	new->size = size;
	new->users = 1;
	vmk_page_array_init(&new->pa, VMK_PA_PINNED);
	ret = vmk_page_array_pin_user(&new->pa, ua, size >> PAGE_SHIFT,
				      FOLL_WRITE | FOLL_LONGTERM, true);
	if (ret) {
		kfree(new);
		return ERR_PTR(ret);
	}

	mutex_lock(&stce_regions_lock);
	reg = stce_region_lookup(mm, ua, size);
	if (!reg) {
		list_add_tail(&new->node, &stce_regions);
		atomic_long_add(new->pa.nr_pages, &stce_stats.pinned_pages);
		reg = new;
		new = NULL;
	}
	mutex_unlock(&stce_regions_lock);
	if (new) {
		/* Lost the race: nothing but this call saw these pins. */
		vmk_page_array_release(&new->pa, false);
		kfree(new);
	}
	return reg;
}

/* Drop a user of @reg; the last one unpins and un-charges it. */
static void stce_region_put(struct stce_region *reg)
{
	bool last;

	mutex_lock(&stce_regions_lock);
	last = !--reg->users;
	if (last)
		list_del(&reg->node);
	mutex_unlock(&stce_regions_lock);
	if (!last)
		return;
	atomic_long_sub(reg->pa.nr_pages, &stce_stats.pinned_pages);
	/* The device may have written any page of a registered region. */
	vmk_page_array_release(&reg->pa, true);
	kfree(reg);
}

/**
 * stce_mem_register() - register a region of the current mm
 * @c: the container, locked; its owner is the current mm
 * @ua: page-aligned user address
 * @size: page-aligned non-zero length
 *
 * The region is pinned and charged unless another container of this mm
 * registered exactly the same range; then both share it.
 *
 * Return: 0; -EINVAL for a bad range or one overlapping memory this mm
 * registered with another address or size; -EBUSY if this container
 * registered the range already; -ENOMEM over RLIMIT_MEMLOCK or out of
 * memory; -EFAULT (or the GUP error) if a page cannot be pinned.
 */
int stce_mem_register(struct stce_container *c, u64 ua, u64 size)
{
	struct vmk_iova_window want = { .start = ua, .size = size };
	struct stce_region *reg;
	struct stce_mem *mem;

	lockdep_assert_held(&c->lock);
	if (!size || !PAGE_ALIGNED(ua) || !PAGE_ALIGNED(size) ||
	    !vmk_iova_window_valid(&want) || ua + size > TASK_SIZE)
		return -EINVAL;
	list_for_each_entry(mem, &c->mems, node)
		if (mem->ua == ua && mem->size == size)
			return -EBUSY;

	mem = kzalloc_obj(*mem, GFP_KERNEL_ACCOUNT);
	if (!mem)
		return -ENOMEM;
	reg = stce_region_get(current->mm, ua, size);
	if (IS_ERR(reg)) {
		kfree(mem);
		return PTR_ERR(reg);
	}
	mem->ua = ua;
	mem->size = size;
	mem->region = reg;
	list_add_tail(&mem->node, &c->mems);
	c->pinned += size >> PAGE_SHIFT;
	return 0;
}

static void stce_mem_free(struct stce_container *c, struct stce_mem *mem)
{
	c->pinned -= mem->size >> PAGE_SHIFT;
	list_del(&mem->node);
	stce_region_put(mem->region);
	kfree(mem);
}

/**
 * stce_mem_unregister() - drop this container's registration of a region
 * @c: the container, locked
 * @ua: the address it was registered with
 * @size: the size it was registered with
 *
 * The pages stay pinned and charged while another container of the mm
 * has the region registered.
 *
 * Return: 0, -EINVAL for a bad range, -ENOENT if this container did not
 * register exactly this address and size, -EBUSY while its TCEs point
 * into the region.
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
 * stce_mem_release_all() - drop every registration of the container
 * @c: the container, being released; no TCE is in use any more
 */
void stce_mem_release_all(struct stce_container *c)
{
	struct stce_mem *mem, *tmp;

	list_for_each_entry_safe(mem, tmp, &c->mems, node)
		stce_mem_free(c, mem);
}
