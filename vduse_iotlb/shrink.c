// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaim of idle kernel bounce pages.
 *
 * A kernel bounce page is idle when its slot is not part of a live mapping:
 * its contents mean nothing any more, and the next mapping of the slot
 * allocates a fresh zeroed page.  Upstream VDUSE keeps every bounce page
 * until the domain dies; here one shrinker per domain gives them back.
 * The scan walks the table round-robin from a cursor, detaches pages under
 * the slot lock, zaps the domain file's PTEs over the batch and only then
 * drops the pages.
 */
#include <linux/mm.h>
#include <linux/shrinker.h>

#include "vduse_iotlb.h"

/* Slots visited per zap: bounds the span one unmap_mapping_range() covers. */
#define VIT_SHRINK_BATCH	32

static unsigned long vit_shrink_count(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	struct vduse_iotlb_domain *dom = shrinker->private_data;
	struct vit_stats sum;

	/* An upper bound: pages of live mappings are counted but not freed. */
	vit_stats_sum(dom->stats, &sum);
	return sum.v[VIT_STAT_KERNEL_PAGES] > 0 ? sum.v[VIT_STAT_KERNEL_PAGES] : SHRINK_EMPTY;
}

/*
 * Detach idle pages from up to VIT_SHRINK_BATCH slots starting at *@idx
 * (not past the end of the table), zap them and free them.
 */
static unsigned long vit_shrink_batch(struct vduse_iotlb_domain *dom,
				      unsigned long *idx)
{
	struct page *pages[VIT_SHRINK_BATCH];
	unsigned long start = *idx, flags;
	unsigned int nr = 0, i;
	struct vit_slot *s;

	for (; *idx < dom->nr_slots && *idx - start < VIT_SHRINK_BATCH;
	     (*idx)++) {
		s = &dom->slots[*idx];
		spin_lock_irqsave(&s->lock, flags);
		if (s->page && !(s->flags & (VIT_SLOT_MAPPED | VIT_SLOT_USER))) {
			pages[nr++] = s->page;
			s->page = NULL;
		}
		spin_unlock_irqrestore(&s->lock, flags);
	}
	if (!nr)
		return 0;
	vit_zap(dom, (u64)start << PAGE_SHIFT, (u64)(*idx - start) << PAGE_SHIFT);
	for (i = 0; i < nr; i++)
		__free_page(pages[i]);
	vit_stat_add(dom, VIT_STAT_KERNEL_PAGES, -(long)nr);
	vit_stat_add(dom, VIT_STAT_RECLAIMED, nr);
	return nr;
}

static unsigned long vit_shrink_scan(struct shrinker *shrinker,
				     struct shrink_control *sc)
{
	struct vduse_iotlb_domain *dom = shrinker->private_data;
	unsigned long idx, scanned = 0, freed = 0, start;

	/* Zapping takes the file's i_mmap rwsem. */
	if (!gfpflags_allow_blocking(sc->gfp_mask))
		return SHRINK_STOP;

	idx = READ_ONCE(dom->shrink_cursor) % dom->nr_slots;
	while (scanned < dom->nr_slots && freed < sc->nr_to_scan) {
		start = idx;
		freed += vit_shrink_batch(dom, &idx);
		scanned += idx - start;
		if (idx == dom->nr_slots)
			idx = 0;
		cond_resched();
	}
	WRITE_ONCE(dom->shrink_cursor, idx);
	sc->nr_scanned = scanned;
	return freed ? freed : SHRINK_STOP;
}

/* The shrinker is freed by the domain's release (domain.c). */
int vit_shrinker_init(struct vduse_iotlb_domain *dom)
{
	dom->shrinker = shrinker_alloc(0, "vduse_iotlb-%d", dom->id);
	if (!dom->shrinker)
		return -ENOMEM;
	dom->shrinker->count_objects = vit_shrink_count;
	dom->shrinker->scan_objects = vit_shrink_scan;
	dom->shrinker->seeks = DEFAULT_SEEKS;
	dom->shrinker->private_data = dom;
	shrinker_register(dom->shrinker);
	return 0;
}
