// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs: <debugfs>/vfio_spapr_tce/
 *   containers     one block per live container: windows with their TCEs
 *                  in use, registered memory, pinned pages, map calls
 *   nr_containers, pinned_pages, iommu_map_calls, iommu_unmap_calls
 *                  module-wide counters; a test proves that closing
 *                  everything leaves nr_containers and pinned_pages at 0
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "stce.h"

static struct dentry *stce_dir;

/* Protects stce_containers; taken before any container's lock. */
static DEFINE_MUTEX(stce_list_lock);
static LIST_HEAD(stce_containers);

void stce_debugfs_add(struct stce_container *c)
{
	mutex_lock(&stce_list_lock);
	list_add_tail(&c->node, &stce_containers);
	mutex_unlock(&stce_list_lock);
}

void stce_debugfs_del(struct stce_container *c)
{
	mutex_lock(&stce_list_lock);
	list_del(&c->node);
	mutex_unlock(&stce_list_lock);
}

static void stce_show_one(struct seq_file *m, struct stce_container *c)
{
	struct stce_window *w;
	struct stce_group *g;
	struct stce_mem *mem;
	int i;

	mutex_lock(&c->lock);
	seq_printf(m, "container %u v%d enabled %d pinned %lu map_calls %lu\n",
		   c->id, c->v2 ? 2 : 1, c->enabled, c->pinned, c->map_calls);
	seq_printf(m, "  aperture 0x%llx-0x%llx pgsizes 0x%lx\n",
		   c->aperture.start, c->aperture.last, c->pgsizes);
	list_for_each_entry(g, &c->groups, node) {
		seq_printf(m, "  group %d", iommu_group_id(g->iommu_group));
		if (g->msi.size)
			seq_printf(m, " msi 0x%llx size 0x%llx", g->msi.start,
				   g->msi.size);
		seq_putc(m, '\n');
	}
	for (i = 0; i < STCE_MAX_WINDOWS; i++) {
		w = &c->windows[i];
		if (!w->win.size)
			continue;
		seq_printf(m, "  window %d start 0x%llx size 0x%llx shift %u levels %u depth %u tces %lu/%lu table %zu\n",
			   i, w->win.start, w->win.size, w->page_shift,
			   w->levels, w->depth, w->in_use, w->nr_tces,
			   w->table_bytes);
	}
	list_for_each_entry(mem, &c->mems, node)
		seq_printf(m, "  mem ua 0x%llx size 0x%llx mapped %lu\n",
			   mem->ua, mem->size, mem->mapped);
	mutex_unlock(&c->lock);
}

static int stce_containers_show(struct seq_file *m, void *unused)
{
	struct stce_container *c;

	mutex_lock(&stce_list_lock);
	list_for_each_entry(c, &stce_containers, node)
		stce_show_one(m, c);
	mutex_unlock(&stce_list_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stce_containers);

#define STCE_COUNTER(name)						\
static int stce_##name##_get(void *data, u64 *val)			\
{									\
	*val = atomic_long_read(&stce_stats.name);			\
	return 0;							\
}									\
DEFINE_DEBUGFS_ATTRIBUTE(stce_##name##_fops, stce_##name##_get, NULL,	\
			 "%llu\n")

STCE_COUNTER(nr_containers);
STCE_COUNTER(pinned_pages);
STCE_COUNTER(map_calls);
STCE_COUNTER(unmap_calls);
STCE_COUNTER(table_bytes);

void stce_debugfs_init(void)
{
	stce_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("containers", 0444, stce_dir, NULL,
			    &stce_containers_fops);
	debugfs_create_file_unsafe("nr_containers", 0444, stce_dir, NULL,
				   &stce_nr_containers_fops);
	debugfs_create_file_unsafe("pinned_pages", 0444, stce_dir, NULL,
				   &stce_pinned_pages_fops);
	debugfs_create_file_unsafe("iommu_map_calls", 0444, stce_dir, NULL,
				   &stce_map_calls_fops);
	debugfs_create_file_unsafe("iommu_unmap_calls", 0444, stce_dir, NULL,
				   &stce_unmap_calls_fops);
	debugfs_create_file_unsafe("table_bytes", 0444, stce_dir, NULL,
				   &stce_table_bytes_fops);
}

void stce_debugfs_exit(void)
{
	debugfs_remove_recursive(stce_dir);
}
