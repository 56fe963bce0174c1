// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-GFN store: one xarray entry per private GFN, the layout of KVM's
 * mem_attr_array.  A conversion reserves every index of the range, then
 * stores every index, as KVM does: O(pages).  It exists as the benchmark
 * baseline for the range store.
 *
 * Writers hold obj->tree_mutex.  The stores run outside obj->lock (they can
 * take seconds for a large range); the fault path reads with xa_load() under
 * RCU and never trusts a GFN of a conversion in flight, so it cannot act on
 * a half-done range.
 */
#include <linux/sched.h>
#include <linux/xarray.h>

#include "internal.h"

u64 memattr_xa_load(struct memattr_obj *obj, u64 gfn)
{
	void *entry = xa_load(&obj->xa, gfn);

	return entry ? xa_to_value(entry) : 0;
}

unsigned int memattr_xa_collect(struct memattr_obj *obj,
				const struct vmk_gfn_range *range,
				struct memattr_attr_run *runs, unsigned int max)
{
	XA_STATE(xas, &obj->xa, range->start);
	u64 gfn = range->start;
	unsigned int n = 0;
	bool full = false;
	void *entry;

	if (!max)
		return 0;
	rcu_read_lock();
	xas_for_each(&xas, entry, range->end - 1) {
		if (xas_retry(&xas, entry))
			continue;
		if (xas.xa_index > gfn &&
		    !memattr_runs_push(runs, &n, max, gfn, xas.xa_index, 0)) {
			full = true;
			break;
		}
		gfn = xas.xa_index;
		if (!memattr_runs_push(runs, &n, max, gfn, gfn + 1,
				       xa_to_value(entry))) {
			full = true;
			break;
		}
		gfn++;
	}
	rcu_read_unlock();
	/*
	 * The shared tail after the last entry, unless @runs filled up first:
	 * then the last run may be a shared gap ending at @gfn, and extending
	 * it would paint the GFNs not looked at shared.
	 */
	if (!full && gfn < range->end)
		memattr_runs_push(runs, &n, max, gfn, range->end, 0);
	return n;
}

/* Release the reservations of [start, end) that were not stored. */
static void memattr_xa_release(struct memattr_obj *obj, u64 start, u64 end)
{
	u64 gfn;

	for (gfn = start; gfn < end; gfn++)
		xa_release(&obj->xa, gfn);
}

int memattr_xa_reserve(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	XA_STATE(xas, &obj->xa, txn->range.start);
	s64 before = 0;
	void *entry;
	u64 gfn;
	int ret;

	lockdep_assert_held(&obj->tree_mutex);

	rcu_read_lock();
	xas_for_each(&xas, entry, txn->range.end - 1) {
		if (!xas_retry(&xas, entry))
			before++;
	}
	rcu_read_unlock();
	txn->delta = (txn->attrs ? vmk_gfn_range_nr(&txn->range) : 0) - before;

	for (gfn = txn->range.start; gfn < txn->range.end; gfn++) {
		ret = xa_reserve(&obj->xa, gfn, GFP_KERNEL_ACCOUNT);
		if (ret) {
			memattr_xa_release(obj, txn->range.start, gfn);
			return ret;
		}
	}
	return 0;
}

void memattr_xa_apply(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	void *entry = txn->attrs ? xa_mk_value(txn->attrs) : NULL;
	u64 gfn;

	lockdep_assert_held(&obj->tree_mutex);

	for (gfn = txn->range.start; gfn < txn->range.end; gfn++) {
		/* Cannot fail: every index was reserved. */
		WARN_ON_ONCE(xa_is_err(xa_store(&obj->xa, gfn, entry,
						GFP_KERNEL_ACCOUNT)));
		cond_resched();
	}
	obj->nr_entries += txn->delta;
	memattr_stat_add(gfn_entries, txn->delta);
}

void memattr_xa_destroy(struct memattr_obj *obj)
{
	mutex_lock(&obj->tree_mutex);
	memattr_stat_sub(gfn_entries, obj->nr_entries);
	obj->nr_entries = 0;
	xa_destroy(&obj->xa);
	mutex_unlock(&obj->tree_mutex);
}
