/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmemkit compatibility: the one place where the modules meet differences
 * between the kernels they build on (Debian's 6.12 LTS and the newest
 * Debian kernel, 7.3 at the time of writing).
 *
 * Each difference is detected by what the kernel's own headers provide (a
 * header, tested in the top-level Kbuild as VMK_HAVE_*; a macro that came
 * with the new API), never by a version number, so a distribution kernel
 * with a backport gets the right side.  A module
 * includes this header and calls the vmk_ helpers; it carries no #if of
 * its own for these.
 *
 * Differences handled here:
 *   - 7.x allocates single objects with kmalloc_obj()/kzalloc_obj() (and
 *     its checkpatch asks for them); older kernels get the same macros;
 *   - <linux/pagevec.h> became <linux/folio_batch.h>;
 *   - shmem_file_setup() takes vma_flags_t instead of unsigned long;
 *   - dma_map_ops: .map_phys/.unmap_phys replace .map_page/.unmap_page,
 *     and MMIO (formerly .map_resource) arrives as DMA_ATTR_MMIO;
 *   - the balloon page API (<linux/balloon_compaction.h> became
 *     <linux/balloon.h>): the core now adjusts the managed page count,
 *     inserts the new page and releases the old one on migration (and
 *     counts the BALLOON_MIGRATE event), and the per-device pages_lock is
 *     gone;
 *   - reclaim's scan and steal counts (PGSCAN_KSWAPD, PGSTEAL_DIRECT, ...)
 *     moved from the VM events to the node statistics (VMK_RECLAIM_NODE_STAT,
 *     from the top-level Kbuild, which finds them in <linux/mmzone.h>).
 *
 * One difference needs no helper: pseudo filesystems (anon_inode) became
 * noexec (SB_I_NOEXEC), so mmap(PROT_EXEC) of an anon-inode file fails
 * with EPERM.  ckpt_restore maps its lazy files without PROT_EXEC on every
 * kernel and makes the VMA executable itself (ckpt_restore/README.md).
 */
#ifndef _VMEMKIT_COMPAT_H
#define _VMEMKIT_COMPAT_H

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/vmstat.h>

#ifdef VMK_HAVE_FOLIO_BATCH_H
#include <linux/folio_batch.h>
#else
#include <linux/pagevec.h>
#endif

#ifndef kzalloc_obj
#define kmalloc_obj(P, GFP)	kmalloc(sizeof(P), GFP)
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

/**
 * vmk_shmem_file_setup() - an unlinked shmem file with no special VMA flags
 * @name: name for dentry (to be seen in /proc/<pid>/maps)
 * @size: size of the file
 *
 * Return: the file, or an ERR_PTR().
 */
static inline struct file *vmk_shmem_file_setup(const char *name, loff_t size)
{
#ifdef EMPTY_VMA_FLAGS
	return shmem_file_setup(name, size, EMPTY_VMA_FLAGS);
#else
	return shmem_file_setup(name, size, 0);
#endif
}

/*
 * Streaming DMA ops: where the kernel has .map_phys/.unmap_phys
 * (VMK_DMA_HAS_MAP_PHYS), a driver fills those; elsewhere .map_page and
 * .unmap_page.  VMK_DMA_ATTR_MMIO is the attribute MMIO mappings arrive
 * with (0 on kernels that send MMIO to .map_resource instead, which a
 * driver that cannot map MMIO simply leaves unset).
 */
#ifdef DMA_ATTR_MMIO
#define VMK_DMA_HAS_MAP_PHYS	1
#define VMK_DMA_ATTR_MMIO	DMA_ATTR_MMIO
#else
#define VMK_DMA_HAS_MAP_PHYS	0
#define VMK_DMA_ATTR_MMIO	0UL
#endif

/**
 * vmk_reclaim_count() - one of reclaim's counts, in pages
 * @events: what all_vm_events() filled
 * @item: PGSCAN_KSWAPD, PGSCAN_DIRECT, PGSTEAL_KSWAPD or PGSTEAL_DIRECT
 *
 * Return: the node statistic summed over the nodes where the kernel keeps
 * them per node (@events unused), the VM event otherwise.
 */
#ifdef VMK_RECLAIM_NODE_STAT
static inline unsigned long vmk_reclaim_count(const unsigned long *events,
					      enum node_stat_item item)
{
	return global_node_page_state(item);
}
#else
#ifdef CONFIG_VM_EVENT_COUNTERS
static inline unsigned long vmk_reclaim_count(const unsigned long *events,
					      enum vm_event_item item)
{
	return events[item];
}
#endif
#endif

/*
 * Balloon pages.  A driver calls vmk_balloon_init() once it knows whether
 * ballooned pages leave the managed page count, enqueues and dequeues
 * through the helpers below, and in its migration callback calls
 * vmk_balloon_migrate_insert() before telling the host about the new page
 * and vmk_balloon_migrate_release() after it told the host about the old
 * one.  Whatever the kernel's balloon core does by itself, the helpers
 * leave out; whatever it leaves to the driver, they do.
 */
#ifdef VMK_HAVE_BALLOON_H
#include <linux/balloon.h>

#define VMK_BALLOON_MIGRATION	IS_ENABLED(CONFIG_BALLOON_MIGRATION)

static inline void vmk_balloon_init(struct balloon_dev_info *info,
				    int (*migratepage)(struct balloon_dev_info *,
						       struct page *,
						       struct page *,
						       enum migrate_mode),
				    bool adjust_managed)
{
	balloon_devinfo_init(info);
	if (VMK_BALLOON_MIGRATION)
		info->migratepage = migratepage;
	info->adjust_managed_page_count = adjust_managed;
}

static inline void vmk_balloon_enqueue(struct balloon_dev_info *info,
				       struct page *page, bool adjust_managed)
{
	balloon_page_enqueue(info, page);
}

/* The core took @page off the managed count's books at dequeue. */
static inline void vmk_balloon_release(struct page *page, bool adjust_managed)
{
	put_page(page);
}

static inline void vmk_balloon_migrate_insert(struct balloon_dev_info *info,
					      struct page *newpage,
					      struct page *page,
					      bool adjust_managed)
{
}

static inline void vmk_balloon_migrate_release(struct page *page)
{
}

#else /* <linux/balloon_compaction.h> */
#include <linux/balloon_compaction.h>

#define VMK_BALLOON_MIGRATION	IS_ENABLED(CONFIG_BALLOON_COMPACTION)

static inline void vmk_balloon_init(struct balloon_dev_info *info,
				    int (*migratepage)(struct balloon_dev_info *,
						       struct page *,
						       struct page *,
						       enum migrate_mode),
				    bool adjust_managed)
{
	balloon_devinfo_init(info);
#ifdef CONFIG_BALLOON_COMPACTION
	info->migratepage = migratepage;
#endif
}

static inline void vmk_balloon_enqueue(struct balloon_dev_info *info,
				       struct page *page, bool adjust_managed)
{
	balloon_page_enqueue(info, page);
	if (adjust_managed)
		adjust_managed_page_count(page, -1);
}

static inline void vmk_balloon_release(struct page *page, bool adjust_managed)
{
	if (adjust_managed)
		adjust_managed_page_count(page, 1);
	put_page(page);
}

/*
 * The new page joins the balloon (with the balloon's reference) and the
 * isolated old one stops counting as isolated; a move between zones moves
 * the managed page between them.
 */
static inline void vmk_balloon_migrate_insert(struct balloon_dev_info *info,
					      struct page *newpage,
					      struct page *page,
					      bool adjust_managed)
{
	unsigned long flags;

	get_page(newpage);
	if (adjust_managed && page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}
	spin_lock_irqsave(&info->pages_lock, flags);
	balloon_page_insert(info, newpage);
	info->isolated_pages--;
#ifdef CONFIG_BALLOON_COMPACTION
	/* /proc/vmstat balloon_migrate, as in-tree counts it. */
	__count_vm_event(BALLOON_MIGRATE);
#endif
	spin_unlock_irqrestore(&info->pages_lock, flags);
}

/* The old page leaves the balloon and loses the balloon's reference. */
static inline void vmk_balloon_migrate_release(struct page *page)
{
	balloon_page_finalize(page);
	put_page(page);
}
#endif

#endif /* _VMEMKIT_COMPAT_H */
