/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vduse_iotlb internals.
 *
 * Locking
 * -------
 * The bounce table is an array with one &struct vit_slot per streaming IOVA
 * page, allocated once at create time and never resized.  Each slot has its
 * own spinlock; nothing else guards it.  A streaming mapping owns its slots
 * exclusively because the IOVA allocator hands an IOVA page to one mapping
 * at a time, so map, unmap and sync of different mappings never touch the
 * same lock and the fast path takes no domain-wide lock at all (the IOVA
 * allocator's per-CPU caches serve the IOVAs).  The slot lock is contended
 * only by the slow paths that change which page backs a slot: the shrinker,
 * user memory (de)registration and the mmap fault handler.  Map, unmap and
 * sync take each slot lock once per page; every holder has IRQs off (the
 * streaming paths switch them off once per batch of slots, bounce.c).
 *
 * Pages seen through the domain's mmap are installed by the fault handler
 * and zapped by whoever detaches a page from an IOVA (shrinker, user memory
 * registration, coherent free) and by the unmap of a streaming mapping
 * whose pages the device was handed (VIT_SLOT_SHOWN): the unmap clears the
 * slots, zaps under view_lock's write side, and only then frees the IOVAs,
 * so no new mapping of the slots is reachable through an old PTE.  An
 * unmap that cannot sleep queues the zap and the IOVA free on
 * &vduse_iotlb_domain.revoke_work instead.
 *
 * The rule that keeps the device's view right is: a PTE of the domain file
 * at an IOVA maps the page that IOVA has now, never one it had before.
 * &vduse_iotlb_domain.view_lock enforces it: the fault handler looks the
 * page up and inserts its PTE under the read side, and a detacher holds the
 * write side while it zaps the IOVAs and then detaches their pages, so no
 * PTE of the old page survives the zap and none can come back before the
 * page is gone.  Zapping first matters for the
 * shrinker: streaming mappers take no sleeping lock, so a slot whose page
 * was detached before the zap could be mapped again (with a fresh page)
 * while the device still reached the old page through a stale PTE.
 *
 * Lock order: umem_lock -> view_lock -> slot lock; mmap_lock -> view_lock
 * (faults); view_lock -> i_mmap lock (zaps), taken with no slot lock held.
 */
#ifndef _VIT_VDUSE_IOTLB_H
#define _VIT_VDUSE_IOTLB_H

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/iova.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <vmemkit/iova.h>
#include <vmemkit/compat.h>
#include <vmemkit/page_array.h>
#include <vmemkit/vduse_iotlb.h>

/* Slot flags. */
#define VIT_SLOT_MAPPED	BIT(0)	/* part of a live streaming mapping */
#define VIT_SLOT_HEAD	BIT(1)	/* first page of that mapping */
#define VIT_SLOT_USER	BIT(2)	/* @page is a pinned user page */
#define VIT_SLOT_TAIL	BIT(3)	/* last page of that mapping */
#define VIT_SLOT_SHOWN	BIT(4)	/* a fault handed @page to the device */

/**
 * struct vit_slot - one streaming IOVA page
 * @lock: protects every other field but @revoke_pages and @revoke_node,
 *        which belong to whoever holds the mapping's IOVAs
 * @flags: VIT_SLOT_*
 * @lo: while mapped: first byte of this page that belongs to the mapping
 * @hi: while mapped: end of the mapping's bytes in this page, so the
 *      mapping covers [@lo, @hi) of it; syncs are clamped to that
 * @map_size: head slot: bytes mapped
 * @revoke_pages: head slot of a mapping whose unmap left the zap of the
 *                device's PTEs to vit_revoke_work(): its IOVA pages, which
 *                stay allocated until the zap is done
 * @page: the bounce page (kernel page, user page with VIT_SLOT_USER, or NULL
 *        while no kernel page has been allocated or after reclaim)
 * @orig: while mapped: physical address of the original page that this IOVA
 *        page shadows (page aligned; same offsets in both pages)
 * @revoke_node: head slot: link in &vduse_iotlb_domain.revoke_list
 *
 * One cache line per slot: concurrent mappers on different CPUs work on
 * neighbouring slots (the IOVA allocator hands out adjacent pages), and two
 * slots in one line would bounce it between them on every lock and copy.
 * That doubles the table to 64 bytes per 4 KiB bounce page (1.6%).
 */
struct vit_slot {
	spinlock_t lock; /* protects the slot */
	u16 flags;
	u16 lo;
	u32 hi;
	u32 map_size;
	u32 revoke_pages;
	struct page *page;
	phys_addr_t orig;
	struct llist_node revoke_node;
} ____cacheline_aligned_in_smp;

/*
 * Counters, kept per CPU and summed on read.  Signed: a page may be
 * allocated on one CPU and freed on another.
 */
enum vit_stat {
	VIT_STAT_MAPPINGS,		/* live streaming mappings */
	VIT_STAT_BYTES_TO_DEV,		/* bytes copied into bounce pages */
	VIT_STAT_BYTES_FROM_DEV,	/* bytes copied out of bounce pages */
	VIT_STAT_KERNEL_PAGES,		/* kernel bounce pages held */
	VIT_STAT_RECLAIMED,		/* kernel bounce pages the shrinker freed */
	VIT_STAT_USER_PAGES,		/* slots backed by user memory */
	VIT_STAT_COHERENT_PAGES,	/* pages of live coherent allocations */
	VIT_NR_STATS,
};

/**
 * struct vit_stats - one CPU's counters, or their sum
 * @v: indexed by &enum vit_stat
 */
struct vit_stats {
	s64 v[VIT_NR_STATS];
};

/**
 * struct vit_coherent - one coherent allocation
 * @iova: first IOVA
 * @size: bytes, page aligned
 * @vaddr: kernel address of the pages (alloc_pages_exact)
 */
struct vit_coherent {
	dma_addr_t iova;
	size_t size;
	void *vaddr;
};

/**
 * struct vit_umem - one registered range of user bounce memory
 * @node: link in &vduse_iotlb_domain.umems
 * @first: first slot index
 * @pages: the pinned pages, one per slot, charged to RLIMIT_MEMLOCK
 */
struct vit_umem {
	struct list_head node;
	unsigned long first;
	struct vmk_page_array pages;
};

/**
 * struct vduse_iotlb_domain - one software IOTLB
 * @dev: DMA device; its ops are the domain.  Its refcount only keeps this
 *       memory alive: the domain's life is its file's (see @file)
 * @file: the domain file; a domain reference is a file reference, and the
 *        file's release tears the domain down
 * @id: instance number (device and debugfs names)
 * @bounce: the streaming region, [0, bounce_size)
 * @coherent: the coherent region, [bounce_size, iova_limit]
 * @nr_slots: entries in @slots
 * @slots: the bounce table (see the locking comment above)
 * @stream_iovad: IOVA allocator of the streaming region
 * @coherent_iovad: IOVA allocator of the coherent region
 * @coherent_xa: IOVA pfn -> &struct vit_coherent, one entry per page; its
 *               xa_lock also serialises faults against coherent frees
 * @umem_lock: serialises user memory (de)registration; protects @umems
 * @umems: registered &struct vit_umem, unordered
 * @view_lock: read: a fault looking up and installing a page; write:
 *             zapping IOVAs and detaching their pages (see above)
 * @max_map_size: the longest streaming mapping, at any offset, that an
 *                empty streaming region always has room for
 * @revoke_list: head slots of unmapped mappings whose PTEs in the domain
 *               file are still to be zapped (unmaps from atomic context)
 * @revoke_work: zaps them and frees their IOVAs
 * @dma_mask: the device's streaming DMA mask (dev.dma_mask points here)
 * @dma_parms: the device's DMA parameters (segment size)
 * @shrinker: reclaims kernel bounce pages of unmapped slots
 * @shrink_cursor: slot where the next scan starts (racy hint)
 * @stats: per-CPU counters
 * @debugfs: this domain's debugfs directory
 */
struct vduse_iotlb_domain {
	struct device dev;
	struct file *file;
	int id;
	struct vmk_iova_window bounce;
	struct vmk_iova_window coherent;
	unsigned long nr_slots;
	struct vit_slot *slots;
	struct iova_domain stream_iovad;
	struct iova_domain coherent_iovad;
	struct xarray coherent_xa;
	struct mutex umem_lock; /* protects umems, serialises (de)register */
	struct list_head umems;
	struct rw_semaphore view_lock; /* the domain file's PTEs vs detaches */
	size_t max_map_size;
	struct llist_head revoke_list;
	struct work_struct revoke_work;
	u64 dma_mask;
	struct device_dma_parameters dma_parms;
	struct shrinker *shrinker;
	unsigned long shrink_cursor;
	struct vit_stats __percpu *stats;
	struct dentry *debugfs;
};

static inline struct vduse_iotlb_domain *vit_dev_to_dom(struct device *dev)
{
	return container_of(dev, struct vduse_iotlb_domain, dev);
}

DECLARE_PER_CPU(struct vit_stats, vit_global_stats);

/* Update a counter of the domain and the module-wide copy. */
static inline void vit_stat_add(struct vduse_iotlb_domain *dom,
				enum vit_stat stat, s64 n)
{
	this_cpu_add(dom->stats->v[stat], n);
	this_cpu_add(vit_global_stats.v[stat], n);
}

extern atomic_t vit_live_domains;
extern struct dentry *vit_debugfs_root;
extern const struct dma_map_ops vit_dma_ops;

void vit_stats_sum(struct vit_stats __percpu *pcpu, struct vit_stats *sum);
void vit_stats_show(struct seq_file *m, struct vit_stats __percpu *pcpu);

/* bounce.c */
int vit_bounce_init(struct vduse_iotlb_domain *dom);
void vit_bounce_fini(struct vduse_iotlb_domain *dom);
struct page *vit_bounce_get_page(struct vduse_iotlb_domain *dom,
				 unsigned long idx);
void vit_zap(struct vduse_iotlb_domain *dom, u64 iova, u64 size);
void vit_free_page_list(struct list_head *pages);
int vit_map_sg(struct vduse_iotlb_domain *dom, struct scatterlist *sgl,
	       int nents, enum dma_data_direction dir, unsigned long attrs);

/* shrink.c */
int vit_shrinker_init(struct vduse_iotlb_domain *dom);

/* coherent.c */
void vit_coherent_init(struct vduse_iotlb_domain *dom);
void vit_coherent_fini(struct vduse_iotlb_domain *dom);
struct page *vit_coherent_get_page(struct vduse_iotlb_domain *dom,
				   unsigned long pfn);

/* umem.c */
int vit_umem_register(struct vduse_iotlb_domain *dom, u64 iova, u64 length,
		      u64 uaddr);
int vit_umem_deregister(struct vduse_iotlb_domain *dom, u64 iova,
			u64 length);
void vit_umem_fini(struct vduse_iotlb_domain *dom);

/* fault.c */
int vit_mmap(struct file *file, struct vm_area_struct *vma);

/* domain.c */
void vit_domain_debugfs_init(struct vduse_iotlb_domain *dom);

/* uapi.c */
int vit_uapi_init(void);
void vit_uapi_exit(void);

#endif /* _VIT_VDUSE_IOTLB_H */
