// SPDX-License-Identifier: GPL-2.0-only
/*
 * Range store: one maple tree entry per run of private GFNs.
 *
 * Shared GFNs have no entry, so the tree holds only the private runs and its
 * NULL gaps merge by themselves; a private store is widened over equal
 * neighbours so adjacent equal runs merge too.  A conversion is a single
 * range store: O(log n + runs it covers), whatever its size.  Writers share
 * obj->mas, which keeps spare preallocated nodes from one conversion to the
 * next.
 *
 * The tree is in non-RCU mode with an external lock: every writer holds
 * obj->tree_mutex (which also covers the preallocating walk) and, while it
 * stores, obj->lock; readers hold either lock.  RCU mode oopsed in this
 * kernel with many ranges (see NOTES.md) and buys nothing here, as the fault
 * path takes obj->lock anyway.
 */
#include <linux/maple_tree.h>
#include <linux/xarray.h>

#include "internal.h"

static u64 memattr_mt_attrs(void *entry)
{
	return entry ? xa_to_value(entry) : 0;
}

u64 memattr_mt_load(struct memattr_obj *obj, u64 gfn)
{
	return memattr_mt_attrs(mtree_load(&obj->mt, gfn));
}

/* End (exclusive) of the tree slot @mas points at, clamped to @limit. */
static u64 memattr_mt_slot_end(const struct ma_state *mas, u64 limit)
{
	return mas->last >= limit - 1 ? limit : mas->last + 1;
}

unsigned int memattr_mt_collect(struct memattr_obj *obj,
				const struct vmk_gfn_range *range,
				struct memattr_attr_run *runs, unsigned int max)
{
	MA_STATE(mas, &obj->mt, range->start, range->start);
	u64 gfn = range->start, attrs, end;
	void *entry = mas_walk(&mas);
	unsigned int n = 0;

	while (gfn < range->end && n < max) {
		if (gfn > mas.last)
			entry = mas_next_range(&mas, ULONG_MAX);
		attrs = memattr_mt_attrs(entry);
		end = memattr_mt_slot_end(&mas, range->end);
		if (n && runs[n - 1].attrs == attrs) {
			runs[n - 1].range.end = end;
		} else {
			runs[n].range.start = gfn;
			runs[n].range.end = end;
			runs[n].attrs = attrs;
			n++;
		}
		gfn = end;
	}
	return n;
}

/*
 * Reserve the store of @txn: find what it merges with and how many entries
 * it replaces, and preallocate the nodes the store needs.
 *
 * One walk from the root finds the slot holding the GFN after the range;
 * stepping back slot by slot (within a leaf, mostly) counts the entries the
 * store covers and ends on the slot holding the GFN before the range, which
 * is where the store begins.  So obj->mas is left on the leaf the store
 * starts in, and neither the preallocation nor the store walks again.
 */
int memattr_mt_reserve(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	struct ma_state *mas = &obj->mas;
	u64 start = txn->range.start, end = txn->range.end;
	u64 prev = start ? start - 1 : 0;
	void *entry = txn->attrs ? xa_mk_value(txn->attrs) : NULL;
	s64 before = 0, after = entry ? 1 : 0;
	void *old;

	lockdep_assert_held(&obj->tree_mutex);

	txn->first = start;
	txn->last = end - 1;

	/* The slot holding end: an equal entry merges, another one is split. */
	mas_set(mas, end < obj->nr_gfns ? end : end - 1);
	old = mas_walk(mas);
	if (end < obj->nr_gfns && old) {
		if (old == entry)
			txn->last = min_t(u64, mas->last, obj->nr_gfns - 1);
		else if (mas->index < end)
			after++;	/* right part of an entry we split */
	}

	/* Back to the slot holding prev, counting the entries in between. */
	while (mas->index > prev) {
		if (old && mas->index <= txn->last)
			before++;
		old = mas_prev_range(mas, 0);
	}

	/* The slot holding prev: the same for the left side. */
	if (start && old == entry && entry) {
		txn->first = mas->index;
		before++;
	} else if (old && mas->last >= start) {
		before++;
		if (start)
			after++;	/* left part of an entry we split */
	} else if (mas->last < start) {
		mas_next_range(mas, ULONG_MAX);	/* the store starts here */
	}
	txn->delta = after - before;

	__mas_set_range(mas, txn->first, txn->last);
	return mas_preallocate(mas, entry, GFP_KERNEL_ACCOUNT);
}

void memattr_mt_apply(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	lockdep_assert_held(&obj->tree_mutex);
	lockdep_assert_held(&obj->lock);

	/*
	 * Not mas_store_prealloc(): it frees the nodes the store did not use,
	 * and with slub_debug that freeing, and allocating them again for the
	 * next conversion, was most of the cost of a small conversion.
	 * mas_store() on a preallocated state keeps them in obj->mas.  A NULL
	 * store widens the range over NULL neighbours while preallocating, so
	 * start again from the reserved range, as mas_store_gfp() does.
	 */
	__mas_set_range(&obj->mas, txn->first, txn->last);
	mas_store(&obj->mas, txn->attrs ? xa_mk_value(txn->attrs) : NULL);
	obj->nr_entries += txn->delta;
	atomic64_add(txn->delta, &memattr_stats.runs);
}

void memattr_mt_destroy(struct memattr_obj *obj)
{
	mutex_lock(&obj->tree_mutex);
	atomic64_sub(obj->nr_entries, &memattr_stats.runs);
	obj->nr_entries = 0;
	mas_destroy(&obj->mas);
	__mt_destroy(&obj->mt);
	mutex_unlock(&obj->tree_mutex);
}
