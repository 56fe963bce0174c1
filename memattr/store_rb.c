// SPDX-License-Identifier: GPL-2.0-only
/*
 * Range store: the private runs of an object, in order, in leaves of up to
 * MEMATTR_LEAF_RUNS runs each, the leaves in an rbtree keyed by the start of
 * their first run.
 *
 * Runs never overlap and are never empty, and two runs that touch have
 * different attributes.  Shared GFNs have no run, so shared gaps merge by
 * themselves; a store merges the run it makes with equal neighbours.  A
 * store descends once to the first run it touches, then walks the runs it
 * covers: O(log n + runs touched), whatever its size.  Leaves are never
 * empty, so the memory is proportional to the runs.
 *
 * Runs rather than nodes are the unit of a leaf so that adding a run costs an
 * allocation only when a leaf is full: once per MEMATTR_LEAF_RUNS runs added
 * in order (a full last leaf gets a new one after it), at most once per half
 * of that otherwise (a full leaf is split in halves).  With one node per run,
 * every single-page conversion allocated, which the debug allocator the
 * tests run under makes several times dearer than the rest of the
 * conversion.
 *
 * Writers hold obj->tree_mutex and, while they change the store, obj->lock,
 * inside an obj->runs_seq write section; readers hold either lock, or none:
 * the fault path's first look (memattr_rb_load_lockless()) descends the
 * tree under RCU and retries when obj->runs_seq moved.  The leaf cache is
 * SLAB_TYPESAFE_BY_RCU, so a leaf such a reader reaches is a leaf (maybe
 * another one by then) until it leaves its RCU read section, whatever the
 * writers do meanwhile.  A store adds at most two runs (the one it makes and
 * the far part of a run it splits), so it splits at most two leaves.
 * Reserve tops the object's spare leaves up to that under tree_mutex alone,
 * so apply, under obj->lock, cannot fail; the spares stay from one
 * conversion to the next, so a conversion allocates only what it consumes.
 * Leaves a store empties go back (to the spares first) once obj->lock is
 * dropped.
 */
#include <linux/rbtree.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

/* Runs per leaf: a leaf is a 512-byte object. */
#define MEMATTR_LEAF_RUNS 20

/* Leaves a single store can consume. */
#define MEMATTR_LEAF_SPARE 2

/**
 * struct memattr_leaf - consecutive private runs
 * @rb: link in &memattr_obj.runs
 * @next: link in &memattr_obj.spare or &memattr_store_txn.removed, once
 *	out of the tree
 * @nr: runs in @run, at least one while in the tree
 * @run: the runs, in order; attributes never 0
 */
struct memattr_leaf {
	union {
		struct rb_node rb;
		struct memattr_leaf *next;
	};
	unsigned int nr;
	struct memattr_attr_run run[MEMATTR_LEAF_RUNS];
};

/* A run in the store: @i < @leaf->nr, or @leaf NULL past the last run. */
struct memattr_pos {
	struct memattr_leaf *leaf;
	unsigned int i;
};

static struct kmem_cache *memattr_leaf_cache;

int memattr_rb_init(void)
{
	BUILD_BUG_ON(sizeof(struct memattr_leaf) > 512);
	/*
	 * Not merged with other caches of its size, so that
	 * /sys/kernel/slab/memattr_leaf is the range store's memory alone.
	 * Type-safe by RCU for memattr_rb_load_lockless().
	 */
	memattr_leaf_cache = KMEM_CACHE(memattr_leaf,
					SLAB_ACCOUNT | SLAB_NO_MERGE |
					SLAB_TYPESAFE_BY_RCU);
	return memattr_leaf_cache ? 0 : -ENOMEM;
}

void memattr_rb_exit(void)
{
	kmem_cache_destroy(memattr_leaf_cache);
}

static struct memattr_leaf *memattr_leaf_entry(struct rb_node *node)
{
	return node ? rb_entry(node, struct memattr_leaf, rb) : NULL;
}

static struct memattr_leaf *memattr_leaf_next(struct memattr_leaf *leaf)
{
	return memattr_leaf_entry(rb_next(&leaf->rb));
}

static struct memattr_leaf *memattr_leaf_prev(struct memattr_leaf *leaf)
{
	return memattr_leaf_entry(rb_prev(&leaf->rb));
}

static struct memattr_attr_run *memattr_pos_run(const struct memattr_pos *pos)
{
	return pos->leaf ? &pos->leaf->run[pos->i] : NULL;
}

static void memattr_pos_next(struct memattr_pos *pos)
{
	if (++pos->i == pos->leaf->nr) {
		pos->leaf = memattr_leaf_next(pos->leaf);
		pos->i = 0;
	}
}

/* The run before @pos, or NULL. */
static struct memattr_attr_run *memattr_pos_prev_run(struct memattr_obj *obj,
						     const struct memattr_pos *pos)
{
	struct memattr_leaf *leaf;

	if (pos->leaf && pos->i)
		return &pos->leaf->run[pos->i - 1];
	leaf = pos->leaf ? memattr_leaf_prev(pos->leaf) :
			   memattr_leaf_entry(rb_last(&obj->runs));
	return leaf ? &leaf->run[leaf->nr - 1] : NULL;
}

/* The first run ending after @gfn (the one holding @gfn, if any). */
static struct memattr_pos memattr_find(struct memattr_obj *obj, u64 gfn)
{
	struct rb_node *node = obj->runs.rb_node;
	struct memattr_leaf *leaf, *found = NULL;
	unsigned int lo, hi, mid;

	/* The last leaf starting at or before @gfn. */
	while (node) {
		leaf = rb_entry(node, struct memattr_leaf, rb);
		if (leaf->run[0].range.start <= gfn) {
			found = leaf;
			node = node->rb_right;
		} else {
			node = node->rb_left;
		}
	}
	if (!found)
		return (struct memattr_pos){
			.leaf = memattr_leaf_entry(rb_first(&obj->runs)),
		};

	/* Runs end in order too: the first one of it ending after @gfn. */
	lo = 0;
	hi = found->nr;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (found->run[mid].range.end > gfn)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == found->nr)
		return (struct memattr_pos){ .leaf = memattr_leaf_next(found) };
	return (struct memattr_pos){ .leaf = found, .i = lo };
}

u64 memattr_rb_load(struct memattr_obj *obj, u64 gfn)
{
	struct memattr_pos pos = memattr_find(obj, gfn);
	struct memattr_attr_run *run = memattr_pos_run(&pos);

	return run && run->range.start <= gfn ? run->attrs : 0;
}

/*
 * An rbtree of n nodes is at most 2 log2(n + 1) deep: a lockless descent
 * that goes deeper is walking leaves a writer is moving, and gives up (the
 * sequence check then makes it try again).
 */
#define MEMATTR_RB_MAX_DEPTH (2 * BITS_PER_LONG)

/*
 * memattr_rb_load() for a reader without obj->lock: every value read may be
 * changing, so the descent follows only child pointers (which the rbtree
 * code writes with WRITE_ONCE() for such readers), bounds its depth and the
 * leaf's run count, and the caller throws the result away if obj->runs_seq
 * moved.  The run holding @gfn, if any, is in the last leaf starting at or
 * before it: no need to step to the next leaf.
 */
static u64 memattr_rb_peek(struct memattr_obj *obj, u64 gfn)
{
	struct rb_node *node = READ_ONCE(obj->runs.rb_node);
	struct memattr_leaf *leaf, *found = NULL;
	unsigned int depth = 0, lo, hi, mid, nr;

	while (node) {
		if (++depth > MEMATTR_RB_MAX_DEPTH)
			return 0;
		leaf = rb_entry(node, struct memattr_leaf, rb);
		if (READ_ONCE(leaf->run[0].range.start) <= gfn) {
			found = leaf;
			node = READ_ONCE(node->rb_right);
		} else {
			node = READ_ONCE(node->rb_left);
		}
	}
	if (!found)
		return 0;

	nr = min_t(unsigned int, READ_ONCE(found->nr), MEMATTR_LEAF_RUNS);
	lo = 0;
	hi = nr;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (READ_ONCE(found->run[mid].range.end) > gfn)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == nr || READ_ONCE(found->run[lo].range.start) > gfn)
		return 0;
	return READ_ONCE(found->run[lo].attrs);
}

u64 memattr_rb_load_lockless(struct memattr_obj *obj, u64 gfn)
{
	unsigned int seq;
	u64 attrs;

	rcu_read_lock();
	do {
		seq = read_seqcount_begin(&obj->runs_seq);
		attrs = memattr_rb_peek(obj, gfn);
	} while (read_seqcount_retry(&obj->runs_seq, seq));
	rcu_read_unlock();
	return attrs;
}

unsigned int memattr_rb_collect(struct memattr_obj *obj,
				const struct vmk_gfn_range *range,
				struct memattr_attr_run *runs, unsigned int max)
{
	struct memattr_pos pos = memattr_find(obj, range->start);
	struct memattr_attr_run *run;
	u64 gfn = range->start, end, attrs;
	unsigned int n = 0;

	while (gfn < range->end) {
		run = memattr_pos_run(&pos);
		attrs = 0;
		if (!run || run->range.start >= range->end) {
			end = range->end;
		} else if (run->range.start > gfn) {
			end = run->range.start;
		} else {
			end = min(run->range.end, range->end);
			attrs = run->attrs;
			memattr_pos_next(&pos);
		}
		if (!memattr_runs_push(runs, &n, max, gfn, end, attrs))
			break;
		gfn = end;
	}
	return n;
}

int memattr_rb_reserve(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	struct memattr_leaf *leaf;

	lockdep_assert_held(&obj->tree_mutex);

	txn->removed = NULL;
	while (obj->nr_spare < MEMATTR_LEAF_SPARE) {
		leaf = kmem_cache_alloc(memattr_leaf_cache, GFP_KERNEL_ACCOUNT);
		if (!leaf)
			return -ENOMEM;
		leaf->next = obj->spare;
		obj->spare = leaf;
		obj->nr_spare++;
	}
	return 0;
}

/*
 * Take a spare leaf (reserve made sure of one) and link it right after
 * @prev, or as the only leaf.  If @prev has a right subtree, the leaf after
 * @prev is its leftmost node, whose left slot is free.
 */
static struct memattr_leaf *memattr_leaf_add(struct memattr_obj *obj,
					     struct memattr_leaf *prev)
{
	struct memattr_leaf *leaf = obj->spare;
	struct rb_node **link = &obj->runs.rb_node, *parent = NULL, *node;

	obj->spare = leaf->next;
	obj->nr_spare--;
	leaf->nr = 0;
	if (prev && !prev->rb.rb_right) {
		parent = &prev->rb;
		link = &parent->rb_right;
	} else if (prev) {
		parent = &memattr_leaf_next(prev)->rb;
		link = &parent->rb_left;
	}
	/* rb_link_node_rcu(), for a link that is not __rcu. */
	rb_link_node(&leaf->rb, parent, &node);
	/* Set up before lockless readers can reach it (memattr_rb_peek()). */
	smp_store_release(link, node);
	rb_insert_color(&leaf->rb, &obj->runs);
	return leaf;
}

static void memattr_leaf_remove(struct memattr_obj *obj,
				struct memattr_leaf *leaf,
				struct memattr_store_txn *txn)
{
	rb_erase(&leaf->rb, &obj->runs);
	leaf->next = txn->removed;
	txn->removed = leaf;
}

/*
 * Insert [@start, @end) with @attrs before the run at @pos (which may be
 * one past the last run of @pos->leaf); a full leaf hands the run to a
 * neighbour with room, or gets one after it.  Returns where the run went.
 */
static struct memattr_pos memattr_insert(struct memattr_obj *obj,
					 struct memattr_pos pos, u64 start,
					 u64 end, u64 attrs)
{
	struct memattr_leaf *leaf = pos.leaf, *other;
	unsigned int i = pos.i, half = MEMATTR_LEAF_RUNS / 2;

	if (!leaf) {
		leaf = memattr_leaf_entry(rb_last(&obj->runs)) ?:
		       memattr_leaf_add(obj, NULL);
		i = leaf->nr;
	}
	if (leaf->nr == MEMATTR_LEAF_RUNS && !i) {
		other = memattr_leaf_prev(leaf);
		if (other && other->nr < MEMATTR_LEAF_RUNS) {
			leaf = other;
			i = other->nr;
		}
	} else if (i == MEMATTR_LEAF_RUNS) {
		other = memattr_leaf_next(leaf);
		if (other && other->nr < MEMATTR_LEAF_RUNS) {
			leaf = other;
			i = 0;
		}
	}
	if (leaf->nr == MEMATTR_LEAF_RUNS) {
		other = memattr_leaf_add(obj, leaf);
		if (i == MEMATTR_LEAF_RUNS) {
			/*
			 * After the last run of a full leaf: leave it full,
			 * so runs added in order fill every leaf.
			 */
			leaf = other;
			i = 0;
		} else {
			memcpy(other->run, &leaf->run[half],
			       (MEMATTR_LEAF_RUNS - half) * sizeof(leaf->run[0]));
			other->nr = MEMATTR_LEAF_RUNS - half;
			leaf->nr = half;
			if (i > half) {
				leaf = other;
				i -= half;
			}
		}
	}
	memmove(&leaf->run[i + 1], &leaf->run[i],
		(leaf->nr - i) * sizeof(leaf->run[0]));
	leaf->run[i].range.start = start;
	leaf->run[i].range.end = end;
	leaf->run[i].attrs = attrs;
	leaf->nr++;
	return (struct memattr_pos){ .leaf = leaf, .i = i };
}

/* Leaves that lost runs in a store and may now merge with a neighbour. */
struct memattr_shrunk {
	struct memattr_leaf *leaf[2];
};

/*
 * Remove @n runs from @pos on, all in @pos->leaf; returns the position of
 * the run that followed them.
 */
static struct memattr_pos memattr_cut(struct memattr_obj *obj,
				      struct memattr_pos pos, unsigned int n,
				      struct memattr_store_txn *txn,
				      struct memattr_shrunk *shrunk)
{
	struct memattr_leaf *leaf = pos.leaf;
	unsigned int k;

	if (n == leaf->nr) {
		for (k = 0; k < ARRAY_SIZE(shrunk->leaf); k++)
			if (shrunk->leaf[k] == leaf)
				shrunk->leaf[k] = NULL;
		pos.leaf = memattr_leaf_next(leaf);
		pos.i = 0;
		memattr_leaf_remove(obj, leaf, txn);
		return pos;
	}
	leaf->nr -= n;
	memmove(&leaf->run[pos.i], &leaf->run[pos.i + n],
		(leaf->nr - pos.i) * sizeof(leaf->run[0]));
	for (k = 0; k < ARRAY_SIZE(shrunk->leaf); k++) {
		if (shrunk->leaf[k] == leaf)
			break;
		if (!shrunk->leaf[k]) {
			shrunk->leaf[k] = leaf;
			break;
		}
	}
	if (pos.i == leaf->nr) {
		pos.leaf = memattr_leaf_next(leaf);
		pos.i = 0;
	}
	return pos;
}

/* Fold @leaf into a neighbour if it is under a quarter full and fits. */
static void memattr_leaf_shrink(struct memattr_obj *obj,
				struct memattr_leaf *leaf,
				struct memattr_store_txn *txn)
{
	struct memattr_leaf *other;
	size_t size = leaf->nr * sizeof(leaf->run[0]);

	if (leaf->nr >= MEMATTR_LEAF_RUNS / 4)
		return;
	other = memattr_leaf_prev(leaf);
	if (other && other->nr + leaf->nr <= MEMATTR_LEAF_RUNS) {
		memcpy(&other->run[other->nr], leaf->run, size);
	} else {
		other = memattr_leaf_next(leaf);
		if (!other || other->nr + leaf->nr > MEMATTR_LEAF_RUNS)
			return;
		/* @other now starts where @leaf did: still in order. */
		memmove(&other->run[leaf->nr], other->run,
			other->nr * sizeof(other->run[0]));
		memcpy(other->run, leaf->run, size);
	}
	other->nr += leaf->nr;
	memattr_leaf_remove(obj, leaf, txn);
}

/* The runs from @pos on that end at or before @end, in @pos->leaf. */
static unsigned int memattr_ending_by(const struct memattr_pos *pos, u64 end)
{
	const struct memattr_leaf *leaf = pos->leaf;
	unsigned int i = pos->i;

	while (i < leaf->nr && leaf->run[i].range.end <= end)
		i++;
	return i - pos->i;
}

void memattr_rb_apply(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	u64 start = txn->range.start, end = txn->range.end;
	struct memattr_pos pos = memattr_find(obj, start);
	struct memattr_attr_run *run = memattr_pos_run(&pos), *prev;
	struct memattr_shrunk shrunk = {};
	unsigned int n, k;
	bool left, right;
	s64 delta = 0;
	u64 cut_end;

	lockdep_assert_held(&obj->tree_mutex);
	lockdep_assert_held(&obj->lock);

	write_seqcount_begin(&obj->runs_seq);

	/* Carve [start, end) out: trim, split or remove the runs in it. */
	if (run && run->range.start < start) {
		cut_end = run->range.end;
		run->range.end = start;
		pos.i++;
		if (cut_end > end) {
			/* Inside one run: its far part becomes a run of its own. */
			pos = memattr_insert(obj, pos, end, cut_end, run->attrs);
			delta++;
		} else if (pos.i == pos.leaf->nr) {
			pos.leaf = memattr_leaf_next(pos.leaf);
			pos.i = 0;
		}
	}
	while ((run = memattr_pos_run(&pos)) && run->range.end <= end) {
		n = memattr_ending_by(&pos, end);
		pos = memattr_cut(obj, pos, n, txn, &shrunk);
		delta -= n;
	}
	if (run && run->range.start < end)
		run->range.start = end;

	/* Fill the hole, merging with equal neighbours; shared is no run. */
	if (txn->attrs) {
		prev = memattr_pos_prev_run(obj, &pos);
		left = prev && prev->range.end == start &&
		       prev->attrs == txn->attrs;
		right = run && run->range.start == end &&
			run->attrs == txn->attrs;
		if (left && right) {
			prev->range.end = run->range.end;
			memattr_cut(obj, pos, 1, txn, &shrunk);
			delta--;
		} else if (left) {
			prev->range.end = end;
		} else if (right) {
			run->range.start = start;
		} else {
			memattr_insert(obj, pos, start, end, txn->attrs);
			delta++;
		}
	}

	/* Shrinking one leaf never frees another one. */
	for (k = 0; k < ARRAY_SIZE(shrunk.leaf); k++)
		if (shrunk.leaf[k])
			memattr_leaf_shrink(obj, shrunk.leaf[k], txn);

	write_seqcount_end(&obj->runs_seq);
	obj->nr_entries += delta;
	memattr_stat_add(runs, delta);
}

void memattr_rb_release(struct memattr_obj *obj, struct memattr_store_txn *txn)
{
	struct memattr_leaf *leaf;

	lockdep_assert_held(&obj->tree_mutex);
	lockdep_assert_not_held(&obj->lock);

	while ((leaf = txn->removed)) {
		txn->removed = leaf->next;
		if (obj->nr_spare < MEMATTR_LEAF_SPARE) {
			leaf->next = obj->spare;
			obj->spare = leaf;
			obj->nr_spare++;
		} else {
			kmem_cache_free(memattr_leaf_cache, leaf);
		}
		cond_resched();
	}
}

void memattr_rb_destroy(struct memattr_obj *obj)
{
	struct memattr_leaf *leaf, *tmp;

	mutex_lock(&obj->tree_mutex);
	rbtree_postorder_for_each_entry_safe(leaf, tmp, &obj->runs, rb) {
		kmem_cache_free(memattr_leaf_cache, leaf);
		cond_resched();
	}
	obj->runs = RB_ROOT;
	while ((leaf = obj->spare)) {
		obj->spare = leaf->next;
		kmem_cache_free(memattr_leaf_cache, leaf);
	}
	obj->nr_spare = 0;
	memattr_stat_sub(runs, obj->nr_entries);
	obj->nr_entries = 0;
	mutex_unlock(&obj->tree_mutex);
}
