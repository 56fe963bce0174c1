// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaim of idle kernel bounce pages.
 *
 * A kernel bounce page is idle when its slot is not part of a live mapping:
 * its contents mean nothing any more, and the next mapping of the slot
 * allocates a fresh zeroed page.  Upstream VDUSE keeps every bounce page
 * until the domain dies; here one shrinker per domain gives them back.
 * The scan walks the table round-robin from a cursor in batches.  For a
 * batch with idle pages it takes view_lock for write, zaps the domain
 * file's PTEs over the idle slots and only then detaches the pages that are
 * still idle, under their slot locks.  The other order (detach, then zap)
 * let a mapper give the slot a fresh page while the device still reached
 * the old one through a PTE not yet zapped, and read stale data or write
 * into a page about to be freed.
 *
 * view_lock is only tried, never waited for (see vit_shrink_batch()), and
 * a scan ends at the first batch whose trylock fails.  Skipping that batch
 * and going on would not help: the lock is the domain's, not the batch's,
 * and this shrinker reclaims this one domain, so every later batch of the
 * scan needs the same lock; it would only retry it for every batch and
 * move the cursor past the idle pages it skipped.  Ending the scan returns
 * SHRINK_STOP unless something was freed, which is what the shrinker
 * contract asks of a scan that cannot progress for fear of deadlock: the
 * reclaim pass stops calling this domain's scan (other domains have
 * shrinkers of their own) and do_shrink_slab() carries the work not done
 * over to the next pass in nr_deferred, as with a superblock shrinker
 * whose s_umount trylock fails.
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

/* Can the shrinker free the page of @s?  No kernel page, or in use: no. */
static bool vit_slot_idle(struct vit_slot *s)
{
	lockdep_assert_held(&s->lock);
	return s->page && !(s->flags & (VIT_SLOT_MAPPED | VIT_SLOT_USER));
}

/*
 * Slots [*@first, *@last] of [@start, @end) whose pages looked idle; false
 * if none did.  Only a hint: the slots may change before the detach.
 */
static bool vit_shrink_find(struct vduse_iotlb_domain *dom,
			    unsigned long start, unsigned long end,
			    unsigned long *first, unsigned long *last)
{
	unsigned long i, flags;
	struct vit_slot *s;
	bool idle, found = false;

	for (i = start; i < end; i++) {
		s = &dom->slots[i];
		spin_lock_irqsave(&s->lock, flags);
		idle = vit_slot_idle(s);
		spin_unlock_irqrestore(&s->lock, flags);
		if (!idle)
			continue;
		if (!found)
			*first = i;
		*last = i;
		found = true;
	}
	return found;
}

/*
 * Free the idle pages of slots [@start, @end).  Returns the pages freed, or
 * -EBUSY if view_lock is held: its holder may be a fault on this domain
 * that entered reclaim, so waiting for it could deadlock.
 */
static long vit_shrink_batch(struct vduse_iotlb_domain *dom,
			     unsigned long start, unsigned long end)
{
	struct page *pages[VIT_SHRINK_BATCH];
	unsigned long first, last, i, flags;
	unsigned int nr = 0;
	struct vit_slot *s;

	if (!vit_shrink_find(dom, start, end, &first, &last))
		return 0;
	if (!down_write_trylock(&dom->view_lock))
		return -EBUSY;
	/* No PTE of these IOVAs survives, and no fault adds one until up_write. */
	vit_zap(dom, (u64)first << PAGE_SHIFT,
		(u64)(last - first + 1) << PAGE_SHIFT);
	for (i = first; i <= last; i++) {
		s = &dom->slots[i];
		spin_lock_irqsave(&s->lock, flags);
		if (vit_slot_idle(s)) {
			pages[nr++] = s->page;
			s->page = NULL;
		}
		spin_unlock_irqrestore(&s->lock, flags);
	}
	up_write(&dom->view_lock);

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
	unsigned long idx, end, scanned = 0, freed = 0;
	long ret;

	/* Zapping takes view_lock and the file's i_mmap rwsem. */
	if (!gfpflags_allow_blocking(sc->gfp_mask))
		return SHRINK_STOP;

	idx = READ_ONCE(dom->shrink_cursor) % dom->nr_slots;
	while (scanned < dom->nr_slots && freed < sc->nr_to_scan) {
		end = min(idx + VIT_SHRINK_BATCH, dom->nr_slots);
		ret = vit_shrink_batch(dom, idx, end);
		if (ret < 0)
			break;
		freed += ret;
		scanned += end - idx;
		idx = end == dom->nr_slots ? 0 : end;
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
