// SPDX-License-Identifier: GPL-2.0-only
/*
 * bh_fakedev: a fake virtio balloon device for testing balloon_hint against
 * a host that misbehaves: one that stops answering, lets the free page
 * virtqueue fill up, changes the command id or writes DONE at chosen
 * moments.  Test-only, in the manner of iommufd's selftest mock; it is not
 * QEMU and proves nothing about QEMU.  Commands and files are described in
 * bh_fakedev.h.
 *
 * This file: the module, its debugfs control and counter files.
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>

#include "fakedev.h"

/* Longest command accepted, with its NUL. */
#define BFD_CMD_MAX	64
#define BFD_WORDS_MAX	4

static struct device *bfd_root;
static struct dentry *bfd_debugfs;

/* Protects bfd_current: creation, removal and every command. */
static DEFINE_MUTEX(bfd_ctl_lock);
static struct bfd_dev *bfd_current;

static const char * const bfd_kind_names[BFD_VQ_MAX] = {
	[BFD_VQ_INFLATE] = "inflate",
	[BFD_VQ_DEFLATE] = "deflate",
	[BFD_VQ_STATS] = "stats",
	[BFD_VQ_HINT] = "hint",
	[BFD_VQ_REPORT] = "report",
};

static const char * const bfd_mode_names[] = {
	[BFD_CONSUME] = "consume",
	[BFD_HOLD] = "hold",
	[BFD_IGNORE] = "ignore",
};

static bool bfd_qsize_ok(u32 qsize)
{
	return qsize >= BFD_QSIZE_MIN && qsize <= BFD_QSIZE_MAX &&
	       is_power_of_2(qsize);
}

static int bfd_cmd_create(char **w, unsigned int n)
{
	u32 qsize, rqsize = BFD_RQSIZE_DEFAULT;
	struct bfd_dev *bfd;
	u64 feat;

	if (n < 3 || n > 4 || kstrtou64(w[1], 0, &feat) ||
	    kstrtou32(w[2], 0, &qsize) ||
	    (n == 4 && kstrtou32(w[3], 0, &rqsize)))
		return -EINVAL;
	if ((feat & ~BFD_FEATURES) || !bfd_qsize_ok(qsize) ||
	    !bfd_qsize_ok(rqsize))
		return -EINVAL;
	if (bfd_current)
		return -EEXIST;
	bfd = bfd_create(bfd_root, feat, qsize, rqsize);
	if (IS_ERR(bfd))
		return PTR_ERR(bfd);
	bfd_current = bfd;
	return 0;
}

static int bfd_cmd_remove(char **w, unsigned int n)
{
	if (n != 1)
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	bfd_remove(bfd_current);
	bfd_current = NULL;
	return 0;
}

static int bfd_cmd_suspend(char **w, unsigned int n)
{
	if (n != 1)
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	return bfd_suspend(bfd_current);
}

static int bfd_cmd_cmd_id(char **w, unsigned int n)
{
	bool quiet = n == 3 && !strcmp(w[2], "quiet");
	u32 id;

	if ((n != 2 && !quiet) || kstrtou32(w[1], 0, &id))
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	bfd_set_cmd_id(bfd_current, id, !quiet);
	return 0;
}

static int bfd_cmd_target(char **w, unsigned int n)
{
	u32 pages;

	if (n != 2 || kstrtou32(w[1], 0, &pages))
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	bfd_set_target(bfd_current, pages);
	return 0;
}

static int bfd_cmd_mode(char **w, unsigned int n)
{
	int kind, mode;

	if (n != 3)
		return -EINVAL;
	kind = match_string(bfd_kind_names, BFD_VQ_MAX, w[1]);
	mode = match_string(bfd_mode_names, ARRAY_SIZE(bfd_mode_names), w[2]);
	/* The stats buffer is always held: returning it asks for another. */
	if (kind < 0 || kind == BFD_VQ_STATS || mode < 0)
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	bfd_set_mode(bfd_current, kind, mode);
	return 0;
}

/* trigger N ID, trigger stop ID, or trigger N pause */
static int bfd_cmd_trigger(char **w, unsigned int n)
{
	bool at_stop = n == 3 && !strcmp(w[1], "stop");
	bool pause = n == 3 && !at_stop && !strcmp(w[2], "pause");
	u32 blocks = 0, id = 0;

	if (n != 3 || (!pause && kstrtou32(w[2], 0, &id)) ||
	    (!at_stop && (kstrtou32(w[1], 0, &blocks) || !blocks)))
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	if (at_stop)
		bfd_arm_stop_trigger(bfd_current, id);
	else if (pause)
		bfd_arm_pause(bfd_current, blocks);
	else
		bfd_arm_trigger(bfd_current, blocks, id);
	return 0;
}

static int bfd_cmd_resume(char **w, unsigned int n)
{
	if (n != 1)
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	bfd_resume(bfd_current);
	return 0;
}

static int bfd_cmd_stats(char **w, unsigned int n)
{
	if (n != 1)
		return -EINVAL;
	if (!bfd_current)
		return -ENODEV;
	return bfd_request_stats(bfd_current);
}

static const struct {
	const char *verb;
	int (*run)(char **w, unsigned int n);
} bfd_cmds[] = {
	{ "create", bfd_cmd_create },
	{ "remove", bfd_cmd_remove },
	{ "cmd_id", bfd_cmd_cmd_id },
	{ "mode", bfd_cmd_mode },
	{ "target", bfd_cmd_target },
	{ "trigger", bfd_cmd_trigger },
	{ "resume", bfd_cmd_resume },
	{ "suspend", bfd_cmd_suspend },
	{ "stats", bfd_cmd_stats },
};

static ssize_t bfd_control_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	char cmd[BFD_CMD_MAX], *w[BFD_WORDS_MAX], *p, *tok;
	unsigned int n = 0, i;
	int err;

	if (!len || len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = 0;
	p = strim(cmd);
	while ((tok = strsep(&p, " "))) {
		if (!*tok || n == BFD_WORDS_MAX)
			return -EINVAL;
		w[n++] = tok;
	}
	if (!n)
		return -EINVAL;

	for (i = 0; i < ARRAY_SIZE(bfd_cmds); i++)
		if (!strcmp(w[0], bfd_cmds[i].verb))
			break;
	if (i == ARRAY_SIZE(bfd_cmds))
		return -EINVAL;

	mutex_lock(&bfd_ctl_lock);
	err = bfd_cmds[i].run(w, n);
	mutex_unlock(&bfd_ctl_lock);
	return err ? err : len;
}

static const struct file_operations bfd_control_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = bfd_control_write,
};

static void bfd_show_vq(struct seq_file *m, struct bfd_dev *bfd,
			enum bfd_kind kind)
{
	const char *name = bfd_kind_names[kind];
	struct bfd_vq *q = bfd->vqs[kind];

	seq_printf(m, "%s_mode %u\n", name, bfd->modes[kind]);
	seq_printf(m, "%s_seen %llu\n", name, q ? q->seen : 0);
	seq_printf(m, "%s_used %llu\n", name, q ? q->used : 0);
	seq_printf(m, "%s_held %u\n", name, q ? q->nheld : 0);
	seq_printf(m, "%s_held_bytes %llu\n", name, q ? q->held_bytes : 0);
}

static int bfd_counters_show(struct seq_file *m, void *unused)
{
	struct virtio_balloon_config cfg;
	struct bfd_dev *bfd;
	struct bfd_hint *h;
	unsigned int i;

	mutex_lock(&bfd_ctl_lock);
	bfd = bfd_current;
	seq_printf(m, "present %u\n", bfd ? 1 : 0);
	if (!bfd)
		goto out_unlock;
	h = &bfd->hint;
	virtio_cread_bytes(&bfd->vdev, 0, &cfg, sizeof(cfg));
	seq_printf(m, "bound %u\n", READ_ONCE(bfd->vdev.dev.driver) ? 1 : 0);
	seq_printf(m, "status %u\n", bfd->vdev.config->get_status(&bfd->vdev));
	seq_printf(m, "features %llu\n", bfd->vdev.features);
	seq_printf(m, "cmd_id %u\n", le32_to_cpu(cfg.free_page_hint_cmd_id));
	seq_printf(m, "actual %u\n", le32_to_cpu(cfg.actual));
	seq_printf(m, "poison_val %u\n", le32_to_cpu(cfg.poison_val));
	/* What the guest's free pages contain, for the poison_val checks. */
	seq_printf(m, "guest_init_on_free %u\n", want_init_on_free() ? 1 : 0);
	seq_printf(m, "guest_page_poisoning %u\n",
		   page_poisoning_enabled_static() ? 1 : 0);

	mutex_lock(&bfd->lock);
	for (i = 0; i < BFD_VQ_MAX; i++)
		bfd_show_vq(m, bfd, i);
	seq_printf(m, "hint_blocks %llu\n", h->blocks);
	seq_printf(m, "hint_bytes %llu\n", h->bytes);
	seq_printf(m, "start_markers %llu\n", h->start_markers);
	seq_printf(m, "stale_starts %llu\n", h->stale_starts);
	seq_printf(m, "stop_markers %llu\n", h->stop_markers);
	seq_printf(m, "in_round %u\n", h->in_round);
	seq_printf(m, "round_id %u\n", h->round_id);
	seq_printf(m, "outside_round %llu\n", h->outside_round);
	seq_printf(m, "dup_blocks %llu\n", h->dup_blocks);
	seq_printf(m, "bad_buffers %llu\n", h->bad_buffers);
	seq_printf(m, "trigger_left %u\n", h->trigger_left);
	seq_printf(m, "stop_trigger %u\n", h->stop_trigger);
	seq_printf(m, "triggers %llu\n", h->triggers);
	seq_printf(m, "pause_left %u\n", h->pause_left);
	seq_printf(m, "paused %u\n", h->paused);
	seq_printf(m, "pauses %llu\n", h->pauses);
	seq_printf(m, "hint_min_order %d\n", h->min_order);
	seq_printf(m, "markers_lost %llu\n", h->markers_lost);
	seq_printf(m, "inflate_pfns %llu\n", bfd->inflate_pfns);
	seq_printf(m, "deflate_pfns %llu\n", bfd->deflate_pfns);
	seq_printf(m, "deflate_unowned %llu\n", bfd->deflate_unowned);
	seq_printf(m, "stats_bufs %llu\n", bfd->stats_bufs);
	seq_printf(m, "stats_entries %u\n", bfd->nstats);
	seq_printf(m, "stats_bad %llu\n", bfd->stats_bad);
	seq_printf(m, "report_bufs %llu\n", bfd->report_bufs);
	seq_printf(m, "report_blocks %llu\n", bfd->report_blocks);
	seq_printf(m, "report_bytes %llu\n", bfd->report_bytes);
	seq_printf(m, "report_min_order %d\n", bfd->report_min_order);
	seq_printf(m, "config_changes %llu\n", bfd->config_changes);
	seq_printf(m, "resets %llu\n", bfd->resets);
	seq_printf(m, "probes %llu\n", bfd->probes);
	seq_printf(m, "suspends %llu\n", bfd->suspends);
	seq_printf(m, "ring_errors %llu\n", bfd->ring_errors);
	mutex_unlock(&bfd->lock);
out_unlock:
	mutex_unlock(&bfd_ctl_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bfd_counters);

static int bfd_markers_show(struct seq_file *m, void *unused)
{
	struct bfd_hint *h;
	unsigned int i;

	mutex_lock(&bfd_ctl_lock);
	if (bfd_current) {
		h = &bfd_current->hint;
		mutex_lock(&bfd_current->lock);
		for (i = 0; i < h->nmarkers; i++) {
			if (h->markers[i] == VIRTIO_BALLOON_CMD_ID_STOP)
				seq_puts(m, "stop\n");
			else
				seq_printf(m, "start %u\n", h->markers[i]);
		}
		mutex_unlock(&bfd_current->lock);
	}
	mutex_unlock(&bfd_ctl_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bfd_markers);

static int bfd_stats_show(struct seq_file *m, void *unused)
{
	struct bfd_dev *bfd;
	unsigned int i;

	mutex_lock(&bfd_ctl_lock);
	bfd = bfd_current;
	if (bfd) {
		mutex_lock(&bfd->lock);
		for (i = 0; i < bfd->nstats; i++)
			seq_printf(m, "%u %llu\n",
				   virtio16_to_cpu(&bfd->vdev, bfd->stats[i].tag),
				   virtio64_to_cpu(&bfd->vdev, bfd->stats[i].val));
		mutex_unlock(&bfd->lock);
	}
	mutex_unlock(&bfd_ctl_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bfd_stats);

static int __init bfd_init(void)
{
	int err;

	bfd_root = root_device_register("bh_fakedev");
	if (IS_ERR(bfd_root))
		return PTR_ERR(bfd_root);
	err = bfd_device_init();
	if (err)
		goto err_unregister_root;
	bfd_debugfs = debugfs_create_dir("bh_fakedev", NULL);
	debugfs_create_file("control", 0200, bfd_debugfs, NULL,
			    &bfd_control_fops);
	debugfs_create_file("counters", 0444, bfd_debugfs, NULL,
			    &bfd_counters_fops);
	debugfs_create_file("markers", 0444, bfd_debugfs, NULL,
			    &bfd_markers_fops);
	debugfs_create_file("stats", 0444, bfd_debugfs, NULL,
			    &bfd_stats_fops);
	return 0;

err_unregister_root:
	root_device_unregister(bfd_root);
	return err;
}

static void __exit bfd_exit(void)
{
	debugfs_remove_recursive(bfd_debugfs);
	if (bfd_current)
		bfd_remove(bfd_current);
	bfd_device_exit();
	root_device_unregister(bfd_root);
}

module_init(bfd_init);
module_exit(bfd_exit);
MODULE_DESCRIPTION("test-only fake virtio balloon device for balloon_hint");
MODULE_LICENSE("GPL");
