// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attribute conversion: in-flight tracking, the platform hooks, zapping and
 * zeroing, in the order <vmemkit/memattr.h> promises.
 *
 * A conversion first claims its range as in flight: overlapping conversions
 * wait for each other, faults on a GFN of the range wait for it to end, and
 * nothing else is affected, so disjoint conversions run side by side and
 * faults elsewhere never retry.  The attribute store and the invalidation
 * sequence change in one short obj->lock section.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <vmemkit/compat.h>

#include "internal.h"

/* Runs collected from the store per tree_mutex hold, on the stack. */
#define MEMATTR_COLLECT_BATCH 16

/* Changes kept in &struct memattr_changes itself before it allocates. */
#define MEMATTR_CHANGES_INLINE 4

/*
 * The runs of one conversion whose attributes change: in @inline_v for the
 * common small conversion (no allocation, which with slub_debug cost more
 * than the conversion), else in a growing kvmalloc'ed array.
 */
struct memattr_changes {
	struct memattr_change *v;
	unsigned int nr;
	unsigned int cap;
	u64 pages;
	struct memattr_change inline_v[MEMATTR_CHANGES_INLINE];
};

static void memattr_changes_init(struct memattr_changes *ch)
{
	ch->v = ch->inline_v;
	ch->nr = 0;
	ch->cap = MEMATTR_CHANGES_INLINE;
	ch->pages = 0;
}

static void memattr_changes_free(struct memattr_changes *ch)
{
	if (ch->v != ch->inline_v)
		kvfree(ch->v);
}

static bool memattr_range_inflight_locked(struct memattr_obj *obj,
					  const struct vmk_gfn_range *range)
{
	struct memattr_inflight *in;

	lockdep_assert_held(&obj->lock);
	list_for_each_entry(in, &obj->inflight, node)
		if (vmk_gfn_range_overlaps(&in->range, range))
			return true;
	return false;
}

bool memattr_gfn_inflight(struct memattr_obj *obj, u64 gfn)
{
	struct vmk_gfn_range one = { .start = gfn, .end = gfn + 1 };

	return memattr_range_inflight_locked(obj, &one);
}

static bool memattr_range_inflight(struct memattr_obj *obj,
				   const struct vmk_gfn_range *range)
{
	bool busy;

	spin_lock(&obj->lock);
	busy = memattr_range_inflight_locked(obj, range);
	spin_unlock(&obj->lock);
	return busy;
}

static int memattr_inflight_begin(struct memattr_obj *obj,
				  struct memattr_inflight *in)
{
	spin_lock(&obj->lock);
	while (memattr_range_inflight_locked(obj, &in->range)) {
		spin_unlock(&obj->lock);
		if (wait_event_killable(obj->inflight_wq,
					!memattr_range_inflight(obj, &in->range)))
			return -EINTR;
		spin_lock(&obj->lock);
	}
	list_add_tail(&in->node, &obj->inflight);
	spin_unlock(&obj->lock);
	return 0;
}

static void memattr_inflight_end(struct memattr_obj *obj,
				 struct memattr_inflight *in)
{
	spin_lock(&obj->lock);
	list_del(&in->node);
	spin_unlock(&obj->lock);
	/* Pairs with the barrier in the waiters' prepare_to_wait_event(). */
	if (wq_has_sleeper(&obj->inflight_wq))
		wake_up_all(&obj->inflight_wq);
}

/*
 * The changes array is charged to the caller's memory cgroup; over its
 * limit (or out of memory) the call fails with -ENOMEM: no warning in the
 * kernel log and, with __GFP_RETRY_MAYFAIL, no OOM kill for a request the
 * caller can simply be refused.
 */
#define MEMATTR_CHANGES_GFP \
	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

/*
 * Room for one more change: the array grows by half, so it is never more
 * than 1.5x what the conversion needs (a 64 GiB object striped into 8M
 * runs needs 256 MiB for one SET, not up to 4x that).
 */
static int memattr_changes_grow(struct memattr_changes *ch)
{
	unsigned int cap = ch->cap + ch->cap / 2;
	struct memattr_change *v;

	if (cap < ch->cap)
		return -ENOMEM;
	if (ch->v == ch->inline_v) {
		v = kvmalloc_array(cap, sizeof(*v), MEMATTR_CHANGES_GFP);
		if (v)
			memcpy(v, ch->inline_v, sizeof(ch->inline_v));
	} else {
		v = kvrealloc(ch->v, array_size(cap, sizeof(*v)),
			      MEMATTR_CHANGES_GFP);
	}
	if (!v)
		return -ENOMEM;
	ch->v = v;
	ch->cap = cap;
	return 0;
}

static int memattr_changes_add(struct memattr_changes *ch,
			       const struct memattr_attr_run *run, u64 attrs)
{
	struct memattr_change *v;
	int ret;

	if (ch->nr == ch->cap) {
		ret = memattr_changes_grow(ch);
		if (ret)
			return ret;
	}
	v = &ch->v[ch->nr++];
	v->range = run->range;
	v->old_attrs = run->attrs;
	v->new_attrs = attrs;
	ch->pages += vmk_gfn_range_nr(&run->range);
	return 0;
}

/*
 * Every run of @range whose attributes differ from @attrs.  Stable once
 * collected: only the owner of the in-flight range can change it.
 */
static int memattr_collect_changes(struct memattr_obj *obj,
				   const struct vmk_gfn_range *range, u64 attrs,
				   struct memattr_changes *ch)
{
	struct memattr_attr_run batch[MEMATTR_COLLECT_BATCH];
	struct vmk_gfn_range rest = *range;
	unsigned int i, n;
	int ret = 0;

	while (rest.start < rest.end && !ret) {
		mutex_lock(&obj->tree_mutex);
		n = memattr_store_collect(obj, &rest, batch,
					  MEMATTR_COLLECT_BATCH);
		mutex_unlock(&obj->tree_mutex);
		for (i = 0; i < n && !ret; i++)
			if (batch[i].attrs != attrs)
				ret = memattr_changes_add(ch, &batch[i], attrs);
		rest.start = batch[n - 1].range.end;
		cond_resched();
	}
	return ret;
}

/*
 * Lock each folio of @range in the object's page cache in turn, calling
 * @fn (if any) on it while it is locked; stop early, returning true, at the
 * first folio @fn returns true for.  Locking alone waits out a fault that
 * is installing a PTE for the folio: faults hold the folio lock until the
 * PTE is in.
 */
static bool memattr_walk_folios(struct memattr_obj *obj,
				const struct vmk_gfn_range *range,
				bool (*fn)(struct memattr_obj *obj,
					   struct folio *folio,
					   const struct vmk_gfn_range *range))
{
	pgoff_t index = range->start;
	struct folio_batch fbatch;
	bool stop = false;
	unsigned int i;

	folio_batch_init(&fbatch);
	while (!stop && filemap_get_folios(obj->mapping, &index,
					   range->end - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch) && !stop; i++) {
			struct folio *folio = fbatch.folios[i];

			folio_lock(folio);
			if (fn)
				stop = fn(obj, folio, range);
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	return stop;
}

/*
 * Remove @range from every user mapping.  A fault that checked the
 * attributes before the range went in flight may still be installing its
 * PTE: waiting for each cached folio's lock once waits it out, and the
 * unmap that follows removes it.  Faults starting later see the range in
 * flight and do not map it.
 */
static void memattr_zap(struct memattr_obj *obj,
			const struct vmk_gfn_range *range)
{
	memattr_walk_folios(obj, range, NULL);
	unmap_mapping_pages(obj->mapping, range->start,
			    vmk_gfn_range_nr(range), false);
}

static bool memattr_zero_folio(struct memattr_obj *obj, struct folio *folio,
			       const struct vmk_gfn_range *range)
{
	struct vmk_gfn_range fr = {
		.start = folio->index,
		.end = folio->index + folio_nr_pages(folio),
	};
	struct vmk_gfn_range zr;
	u64 gfn;

	if (!vmk_gfn_range_intersect(&fr, range, &zr))
		return false;
	if (obj->backend && obj->backend->ops->host_access) {
		spin_lock(&obj->lock);
		for (gfn = zr.start; gfn < zr.end; gfn++)
			obj->backend->ops->host_access(obj->backend_priv, gfn);
		spin_unlock(&obj->lock);
	}
	folio_zero_range(folio, (zr.start - fr.start) << PAGE_SHIFT,
			 vmk_gfn_range_nr(&zr) << PAGE_SHIFT);
	return false;
}

/* Zero the cached pages of @range: it was private, nothing maps it. */
static void memattr_zero(struct memattr_obj *obj,
			 const struct vmk_gfn_range *range)
{
	memattr_walk_folios(obj, range, memattr_zero_folio);
}

static bool memattr_folio_pinned(struct memattr_obj *obj, struct folio *folio,
				 const struct vmk_gfn_range *range)
{
	return folio_maybe_dma_pinned(folio);
}

/*
 * Whether a user pinned (pin_user_pages(), FOLL_PIN) a page of @range, which
 * is in flight and zapped.  Unmapping does not drop a pin: the pinning user
 * (io_uring fixed buffers, O_DIRECT, VFIO) would keep access to the page
 * after it turned private, so the conversion must not happen.
 *
 * No pin can appear after this look: the range has no PTE left, GUP-fast
 * gives up without a PTE and slow GUP faults, and faults on the range wait
 * for the conversion (and then, the range private, fail).  A pin taken by
 * GUP-fast just before the zap is seen: GUP-fast takes the pin, then reads
 * the PTE again with a full barrier in between, while the zap clears the
 * PTE before the smp_mb() below and this read; either GUP-fast finds the
 * PTE gone and drops the pin, or this finds the pin.  The former can make
 * this see a pin that is about to go: a spurious -EBUSY, which a retry
 * cures.  So can a small folio with 1024 ordinary references
 * (folio_maybe_dma_pinned() is fuzzy for those).  Plain references
 * (FOLL_GET: ptrace, process_vm_readv(), /proc/pid/mem) are not pins and do
 * not block: they are short kernel accesses, not device access.
 */
static bool memattr_range_pinned(struct memattr_obj *obj,
				 const struct vmk_gfn_range *range)
{
	/*
	 * Order the PTE clearing of the zap before the pin counts are read.
	 * Paired with the smp_mb__after_atomic() in try_grab_folio_fast(),
	 * between GUP-fast taking its pin and reading the PTE again, as
	 * folio_try_share_anon_rmap_pte() does: the zap's exchange is a full
	 * barrier on x86 only, not on arm64.
	 */
	smp_mb();
	return memattr_walk_folios(obj, range, memattr_folio_pinned);
}

static int memattr_hook_prepare(struct memattr_obj *obj,
				const struct memattr_change *chg)
{
	might_sleep();
	lockdep_assert_not_held(&obj->lock);
	lockdep_assert_not_held(&obj->tree_mutex);
	if (!obj->backend->ops->prepare)
		return 0;
	memattr_stat_inc(prepare);
	return obj->backend->ops->prepare(obj->backend_priv, chg);
}

static void memattr_hook_abort(struct memattr_obj *obj,
			       const struct memattr_change *chg)
{
	might_sleep();
	lockdep_assert_not_held(&obj->lock);
	if (!obj->backend->ops->abort)
		return;
	memattr_stat_inc(abort);
	obj->backend->ops->abort(obj->backend_priv, chg);
}

static void memattr_hook_commit(struct memattr_obj *obj,
				const struct memattr_change *chg)
{
	lockdep_assert_held(&obj->lock);
	if (!obj->backend->ops->commit)
		return;
	memattr_stat_inc(commit);
	obj->backend->ops->commit(obj->backend_priv, chg);
}

static void memattr_hook_finish(struct memattr_obj *obj,
				const struct memattr_change *chg)
{
	might_sleep();
	lockdep_assert_not_held(&obj->lock);
	lockdep_assert_not_held(&obj->tree_mutex);
	if (!obj->backend->ops->finish)
		return;
	memattr_stat_inc(finish);
	obj->backend->ops->finish(obj->backend_priv, chg);
}

/* Pages of @range, private, are about to be freed; see memattr_folio_end(). */
void memattr_hook_invalidate(struct memattr_obj *obj,
			     const struct vmk_gfn_range *range)
{
	might_sleep();
	lockdep_assert_not_held(&obj->lock);
	if (!obj->backend || !obj->backend->ops->invalidate)
		return;
	memattr_stat_add(invalidate, vmk_gfn_range_nr(range));
	obj->backend->ops->invalidate(obj->backend_priv, range);
}

static int memattr_store_reserve(struct memattr_obj *obj,
				 struct memattr_store_txn *txn)
{
	return obj->per_gfn ? memattr_xa_reserve(obj, txn) :
			      memattr_rb_reserve(obj, txn);
}

/*
 * Reserve the store update, then, in batches of MEMATTR_COMMIT_BATCH
 * changes, run their commit hooks and update the store up to the end of the
 * batch's last change under obj->lock; the last batch bumps the
 * invalidation sequence.  All or nothing: the reserve is the only step that
 * can fail, and -ENOMEM leaves the store as it was.
 *
 * Only the first batch's store can add runs (the two the reserve covers):
 * every later part starts where a changed run ended, that is, at a GFN
 * whose attributes are already the new ones and whose run (if any) does not
 * reach back into the part, or (going private) at the start of a private run
 * the previous part has just merged with; its store only trims that run and
 * removes or merges the runs after it.  In between, the range is in flight:
 * faults on it wait, GET waits for tree_mutex, and the store's other GFNs
 * are intact, so the split is not visible.
 *
 * The sequence is published with release semantics for the fault path's
 * lockless first look: a fault that reads the new value also sees the store
 * it covers.
 */
static int memattr_commit(struct memattr_obj *obj,
			  const struct memattr_changes *ch,
			  struct memattr_store_txn *txn)
{
	u64 start = txn->range.start, end = txn->range.end;
	unsigned int i = 0, k, n;
	int ret;

	mutex_lock(&obj->tree_mutex);
	ret = memattr_store_reserve(obj, txn);
	if (ret)
		goto out_unlock;
	/* The per-GFN store is too slow for a spinlock; see store_xa.c. */
	if (obj->per_gfn)
		memattr_xa_apply(obj, txn);

	while (i < ch->nr) {
		n = min(ch->nr - i, MEMATTR_COMMIT_BATCH);
		txn->range.start = start;
		txn->range.end = i + n < ch->nr ? ch->v[i + n - 1].range.end :
						  end;
		spin_lock(&obj->lock);
		for (k = i; obj->backend && k < i + n; k++)
			memattr_hook_commit(obj, &ch->v[k]);
		if (!obj->per_gfn)
			memattr_rb_apply(obj, txn);
		if (i + n == ch->nr) {
			/* Pairs with memattr_fault()'s smp_load_acquire(). */
			smp_store_release(&obj->seq, obj->seq + 1);
		}
		spin_unlock(&obj->lock);
		memattr_stat_inc(commit_locks);
		if (!obj->per_gfn)
			memattr_rb_release(obj, txn);
		start = txn->range.end;
		i += n;
		cond_resched();
	}
out_unlock:
	mutex_unlock(&obj->tree_mutex);
	return ret;
}

int memattr_set_attributes(struct memattr_obj *obj,
			   const struct vmk_gfn_range *range, u64 attrs)
{
	struct memattr_store_txn txn = { .range = *range, .attrs = attrs };
	struct memattr_inflight in = { .range = *range };
	struct memattr_changes ch;
	unsigned int i, prepared = 0;
	bool to_private = attrs & MEMATTR_ATTRIBUTE_PRIVATE;
	int ret;

	ret = memattr_inflight_begin(obj, &in);
	if (ret)
		return ret;

	memattr_changes_init(&ch);
	ret = memattr_collect_changes(obj, range, attrs, &ch);
	if (ret)
		goto out_free;
	if (!ch.nr)
		goto out_done;

	if (to_private) {
		for (i = 0; i < ch.nr; i++) {
			memattr_zap(obj, &ch.v[i].range);
			cond_resched();
		}
		/*
		 * The point of no return: a pinned page refuses the whole
		 * call, at once, before any hook ran.  The kernel cannot tell
		 * a pin that ends in a millisecond (O_DIRECT) from one held
		 * for hours (io_uring fixed buffers, VFIO), and waiting here
		 * would hold the range in flight, stalling every fault on it;
		 * the VMM knows what I/O it has under way and retries.
		 */
		for (i = 0; i < ch.nr; i++) {
			if (memattr_range_pinned(obj, &ch.v[i].range)) {
				memattr_stat_inc(pinned_busy);
				ret = -EBUSY;
				goto out_free;
			}
			cond_resched();
		}
	}

	for (; obj->backend && prepared < ch.nr; prepared++) {
		ret = memattr_hook_prepare(obj, &ch.v[prepared]);
		if (ret)
			goto out_abort;
		cond_resched();
	}

	ret = memattr_commit(obj, &ch, &txn);
	if (ret)
		goto out_abort;

	for (i = 0; obj->backend && i < ch.nr; i++) {
		memattr_hook_finish(obj, &ch.v[i]);
		cond_resched();
	}
	if (!to_private) {
		for (i = 0; i < ch.nr; i++) {
			memattr_zero(obj, &ch.v[i].range);
			cond_resched();
		}
	}
	memattr_stat_add(pages_converted, ch.pages);
out_done:
	memattr_stat_inc(conversions);
	goto out_free;

out_abort:
	while (prepared--) {
		memattr_hook_abort(obj, &ch.v[prepared]);
		cond_resched();
	}
out_free:
	memattr_changes_free(&ch);
	memattr_inflight_end(obj, &in);
	return ret;
}
