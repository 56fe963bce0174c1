// SPDX-License-Identifier: GPL-2.0-only
/*
 * User bounce memory: a range of streaming slots backed by pinned user
 * pages instead of kernel pages, so the device reads and writes DMA data
 * in its own memory (for example memory it shares with another process).
 *
 * Unlike upstream VDUSE, any page-aligned part of the streaming region may
 * be registered, several ranges may coexist, and registration is allowed
 * while mappings are live: each slot is switched under its own lock, and a
 * slot that is part of a live mapping has its bounce page copied across, so
 * DMA in flight keeps its data in both directions.
 */
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "vduse_iotlb.h"

static struct vit_umem *vit_umem_find(struct vduse_iotlb_domain *dom,
				      unsigned long first,
				      unsigned long npages, bool exact)
{
	struct vit_umem *u;

	lockdep_assert_held(&dom->umem_lock);
	list_for_each_entry(u, &dom->umems, node) {
		if (exact) {
			if (u->first == first && u->pages.nr_pages == npages)
				return u;
		} else if (first < u->first + u->pages.nr_pages &&
			   u->first < first + npages) {
			return u;
		}
	}
	return NULL;
}

/*
 * Make @page the bounce page of slot @idx, copying the old bounce page if
 * the slot is mapped.  Returns the page the slot had.
 */
static struct page *vit_slot_switch(struct vduse_iotlb_domain *dom,
				    unsigned long idx, struct page *page,
				    bool user)
{
	struct vit_slot *s = &dom->slots[idx];
	unsigned long flags;
	struct page *old;

	spin_lock_irqsave(&s->lock, flags);
	old = s->page;
	if (old && (s->flags & VIT_SLOT_MAPPED))
		copy_highpage(page, old);
	s->page = page;
	if (user)
		s->flags |= VIT_SLOT_USER;
	else
		s->flags &= ~VIT_SLOT_USER;
	spin_unlock_irqrestore(&s->lock, flags);
	return old;
}

/**
 * vit_umem_register() - back [@iova, @iova + @length) with user memory
 * @dom: the domain
 * @iova: page-aligned start inside the streaming region
 * @length: non-zero page multiple
 * @uaddr: page-aligned user address of writable memory
 *
 * Return: 0; -EINVAL or -ERANGE for a bad range, -EEXIST if it overlaps a
 * registered range, -ENOMEM over RLIMIT_MEMLOCK or out of memory, -EFAULT
 * if the memory cannot be pinned.  Nothing changes on error.
 */
int vit_umem_register(struct vduse_iotlb_domain *dom, u64 iova, u64 length,
		      u64 uaddr)
{
	unsigned long first = iova >> PAGE_SHIFT, npages = length >> PAGE_SHIFT;
	long nr_kernel = 0;
	struct vmk_pa_iter it;
	struct page *page, *old;
	struct vit_umem *u;
	LIST_HEAD(freed);
	int ret;

	ret = vmk_iova_check(&dom->bounce, iova, length, PAGE_SIZE);
	if (ret)
		return ret;
	if (!PAGE_ALIGNED(uaddr))
		return -EINVAL;

	u = kzalloc_obj(*u, GFP_KERNEL_ACCOUNT);
	if (!u)
		return -ENOMEM;
	u->first = first;
	vmk_page_array_init(&u->pages, VMK_PA_PINNED);

	mutex_lock(&dom->umem_lock);
	if (vit_umem_find(dom, first, npages, false)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	ret = vmk_page_array_pin_user(&u->pages, uaddr, npages,
				      FOLL_WRITE | FOLL_LONGTERM, true);
	if (ret)
		goto err_unlock;

	/* Not before the pin: faults hold view_lock under mmap_lock. */
	down_write(&dom->view_lock);
	vit_zap(dom, iova, length);
	for (page = vmk_pa_iter_first(&u->pages, &it); page;
	     page = vmk_pa_iter_next(&u->pages, &it)) {
		old = vit_slot_switch(dom, first + it.idx, page, true);
		if (old) {
			list_add(&old->lru, &freed);
			nr_kernel++;
		}
		/* A large region: view_lock is a rwsem, so we may. */
		cond_resched();
	}
	up_write(&dom->view_lock);
	list_add(&u->node, &dom->umems);
	mutex_unlock(&dom->umem_lock);

	vit_free_page_list(&freed);
	vit_stat_add(dom, VIT_STAT_KERNEL_PAGES, -nr_kernel);
	vit_stat_add(dom, VIT_STAT_USER_PAGES, npages);
	return 0;

err_unlock:
	mutex_unlock(&dom->umem_lock);
	kfree(u);
	return ret;
}

/**
 * vit_umem_deregister() - give a registered range kernel bounce pages again
 * @dom: the domain
 * @iova: start of a registered range
 * @length: its exact length
 *
 * The kernel pages are allocated up front, so this either completes or
 * changes nothing.
 *
 * Return: 0, -EINVAL or -ERANGE for a bad range, -ENOENT if no range is
 * registered at exactly [@iova, @iova + @length), -ENOMEM.
 */
int vit_umem_deregister(struct vduse_iotlb_domain *dom, u64 iova, u64 length)
{
	unsigned long first = iova >> PAGE_SHIFT, npages = length >> PAGE_SHIFT;
	struct page *page;
	struct vit_umem *u;
	unsigned long i;
	LIST_HEAD(fresh);
	int ret;

	ret = vmk_iova_check(&dom->bounce, iova, length, PAGE_SIZE);
	if (ret)
		return ret;

	mutex_lock(&dom->umem_lock);
	u = vit_umem_find(dom, first, npages, true);
	if (!u) {
		ret = -ENOENT;
		goto out_unlock;
	}
	for (i = 0; i < npages; i++) {
		page = alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
		if (!page) {
			ret = -ENOMEM;
			goto err_free_fresh;
		}
		list_add(&page->lru, &fresh);
	}
	for (i = 0; i < npages; i++) {
		page = list_first_entry(&fresh, struct page, lru);
		list_del(&page->lru);
		vit_slot_switch(dom, first + i, page, false);
		cond_resched();
	}
	list_del(&u->node);
	mutex_unlock(&dom->umem_lock);

	/* The device may have written the pages through its own mapping. */
	vmk_page_array_release(&u->pages, true);
	kfree(u);
	vit_stat_add(dom, VIT_STAT_KERNEL_PAGES, npages);
	vit_stat_add(dom, VIT_STAT_USER_PAGES, -(long)npages);
	return 0;

err_free_fresh:
	vit_free_page_list(&fresh);
out_unlock:
	mutex_unlock(&dom->umem_lock);
	return ret;
}

/* Called when the last reference is gone: unpin and uncharge everything. */
void vit_umem_fini(struct vduse_iotlb_domain *dom)
{
	struct vit_umem *u, *tmp;

	list_for_each_entry_safe(u, tmp, &dom->umems, node) {
		vit_stat_add(dom, VIT_STAT_USER_PAGES, -(long)u->pages.nr_pages);
		list_del(&u->node);
		vmk_page_array_release(&u->pages, true);
		kfree(u);
	}
}
