// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr: range-based shared/private memory attributes for guest memory,
 * with three-phase platform hooks.
 *
 * This file holds the module glue: /dev/memattr, the backend registry, the
 * ``backend`` parameter and the debugfs statistics.
 */
#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "internal.h"

DEFINE_PER_CPU(struct memattr_stats, memattr_stats);

static char memattr_backend_name[32] = "none";
module_param_string(backend, memattr_backend_name,
		    sizeof(memattr_backend_name), 0644);
MODULE_PARM_DESC(backend,
		 "platform backend of new objects: none (default), sw_rmp, or one registered by another module");

/* Protects memattr_backends. */
static DEFINE_MUTEX(memattr_backends_lock);
static LIST_HEAD(memattr_backends);

static struct dentry *memattr_debugfs;

static struct memattr_backend *memattr_backend_find(const char *name)
{
	struct memattr_backend *be;

	lockdep_assert_held(&memattr_backends_lock);
	list_for_each_entry(be, &memattr_backends, node)
		if (sysfs_streq(be->name, name))
			return be;
	return NULL;
}

int memattr_backend_register(struct memattr_backend *be)
{
	int ret = 0;

	mutex_lock(&memattr_backends_lock);
	if (memattr_backend_find(be->name))
		ret = -EEXIST;
	else
		list_add_tail(&be->node, &memattr_backends);
	mutex_unlock(&memattr_backends_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(memattr_backend_register);

void memattr_backend_unregister(struct memattr_backend *be)
{
	mutex_lock(&memattr_backends_lock);
	list_del(&be->node);
	mutex_unlock(&memattr_backends_lock);
}
EXPORT_SYMBOL_GPL(memattr_backend_unregister);

/*
 * The backend the parameter names, its module pinned; NULL for "none";
 * ERR_PTR(-ENODEV) if no such backend is registered.
 */
const struct memattr_backend *memattr_backend_get(void)
{
	struct memattr_backend *be;
	char name[sizeof(memattr_backend_name)];

	kernel_param_lock(THIS_MODULE);
	strscpy(name, memattr_backend_name, sizeof(name));
	kernel_param_unlock(THIS_MODULE);
	if (sysfs_streq(name, "none"))
		return NULL;

	mutex_lock(&memattr_backends_lock);
	be = memattr_backend_find(name);
	if (be && !try_module_get(be->owner))
		be = NULL;
	mutex_unlock(&memattr_backends_lock);
	return be ?: ERR_PTR(-ENODEV);
}

void memattr_backend_put(const struct memattr_backend *be)
{
	module_put(be->owner);
}

/* The sum over every possible CPU of one counter of struct memattr_stats. */
#define memattr_stat_sum(field)						\
({									\
	s64 __sum = 0;							\
	int __cpu;							\
									\
	for_each_possible_cpu(__cpu)					\
		__sum += per_cpu(memattr_stats.field, __cpu);		\
	__sum;								\
})

static int memattr_stats_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "objects %lld\n", memattr_stat_sum(objects));
	seq_printf(m, "conversions %lld\n", memattr_stat_sum(conversions));
	seq_printf(m, "pinned_busy %lld\n", memattr_stat_sum(pinned_busy));
	seq_printf(m, "pages_converted %lld\n",
		   memattr_stat_sum(pages_converted));
	seq_printf(m, "runs %lld\n", memattr_stat_sum(runs));
	seq_printf(m, "gfn_entries %lld\n", memattr_stat_sum(gfn_entries));
	seq_printf(m, "faults %lld\n", memattr_stat_sum(faults));
	seq_printf(m, "fault_retries %lld\n", memattr_stat_sum(fault_retries));
	seq_printf(m, "hook_prepare %lld\n", memattr_stat_sum(prepare));
	seq_printf(m, "hook_abort %lld\n", memattr_stat_sum(abort));
	seq_printf(m, "hook_commit %lld\n", memattr_stat_sum(commit));
	seq_printf(m, "commit_locks %lld\n", memattr_stat_sum(commit_locks));
	seq_printf(m, "hook_finish %lld\n", memattr_stat_sum(finish));
	seq_printf(m, "hook_invalidate %lld\n", memattr_stat_sum(invalidate));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memattr_stats);

static long memattr_dev_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	if (cmd != MEMATTR_CREATE)
		return -ENOTTY;
	return memattr_create_object((struct memattr_create __user *)arg);
}

/*
 * Objects hand out host memory and drive the platform's ownership hooks:
 * root only.  The node's mode is the first line; a caller without
 * CAP_SYS_ADMIN is refused even if the mode is opened up.
 */
static int memattr_dev_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return nonseekable_open(inode, file);
}

static const struct file_operations memattr_dev_fops = {
	.owner = THIS_MODULE,
	.open = memattr_dev_open,
	.unlocked_ioctl = memattr_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice memattr_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "memattr",
	.fops = &memattr_dev_fops,
	.mode = 0600,
};

static int __init memattr_init(void)
{
	int ret;

	ret = memattr_rb_init();
	if (ret)
		return ret;
	memattr_debugfs = debugfs_create_dir("memattr", NULL);
	debugfs_create_file("stats", 0400, memattr_debugfs, NULL,
			    &memattr_stats_fops);

	ret = memattr_sw_rmp_init();
	if (ret)
		goto err_debugfs;
	ret = misc_register(&memattr_misc);
	if (ret)
		goto err_sw_rmp;
	return 0;

err_sw_rmp:
	memattr_sw_rmp_exit();
err_debugfs:
	debugfs_remove_recursive(memattr_debugfs);
	memattr_rb_exit();
	return ret;
}

static void __exit memattr_exit(void)
{
	misc_deregister(&memattr_misc);
	memattr_sw_rmp_exit();
	debugfs_remove_recursive(memattr_debugfs);
	memattr_rb_exit();
}

module_init(memattr_init);
module_exit(memattr_exit);

MODULE_DESCRIPTION("Range-based guest memory attributes with platform hooks");
MODULE_LICENSE("GPL");
