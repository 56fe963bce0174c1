// SPDX-License-Identifier: GPL-2.0-only
/*
 * Range store: one maple tree entry per run of private GFNs.
 *
 * Shared GFNs have no entry, so the tree holds only the private runs and its
 * NULL gaps merge by themselves; a private store is widened over equal
 * neighbours so adjacent equal runs merge too.  A conversion is a single
 * range store: O(log n + runs it covers), whatever its size.
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
	unsigned int n = 0;

	while (gfn < range->end && n < max) {
		mas_set(&mas, gfn);
		attrs = memattr_mt_attrs(mas_walk(&mas));
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

/* Non-NULL entries overlapping [start, end). */
static s64 memattr_mt_count(struct memattr_obj *obj, u64 start, u64 end)
{
	MA_STATE(mas, &obj->mt, start, start);
	s64 n = 0;
	void *entry;

	mas_for_each(&mas, entry, end - 1)
		n++;
	return n;
}

int memattr_mt_reserve(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	u64 start = txn->range.start, end = txn->range.end;
	void *entry = txn->attrs ? xa_mk_value(txn->attrs) : NULL;
	s64 after = entry ? 1 : 0;

	MA_STATE(mas, &obj->mt, start, start);

	void *old;
	int ret;

	lockdep_assert_held(&obj->tree_mutex);

	/* Merge with equal neighbours; count what survives of unequal ones. */
	if (start) {
		mas_set(&mas, start - 1);
		old = mas_walk(&mas);
		if (entry && old == entry)
			start = mas.index;
		else if (old && mas.last >= start)
			after++;	/* left part of an entry we split */
	}
	if (end < obj->nr_gfns) {
		mas_set(&mas, end);
		old = mas_walk(&mas);
		if (entry && old == entry)
			end = memattr_mt_slot_end(&mas, obj->nr_gfns);
		else if (old && mas.index < end)
			after++;	/* right part of an entry we split */
	}
	txn->delta = after - memattr_mt_count(obj, start, end);

	mas_set_range(&mas, start, end - 1);
	ret = mas_preallocate(&mas, entry, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	txn->mas = mas;
	return 0;
}

void memattr_mt_apply(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	lockdep_assert_held(&obj->tree_mutex);
	lockdep_assert_held(&obj->lock);

	mas_store_prealloc(&txn->mas, txn->attrs ? xa_mk_value(txn->attrs) : NULL);
	obj->nr_entries += txn->delta;
	atomic64_add(txn->delta, &memattr_stats.runs);
}

void memattr_mt_destroy(struct memattr_obj *obj)
{
	mutex_lock(&obj->tree_mutex);
	atomic64_sub(obj->nr_entries, &memattr_stats.runs);
	obj->nr_entries = 0;
	__mt_destroy(&obj->mt);
	mutex_unlock(&obj->tree_mutex);
}
