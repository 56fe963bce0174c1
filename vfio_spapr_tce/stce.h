/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio_spapr_tce internals: the container, its groups, its DMA windows with
 * their TCE tables, and (sPAPR v2) its pre-registered memory.
 *
 * Locking: every field of a container is protected by its @lock, taken by
 * each ioctl and by the attach/detach/release callbacks.  The module-wide
 * container list (for debugfs) has its own mutex, taken before any
 * container lock.
 */
#ifndef _STCE_H
#define _STCE_H

#include <linux/atomic.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <vmemkit/compat.h>
#include <vmemkit/iova.h>
#include <vmemkit/page_array.h>

#include "vfio.h"

/* TCE permission bits, as on POWER; a TCE without either is unused. */
#define STCE_TCE_READ		BIT_ULL(0)
#define STCE_TCE_WRITE		BIT_ULL(1)
#define STCE_TCE_PERM		(STCE_TCE_READ | STCE_TCE_WRITE)

/* The default (dma32) window plus one dynamic window, as most POWER PHBs. */
#define STCE_MAX_WINDOWS	2
/* Deepest multi-level table POWER userspace may ask for. */
#define STCE_MAX_LEVELS		5
/* Largest node of a TCE table, in entries (32 MiB of TCEs). */
#define STCE_NODE_MAX_SHIFT	22U
/* Smallest node below the root: a page of TCEs. */
#define STCE_NODE_MIN_SHIFT	(PAGE_SHIFT - 3)
/* Levels of the default window's table (its leaves come on demand). */
#define STCE_DMA32_LEVELS	2
/*
 * Where the second window starts when the IOMMU translates that address,
 * as on POWER (PCI address bit 59 selects TVE #1).
 */
#define STCE_DDW_START		BIT_ULL(59)
/* TCE page sizes a window may use: 4 KiB and 2 MiB. */
#define STCE_PAGE_SIZES		(SZ_4K | SZ_2M)

/**
 * struct stce_node - the root or an inner node of a multi-level TCE table
 * @used: a one-level table's root: TCEs in use; above: children allocated
 * @child: the nodes of the next level (NULL: not allocated); leaves below
 *	the root are bare arrays of TCEs, laid out as @tce, and their parent
 *	holds, after its child pointers, an unsigned long per child: the
 *	TCEs in use in it
 * @tce: a one-level table's root: the TCEs, physical address of the first
 *	system page | perm; in a v2 window followed by as many user
 *	addresses, the one each in-use TCE was mapped from, to find its
 *	registered region on unmap
 */
struct stce_node {
	unsigned long used;
	union {
		DECLARE_FLEX_ARRAY(void *, child);
		DECLARE_FLEX_ARRAY(u64, tce);
	};
};

/**
 * struct stce_window - one DMA window and its TCE table
 * @win: the IOVA range; size 0 when the slot is free
 * @page_shift: log2 of the IOMMU page size of each TCE
 * @levels: table levels userspace asked for
 * @depth: levels the table has (fewer than @levels if nodes of a page
 *	suffice, see stce_table_geometry())
 * @node_shift: log2 of the entries of each node below the root
 * @has_ua: v2: the leaves also hold user addresses
 * @nr_tces: TCEs in the window
 * @in_use: TCEs with a permission bit set
 * @table_bytes: memory the table's nodes take
 * @root: the root node, allocated with the window
 */
struct stce_window {
	struct vmk_iova_window win;
	unsigned int page_shift;
	unsigned int levels;
	unsigned int depth;
	unsigned int node_shift;
	bool has_ua;
	unsigned long nr_tces;
	unsigned long in_use;
	size_t table_bytes;
	struct stce_node *root;
};

/**
 * struct stce_cursor - a position in a window's TCE table
 * @w: the window
 * @tce: TCE @i in its leaf, or NULL when the leaf is not allocated
 * @used: the count of TCEs in use in that leaf
 * @i: the TCE
 * @left: TCEs from @i to the end of the leaf (or of the window), at least 1
 * @ua_off: v2: how far after each TCE its user address is, 0 without them
 *
 * A walk over a range of TCEs goes from the root to a leaf once per leaf,
 * not once per TCE: stce_cursor_next() only walks again when it leaves the
 * leaf.  Between stce_cursor_seek() and the last stce_cursor_next() no
 * table node may be allocated or freed.
 */
struct stce_cursor {
	struct stce_window *w;
	u64 *tce;
	unsigned long *used;
	unsigned long i;
	unsigned long left;
	unsigned long ua_off;
};

/**
 * struct stce_group - an IOMMU group attached to a container
 * @node: link in &stce_container.groups
 * @iommu_group: the group
 * @domain: the paging domain the group is attached to; every in-use TCE of
 *	every window is mapped in it
 * @msi: where @domain's MSI cookie maps MSI doorbells (software-managed
 *	MSI only); size 0 when the IOMMU needs none.  No window may overlap it.
 */
struct stce_group {
	struct list_head node;
	struct iommu_group *iommu_group;
	struct iommu_domain *domain;
	struct vmk_iova_window msi;
};

/**
 * struct stce_region - v2 registered memory, shared by the containers of
 *	one mm as on POWER: pinned and charged once
 * @node: link in the module's region list (under stce_regions_lock)
 * @mm: the mm it was registered from; every container using it owns that
 *	mm (mmgrab()ed), so the pointer stays valid as long as the region
 * @ua: page-aligned user address
 * @size: length in bytes
 * @pa: the pinned pages, charged to @mm's locked_vm
 * @users: containers that registered it (under stce_regions_lock)
 */
struct stce_region {
	struct list_head node;
	struct mm_struct *mm;
	u64 ua;
	u64 size;
	struct vmk_page_array pa;
	unsigned int users;
};

/**
 * struct stce_mem - a container's registration of a &struct stce_region
 * @node: link in &stce_container.mems
 * @ua: the region's address
 * @size: the region's size
 * @region: the shared region, held while this registration lives
 * @mapped: in-use TCEs of this container pointing into the region
 */
struct stce_mem {
	struct list_head node;
	u64 ua;
	u64 size;
	struct stce_region *region;
	unsigned long mapped;
};

/**
 * struct stce_container - the iommu_data of one VFIO container
 * @lock: protects every field below
 * @v2: opened as VFIO_SPAPR_TCE_v2_IOMMU
 * @enabled: v1: between VFIO_IOMMU_ENABLE and VFIO_IOMMU_DISABLE
 * @mm: the mm that first used the container (mmgrab()ed), or NULL
 * @groups: &struct stce_group list
 * @pgsizes: IOMMU page sizes every group's domain supports
 * @aperture: IOVAs every group's domain can translate, inclusive (it may
 *	be all 2^64 IOVAs); meaningless while no group is attached
 * @windows: the DMA windows, slot 0 starting as the default window
 * @mems: v2 registered memory, &struct stce_mem list
 * @acct: v1: locked_vm charged for the pages MAP_DMA pinned (holds no pages)
 * @pinned: system pages this container holds pinned (v2: the pages of
 *	every region it registered, shared or not)
 * @map_calls: iommu_map() calls made for this container
 * @id: number shown in debugfs
 * @node: link in the module's container list (under its own mutex)
 */
struct stce_container {
	struct mutex lock;	/* protects every field below */
	bool v2;
	bool enabled;
	struct mm_struct *mm;
	struct list_head groups;
	unsigned long pgsizes;
	struct vmk_iova_range aperture;
	struct stce_window windows[STCE_MAX_WINDOWS];
	struct list_head mems;
	struct vmk_page_array acct;
	unsigned long pinned;
	unsigned long map_calls;
	unsigned int id;
	struct list_head node;
};

/* Module-wide statistics, shown in debugfs. */
struct stce_stats {
	atomic_long_t nr_containers;
	atomic_long_t pinned_pages;
	atomic_long_t map_calls;
	atomic_long_t unmap_calls;
	atomic_long_t table_bytes;
};

extern struct stce_stats stce_stats;
extern unsigned int stce_dma32_window_mb;
extern unsigned long long stce_ddw_base;
extern bool stce_allow_unsafe_interrupts;

/* group.c */
int stce_attach_group(void *iommu_data, struct iommu_group *iommu_group,
		      enum vfio_group_type type);
void stce_detach_group(void *iommu_data, struct iommu_group *iommu_group);
int stce_resv_conflict(struct stce_container *c,
		       const struct vmk_iova_window *w);

/* table.c */
int stce_table_geometry(u64 nr, unsigned int levels, unsigned int *depth,
			unsigned int *node_shift);
int stce_table_alloc(struct stce_window *w, unsigned long first,
		     unsigned long n);
void stce_table_trim(struct stce_window *w, unsigned long first,
		     unsigned long n);
void stce_cursor_seek(struct stce_cursor *cur, struct stce_window *w,
		      unsigned long i);
int stce_window_init(struct stce_window *w, bool v2, u64 start, u64 size,
		     unsigned int page_shift, unsigned int levels);
int stce_window_destroy(struct stce_container *c, struct stce_window *w);
struct stce_window *stce_window_find(struct stce_container *c, u64 iova);
int stce_domain_map(struct stce_container *c, struct stce_window *w,
		    struct iommu_domain *domain, unsigned long first,
		    unsigned long n, bool *clean);
int stce_map_all(struct stce_container *c, struct stce_window *w,
		 unsigned long first, unsigned long n);
bool stce_unmap_all(struct stce_container *c, struct stce_window *w,
		    unsigned long first, unsigned long n);
void stce_tces_release(struct stce_container *c, struct stce_window *w,
		       unsigned long first, unsigned long n);
int stce_tces_clear(struct stce_container *c, struct stce_window *w,
		    unsigned long first, unsigned long n);
int stce_window_clear(struct stce_container *c, struct stce_window *w);
int stce_window_replay(struct stce_container *c, struct iommu_domain *domain);

/* The TCE under @cur: physical address | permission bits, 0 if clear. */
static inline u64 stce_cursor_tce(const struct stce_cursor *cur)
{
	return cur->tce ? *cur->tce : 0;
}

/* Move @cur to the next TCE; it may then be just past the window. */
static inline void stce_cursor_next(struct stce_cursor *cur)
{
	if (--cur->left) {
		cur->i++;
		if (cur->tce)
			cur->tce++;
		return;
	}
	stce_cursor_seek(cur, cur->w, cur->i + 1);
}

/*
 * Move @cur @k TCEs on, @k at most @cur->left: loops over a range work on
 * the min(@cur->left, TCEs left) entries of one leaf at a time.
 */
static inline void stce_cursor_skip(struct stce_cursor *cur, unsigned long k)
{
	if (k < cur->left) {
		cur->left -= k;
		cur->i += k;
		if (cur->tce)
			cur->tce += k;
		return;
	}
	stce_cursor_seek(cur, cur->w, cur->i + k);
}

/* mem.c */
int stce_mem_register(struct stce_container *c, u64 ua, u64 size);
int stce_mem_unregister(struct stce_container *c, u64 ua, u64 size);
struct stce_mem *stce_mem_find(struct stce_container *c, u64 ua, u64 size);
void stce_mem_release_all(struct stce_container *c);

/* uapi.c */
long stce_ioctl(void *iommu_data, unsigned int cmd, unsigned long arg);

/* debugfs.c */
void stce_debugfs_init(void);
void stce_debugfs_exit(void);
void stce_debugfs_add(struct stce_container *c);
void stce_debugfs_del(struct stce_container *c);

#endif /* _STCE_H */
