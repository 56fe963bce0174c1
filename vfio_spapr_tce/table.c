// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCE tables.  Each window has a table with one entry per IOMMU page of
 * the window: the physical address of the page (the RPN) and its READ/WRITE
 * permission, as on POWER.  The table is the container's record; every
 * in-use entry is mirrored into each group's paging domain.
 *
 * Every TCE is exactly one IOMMU page of the window's page size in every
 * domain.  Physically contiguous runs are mapped with one iommu_map() call,
 * but a run is cut so that the IOMMU driver can never pick a page larger
 * than the TCE (see stce_domain_map()): any TCE-aligned sub-range can then
 * be unmapped on its own, as on POWER, without splitting a large page.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "stce.h"

/* Pages released per unpin_user_pages_dirty_lock() call. */
#define STCE_UNPIN_BATCH	64

static inline u64 stce_iova(const struct stce_window *w, unsigned long i)
{
	return w->win.start + ((u64)i << w->page_shift);
}

static inline u64 stce_tce_phys(u64 tce)
{
	return tce & ~(u64)(PAGE_SIZE - 1);
}

static int stce_tce_prot(u64 tce)
{
	int prot = IOMMU_CACHE;

	if (tce & STCE_TCE_READ)
		prot |= IOMMU_READ;
	if (tce & STCE_TCE_WRITE)
		prot |= IOMMU_WRITE;
	return prot;
}

/*
 * The table is a radix tree of @w->depth levels, as POWER's multi-level
 * TCE tables: the root indexes the top bits of the TCE number, each level
 * below it w->node_shift bits, and the leaves hold the TCEs (and, v2, the
 * user address of each after them).  The root is allocated with the window;
 * every other node when a TCE below it is first mapped, and freed when the
 * last TCE below it is cleared, so a window costs memory in proportion to
 * the TCEs in use, not to its size.  A one-level table is the root alone.
 *
 * Below the root a leaf is the bare array of its TCEs, a power of two in
 * size: a leaf is allocated (and zeroed) for every MAP_DMA into a range
 * left empty, and a header would make each allocation round up to twice
 * its size.  The count of TCEs in use in each leaf is kept in its parent,
 * after the parent's child pointers.
 */
static unsigned int stce_level_shift(const struct stce_window *w,
				     unsigned int level)
{
	return (w->depth - 1 - level) * w->node_shift;
}

static unsigned long stce_level_idx(const struct stce_window *w,
				    unsigned int level, unsigned long i)
{
	unsigned long idx = i >> stce_level_shift(w, level);

	return level ? idx & (BIT(w->node_shift) - 1) : idx;
}

/* Entries of a node at @level. */
static unsigned long stce_node_entries(const struct stce_window *w,
				       unsigned int level)
{
	return level ? BIT(w->node_shift) :
		       BIT(ilog2(w->nr_tces) - stce_level_shift(w, 0));
}

/* Whether nodes at @level are bare leaves (below a root that is not one). */
static bool stce_bare_leaf(const struct stce_window *w, unsigned int level)
{
	return level && level == w->depth - 1;
}

/* The TCEs in use in the bare leaf @idx of @parent, a node above it. */
static unsigned long *stce_leaf_used(const struct stce_window *w,
				     struct stce_node *parent,
				     unsigned int level, unsigned long idx)
{
	return (unsigned long *)&parent->child[stce_node_entries(w, level)] +
	       idx;
}

static size_t stce_node_size(const struct stce_window *w, unsigned int level)
{
	unsigned long n = stce_node_entries(w, level);

	if (level == w->depth - 1)
		n = w->has_ua ? 2 * n : n;
	if (stce_bare_leaf(w, level))
		return array_size(n, sizeof(u64));
	if (level == w->depth - 1)
		return struct_size_t(struct stce_node, tce, n);
	/* The parent of bare leaves also counts their TCEs in use. */
	if (stce_bare_leaf(w, level + 1))
		n *= 2;
	return struct_size_t(struct stce_node, child, n);
}

static void *stce_node_alloc(struct stce_window *w, unsigned int level)
{
	size_t size = stce_node_size(w, level);
	void *n;

	n = kvzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!n)
		return NULL;
	w->table_bytes += size;
	atomic_long_add(size, &stce_stats.table_bytes);
	return n;
}

static void stce_node_free(struct stce_window *w, void *n, unsigned int level)
{
	size_t size = stce_node_size(w, level);

	w->table_bytes -= size;
	atomic_long_sub(size, &stce_stats.table_bytes);
	kvfree(n);
}

static void stce_node_free_all(struct stce_window *w, void *node,
			       unsigned int level)
{
	struct stce_node *n = node;
	unsigned long i;

	if (level < w->depth - 1)
		for (i = 0; i < stce_node_entries(w, level); i++)
			if (n->child[i])
				stce_node_free_all(w, n->child[i], level + 1);
	stce_node_free(w, n, level);
}

/*
 * How many TCEs from TCE @i on share the deepest node the walk to @i found
 * at @level (the leaf itself when @level is the leaf level).
 */
static unsigned int stce_span_shift(const struct stce_window *w,
				    unsigned int level)
{
	if (level < w->depth - 1)
		return stce_level_shift(w, level);
	return w->depth > 1 ? stce_level_shift(w, w->depth - 2) :
			      ilog2(w->nr_tces);
}

/**
 * stce_cursor_seek() - put a cursor on a TCE, walking to its leaf
 * @cur: the cursor
 * @w: the window
 * @i: the TCE; a cursor at or past the end of the window reads 0
 */
void stce_cursor_seek(struct stce_cursor *cur, struct stce_window *w,
		      unsigned long i)
{
	unsigned int leaf = w->depth - 1, l;
	struct stce_node *n = w->root;
	unsigned long span;

	cur->w = w;
	cur->i = i;
	cur->ua_off = w->has_ua ? stce_node_entries(w, leaf) : 0;
	cur->tce = NULL;
	cur->used = NULL;
	if (i >= w->nr_tces) {
		cur->left = 1;
		return;
	}
	span = BIT(stce_span_shift(w, leaf));
	cur->left = span - (i & (span - 1));
	if (!leaf) {
		cur->tce = &n->tce[i];
		cur->used = &n->used;
		return;
	}
	for (l = 0; l < leaf - 1 && n; l++)
		n = n->child[stce_level_idx(w, l, i)];
	if (!n || !n->child[stce_level_idx(w, l, i)])
		return;
	cur->tce = (u64 *)n->child[stce_level_idx(w, l, i)] +
		   stce_level_idx(w, leaf, i);
	cur->used = stce_leaf_used(w, n, l, stce_level_idx(w, l, i));
}

/*
 * The TCEs in use (or, above the leaves, the children) of @path[@l], the
 * node at level @l on the path to TCE @i.
 */
static unsigned long stce_path_used(const struct stce_window *w,
				    void * const *path, unsigned int l,
				    unsigned long i)
{
	if (stce_bare_leaf(w, l))
		return *stce_leaf_used(w, path[l - 1], l - 1,
				       stce_level_idx(w, l - 1, i));
	return ((struct stce_node *)path[l])->used;
}

/**
 * stce_table_trim() - free the table nodes of a range that hold no TCE
 * @w: the window
 * @first: first TCE
 * @n: number of TCEs
 *
 * The root stays.
 */
void stce_table_trim(struct stce_window *w, unsigned long first,
		     unsigned long n)
{
	unsigned long i = first, end = first + n;
	void *path[STCE_MAX_LEVELS], *child;
	struct stce_node *parent;
	unsigned int l, span;

	while (i < end) {
		/* path[l]: the deepest node on the way to TCE i */
		path[0] = w->root;
		for (l = 0; l < w->depth - 1; l++) {
			parent = path[l];
			child = parent->child[stce_level_idx(w, l, i)];
			if (!child)
				break;
			path[l + 1] = child;
		}
		span = stce_span_shift(w, l);
		/* Free the nodes on the path left empty, bottom up. */
		for (; l > 0 && !stce_path_used(w, path, l, i); l--) {
			parent = path[l - 1];
			parent->child[stce_level_idx(w, l - 1, i)] = NULL;
			parent->used--;
			stce_node_free(w, path[l], l);
		}
		i = (i | (BIT(span) - 1)) + 1;
	}
}

/**
 * stce_table_alloc() - allocate the table nodes a range of TCEs needs
 * @w: the window
 * @first: first TCE
 * @n: number of TCEs
 *
 * Return: 0, or -ENOMEM with no node left that holds no TCE.
 */
int stce_table_alloc(struct stce_window *w, unsigned long first,
		     unsigned long n)
{
	unsigned long i = first, end = first + n, idx;
	struct stce_node *node;
	unsigned int l;
	void *child;

	while (i < end) {
		node = w->root;
		for (l = 0; l < w->depth - 1; l++) {
			idx = stce_level_idx(w, l, i);
			child = node->child[idx];
			if (!child) {
				child = stce_node_alloc(w, l + 1);
				if (!child) {
					stce_table_trim(w, first, n);
					return -ENOMEM;
				}
				node->child[idx] = child;
				node->used++;
			}
			node = child;	/* a bare leaf after the last level */
		}
		i = (i | (BIT(stce_span_shift(w, l)) - 1)) + 1;
	}
	return 0;
}

/*
 * The first in-use TCE at or after @i and before @end, or @end: whole
 * nodes that are not allocated, or hold no TCE, are skipped.
 */
static unsigned long stce_next_used(const struct stce_window *w,
				    unsigned long i, unsigned long end)
{
	unsigned long idx, last;
	struct stce_node *node;
	unsigned int l;
	u64 *tce;

	while (i < end) {
		node = w->root;
		tce = node->tce;
		for (l = 0; l < w->depth - 1; l++) {
			idx = stce_level_idx(w, l, i);
			if (!node->child[idx])
				break;
			if (stce_bare_leaf(w, l + 1)) {
				if (!*stce_leaf_used(w, node, l, idx))
					break;
				tce = node->child[idx];
			} else {
				node = node->child[idx];
				if (!node->used)
					break;
			}
		}
		if (l == w->depth - 1) {
			/* Scan the leaf up to its end or @end. */
			idx = stce_level_idx(w, l, i);
			last = min(end, (i | (BIT(stce_span_shift(w, l)) - 1)) + 1);
			for (; i < last; i++, idx++)
				if (tce[idx] & STCE_TCE_PERM)
					return i;
			continue;
		}
		i = (i | (BIT(stce_span_shift(w, l)) - 1)) + 1;
	}
	return end;
}

/**
 * stce_table_geometry() - check the table a window would have
 * @nr: TCEs in the window, a power of two
 * @levels: at most that many levels
 * @depth: set to the levels the table gets
 * @node_shift: set to log2 of the entries of each node below the root
 *
 * The TCE number is split evenly over @levels levels, but no node below the
 * root is smaller than a page of TCEs (fewer levels are then used); no node
 * may hold more than 2^STCE_NODE_MAX_SHIFT entries.
 *
 * Return: 0, or -EINVAL if @levels levels cannot index @nr TCEs.
 */
int stce_table_geometry(u64 nr, unsigned int levels, unsigned int *depth,
			unsigned int *node_shift)
{
	unsigned int bits = ilog2(nr), shift;

	if (!levels || levels > STCE_MAX_LEVELS)
		return -EINVAL;
	shift = DIV_ROUND_UP(bits, levels);
	if (shift > STCE_NODE_MAX_SHIFT)
		return -EINVAL;
	shift = max(shift, min(bits, STCE_NODE_MIN_SHIFT));
	*node_shift = shift;
	*depth = shift ? DIV_ROUND_UP(bits, shift) : 1;
	return 0;
}

/**
 * stce_window_init() - set up a window and allocate the root of its table
 * @w: a free window slot
 * @v2: also keep the user address of every TCE
 * @start: first IOVA
 * @size: length in bytes, a power of two multiple of the page size
 * @page_shift: log2 of the IOMMU page size
 * @levels: table levels userspace asked for (see stce_table_geometry())
 *
 * Return: 0, -EINVAL for an invalid window or table, or -ENOMEM.
 */
int stce_window_init(struct stce_window *w, bool v2, u64 start, u64 size,
		     unsigned int page_shift, unsigned int levels)
{
	struct vmk_iova_window win = { .start = start, .size = size };
	unsigned int depth, node_shift;
	int ret;

	if (!vmk_iova_window_valid(&win) || !is_power_of_2(size) ||
	    !vmk_iova_aligned(start, size, 1ULL << page_shift))
		return -EINVAL;
	ret = stce_table_geometry(size >> page_shift, levels, &depth,
				  &node_shift);
	if (ret)
		return ret;

	w->win = win;
	w->page_shift = page_shift;
	w->levels = levels;
	w->depth = depth;
	w->node_shift = node_shift;
	w->nr_tces = size >> page_shift;
	w->has_ua = v2;
	w->in_use = 0;
	w->table_bytes = 0;
	w->root = stce_node_alloc(w, 0);
	if (!w->root) {
		memset(w, 0, sizeof(*w));
		return -ENOMEM;
	}
	return 0;
}

/**
 * stce_window_destroy() - clear a window and free its table
 * @c: the container, locked (or being released)
 * @w: the window; a free slot is left alone
 *
 * Return: 0, or -ENOMEM with the window kept, some of its TCEs still in
 * use (see stce_tces_clear(); never with no group attached).
 */
int stce_window_destroy(struct stce_container *c, struct stce_window *w)
{
	int ret;

	if (!w->win.size)
		return 0;
	ret = stce_window_clear(c, w);
	if (ret)
		return ret;
	stce_node_free_all(w, w->root, 0);
	memset(w, 0, sizeof(*w));
	return 0;
}

/**
 * stce_window_find() - the window holding an IOVA
 * @c: the container, locked
 * @iova: the IOVA
 *
 * Return: the window, or NULL.
 */
struct stce_window *stce_window_find(struct stce_container *c, u64 iova)
{
	int i;

	for (i = 0; i < STCE_MAX_WINDOWS; i++)
		if (c->windows[i].win.size &&
		    vmk_iova_window_contains(&c->windows[i].win, iova, 1))
			return &c->windows[i];
	return NULL;
}

/*
 * Take TCEs [@first, @first + @n) of @w out of @domain one by one, after
 * iommu_unmap() stopped short of them: an entry the driver still knows is
 * unmapped; one it no longer knows is mapped again and unmapped, because
 * the hardware may hold it still.  virtio-iommu drops its record of a
 * mapping before it queues the UNMAP request, and when the request cannot
 * be allocated it returns 0 with the device still mapping the page; only
 * a new MAP (which the device refuses as overlapping) and UNMAP of the
 * same range make the driver send the request again.
 */
static bool stce_domain_unmap_each(struct stce_window *w,
				   struct iommu_domain *domain,
				   unsigned long first, unsigned long n)
{
	u64 tsize = 1ULL << w->page_shift, iova, tce;
	struct stce_cursor cur;
	unsigned long i;

	stce_cursor_seek(&cur, w, first);
	for (i = first; i < first + n; i++, stce_cursor_next(&cur)) {
		iova = stce_iova(w, i);
		tce = stce_cursor_tce(&cur);
		if (!iommu_iova_to_phys(domain, iova) &&
		    iommu_map(domain, iova, stce_tce_phys(tce), tsize,
			      stce_tce_prot(tce), GFP_KERNEL_ACCOUNT))
			return false;
		atomic_long_inc(&stce_stats.unmap_calls);
		if (iommu_unmap(domain, iova, tsize) != tsize)
			return false;
	}
	return true;
}

/*
 * Take in-use TCEs out of one domain.  Return true when none of them is
 * mapped there any more, false when the IOMMU driver could not unmap them
 * all: a device may then still reach their pages, which must stay held.
 */
static bool stce_domain_unmap(struct stce_window *w,
			      struct iommu_domain *domain, unsigned long first,
			      unsigned long n)
{
	size_t size = (size_t)n << w->page_shift, done;
	unsigned long skip;

	done = iommu_unmap(domain, stce_iova(w, first), size);
	atomic_long_inc(&stce_stats.unmap_calls);
	if (done == size)
		return true;
	/* Whatever the driver reports, only whole TCEs count as done. */
	skip = min_t(unsigned long, done >> w->page_shift, n);
	if (stce_domain_unmap_each(w, domain, first + skip, n - skip))
		return true;
	pr_err_ratelimited("IOVA 0x%llx, %zu bytes: the IOMMU could not unmap it, its pages stay held\n",
			   stce_iova(w, first), size);
	return false;
}

/**
 * stce_domain_map() - mirror in-use TCEs into one domain
 * @c: the container, locked
 * @w: the window
 * @domain: the domain
 * @first: first TCE
 * @n: number of TCEs, all in use
 * @clean: set to false on failure if the IOMMU could not unmap again what
 *	this call mapped (may be NULL)
 *
 * Consecutive TCEs with the same permission whose pages are physically
 * contiguous go in one iommu_map() call.  A call stays inside one block of
 * the next larger page size the domain has (2 MiB above 4 KiB TCEs) and
 * ends before that block's last TCE: no call covers a whole aligned larger
 * block, so the driver always maps pages of exactly the TCE size.  Staying
 * inside the block matters to drivers that cannot split what one call
 * mapped (virtio-iommu removes a whole MAP request or nothing): they offer
 * every page size, so each of their calls is one TCE.
 *
 * Return: 0, or the iommu_map() error, with nothing of the range left
 * mapped in @domain unless *@clean was set to false.
 */
int stce_domain_map(struct stce_container *c, struct stce_window *w,
		    struct iommu_domain *domain, unsigned long first,
		    unsigned long n, bool *clean)
{
	unsigned long bigger, i, j, k, len, stop, pos, last, end = first + n;
	u64 tsize = 1ULL << w->page_shift;
	u64 lsize = 0, phys, perm, tce;
	struct stce_cursor cur;
	int ret;

	lockdep_assert_held(&c->lock);
	bigger = domain->pgsize_bitmap & ~((unsigned long)(tsize << 1) - 1);
	if (bigger)
		lsize = 1ULL << __ffs(bigger);

	stce_cursor_seek(&cur, w, first);
	for (i = first; i < end; i = j) {
		tce = stce_cursor_tce(&cur);
		phys = stce_tce_phys(tce);
		perm = tce & STCE_TCE_PERM;
		/*
		 * Where the run must stop: at the end, and inside a larger
		 * block before the block's last TCE (or, from that last TCE,
		 * after it alone).
		 */
		stop = end;
		if (lsize) {
			pos = (stce_iova(w, i) & (lsize - 1)) >> w->page_shift;
			last = (lsize >> w->page_shift) - 1;
			stop = min(end, i + (pos < last ? last - pos : 1));
		}
		/*
		 * The run goes on while each TCE is the one before it plus
		 * a TCE's size (the same permission, the next physical
		 * page), one leaf at a time.  The cursor stays on TCE j,
		 * where the next run starts.
		 */
		tce += tsize;
		stce_cursor_skip(&cur, 1);
		for (j = i + 1; j < stop; j += len) {
			len = min(cur.left, stop - j);
			for (k = 0; k < len && cur.tce && cur.tce[k] == tce; k++)
				tce += tsize;
			if (k < len) {
				stce_cursor_skip(&cur, k);
				j += k;
				break;
			}
			stce_cursor_skip(&cur, len);
		}
		ret = iommu_map(domain, stce_iova(w, i), phys, (j - i) * tsize,
				stce_tce_prot(perm), GFP_KERNEL_ACCOUNT);
		c->map_calls++;
		atomic_long_inc(&stce_stats.map_calls);
		if (ret) {
			if (i > first && !stce_domain_unmap(w, domain, first,
							    i - first) &&
			    clean)
				*clean = false;
			return ret;
		}
	}
	return 0;
}

/**
 * stce_map_all() - mirror in-use TCEs into every group's domain
 * @c: the container, locked
 * @w: the window
 * @first: first TCE
 * @n: number of TCEs, all in use
 *
 * On failure the range is taken out of every domain again and its TCEs
 * are released.  If an IOMMU cannot unmap it, a device may still reach
 * the pages: the TCEs then stay in use, holding them, until UNMAP_DMA or
 * the last group's detach clears them.
 *
 * Return: 0 or the iommu_map() error.
 */
int stce_map_all(struct stce_container *c, struct stce_window *w,
		 unsigned long first, unsigned long n)
{
	struct stce_group *g;
	bool clean = true;
	int ret;

	lockdep_assert_held(&c->lock);
	list_for_each_entry(g, &c->groups, node) {
		ret = stce_domain_map(c, w, g->domain, first, n, &clean);
		if (ret)
			goto err_unmap;
	}
	return 0;

err_unmap:
	list_for_each_entry_continue_reverse(g, &c->groups, node)
		if (!stce_domain_unmap(w, g->domain, first, n))
			clean = false;
	if (clean)
		stce_tces_release(c, w, first, n);
	return ret;
}

/**
 * stce_unmap_all() - remove in-use TCEs from every group's domain
 * @c: the container, locked
 * @w: the window
 * @first: first TCE
 * @n: number of TCEs, all in use
 *
 * iommu_unmap() flushes the IOTLB before it returns, so once this is done
 * no device can reach the pages any more and they may be released.
 *
 * Return: true, or false if some IOMMU could not unmap the range (it is
 * still taken out of every other domain).
 */
bool stce_unmap_all(struct stce_container *c, struct stce_window *w,
		    unsigned long first, unsigned long n)
{
	struct stce_group *g;
	bool clean = true;

	lockdep_assert_held(&c->lock);
	list_for_each_entry(g, &c->groups, node)
		if (!stce_domain_unmap(w, g->domain, first, n))
			clean = false;
	return clean;
}

static void stce_unpin_batch(struct stce_container *c, struct page **pages,
			     unsigned int *nr, bool dirty)
{
	if (!*nr)
		return;
	unpin_user_pages_dirty_lock(pages, *nr, dirty);
	c->pinned -= *nr;
	atomic_long_sub(*nr, &stce_stats.pinned_pages);
	*nr = 0;
}

/* v2 TCEs hold no pin of their own: each region only loses a count. */
static void stce_tces_release_v2(struct stce_container *c,
				 struct stce_window *w, unsigned long first,
				 unsigned long n)
{
	struct stce_mem *mem = NULL;
	unsigned long i, j, len;
	struct stce_cursor cur;
	u64 ua, *t;

	stce_cursor_seek(&cur, w, first);
	for (i = 0; i < n; i += len) {
		len = min(cur.left, n - i);
		t = cur.tce;
		if (WARN_ON_ONCE(!t))
			return;
		for (j = 0; j < len; j++) {
			ua = t[cur.ua_off + j];
			t[j] = 0;
			t[cur.ua_off + j] = 0;
			if (!mem || ua < mem->ua || ua - mem->ua >= mem->size)
				mem = stce_mem_find(c, ua, 1ULL << w->page_shift);
			mem->mapped--;
		}
		*cur.used -= len;
		w->in_use -= len;
		stce_cursor_skip(&cur, len);
	}
}

/**
 * stce_tces_release() - drop what in-use TCEs hold and mark them free
 * @c: the container, locked
 * @w: the window
 * @first: first TCE
 * @n: number of TCEs, all in use and already unmapped from every domain
 *
 * v1 TCEs hold their own pin and charge: both are dropped (pages the
 * device could write are dirtied).  v2 TCEs point into registered memory,
 * which only loses a mapping count.
 */
void stce_tces_release(struct stce_container *c, struct stce_window *w,
		       unsigned long first, unsigned long n)
{
	unsigned long i, j, k, len, per_tce = 1UL << (w->page_shift - PAGE_SHIFT);
	struct page *batch[STCE_UNPIN_BATCH];
	struct stce_cursor cur;
	unsigned int nr = 0;
	bool dirty = false;
	u64 tce, *t;

	lockdep_assert_held(&c->lock);
	if (c->v2) {
		stce_tces_release_v2(c, w, first, n);
		return;
	}
	stce_cursor_seek(&cur, w, first);
	for (i = 0; i < n; i += len) {
		len = min(cur.left, n - i);
		t = cur.tce;
		if (WARN_ON_ONCE(!t))
			break;
		for (j = 0; j < len; j++) {
			tce = t[j];
			t[j] = 0;
			if (dirty != !!(tce & STCE_TCE_WRITE)) {
				stce_unpin_batch(c, batch, &nr, dirty);
				dirty = tce & STCE_TCE_WRITE;
			}
			for (k = 0; k < per_tce; k++) {
				batch[nr++] = pfn_to_page(PHYS_PFN(stce_tce_phys(tce)) + k);
				if (nr == STCE_UNPIN_BATCH)
					stce_unpin_batch(c, batch, &nr, dirty);
			}
		}
		*cur.used -= len;
		w->in_use -= len;
		stce_cursor_skip(&cur, len);
	}
	stce_unpin_batch(c, batch, &nr, dirty);
	vmk_page_array_uncharge(&c->acct, i * per_tce);
}

/*
 * Find the next maximal run of in-use TCEs at or after *@first and before
 * @end.  Return its length (0 when there is none) with *@first moved to
 * its start.
 */
static unsigned long stce_next_used_run(struct stce_window *w,
					unsigned long *first,
					unsigned long end)
{
	unsigned long i = stce_next_used(w, *first, end), j = i, k, len;
	struct stce_cursor cur;

	stce_cursor_seek(&cur, w, i);
	while (j < end && cur.tce) {
		len = min(cur.left, end - j);
		for (k = 0; k < len && (cur.tce[k] & STCE_TCE_PERM); k++)
			;
		j += k;
		if (k < len)
			break;
		stce_cursor_skip(&cur, len);
	}
	*first = i;
	return j - i;
}

/**
 * stce_tces_clear() - unmap and release the in-use TCEs of a range
 * @c: the container, locked
 * @w: the window
 * @first: first TCE
 * @n: number of TCEs; those already clear are skipped
 *
 * A run of TCEs that some IOMMU could not unmap stays in use, with the
 * pages it holds, as a device may still reach them; the rest of the range
 * is cleared.  With no group attached this cannot fail.
 *
 * Return: 0, or -ENOMEM if some TCEs stayed in use.
 */
int stce_tces_clear(struct stce_container *c, struct stce_window *w,
		    unsigned long first, unsigned long n)
{
	unsigned long end = first + n, len;
	int ret = 0;

	while (w->in_use && (len = stce_next_used_run(w, &first, end))) {
		if (stce_unmap_all(c, w, first, len))
			stce_tces_release(c, w, first, len);
		else
			ret = -ENOMEM;
		first += len;
	}
	return ret;
}

/**
 * stce_window_clear() - unmap and release every in-use TCE of a window
 * @c: the container, locked
 * @w: the window; a free slot is left alone
 *
 * The table nodes left empty are freed.
 *
 * Return: 0, or -ENOMEM as stce_tces_clear().
 */
int stce_window_clear(struct stce_container *c, struct stce_window *w)
{
	int ret;

	if (!w->win.size)
		return 0;
	ret = stce_tces_clear(c, w, 0, w->nr_tces);
	stce_table_trim(w, 0, w->nr_tces);
	return ret;
}

/**
 * stce_window_replay() - map every in-use TCE into a new group's domain
 * @c: the container, locked
 * @domain: the new domain, not yet on the group list
 *
 * Return: 0, or an error; the caller then frees @domain with whatever it
 * holds.
 */
int stce_window_replay(struct stce_container *c, struct iommu_domain *domain)
{
	unsigned long first, n;
	struct stce_window *w;
	int i, ret;

	for (i = 0; i < STCE_MAX_WINDOWS; i++) {
		w = &c->windows[i];
		first = 0;
		while (w->in_use &&
		       (n = stce_next_used_run(w, &first, w->nr_tces))) {
			ret = stce_domain_map(c, w, domain, first, n, NULL);
			if (ret)
				return ret;
			first += n;
		}
	}
	return 0;
}
