// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr_test.ko: a test-only memattr backend that counts its hook calls
 * and can be told to fail or delay prepare, so selftests can check rollback
 * and in-flight behaviour.  Not part of memattr.ko: load it, then select it
 * with memattr's backend=test; controlled from debugfs memattr_test/:
 *
 *   fail_nth   write N > 0: the Nth prepare call from now fails with -EIO
 *              (once); 0 disarms
 *   delay_ms   every prepare sleeps this long first
 *   calls      prepare/abort/commit/finish/host_access call counts,
 *              "invalidate", the pages given to the invalidate hook, and
 *              "prepared", the pages prepared but neither aborted nor
 *              finished (0 whenever no conversion is running)
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <vmemkit/compat.h>
#include <vmemkit/memattr.h>

static atomic_t test_fail_nth;
static u32 test_delay_ms;
static atomic64_t test_prepare, test_abort, test_commit, test_finish,
		  test_host_access, test_prepared, test_invalidate;

/* Per-object state: only the object's size, to check ranges against. */
struct test_backend_obj {
	u64 nr_gfns;
};

static void *test_attach(u64 nr_gfns)
{
	struct test_backend_obj *t = kzalloc_obj(*t, GFP_KERNEL);

	if (!t)
		return ERR_PTR(-ENOMEM);
	t->nr_gfns = nr_gfns;
	return t;
}

static void test_detach(void *priv)
{
	kfree(priv);
}

static void test_check(void *priv, const struct memattr_change *chg)
{
	struct test_backend_obj *t = priv;

	WARN_ON(chg->range.start >= chg->range.end ||
		chg->range.end > t->nr_gfns ||
		chg->old_attrs == chg->new_attrs);
}

static int test_prepare_hook(void *priv, const struct memattr_change *chg)
{
	u32 delay = READ_ONCE(test_delay_ms);

	might_sleep();
	test_check(priv, chg);
	atomic64_inc(&test_prepare);
	if (delay)
		msleep(delay);
	if (atomic_read(&test_fail_nth) > 0 &&
	    atomic_dec_return(&test_fail_nth) == 0)
		return -EIO;
	atomic64_add(vmk_gfn_range_nr(&chg->range), &test_prepared);
	return 0;
}

static void test_abort_hook(void *priv, const struct memattr_change *chg)
{
	might_sleep();
	test_check(priv, chg);
	atomic64_inc(&test_abort);
	atomic64_sub(vmk_gfn_range_nr(&chg->range), &test_prepared);
}

static void test_commit_hook(void *priv, const struct memattr_change *chg)
{
	test_check(priv, chg);
	atomic64_inc(&test_commit);
}

static void test_finish_hook(void *priv, const struct memattr_change *chg)
{
	might_sleep();
	test_check(priv, chg);
	atomic64_inc(&test_finish);
	atomic64_sub(vmk_gfn_range_nr(&chg->range), &test_prepared);
}

static void test_host_access_hook(void *priv, u64 gfn)
{
	atomic64_inc(&test_host_access);
}

static void test_invalidate_hook(void *priv, const struct vmk_gfn_range *r)
{
	struct test_backend_obj *t = priv;

	might_sleep();
	WARN_ON(r->start >= r->end || r->end > t->nr_gfns);
	atomic64_add(vmk_gfn_range_nr(r), &test_invalidate);
}

static const struct memattr_backend_ops test_ops = {
	.attach = test_attach,
	.detach = test_detach,
	.prepare = test_prepare_hook,
	.abort = test_abort_hook,
	.commit = test_commit_hook,
	.finish = test_finish_hook,
	.host_access = test_host_access_hook,
	.invalidate = test_invalidate_hook,
};

static struct memattr_backend test_backend = {
	.name = "test",
	.owner = THIS_MODULE,
	.ops = &test_ops,
};

static int test_calls_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "prepare %lld\n", atomic64_read(&test_prepare));
	seq_printf(m, "abort %lld\n", atomic64_read(&test_abort));
	seq_printf(m, "commit %lld\n", atomic64_read(&test_commit));
	seq_printf(m, "finish %lld\n", atomic64_read(&test_finish));
	seq_printf(m, "host_access %lld\n", atomic64_read(&test_host_access));
	seq_printf(m, "prepared %lld\n", atomic64_read(&test_prepared));
	seq_printf(m, "invalidate %lld\n", atomic64_read(&test_invalidate));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(test_calls);

static struct dentry *test_debugfs;

static int __init memattr_test_init(void)
{
	int ret;

	test_debugfs = debugfs_create_dir("memattr_test", NULL);
	debugfs_create_atomic_t("fail_nth", 0600, test_debugfs, &test_fail_nth);
	debugfs_create_u32("delay_ms", 0600, test_debugfs, &test_delay_ms);
	debugfs_create_file("calls", 0400, test_debugfs, NULL, &test_calls_fops);
	ret = memattr_backend_register(&test_backend);
	if (ret)
		debugfs_remove_recursive(test_debugfs);
	return ret;
}

/* Objects using the backend pin this module: none is left here. */
static void __exit memattr_test_exit(void)
{
	memattr_backend_unregister(&test_backend);
	debugfs_remove_recursive(test_debugfs);
}

module_init(memattr_test_init);
module_exit(memattr_test_exit);

MODULE_DESCRIPTION("memattr test backend: hook counters, failure and delay injection");
MODULE_LICENSE("GPL");
