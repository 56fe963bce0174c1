/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * memattr internals: the object, its attribute store and the statistics.
 */
#ifndef _MEMATTR_INTERNAL_H
#define _MEMATTR_INTERNAL_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rbtree.h>
#include <linux/seqlock.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <uapi/linux/memattr.h>
#include <vmemkit/compat.h>
#include <vmemkit/gfn_range.h>
#include <vmemkit/memattr.h>

/**
 * struct memattr_inflight - a conversion under way
 * @range: the GFNs it converts
 * @node: link in &memattr_obj.inflight
 */
struct memattr_inflight {
	struct vmk_gfn_range range;
	struct list_head node;
};

struct memattr_leaf;

/**
 * struct memattr_obj - a guest-memory object
 * @nr_gfns: size of the object in pages; GFNs [0, @nr_gfns) are valid
 * @per_gfn: attributes live in @xa, one entry per private GFN, instead of
 *	in @runs, one node per private run
 * @mapping: the object's page cache (the anon inode's own mapping)
 * @tree_mutex: serialises writers of the attribute store (@runs or @xa) and
 *	lets sleeping readers (GET, run collection) walk it; protects @spare
 *	and @nr_spare
 * @lock: protects @inflight and @seq; @runs is only written with both
 *	@tree_mutex and @lock held, inside a @runs_seq write section.  This
 *	is "the conversion lock" of <vmemkit/memattr.h>.
 * @runs: private runs in range mode, in leaves of consecutive runs keyed
 *	by their first GFN; shared GFNs have no run (see store_rb.c).  The
 *	fault path reads it without a lock (memattr_rb_load_lockless())
 * @runs_seq: bumped around every change of @runs, for lockless readers
 * @spare: range mode: leaves reserved for the next store; kept from one
 *	conversion to the next
 * @nr_spare: leaves on @spare
 * @xa: private GFNs in per-GFN mode: gfn -> xa_mk_value(attrs)
 * @nr_entries: entries in @runs or @xa; under @tree_mutex
 * @seq: invalidation sequence, bumped by every committed conversion;
 *	written under @lock with release semantics, read without it by the
 *	fault path's first look
 * @inflight: &struct memattr_inflight of the conversions under way
 * @inflight_wq: woken when a conversion ends
 * @backend: platform backend, or NULL; fixed at creation
 * @backend_priv: what @backend's attach returned
 */
struct memattr_obj {
	u64 nr_gfns;
	bool per_gfn;
	struct address_space *mapping;

	struct mutex tree_mutex;	/* see kernel-doc above */
	spinlock_t lock;		/* see kernel-doc above */
	struct rb_root runs;
	seqcount_spinlock_t runs_seq;
	struct memattr_leaf *spare;
	unsigned int nr_spare;
	struct xarray xa;
	u64 nr_entries;

	unsigned long seq;
	struct list_head inflight;
	wait_queue_head_t inflight_wq;

	const struct memattr_backend *backend;
	void *backend_priv;
};

/* A run of equal attributes, as collected from the store. */
struct memattr_attr_run {
	struct vmk_gfn_range range;
	u64 attrs;
};

/**
 * struct memattr_stats - module-wide counters, shown in debugfs
 * @objects: live objects
 * @conversions: successful SET_ATTRIBUTES calls
 * @pinned_busy: conversions to private refused (-EBUSY) for a pinned page
 * @pages_converted: pages whose attributes changed
 * @runs: entries in the range stores of all live objects
 * @gfn_entries: entries in the per-GFN stores of all live objects
 * @faults: faults handled
 * @fault_retries: faults that had to wait for a conversion and look again
 * @prepare: backend prepare calls
 * @abort: backend abort calls
 * @commit: backend commit calls
 * @commit_locks: holds of the conversion lock to commit changes (one per
 *	MEMATTR_COMMIT_BATCH changes or fewer)
 * @finish: backend finish calls
 * @invalidate: pages given to the backend's invalidate hook
 *
 * Per CPU, so that faults and conversions on different CPUs do not share a
 * cache line: each CPU adds to its own copy (this_cpu ops, safe against
 * preemption and interrupts), debugfs sums the copies.  A CPU's share may be
 * negative (@objects, @runs and @gfn_entries go down on other CPUs than
 * they went up on); the sums are exact when nothing runs.
 */
struct memattr_stats {
	s64 objects;
	s64 conversions;
	s64 pinned_busy;
	s64 pages_converted;
	s64 runs;
	s64 gfn_entries;
	s64 faults;
	s64 fault_retries;
	s64 prepare;
	s64 abort;
	s64 commit;
	s64 commit_locks;
	s64 finish;
	s64 invalidate;
};

DECLARE_PER_CPU(struct memattr_stats, memattr_stats);

#define memattr_stat_add(field, n)	this_cpu_add(memattr_stats.field, (n))
#define memattr_stat_inc(field)		this_cpu_inc(memattr_stats.field)
#define memattr_stat_sub(field, n)	this_cpu_sub(memattr_stats.field, (n))
#define memattr_stat_dec(field)		this_cpu_dec(memattr_stats.field)

/* core.c */
const struct memattr_backend *memattr_backend_get(void);
void memattr_backend_put(const struct memattr_backend *be);

/* object.c */
long memattr_create_object(struct memattr_create __user *uarg);

/* fault.c */
int memattr_mmap(struct file *file, struct vm_area_struct *vma);

/* convert.c */
int memattr_set_attributes(struct memattr_obj *obj,
			   const struct vmk_gfn_range *range, u64 attrs);
bool memattr_gfn_inflight(struct memattr_obj *obj, u64 gfn);
void memattr_hook_invalidate(struct memattr_obj *obj,
			     const struct vmk_gfn_range *range);

/**
 * struct memattr_store_txn - an attribute store update being made
 * @range: GFNs to set
 * @attrs: their new attributes
 * @delta: per-GFN mode: change in the number of store entries once applied
 * @removed: range mode: leaves apply took out of the tree, for release
 */
struct memattr_store_txn {
	struct vmk_gfn_range range;
	u64 attrs;
	s64 delta;
	struct memattr_leaf *removed;
};

/*
 * Append [start, end) with @attrs to the @n runs in @runs, merging with the
 * last one if they are equal and touch.  False if that needs a new run and
 * @max are in use.
 */
static inline bool memattr_runs_push(struct memattr_attr_run *runs,
				     unsigned int *n, unsigned int max,
				     u64 start, u64 end, u64 attrs)
{
	struct memattr_attr_run *last = *n ? &runs[*n - 1] : NULL;

	if (last && last->range.end == start && last->attrs == attrs) {
		last->range.end = end;
		return true;
	}
	if (*n == max)
		return false;
	runs[*n].range.start = start;
	runs[*n].range.end = end;
	runs[*n].attrs = attrs;
	(*n)++;
	return true;
}

/*
 * The attribute store: store_rb.c keeps the private runs in an rbtree,
 * store_xa.c one xarray entry per private GFN.  All of them are called with
 * @obj->tree_mutex held, except load (@obj->lock is enough) and
 * load_lockless (no lock; the value may be stale the moment it is
 * returned); the range store's apply also needs @obj->lock, and its release
 * must follow apply once @obj->lock is dropped.  reserve either fails with the attributes
 * unchanged or must be followed by apply.  collect fills @runs with up to
 * @max maximal runs of @range, in order from @range->start, and returns how
 * many it filled.
 */
int memattr_rb_init(void);
void memattr_rb_exit(void);
u64 memattr_rb_load(struct memattr_obj *obj, u64 gfn);
u64 memattr_rb_load_lockless(struct memattr_obj *obj, u64 gfn);
unsigned int memattr_rb_collect(struct memattr_obj *obj,
				const struct vmk_gfn_range *range,
				struct memattr_attr_run *runs, unsigned int max);
int memattr_rb_reserve(struct memattr_obj *obj, struct memattr_store_txn *txn);
void memattr_rb_apply(struct memattr_obj *obj, struct memattr_store_txn *txn);
void memattr_rb_release(struct memattr_obj *obj, struct memattr_store_txn *txn);
void memattr_rb_destroy(struct memattr_obj *obj);

u64 memattr_xa_load(struct memattr_obj *obj, u64 gfn);
unsigned int memattr_xa_collect(struct memattr_obj *obj,
				const struct vmk_gfn_range *range,
				struct memattr_attr_run *runs, unsigned int max);
int memattr_xa_reserve(struct memattr_obj *obj, struct memattr_store_txn *txn);
void memattr_xa_apply(struct memattr_obj *obj, struct memattr_store_txn *txn);
void memattr_xa_destroy(struct memattr_obj *obj);

static inline u64 memattr_store_load(struct memattr_obj *obj, u64 gfn)
{
	return obj->per_gfn ? memattr_xa_load(obj, gfn) :
			      memattr_rb_load(obj, gfn);
}

/* The fault path's first look: xa_load() needs no lock either (RCU). */
static inline u64 memattr_store_load_lockless(struct memattr_obj *obj, u64 gfn)
{
	return obj->per_gfn ? memattr_xa_load(obj, gfn) :
			      memattr_rb_load_lockless(obj, gfn);
}

static inline unsigned int
memattr_store_collect(struct memattr_obj *obj, const struct vmk_gfn_range *range,
		      struct memattr_attr_run *runs, unsigned int max)
{
	return obj->per_gfn ? memattr_xa_collect(obj, range, runs, max) :
			      memattr_rb_collect(obj, range, runs, max);
}

/* sw_rmp.c */
int memattr_sw_rmp_init(void);
void memattr_sw_rmp_exit(void);

#endif /* _MEMATTR_INTERNAL_H */
