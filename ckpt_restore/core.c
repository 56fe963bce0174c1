// SPDX-License-Identifier: GPL-2.0-only
/*
 * ckpt_restore: checkpoint and restore of process memory.
 *
 * /dev/ckpt takes two ioctls, CKPT_DUMP and CKPT_RESTORE, both acting on
 * the calling process (or, for a dump, on a process it traces).  The image
 * format and every errno are documented in <linux/ckpt_restore.h>.
 *
 * debugfs: /sys/kernel/debug/ckpt_restore/ holds the counters of struct
 * ckpt_stats, so tests can prove that lazy state and image references are
 * released.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ckpt_restore.h"

struct ckpt_stats ckpt_stats;

static struct dentry *ckpt_debugfs;

/* First size of each argument; later versions may only grow them. */
#define CKPT_DUMP_SIZE_V1	offsetofend(struct ckpt_dump, image_size)
#define CKPT_RESTORE_SIZE_V1	offsetofend(struct ckpt_restore, nr_lazy_pages)

/*
 * Copy in an extensible argument whose first field is its __u32 size:
 * older, shorter versions below @min are refused, newer ones must have
 * zeroes in the bytes this module does not know.
 */
static int ckpt_copy_arg(void *karg, size_t ksize, size_t min,
			 void __user *uarg)
{
	u32 size;
	int ret;

	if (get_user(size, (u32 __user *)uarg))
		return -EFAULT;
	if (size < min || size > PAGE_SIZE)
		return -EINVAL;
	ret = copy_struct_from_user(karg, ksize, uarg, size);
	return ret == -E2BIG ? -EINVAL : ret;
}

static long ckpt_ioctl_dump(void __user *uarg)
{
	struct ckpt_dump arg;
	int ret;

	ret = ckpt_copy_arg(&arg, sizeof(arg), CKPT_DUMP_SIZE_V1, uarg);
	/* The outputs are copied back before the image is made valid. */
	return ret ?: ckpt_dump(&arg, uarg);
}

static long ckpt_ioctl_restore(void __user *uarg)
{
	struct ckpt_restore arg;
	int ret;

	ret = ckpt_copy_arg(&arg, sizeof(arg), CKPT_RESTORE_SIZE_V1, uarg);
	/* The outputs are copied back before anything is mapped. */
	return ret ?: ckpt_restore(&arg, uarg);
}

static long ckpt_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case CKPT_DUMP:
		return ckpt_ioctl_dump((void __user *)arg);
	case CKPT_RESTORE:
		return ckpt_ioctl_restore((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ckpt_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ckpt_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice ckpt_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ckpt",
	.fops = &ckpt_fops,
	.mode = 0666,
};

static int ckpt_stat_get(void *data, u64 *val)
{
	*val = atomic_long_read(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(ckpt_stat_fops, ckpt_stat_get, NULL, "%llu\n");

static void ckpt_debugfs_init(void)
{
	static const struct {
		const char *name;
		atomic_long_t *val;
	} files[] = {
		{ "dumps", &ckpt_stats.dumps },
		{ "restores", &ckpt_stats.restores },
		{ "restores_undone", &ckpt_stats.restores_undone },
		{ "lazy_live", &ckpt_stats.lazy_live },
		{ "lazy_images", &ckpt_stats.lazy_images },
		{ "lazy_fills", &ckpt_stats.lazy_fills },
		{ "lazy_bad_chunks", &ckpt_stats.lazy_bad_chunks },
		{ "lazy_unlocked_reads", &ckpt_stats.lazy_unlocked_reads },
		{ "fill_pages", &ckpt_stats.fill_pages },
		{ "fill_pages_helper", &ckpt_stats.fill_pages_helper },
		{ "dump_lock_rounds", &ckpt_stats.dump_lock_rounds },
	};
	unsigned int i;

	ckpt_debugfs = debugfs_create_dir("ckpt_restore", NULL);
	for (i = 0; i < ARRAY_SIZE(files); i++)
		debugfs_create_file_unsafe(files[i].name, 0444, ckpt_debugfs,
					   files[i].val, &ckpt_stat_fops);
}

/*
 * Restore helpers (restore.c) may outlive a restoring task killed while
 * waiting for them: module unload waits for them by destroying their
 * workqueue.
 */
struct workqueue_struct *ckpt_wq;

static int __init ckpt_init(void)
{
	int ret;

	ckpt_wq = alloc_workqueue("ckpt_fill", WQ_UNBOUND, 0);
	if (!ckpt_wq)
		return -ENOMEM;
	ret = misc_register(&ckpt_misc);
	if (ret)
		goto err_destroy_wq;
	ckpt_debugfs_init();
	return 0;

err_destroy_wq:
	destroy_workqueue(ckpt_wq);
	return ret;
}

static void __exit ckpt_exit(void)
{
	debugfs_remove_recursive(ckpt_debugfs);
	misc_deregister(&ckpt_misc);
	destroy_workqueue(ckpt_wq);
}

module_init(ckpt_init);
module_exit(ckpt_exit);

MODULE_DESCRIPTION("Checkpoint and restore of process memory");
MODULE_LICENSE("GPL");
