// SPDX-License-Identifier: GPL-2.0-only
/*
 * Coherent allocations: zeroed kernel pages given IOVAs above the
 * streaming region and shown as they are through the domain file, so the
 * kernel and the userspace device share them without copies.
 *
 * Every IOVA page of an allocation has an entry in coherent_xa pointing to
 * the allocation's descriptor.  Faults look pages up and take their
 * reference under the xa_lock, and free erases all entries under the same
 * lock, so a fault either sees the whole allocation alive or none of it.
 * Free then zaps under view_lock, which waits for faults that found the
 * pages before the erase, and only then frees the pages.
 *
 * Allocations may come from softirq context, so the xa_lock is taken with
 * bottom halves off everywhere (XA_FLAGS_LOCK_BH and the _bh calls): a
 * fault holding it must not be interrupted by an allocation on its CPU.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "vduse_iotlb.h"

void vit_coherent_init(struct vduse_iotlb_domain *dom)
{
	init_iova_domain(&dom->coherent_iovad, PAGE_SIZE,
			 dom->coherent.start >> PAGE_SHIFT);
	xa_init_flags(&dom->coherent_xa, XA_FLAGS_LOCK_BH);
}

/* Called when the last reference is gone: frees what users left behind. */
void vit_coherent_fini(struct vduse_iotlb_domain *dom)
{
	struct vit_coherent *c;
	unsigned long pfn;

	xa_for_each(&dom->coherent_xa, pfn, c) {
		if (pfn != c->iova >> PAGE_SHIFT)
			continue;
		vit_stat_add(dom, VIT_STAT_COHERENT_PAGES, -(long)(c->size >> PAGE_SHIFT));
		free_pages_exact(c->vaddr, c->size);
		kfree(c);
	}
	xa_destroy(&dom->coherent_xa);
	put_iova_domain(&dom->coherent_iovad);
}

/**
 * vduse_iotlb_alloc_coherent() - allocate memory shared with the device
 * @dom: the domain
 * @size: bytes; rounded up to whole pages
 * @iova: the device address on success
 * @gfp: allocation flags (GFP_ATOMIC allowed, from softirq context too;
 *       not from hard IRQ context)
 *
 * The IOVA lies under the device's coherent DMA mask.
 *
 * Return: the zeroed kernel mapping, or NULL when @size is zero or larger
 * than the coherent region, the region (under the mask) is exhausted or
 * memory is short.
 */
void *vduse_iotlb_alloc_coherent(struct vduse_iotlb_domain *dom, size_t size,
				 dma_addr_t *iova, gfp_t gfp)
{
	unsigned long npages, pfn, i;
	struct vit_coherent *c;
	struct iova *range;
	u64 limit;

	if (!size || size > dom->coherent.size)
		return NULL;
	size = PAGE_ALIGN(size);
	npages = size >> PAGE_SHIFT;
	gfp |= __GFP_NOWARN;

	c = kmalloc_obj(*c, gfp);
	if (!c)
		return NULL;
	c->size = size;
	c->vaddr = alloc_pages_exact(size, gfp | __GFP_ZERO);
	if (!c->vaddr)
		goto err_free_desc;
	limit = min(vmk_iova_window_last(&dom->coherent),
		    dom->dev.coherent_dma_mask);
	range = alloc_iova(&dom->coherent_iovad, npages, limit >> PAGE_SHIFT,
			   true);
	if (!range)
		goto err_free_pages;
	pfn = range->pfn_lo;
	c->iova = (dma_addr_t)pfn << PAGE_SHIFT;
	/*
	 * Every entry is reserved before any is published: a fault that
	 * found a page of an allocation that then failed would keep its PTE
	 * past the free.  Storing into a reserved entry allocates nothing.
	 */
	for (i = 0; i < npages; i++)
		if (xa_reserve_bh(&dom->coherent_xa, pfn + i, gfp))
			goto err_release;
	for (i = 0; i < npages; i++)
		xa_store_bh(&dom->coherent_xa, pfn + i, c, gfp);

	vit_stat_add(dom, VIT_STAT_COHERENT_PAGES, npages);
	*iova = c->iova;
	return c->vaddr;

err_release:
	/* xa_release() with the lock taken the way this xarray wants. */
	while (i--)
		xa_cmpxchg_bh(&dom->coherent_xa, pfn + i, XA_ZERO_ENTRY, NULL, 0);
	free_iova(&dom->coherent_iovad, pfn);
err_free_pages:
	free_pages_exact(c->vaddr, size);
err_free_desc:
	kfree(c);
	return NULL;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_alloc_coherent);

/**
 * vduse_iotlb_free_coherent() - free a coherent allocation
 * @dom: the domain
 * @size: the size passed to vduse_iotlb_alloc_coherent()
 * @vaddr: the address it returned
 * @iova: the IOVA it returned
 *
 * The device's mappings of the pages are zapped before they are freed.
 * May sleep.
 *
 * Return: 0, or -ENOENT (nothing changed) if no allocation matches all of
 * @size, @vaddr and @iova.
 */
int vduse_iotlb_free_coherent(struct vduse_iotlb_domain *dom, size_t size,
			      void *vaddr, dma_addr_t iova)
{
	unsigned long pfn = iova >> PAGE_SHIFT, i, npages;
	struct vit_coherent *c;

	might_sleep();
	xa_lock_bh(&dom->coherent_xa);
	c = xa_load(&dom->coherent_xa, pfn);
	if (!c || c->iova != iova || c->vaddr != vaddr ||
	    c->size != PAGE_ALIGN(size)) {
		xa_unlock_bh(&dom->coherent_xa);
		return -ENOENT;
	}
	npages = c->size >> PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		__xa_erase(&dom->coherent_xa, pfn + i);
	xa_unlock_bh(&dom->coherent_xa);

	/* Waits for faults that found the pages before the erase. */
	down_write(&dom->view_lock);
	vit_zap(dom, iova, c->size);
	up_write(&dom->view_lock);
	free_iova(&dom->coherent_iovad, pfn);
	free_pages_exact(c->vaddr, c->size);
	vit_stat_add(dom, VIT_STAT_COHERENT_PAGES, -(long)npages);
	kfree(c);
	return 0;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_free_coherent);

/* The coherent page at IOVA pfn @pfn with a reference, or NULL. */
struct page *vit_coherent_get_page(struct vduse_iotlb_domain *dom,
				   unsigned long pfn)
{
	struct vit_coherent *c;
	struct page *page = NULL;

	xa_lock_bh(&dom->coherent_xa);
	c = xa_load(&dom->coherent_xa, pfn);
	if (c) {
		page = virt_to_page(c->vaddr) + (pfn - (c->iova >> PAGE_SHIFT));
		get_page(page);
	}
	xa_unlock_bh(&dom->coherent_xa);
	return page;
}
