// SPDX-License-Identifier: GPL-2.0-only
/*
 * Streaming mappings: the bounce table, map, unmap and sync.
 *
 * A mapping of [pa, pa + size) gets IOVA pages from the streaming
 * allocator; IOVA page i shadows the original page (pa & PAGE_MASK) + i and
 * keeps the same offsets, so the returned IOVA has pa's offset in its page.
 * Data moves page by page under the slot lock, which is the only lock on
 * the path (see the locking comment in vduse_iotlb.h).
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "vduse_iotlb.h"

/* Streaming IOVAs start at page 1 so that IOVA 0 is never handed out. */
#define VIT_STREAM_START_PFN	1

int vit_bounce_init(struct vduse_iotlb_domain *dom)
{
	unsigned long i;
	int ret;

	dom->nr_slots = dom->bounce.size >> PAGE_SHIFT;
	dom->slots = vcalloc(dom->nr_slots, sizeof(*dom->slots));
	if (!dom->slots)
		return -ENOMEM;
	for (i = 0; i < dom->nr_slots; i++)
		spin_lock_init(&dom->slots[i].lock);

	init_iova_domain(&dom->stream_iovad, PAGE_SIZE, VIT_STREAM_START_PFN);
	ret = iova_domain_init_rcaches(&dom->stream_iovad);
	if (ret)
		goto err_free_slots;
	return 0;

err_free_slots:
	put_iova_domain(&dom->stream_iovad);
	vfree(dom->slots);
	return ret;
}

/* Called when the last reference is gone: no mapper can run any more. */
void vit_bounce_fini(struct vduse_iotlb_domain *dom)
{
	long freed = 0, mapped = 0;
	struct vit_slot *s;
	unsigned long i;

	for (i = 0; i < dom->nr_slots; i++) {
		s = &dom->slots[i];
		/* Mappings a buggy user never unmapped die with the domain. */
		if (s->flags & VIT_SLOT_HEAD)
			mapped++;
		if (s->page && !(s->flags & VIT_SLOT_USER)) {
			__free_page(s->page);
			freed++;
		}
	}
	vit_stat_add(dom, VIT_STAT_KERNEL_PAGES, -freed);
	vit_stat_add(dom, VIT_STAT_MAPPINGS, -mapped);
	put_iova_domain(&dom->stream_iovad);
	vfree(dom->slots);
}

/*
 * Detach-side helper: every PTE of the domain file over [iova, iova + size)
 * goes.  The caller has already changed the slots; bumping zap_seq first
 * makes a concurrent fault that installed a stale page undo it (fault.c).
 */
void vit_zap(struct vduse_iotlb_domain *dom, u64 iova, u64 size)
{
	might_sleep();
	atomic_inc(&dom->zap_seq);
	/* Order the bump before the PTE walk; pairs with vit_fault(). */
	smp_mb__after_atomic();
	unmap_mapping_range(dom->file->f_mapping, iova, size, 1);
}

static inline void vit_lock(struct vduse_iotlb_domain *dom,
			    unsigned long *flags)
{
	if (dom->use_global_lock)
		spin_lock_irqsave(&dom->global_lock, *flags);
}

static inline void vit_unlock(struct vduse_iotlb_domain *dom,
			      unsigned long flags)
{
	if (dom->use_global_lock)
		spin_unlock_irqrestore(&dom->global_lock, flags);
}

/* Copy @len bytes at @off between the slot's bounce page and original. */
static void vit_slot_copy(struct vit_slot *s, unsigned int off,
			  unsigned int len, bool to_dev)
{
	struct page *orig = pfn_to_page(PHYS_PFN(s->orig));

	lockdep_assert_held(&s->lock);
	if (to_dev)
		memcpy_page(s->page, off, orig, off, len);
	else
		memcpy_page(orig, off, s->page, off, len);
}

/*
 * Take one slot for a new mapping.  A slot without a page (never used, or
 * reclaimed) gets a zeroed one; GFP_ATOMIC because map may run in atomic
 * context.
 */
static int vit_slot_map(struct vduse_iotlb_domain *dom, unsigned long idx,
			phys_addr_t orig, unsigned int off, unsigned int len,
			bool copy)
{
	struct vit_slot *s = &dom->slots[idx];
	unsigned long flags;
	struct page *page;

	spin_lock_irqsave(&s->lock, flags);
	if (!s->page) {
		page = alloc_page(GFP_ATOMIC | __GFP_ZERO | __GFP_NOWARN);
		if (!page) {
			spin_unlock_irqrestore(&s->lock, flags);
			return -ENOMEM;
		}
		s->page = page;
		vit_stat_add(dom, VIT_STAT_KERNEL_PAGES, 1);
	}
	s->orig = orig;
	s->flags |= VIT_SLOT_MAPPED;
	if (copy)
		vit_slot_copy(s, off, len, true);
	spin_unlock_irqrestore(&s->lock, flags);
	return 0;
}

static void vit_slot_unmap(struct vit_slot *s, unsigned int off,
			   unsigned int len, bool copy)
{
	lockdep_assert_held(&s->lock);
	if (copy)
		vit_slot_copy(s, off, len, false);
	s->flags &= ~(VIT_SLOT_MAPPED | VIT_SLOT_HEAD);
	s->orig = 0;
	s->map_off = 0;
	s->map_size = 0;
}

static inline bool vit_dir_to_dev(enum dma_data_direction dir)
{
	return dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL;
}

static inline bool vit_dir_from_dev(enum dma_data_direction dir)
{
	return dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL;
}

/**
 * vduse_iotlb_map_page() - bounce-map part of a page run for DMA
 * @dom: the domain
 * @page: first page of a physically contiguous run
 * @offset: byte offset of the data from @page
 * @size: bytes; non-zero, at most the streaming region
 * @dir: DMA direction; TO_DEVICE and BIDIRECTIONAL copy the data to the
 *       bounce pages now unless @attrs has DMA_ATTR_SKIP_CPU_SYNC
 * @attrs: DMA_ATTR_* flags
 * @iova: the device address on success
 *
 * The IOVA keeps the data's offset within its page.  Bounce pages never
 * used before (or reclaimed since) are zeroed, so the device sees zeroes
 * around the data rather than old kernel memory.
 *
 * Return: 0, -EINVAL for a bad size or direction, -ENOSPC when the
 * streaming region is exhausted, -ENOMEM when no bounce page is available.
 */
int vduse_iotlb_map_page(struct vduse_iotlb_domain *dom, struct page *page,
			 unsigned long offset, size_t size,
			 enum dma_data_direction dir, unsigned long attrs,
			 dma_addr_t *iova)
{
	bool copy = vit_dir_to_dev(dir) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC);
	phys_addr_t pa = page_to_phys(page) + offset;
	unsigned int off = offset_in_page(pa), len;
	unsigned long npages, pfn, i, flags, irqflags;
	struct vit_slot *head;
	size_t left = size;
	int ret;

	if (!size || size > dom->bounce.size || !valid_dma_direction(dir))
		return -EINVAL;
	npages = PAGE_ALIGN(off + size) >> PAGE_SHIFT;

	vit_lock(dom, &flags);
	pfn = alloc_iova_fast(&dom->stream_iovad, npages, dom->nr_slots - 1,
			      true);
	if (!pfn) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	for (i = 0; i < npages; i++) {
		len = min_t(size_t, left, PAGE_SIZE - off);
		ret = vit_slot_map(dom, pfn + i, (pa & PAGE_MASK) + i * PAGE_SIZE,
				   off, len, copy);
		if (ret)
			goto err_unmap_slots;
		left -= len;
		off = 0;
	}
	/* Publish the mapping's extent last: unmap validates against it. */
	head = &dom->slots[pfn];
	spin_lock_irqsave(&head->lock, irqflags);
	head->flags |= VIT_SLOT_HEAD;
	head->map_off = offset_in_page(pa);
	head->map_size = size;
	spin_unlock_irqrestore(&head->lock, irqflags);
	vit_unlock(dom, flags);

	vit_stat_add(dom, VIT_STAT_MAPPINGS, 1);
	if (copy)
		vit_stat_add(dom, VIT_STAT_BYTES_TO_DEV, size);
	*iova = ((dma_addr_t)pfn << PAGE_SHIFT) + offset_in_page(pa);
	return 0;

err_unmap_slots:
	while (i--) {
		head = &dom->slots[pfn + i];
		spin_lock_irqsave(&head->lock, irqflags);
		vit_slot_unmap(head, 0, 0, false);
		spin_unlock_irqrestore(&head->lock, irqflags);
	}
	free_iova_fast(&dom->stream_iovad, pfn, npages);
out_unlock:
	vit_unlock(dom, flags);
	return ret;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_map_page);

/**
 * vduse_iotlb_unmap_page() - end a streaming mapping
 * @dom: the domain
 * @iova: exactly what vduse_iotlb_map_page() returned
 * @size: exactly the size that was mapped
 * @dir: DMA direction; FROM_DEVICE and BIDIRECTIONAL copy the bounce data
 *       back to the original unless @attrs has DMA_ATTR_SKIP_CPU_SYNC
 * @attrs: DMA_ATTR_* flags
 *
 * The bounce pages stay allocated (the shrinker may free them later).
 *
 * Return: 0, -EINVAL for a bad direction, -ERANGE outside the streaming
 * region, -ENOENT when no mapping starts at @iova with @size.  Nothing
 * changes on error.
 */
int vduse_iotlb_unmap_page(struct vduse_iotlb_domain *dom, dma_addr_t iova,
			   size_t size, enum dma_data_direction dir,
			   unsigned long attrs)
{
	bool copy = vit_dir_from_dev(dir) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC);
	unsigned int off = offset_in_page(iova), len;
	unsigned long first, npages, i, flags, irqflags;
	struct vit_slot *s;
	size_t left = size;

	if (!valid_dma_direction(dir))
		return -EINVAL;
	if (!vmk_iova_window_contains(&dom->bounce, iova, size))
		return -ERANGE;
	first = iova >> PAGE_SHIFT;
	npages = PAGE_ALIGN(off + size) >> PAGE_SHIFT;

	vit_lock(dom, &flags);
	for (i = 0; i < npages; i++) {
		s = &dom->slots[first + i];
		len = min_t(size_t, left, PAGE_SIZE - off);
		spin_lock_irqsave(&s->lock, irqflags);
		/* The head check claims the whole mapping for this caller. */
		if (!i && (!(s->flags & VIT_SLOT_HEAD) || s->map_off != off ||
			   s->map_size != size)) {
			spin_unlock_irqrestore(&s->lock, irqflags);
			vit_unlock(dom, flags);
			return -ENOENT;
		}
		vit_slot_unmap(s, off, len, copy);
		spin_unlock_irqrestore(&s->lock, irqflags);
		left -= len;
		off = 0;
	}
	free_iova_fast(&dom->stream_iovad, first, npages);
	vit_unlock(dom, flags);

	vit_stat_add(dom, VIT_STAT_MAPPINGS, -1);
	if (copy)
		vit_stat_add(dom, VIT_STAT_BYTES_FROM_DEV, size);
	return 0;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_unmap_page);

/*
 * Copy [iova, iova + size) between bounce and original pages.  Every page
 * must belong to a live mapping; the walk stops at the first that does not.
 */
static int vit_sync(struct vduse_iotlb_domain *dom, dma_addr_t iova,
		    size_t size, bool to_dev)
{
	unsigned int off = offset_in_page(iova), len;
	unsigned long idx, flags, irqflags;
	size_t left = size;
	struct vit_slot *s;
	int ret = 0;

	if (!vmk_iova_window_contains(&dom->bounce, iova, size))
		return -ERANGE;

	vit_lock(dom, &flags);
	for (idx = iova >> PAGE_SHIFT; left; idx++) {
		s = &dom->slots[idx];
		len = min_t(size_t, left, PAGE_SIZE - off);
		spin_lock_irqsave(&s->lock, irqflags);
		if (!(s->flags & VIT_SLOT_MAPPED)) {
			spin_unlock_irqrestore(&s->lock, irqflags);
			ret = -ENOENT;
			break;
		}
		vit_slot_copy(s, off, len, to_dev);
		spin_unlock_irqrestore(&s->lock, irqflags);
		left -= len;
		off = 0;
	}
	vit_unlock(dom, flags);

	if (to_dev)
		vit_stat_add(dom, VIT_STAT_BYTES_TO_DEV, size - left);
	else
		vit_stat_add(dom, VIT_STAT_BYTES_FROM_DEV, size - left);
	return ret;
}

/**
 * vduse_iotlb_sync_for_cpu() - make device writes visible to the CPU
 * @dom: the domain
 * @iova: first IOVA, inside a live mapping
 * @size: bytes, all inside live mappings
 * @dir: the mapping's direction; only FROM_DEVICE and BIDIRECTIONAL copy
 *
 * Return: 0, -EINVAL for a bad direction, -ERANGE outside the streaming
 * region, -ENOENT if part of the range is not mapped (the part before it
 * was copied).
 */
int vduse_iotlb_sync_for_cpu(struct vduse_iotlb_domain *dom, dma_addr_t iova,
			     size_t size, enum dma_data_direction dir)
{
	if (!valid_dma_direction(dir))
		return -EINVAL;
	if (!vit_dir_from_dev(dir))
		return vmk_iova_window_contains(&dom->bounce, iova, size) ?
		       0 : -ERANGE;
	return vit_sync(dom, iova, size, false);
}
EXPORT_SYMBOL_GPL(vduse_iotlb_sync_for_cpu);

/**
 * vduse_iotlb_sync_for_device() - make CPU writes visible to the device
 * @dom: the domain
 * @iova: first IOVA, inside a live mapping
 * @size: bytes, all inside live mappings
 * @dir: the mapping's direction; only TO_DEVICE and BIDIRECTIONAL copy
 *
 * Return: as vduse_iotlb_sync_for_cpu().
 */
int vduse_iotlb_sync_for_device(struct vduse_iotlb_domain *dom,
				dma_addr_t iova, size_t size,
				enum dma_data_direction dir)
{
	if (!valid_dma_direction(dir))
		return -EINVAL;
	if (!vit_dir_to_dev(dir))
		return vmk_iova_window_contains(&dom->bounce, iova, size) ?
		       0 : -ERANGE;
	return vit_sync(dom, iova, size, true);
}
EXPORT_SYMBOL_GPL(vduse_iotlb_sync_for_device);

/*
 * The page the domain file shows at streaming slot @idx, with a reference:
 * only kernel bounce pages of live mappings are shown.  User-backed slots
 * are reached through the user's own mapping.
 */
struct page *vit_bounce_get_page(struct vduse_iotlb_domain *dom,
				 unsigned long idx)
{
	struct vit_slot *s = &dom->slots[idx];
	struct page *page = NULL;
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	if ((s->flags & VIT_SLOT_MAPPED) && !(s->flags & VIT_SLOT_USER)) {
		page = s->page;
		get_page(page);
	}
	spin_unlock_irqrestore(&s->lock, flags);
	return page;
}
