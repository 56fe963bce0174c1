// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint: statistics in debugfs, one "name value" line each, in
 * <debugfs>/balloon_hint/<virtio device>/stats.  The names and their
 * meaning are listed in include/uapi/linux/balloon_hint.h, as are the
 * debug triggers created beside them with debug_triggers=1.
 */
#include <linux/kstrtox.h>
#include <linux/seq_file.h>

#include "balloon_hint.h"

static struct dentry *bh_debugfs_root;

/* The atomic64_t counters of struct bh_stats, by name. */
static const struct {
	const char *name;
	size_t offset;
} bh_counters[] = {
	{ "inflated", offsetof(struct bh_stats, inflated) },
	{ "deflated", offsetof(struct bh_stats, deflated) },
	{ "oom_deflated", offsetof(struct bh_stats, oom_deflated) },
	{ "migrated", offsetof(struct bh_stats, migrated) },
	{ "stats_sent", offsetof(struct bh_stats, stats_sent) },
	{ "rounds", offsetof(struct bh_stats, rounds) },
	{ "cmd_ids", offsetof(struct bh_stats, cmd_ids) },
	{ "cmd_id_reads", offsetof(struct bh_stats, cmd_id_reads) },
	{ "mid_round_reads", offsetof(struct bh_stats, mid_round_reads) },
	{ "stop_seen", offsetof(struct bh_stats, stop_seen) },
	{ "done_seen", offsetof(struct bh_stats, done_seen) },
	{ "id_changed_mid_round", offsetof(struct bh_stats, id_changed_mid_round) },
	{ "pressure_stops", offsetof(struct bh_stats, pressure_stops) },
	{ "vq_full", offsetof(struct bh_stats, vq_full) },
	{ "host_stalls", offsetof(struct bh_stats, host_stalls) },
	{ "bytes_hinted", offsetof(struct bh_stats, bytes_hinted) },
	{ "rehinted_blocks", offsetof(struct bh_stats, rehinted_blocks) },
	{ "helper_blocks", offsetof(struct bh_stats, helper_blocks) },
	{ "report_hinted_bytes", offsetof(struct bh_stats, report_hinted_bytes) },
	{ "kicks", offsetof(struct bh_stats, kicks) },
	{ "stops_sent", offsetof(struct bh_stats, stops_sent) },
	{ "returned_done", offsetof(struct bh_stats, returned_done) },
	{ "returned_shrinker", offsetof(struct bh_stats, returned_shrinker) },
	{ "returned_oom", offsetof(struct bh_stats, returned_oom) },
	{ "returned_remove", offsetof(struct bh_stats, returned_remove) },
	{ "reports", offsetof(struct bh_stats, reports) },
	{ "reported_bytes", offsetof(struct bh_stats, reported_bytes) },
};

static int bh_stats_show(struct seq_file *m, void *unused)
{
	struct bh_dev *bh = m->private;
	struct bh_stats *st = &bh->st;
	unsigned int i, order;

	seq_printf(m, "features %llu\n", bh->vdev->features);
	seq_printf(m, "balloon_pages %u\n", READ_ONCE(bh->num_pages));
	seq_printf(m, "hint_cmd_id %u\n", READ_ONCE(bh->cmd_id_received));
	seq_printf(m, "held_pages %ld\n", atomic_long_read(&bh->hint_held));
	seq_printf(m, "inflight_pages %ld\n",
		   atomic_long_read(&bh->hint_inflight));
	seq_printf(m, "reporting %u\n", (unsigned int)bh->reporting);
	seq_printf(m, "report_inflight_bytes %lld\n",
		   atomic64_read(&bh->report_inflight));
	for (i = 0; i < ARRAY_SIZE(bh_counters); i++)
		seq_printf(m, "%s %lld\n", bh_counters[i].name,
			   atomic64_read((atomic64_t *)((char *)st +
							bh_counters[i].offset)));
	for (order = 0; order < BH_NR_ORDERS; order++) {
		seq_printf(m, "blocks_order_%u %lld\n", order,
			   atomic64_read(&st->blocks_order[order]));
		seq_printf(m, "alloc_fail_order_%u %lld\n", order,
			   atomic64_read(&st->alloc_fail_order[order]));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bh_stats);

/*
 * A signed page count: inflate by N, or deflate by -N.  -EFAULT when it
 * cannot be read, -EINVAL for anything but a decimal or 0x-hex number
 * that fits.
 */
static ssize_t bh_balloon_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	struct bh_dev *bh = file->private_data;
	int num, err;

	err = kstrtoint_from_user(ubuf, len, 0, &num);
	if (err)
		return err == -EFAULT ? err : -EINVAL;
	if (num == INT_MIN)
		return -EINVAL;
	err = num < 0 ? bh_deflate_now(bh, -num) : bh_inflate_now(bh, num);
	return err ?: len;
}

static const struct file_operations bh_balloon_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = bh_balloon_write,
};

/* What is written does not matter: the host's command id does. */
static ssize_t bh_hint_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	bh_hint_now(file->private_data);
	return len;
}

static const struct file_operations bh_hint_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = bh_hint_write,
};

/*
 * Removing the directory waits for a trigger that is running: remove
 * cannot free the device under it.
 */
void bh_debugfs_add(struct bh_dev *bh)
{
	bh->debugfs = debugfs_create_dir(dev_name(&bh->vdev->dev),
					 bh_debugfs_root);
	debugfs_create_file("stats", 0444, bh->debugfs, bh, &bh_stats_fops);
	if (!bh_debug_triggers)
		return;
	debugfs_create_file("balloon", 0200, bh->debugfs, bh,
			    &bh_balloon_fops);
	if (bh->hint_vq)
		debugfs_create_file("hint", 0200, bh->debugfs, bh,
				    &bh_hint_fops);
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
