// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint: statistics in debugfs, one "name value" line each, in
 * <debugfs>/balloon_hint/<virtio device>/stats.  The names and their
 * meaning are listed in include/uapi/linux/balloon_hint.h.
 */
#include <linux/seq_file.h>

#include "balloon_hint.h"

static struct dentry *bh_debugfs_root;

static void bh_show(struct seq_file *m, const char *name, u64 val)
{
	seq_printf(m, "%s %llu\n", name, val);
}

static int bh_stats_show(struct seq_file *m, void *unused)
{
	struct bh_dev *bh = m->private;
	struct bh_stats *st = &bh->st;
	unsigned int order;

#define BH_SHOW(name) bh_show(m, #name, atomic64_read(&st->name))
	bh_show(m, "features", bh->vdev->features);
	bh_show(m, "balloon_pages", READ_ONCE(bh->num_pages));
	BH_SHOW(inflated);
	BH_SHOW(deflated);
	BH_SHOW(oom_deflated);
	BH_SHOW(migrated);
	BH_SHOW(stats_sent);
	bh_show(m, "hint_cmd_id",
		bh->hint_vq ? bh_hint_cmd_id(bh) : 0);
	bh_show(m, "held_pages", atomic_long_read(&bh->hint_held));
	BH_SHOW(rounds);
	BH_SHOW(cmd_ids);
	BH_SHOW(stop_seen);
	BH_SHOW(done_seen);
	BH_SHOW(id_changed_mid_round);
	BH_SHOW(pressure_stops);
	BH_SHOW(vq_full);
	BH_SHOW(host_stalls);
	BH_SHOW(bytes_hinted);
	BH_SHOW(rehinted_blocks);
	BH_SHOW(kicks);
	BH_SHOW(returned_done);
	BH_SHOW(returned_shrinker);
	BH_SHOW(returned_remove);
	bh_show(m, "reporting", bh->reporting);
	BH_SHOW(reports);
	BH_SHOW(reported_bytes);
#undef BH_SHOW
	for (order = 0; order < BH_NR_ORDERS; order++) {
		seq_printf(m, "blocks_order_%u %lld\n", order,
			   atomic64_read(&st->blocks_order[order]));
		seq_printf(m, "alloc_fail_order_%u %lld\n", order,
			   atomic64_read(&st->alloc_fail_order[order]));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bh_stats);

void bh_debugfs_add(struct bh_dev *bh)
{
	bh->debugfs = debugfs_create_dir(dev_name(&bh->vdev->dev),
					 bh_debugfs_root);
	debugfs_create_file("stats", 0444, bh->debugfs, bh, &bh_stats_fops);
}

void bh_debugfs_remove(struct bh_dev *bh)
{
	debugfs_remove_recursive(bh->debugfs);
}

int __init bh_debugfs_init(void)
{
	bh_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	return 0;
}

void bh_debugfs_exit(void)
{
	debugfs_remove_recursive(bh_debugfs_root);
}
