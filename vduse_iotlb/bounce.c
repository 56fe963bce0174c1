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
#include <linux/scatterlist.h>
#include <linux/vmalloc.h>

#include "vduse_iotlb.h"

/* Streaming IOVAs start at page 1 so that IOVA 0 is never handed out. */
#define VIT_STREAM_START_PFN	1

static void vit_revoke_work(struct work_struct *work);

int vit_bounce_init(struct vduse_iotlb_domain *dom)
{
	unsigned long i;
	int ret;

	dom->nr_slots = dom->bounce.size >> PAGE_SHIFT;
	/*
	 * Streaming IOVAs are allocated size-aligned (alloc_iova_fast() also
	 * rounds small sizes up to a power of two) and page 0 is never handed
	 * out, so the longest run an empty region of N pages always has room
	 * for is the largest power of two P with 2P <= N.  A mapping that
	 * starts inside its first page spans one page more than its whole
	 * pages: P - 1 pages of data map at any offset.
	 */
	dom->max_map_size = (size_t)(rounddown_pow_of_two(dom->nr_slots / 2) - 1)
			    << PAGE_SHIFT;
	/* Sized by userspace: too large is ENOMEM, not a warning. */
	dom->slots = __vcalloc(dom->nr_slots, sizeof(*dom->slots),
			       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!dom->slots)
		return -ENOMEM;
	for (i = 0; i < dom->nr_slots; i++)
		spin_lock_init(&dom->slots[i].lock);
	init_llist_head(&dom->revoke_list);
	INIT_WORK(&dom->revoke_work, vit_revoke_work);

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

	/* Revocations queued by the last unmaps; their IOVAs die below. */
	flush_work(&dom->revoke_work);
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
 * goes.  The caller holds view_lock for write from before the zap until the
 * pages of those IOVAs are detached, so no fault can map them again.
 */
void vit_zap(struct vduse_iotlb_domain *dom, u64 iova, u64 size)
{
	lockdep_assert_held_write(&dom->view_lock);
	unmap_mapping_range(dom->file->f_mapping, iova, size, 1);
}

/*
 * May an unmap zap the device's PTEs itself?  The DMA API lets drivers
 * unmap from any context, and unmap_mapping_range() sleeps.  A caller that
 * is preemptible (which needs CONFIG_PREEMPT_COUNT to be known at all) and
 * outside an RCU read-side section may sleep; any other is atomic as far as
 * the domain knows, and its revocation is queued.
 */
static bool vit_may_sleep(void)
{
	return preemptible() && !rcu_preempt_depth();
}

/*
 * Revocations queued from atomic context: zap each queued mapping's IOVA
 * range, then give the IOVAs back.  Until then the allocator cannot hand
 * the slots to a new mapping, so a stale PTE reaches only the bounce page
 * of a mapping that has ended.
 */
static void vit_revoke_work(struct work_struct *work)
{
	struct vduse_iotlb_domain *dom = container_of(work,
						      struct vduse_iotlb_domain,
						      revoke_work);
	struct llist_node *list = llist_del_all(&dom->revoke_list);
	struct vit_slot *s, *tmp;

	if (!list)
		return;
	down_write(&dom->view_lock);
	llist_for_each_entry(s, list, revoke_node)
		vit_zap(dom, (u64)(s - dom->slots) << PAGE_SHIFT,
			(u64)s->revoke_pages << PAGE_SHIFT);
	up_write(&dom->view_lock);
	llist_for_each_entry_safe(s, tmp, list, revoke_node)
		free_iova_fast(&dom->stream_iovad, s - dom->slots,
			       s->revoke_pages);
}

/*
 * Give back the IOVA pages [@first, @first + @npages) of a mapping whose
 * slots are cleared (or were never published).  If the device was handed
 * one of their pages (@shown), its PTEs go first, so that the device's next
 * access is SIGBUS and the slots cannot be mapped again while it still
 * reaches their pages: now if the caller may sleep, else from
 * vit_revoke_work(), which the mapping's head slot is queued on.
 */
static void vit_release_iova(struct vduse_iotlb_domain *dom,
			     unsigned long first, unsigned long npages,
			     bool shown)
{
	struct vit_slot *head = &dom->slots[first];

	if (!shown) {
		free_iova_fast(&dom->stream_iovad, first, npages);
		return;
	}
	if (vit_may_sleep()) {
		down_write(&dom->view_lock);
		vit_zap(dom, (u64)first << PAGE_SHIFT, (u64)npages << PAGE_SHIFT);
		up_write(&dom->view_lock);
		free_iova_fast(&dom->stream_iovad, first, npages);
		return;
	}
	/* The IOVAs are still ours: nobody else touches these fields. */
	head->revoke_pages = npages;
	if (llist_add(&head->revoke_node, &dom->revoke_list))
		queue_work(system_unbound_wq, &dom->revoke_work);
}

/*
 * Every slot lock holder runs with IRQs off (map, unmap and sync may come
 * from hard IRQ context).  The streaming paths switch IRQs off once for a
 * batch of slots and take plain spin_lock()s inside: re-enabling IRQs is
 * dearer than the lock itself.  A batch is bounded so that a mapping of the
 * whole bounce region does not keep IRQs off for its whole copy; 16 pages
 * is one 64 KiB copy.
 */
#define VIT_IRQ_BATCH	16

/* Between batches: let pending IRQs in.  @done slots are behind us. */
static inline void vit_irq_breathe(unsigned long done, unsigned long *flags)
{
	if (done && !(done % VIT_IRQ_BATCH)) {
		local_irq_restore(*flags);
		local_irq_save(*flags);
	}
}

/*
 * Copy @len bytes at @off between the slot's bounce page and original.
 *
 * The copy must be a call to the kernel's memcpy(), which the alternatives
 * pick for the CPU (rep movsb with FSRM, an unrolled loop without).  Where
 * GCC can bound @len, as it can once this is inlined into a caller that
 * clamps the length to PAGE_SIZE, x86-64 GCC expands the memcpy() inline as
 * rep movsq instead (its generic strategy for lengths up to 8 KiB).  That
 * expansion made the copy back at unmap 30% slower than the same copy at
 * map or sync, which stayed calls; hiding the bound keeps every copy on
 * the same memcpy().
 */
static void vit_slot_copy(struct vit_slot *s, unsigned int off,
			  unsigned int len, bool to_dev)
{
	struct page *orig = pfn_to_page(PHYS_PFN(s->orig));

	lockdep_assert_held(&s->lock);
	OPTIMIZER_HIDE_VAR(len);
	if (to_dev)
		memcpy_page(s->page, off, orig, off, len);
	else
		memcpy_page(orig, off, s->page, off, len);
}

/*
 * Zeroed kernel pages for the slots of [@first, @first + @npages) that have
 * none, onto @spare, before any slot is touched: a mapping that fails for
 * want of memory then leaves the bounce table as it was.  The peek at each
 * slot is unlocked, so it is only a hint: vit_slot_map() copes with a slot
 * that lost its page since (the shrinker) or gained one (deregistration).
 * IRQs are off.
 */
static int vit_prealloc(struct vduse_iotlb_domain *dom, unsigned long first,
			unsigned long npages, struct list_head *spare,
			unsigned long *flags)
{
	struct page *page;
	unsigned long i;

	for (i = 0; i < npages; i++) {
		vit_irq_breathe(i, flags);
		if (READ_ONCE(dom->slots[first + i].page))
			continue;
		page = alloc_page(GFP_ATOMIC | __GFP_ZERO | __GFP_NOWARN);
		if (!page)
			return -ENOMEM;
		list_add(&page->lru, spare);
	}
	return 0;
}

/* Free the pages on @pages, a list through page->lru. */
void vit_free_page_list(struct list_head *pages)
{
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
}

/*
 * Take one slot for a new mapping, in one lock hold: a slot without a page
 * (never used, or reclaimed) gets one from @spare, a non-zero @map_size
 * makes it the mapping's head and @tail its last page.  Bytes [@off, @off +
 * @len) of the bounce page are the mapping's: they get the original's
 * bytes when @copy, else zeroes, so that neither a device that writes only
 * part of a FROM_DEVICE mapping nor one that reads it sees what an earlier
 * mapping of the slot left there (a page just allocated is zeroed already).
 * IRQs are off.
 *
 * Only when the shrinker emptied the slot after vit_prealloc() looked is
 * @spare short; the page is then allocated here (GFP_ATOMIC), and if that
 * fails the pages already given to the mapping's other slots stay with
 * them as idle bounce pages: the device may have reached them through the
 * domain file already, so only the shrinker, which zaps first, may free
 * them.
 */
static int vit_slot_map(struct vduse_iotlb_domain *dom, unsigned long idx,
			phys_addr_t orig, unsigned int off, unsigned int len,
			bool copy, size_t map_size, bool tail,
			struct list_head *spare)
{
	struct vit_slot *s = &dom->slots[idx];
	bool fresh = false;
	struct page *page;

	lockdep_assert_irqs_disabled();
	spin_lock(&s->lock);
	if (!s->page) {
		page = list_first_entry_or_null(spare, struct page, lru);
		if (page)
			list_del(&page->lru);
		else
			page = alloc_page(GFP_ATOMIC | __GFP_ZERO | __GFP_NOWARN);
		if (!page) {
			spin_unlock(&s->lock);
			return -ENOMEM;
		}
		s->page = page;
		fresh = true;
		vit_stat_add(dom, VIT_STAT_KERNEL_PAGES, 1);
	}
	s->orig = orig;
	s->lo = off;
	s->hi = off + len;
	s->flags |= VIT_SLOT_MAPPED;
	if (copy)
		vit_slot_copy(s, off, len, true);
	else if (!fresh)
		memzero_page(s->page, off, len);
	if (tail)
		s->flags |= VIT_SLOT_TAIL;
	if (map_size) {
		s->flags |= VIT_SLOT_HEAD;
		s->map_size = map_size;
	}
	spin_unlock(&s->lock);
	return 0;
}

/*
 * End the slot's part in its mapping.  Returns whether the device was
 * handed its page since the mapping began, so that it must be revoked.
 */
static bool vit_slot_unmap(struct vit_slot *s, unsigned int off,
			   unsigned int len, bool copy)
{
	bool shown = s->flags & VIT_SLOT_SHOWN;

	lockdep_assert_held(&s->lock);
	if (copy)
		vit_slot_copy(s, off, len, false);
	s->flags &= ~(VIT_SLOT_MAPPED | VIT_SLOT_HEAD | VIT_SLOT_TAIL |
		      VIT_SLOT_SHOWN);
	s->orig = 0;
	s->lo = 0;
	s->hi = 0;
	s->map_size = 0;
	return shown;
}

static inline bool vit_dir_to_dev(enum dma_data_direction dir)
{
	return dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL;
}

static inline bool vit_dir_from_dev(enum dma_data_direction dir)
{
	return dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL;
}

/* IOVA pages a mapping of [@pa, @pa + @size) takes. */
static inline unsigned long vit_npages(phys_addr_t pa, size_t size)
{
	return PAGE_ALIGN(offset_in_page(pa) + size) >> PAGE_SHIFT;
}

/*
 * Clear the slots of [@first, @first + @npages) without copying back.
 * Returns whether the device was handed one of their pages meanwhile.
 */
static bool vit_unfill(struct vduse_iotlb_domain *dom, unsigned long first,
		       unsigned long npages)
{
	struct vit_slot *s;
	bool shown = false;
	unsigned long i;

	for (i = 0; i < npages; i++) {
		s = &dom->slots[first + i];
		spin_lock(&s->lock);
		shown |= vit_slot_unmap(s, 0, 0, false);
		spin_unlock(&s->lock);
	}
	return shown;
}

/*
 * Fill the slots of a mapping of [@pa, @pa + @size) at IOVA page @pfn,
 * taking missing bounce pages from @spare.  Last page first: the head is
 * what unmap checks to claim a mapping, so it is filled and published in
 * one lock hold after every other slot is ready.  IOVA page i shadows
 * original page i.  Fails only as vit_slot_map() says, with the slots
 * cleared again and @shown saying whether the device reached one of them
 * meanwhile.  IRQs are off.
 */
static int vit_fill(struct vduse_iotlb_domain *dom, unsigned long pfn,
		    phys_addr_t pa, size_t size, bool copy,
		    struct list_head *spare, unsigned long *flags, bool *shown)
{
	unsigned long npages = vit_npages(pa, size), i;
	unsigned int head_off = offset_in_page(pa), off, len;
	int ret;

	for (i = npages; i--; ) {
		vit_irq_breathe(npages - 1 - i, flags);
		off = i ? 0 : head_off;
		len = min_t(size_t, head_off + size - (i << PAGE_SHIFT),
			    PAGE_SIZE) - off;
		ret = vit_slot_map(dom, pfn + i,
				   (pa & PAGE_MASK) + (i << PAGE_SHIFT), off,
				   len, copy, i ? 0 : size, i == npages - 1,
				   spare);
		if (ret) {
			*shown = vit_unfill(dom, pfn + i + 1, npages - i - 1);
			return ret;
		}
	}
	return 0;
}

/*
 * vduse_iotlb_map_page() after validation, under no domain lock.  The IOVA
 * and the bounce pages come first, so that running out of either changes
 * nothing; only then are the slots filled.
 */
static int vit_map(struct vduse_iotlb_domain *dom, phys_addr_t pa,
		   size_t size, bool copy, dma_addr_t *iova)
{
	unsigned long npages = vit_npages(pa, size), pfn, flags;
	bool shown = false;
	LIST_HEAD(spare);
	int ret;

	/* The IOVA caches' own irqsave lock then re-enables nothing. */
	local_irq_save(flags);
	pfn = alloc_iova_fast(&dom->stream_iovad, npages, dom->nr_slots - 1,
			      true);
	if (!pfn) {
		local_irq_restore(flags);
		return -ENOSPC;
	}
	ret = vit_prealloc(dom, pfn, npages, &spare, &flags);
	if (!ret)
		ret = vit_fill(dom, pfn, pa, size, copy, &spare, &flags,
			       &shown);
	local_irq_restore(flags);
	if (ret)
		vit_release_iova(dom, pfn, npages, shown);
	/* Left over: slots that gained a page since vit_prealloc() looked. */
	vit_free_page_list(&spare);
	if (ret)
		return ret;

	vit_stat_add(dom, VIT_STAT_MAPPINGS, 1);
	if (copy)
		vit_stat_add(dom, VIT_STAT_BYTES_TO_DEV, size);
	*iova = ((dma_addr_t)pfn << PAGE_SHIFT) + offset_in_page(pa);
	return 0;
}

/**
 * vduse_iotlb_map_page() - bounce-map part of a page run for DMA
 * @dom: the domain
 * @page: first page of a physically contiguous run
 * @offset: byte offset of the data from @page
 * @size: bytes; non-zero, at most the domain's dma_max_mapping_size()
 * @dir: DMA direction; TO_DEVICE and BIDIRECTIONAL copy the data to the
 *       bounce pages now unless @attrs has DMA_ATTR_SKIP_CPU_SYNC
 * @attrs: DMA_ATTR_* flags
 * @iova: the device address on success
 *
 * The IOVA keeps the data's offset within its page.  Bounce pages never
 * used before (or reclaimed since) are zeroed, so the device sees zeroes
 * around the data rather than old kernel memory.  The mapped bytes of the
 * bounce pages are the data when it is copied, zeroes otherwise
 * (FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC): the device never sees the
 * original buffer of a FROM_DEVICE mapping, and what it leaves unwritten
 * comes back to the buffer as zeroes, never as an earlier mapping's bytes.
 *
 * Return: 0, -EINVAL for a bad size or direction, -ENOSPC when the
 * streaming region is exhausted, -ENOMEM when no bounce page is available.
 * A failed mapping leaves no IOVA taken and, unless the shrinker raced with
 * it, no new bounce page behind.
 */
int vduse_iotlb_map_page(struct vduse_iotlb_domain *dom, struct page *page,
			 unsigned long offset, size_t size,
			 enum dma_data_direction dir, unsigned long attrs,
			 dma_addr_t *iova)
{
	bool copy = vit_dir_to_dev(dir) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC);
	phys_addr_t pa = page_to_phys(page) + offset;

	if (!size || size > dom->max_map_size || !valid_dma_direction(dir))
		return -EINVAL;
	return vit_map(dom, pa, size, copy, iova);
}
EXPORT_SYMBOL_GPL(vduse_iotlb_map_page);

/*
 * vit_map() of every entry of a scatterlist, as one: the IOVAs of all
 * entries, then the bounce pages of all, then the slots, so that a
 * failure leaves none of them mapped (unmapping the entries already done
 * would keep their bounce pages).  Until the slots are filled,
 * sg_dma_address() holds an entry's IOVA page number.  IRQs are off.
 */
static int vit_map_sg_entries(struct vduse_iotlb_domain *dom,
			      struct scatterlist *sgl, int nents, bool copy)
{
	unsigned long flags, npages;
	int i, taken = 0, filled = 0, ret;
	bool shown, fill_shown = false;
	struct scatterlist *sg;
	size_t bytes = 0;
	LIST_HEAD(spare);

	local_irq_save(flags);
	for_each_sg(sgl, sg, nents, i) {
		npages = vit_npages(sg_phys(sg), sg->length);
		sg_dma_address(sg) = alloc_iova_fast(&dom->stream_iovad, npages,
						     dom->nr_slots - 1, true);
		if (!sg_dma_address(sg)) {
			ret = -ENOSPC;
			goto err_free_iovas;
		}
		taken++;
	}
	for_each_sg(sgl, sg, nents, i) {
		ret = vit_prealloc(dom, sg_dma_address(sg),
				   vit_npages(sg_phys(sg), sg->length), &spare,
				   &flags);
		if (ret)
			goto err_free_iovas;
	}
	for_each_sg(sgl, sg, nents, i) {
		ret = vit_fill(dom, sg_dma_address(sg), sg_phys(sg), sg->length,
			       copy, &spare, &flags, &fill_shown);
		if (ret)
			goto err_unfill;
		filled++;
	}
	local_irq_restore(flags);
	vit_free_page_list(&spare);

	for_each_sg(sgl, sg, nents, i) {
		sg_dma_address(sg) = (sg_dma_address(sg) << PAGE_SHIFT) +
				     offset_in_page(sg_phys(sg));
		sg_dma_len(sg) = sg->length;
		bytes += sg->length;
	}
	vit_stat_add(dom, VIT_STAT_MAPPINGS, nents);
	if (copy)
		vit_stat_add(dom, VIT_STAT_BYTES_TO_DEV, bytes);
	return 0;

err_unfill:
	/* Entry @filled cleared its own slots: @fill_shown is its answer. */
	for_each_sg(sgl, sg, taken, i) {
		npages = vit_npages(sg_phys(sg), sg->length);
		if (i < filled)
			shown = vit_unfill(dom, sg_dma_address(sg), npages);
		else
			shown = i == filled && fill_shown;
		vit_release_iova(dom, sg_dma_address(sg), npages, shown);
	}
	local_irq_restore(flags);
	vit_free_page_list(&spare);
	return ret;

err_free_iovas:
	for_each_sg(sgl, sg, taken, i)
		free_iova_fast(&dom->stream_iovad, sg_dma_address(sg),
			       vit_npages(sg_phys(sg), sg->length));
	local_irq_restore(flags);
	vit_free_page_list(&spare);
	return ret;
}

/**
 * vit_map_sg() - bounce-map every entry of a scatterlist, all or nothing
 * @dom: the domain
 * @sgl: the entries; each gets its own IOVA range (no merging)
 * @nents: how many
 * @dir: DMA direction, as for vduse_iotlb_map_page()
 * @attrs: DMA_ATTR_* flags
 *
 * Return: 0 with sg_dma_address() and sg_dma_len() of every entry set,
 * or as vduse_iotlb_map_page() with no entry mapped.
 */
int vit_map_sg(struct vduse_iotlb_domain *dom, struct scatterlist *sgl,
	       int nents, enum dma_data_direction dir, unsigned long attrs)
{
	bool copy = vit_dir_to_dev(dir) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC);
	struct scatterlist *sg;
	int i;

	if (!valid_dma_direction(dir))
		return -EINVAL;
	for_each_sg(sgl, sg, nents, i)
		if (!sg->length || sg->length > dom->max_map_size)
			return -EINVAL;
	return vit_map_sg_entries(dom, sgl, nents, copy);
}

/* vduse_iotlb_unmap_page() after validation, under no domain lock. */
static int vit_unmap(struct vduse_iotlb_domain *dom, dma_addr_t iova,
		     size_t size, bool copy)
{
	unsigned int head_off = offset_in_page(iova), off = head_off, len;
	unsigned long first = iova >> PAGE_SHIFT, npages, i, flags;
	size_t left = size;
	bool shown = false;
	struct vit_slot *s;

	npages = PAGE_ALIGN(head_off + size) >> PAGE_SHIFT;
	local_irq_save(flags);
	for (i = 0; i < npages; i++) {
		vit_irq_breathe(i, &flags);
		s = &dom->slots[first + i];
		len = min_t(size_t, left, PAGE_SIZE - off);
		spin_lock(&s->lock);
		/* The head check claims the whole mapping for this caller. */
		if (!i && (!(s->flags & VIT_SLOT_HEAD) ||
			   s->lo != head_off || s->map_size != size)) {
			spin_unlock(&s->lock);
			local_irq_restore(flags);
			return -ENOENT;
		}
		shown |= vit_slot_unmap(s, off, len, copy);
		spin_unlock(&s->lock);
		left -= len;
		off = 0;
	}
	local_irq_restore(flags);
	vit_release_iova(dom, first, npages, shown);

	vit_stat_add(dom, VIT_STAT_MAPPINGS, -1);
	if (copy)
		vit_stat_add(dom, VIT_STAT_BYTES_FROM_DEV, size);
	return 0;
}

/**
 * vduse_iotlb_unmap_page() - end a streaming mapping
 * @dom: the domain
 * @iova: exactly what vduse_iotlb_map_page() returned
 * @size: exactly the size that was mapped
 * @dir: DMA direction; FROM_DEVICE and BIDIRECTIONAL copy the bounce data
 *       back to the original unless @attrs has DMA_ATTR_SKIP_CPU_SYNC
 * @attrs: DMA_ATTR_* flags
 *
 * The bounce pages stay allocated (the shrinker may free them later).  The
 * device loses them: its PTEs of the mapping are zapped before this returns
 * when the caller may sleep, else soon after from a work item, and the
 * IOVAs are not reused before that (see vit_release_iova()).
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

	if (!valid_dma_direction(dir))
		return -EINVAL;
	if (!vmk_iova_window_contains(&dom->bounce, iova, size))
		return -ERANGE;
	return vit_unmap(dom, iova, size, copy);
}
EXPORT_SYMBOL_GPL(vduse_iotlb_unmap_page);

/*
 * Copy the bytes of [@iova, @iova + @size) that belong to the live mapping
 * holding @iova between bounce and original pages, and report the bytes
 * copied in @done.  The walk ends with that mapping: bytes before its
 * start in its first page, past its end in its last page and in the pages
 * after it are the original's neighbours in kernel memory (or another
 * mapping's), so a range that runs past the mapping is clamped to it.
 *
 * Return: 0; -ERANGE if the range was clamped; -ENOENT if @iova is not in
 * a live mapping (nothing copied) or the mapping ended under a racing
 * unmap.
 */
static int vit_sync_range(struct vduse_iotlb_domain *dom, dma_addr_t iova,
			  size_t size, bool to_dev, size_t *done)
{
	unsigned int off = offset_in_page(iova), req, len;
	unsigned long idx = iova >> PAGE_SHIFT, i, flags;
	size_t left = size;
	struct vit_slot *s;
	int ret = -ENOENT;
	bool tail;

	*done = 0;
	local_irq_save(flags);
	for (i = 0; left && idx + i < dom->nr_slots; i++) {
		vit_irq_breathe(i, &flags);
		s = &dom->slots[idx + i];
		req = min_t(size_t, left, PAGE_SIZE - off);
		spin_lock(&s->lock);
		if (!(s->flags & VIT_SLOT_MAPPED) || off < s->lo ||
		    off >= s->hi) {
			spin_unlock(&s->lock);
			ret = -ENOENT;
			break;
		}
		/* Only the tail page can end before the page does. */
		len = min(req, s->hi - off);
		vit_slot_copy(s, off, len, to_dev);
		tail = s->flags & VIT_SLOT_TAIL;
		spin_unlock(&s->lock);
		*done += len;
		left -= req;
		off = 0;
		if (len < req || (tail && left)) {
			ret = -ERANGE;
			break;
		}
		ret = 0;
		if (tail)
			break;
	}
	local_irq_restore(flags);
	return ret;
}

static int vit_sync(struct vduse_iotlb_domain *dom, dma_addr_t iova,
		    size_t size, bool to_dev)
{
	size_t done;
	int ret;

	if (!size || !vmk_iova_window_contains(&dom->bounce, iova, 1))
		return -ERANGE;
	ret = vit_sync_range(dom, iova, size, to_dev, &done);

	vit_stat_add(dom, to_dev ? VIT_STAT_BYTES_TO_DEV :
		     VIT_STAT_BYTES_FROM_DEV, done);
	return ret;
}

/**
 * vduse_iotlb_sync_for_cpu() - make device writes visible to the CPU
 * @dom: the domain
 * @iova: first IOVA, inside a live mapping
 * @size: bytes, all inside that mapping
 * @dir: the mapping's direction; only FROM_DEVICE and BIDIRECTIONAL copy
 *
 * A range that runs past the end of the mapping is clamped to it, as
 * swiotlb does: the device's bytes beyond it never reach the kernel memory
 * next to the buffer.
 *
 * Return: 0, -EINVAL for a bad direction, -ERANGE when @iova is outside
 * the streaming region or the range was clamped (the part inside the
 * mapping was copied), -ENOENT if @iova is not in a live mapping.
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
 * are reached through the user's own mapping.  The slot remembers that the
 * device got the page, so that its unmap revokes it.
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
		s->flags |= VIT_SLOT_SHOWN;
	}
	spin_unlock_irqrestore(&s->lock, flags);
	return page;
}
