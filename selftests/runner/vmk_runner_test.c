// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmk_runner_test - misbehave on purpose so the runner's own tests can show
 * that each kind of kernel badness fails a run.
 *
 * mode=none     load and unload quietly (the guest environment test)
 * mode=warn     WARN() at load: with panic_on_warn the guest panics
 * mode=stack    print a stack dump (a "Call Trace") at load, nothing else
 * mode=taint    add TAINT_USER at load, which no test run may carry
 *
 * The rest need the debug kernel's checkers to be noticed at all:
 * mode=circular take two mutexes in both orders (lockdep: circular locking)
 * mode=softirq  take a spinlock with softirqs on, then from a timer
 *               (lockdep: inconsistent lock state)
 * mode=rcu      rcu_dereference() outside a read-side section (PROVE_RCU)
 * mode=retlock  return to user space from init with a mutex held
 * mode=sleep    might_sleep() under a spinlock (DEBUG_ATOMIC_SLEEP)
 * mode=kasan    read one byte past a kmalloc()ed buffer (KASAN)
 * mode=ubsan    shift a 32-bit value by 40 (UBSAN shift)
 * mode=dma      unmap a DMA address that was never mapped (DMA_API_DEBUG)
 * mode=leak     lose a kmalloc()ed buffer at the unload (kmemleak)
 */
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/panic.h>
#include <linux/platform_device.h>
#include <linux/printk.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

static char *mode = "none";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "none, warn, stack, taint, circular, softirq, rcu, retlock, sleep, kasan, ubsan, dma or leak");

/* Out of the compiler's sight, so that it cannot see the bugs coming. */
static unsigned int shift = 40;
module_param(shift, uint, 0444);
MODULE_PARM_DESC(shift, "mode=ubsan: shift count");

static unsigned int overrun = 16;
module_param(overrun, uint, 0444);
MODULE_PARM_DESC(overrun, "mode=kasan: index read in a 16-byte buffer");

/* Taken in both orders by mode=circular; protect nothing. */
static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);
/* Held across the return to user space by mode=retlock; protects nothing. */
static DEFINE_MUTEX(held);
/* Taken from process and softirq context by mode=softirq; protects nothing. */
static DEFINE_SPINLOCK(mixed);

static int __rcu *rcu_ptr;
static struct timer_list mixed_timer;
static DECLARE_COMPLETION(timer_ran);

static void mixed_timer_fn(struct timer_list *t)
{
	spin_lock(&mixed);
	spin_unlock(&mixed);
	complete(&timer_ran);
}

static int lock_modes(void)
{
	if (!strcmp(mode, "circular")) {
		mutex_lock(&lock_a);
		mutex_lock(&lock_b);
		mutex_unlock(&lock_b);
		mutex_unlock(&lock_a);
		mutex_lock(&lock_b);
		mutex_lock(&lock_a);
		mutex_unlock(&lock_a);
		mutex_unlock(&lock_b);
	} else if (!strcmp(mode, "softirq")) {
		spin_lock(&mixed);
		spin_unlock(&mixed);
		timer_setup(&mixed_timer, mixed_timer_fn, 0);
		mod_timer(&mixed_timer, jiffies + 1);
		wait_for_completion(&timer_ran);
		timer_delete_sync(&mixed_timer);
	} else if (!strcmp(mode, "rcu")) {
		pr_info("vmk_runner_test: rcu pointer %p\n", rcu_dereference(rcu_ptr));
	} else if (!strcmp(mode, "retlock")) {
		mutex_lock(&held);
	} else if (!strcmp(mode, "sleep")) {
		spin_lock(&mixed);
		might_sleep();
		spin_unlock(&mixed);
	} else {
		return -ENOENT;
	}
	return 0;
}

static int memory_modes(void)
{
	struct platform_device *pdev;
	char *buf;

	if (!strcmp(mode, "kasan")) {
		buf = kmalloc(16, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
		pr_info("vmk_runner_test: byte %u is %d\n", overrun,
			READ_ONCE(buf[overrun]));
		kfree(buf);
	} else if (!strcmp(mode, "ubsan")) {
		pr_info("vmk_runner_test: 1 << %u is %u\n", shift, 1U << shift);
	} else if (!strcmp(mode, "dma")) {
		pdev = platform_device_register_simple("vmk_runner_test", -1, NULL, 0);
		if (IS_ERR(pdev))
			return PTR_ERR(pdev);
		dma_unmap_single(&pdev->dev, 0x12345000, PAGE_SIZE, DMA_TO_DEVICE);
		platform_device_unregister(pdev);
	} else if (!strcmp(mode, "leak")) {
		/* Lost at the unload: see vmk_runner_test_exit(). */
	} else {
		return -ENOENT;
	}
	return 0;
}

static int __init vmk_runner_test_init(void)
{
	int ret;

	if (!strcmp(mode, "none"))
		return 0;
	if (!strcmp(mode, "warn")) {
		WARN(1, "vmk_runner_test: warning on purpose\n");
		return 0;
	}
	if (!strcmp(mode, "stack")) {
		dump_stack();
		return 0;
	}
	if (!strcmp(mode, "taint")) {
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
		return 0;
	}
	ret = lock_modes();
	if (ret == -ENOENT)
		ret = memory_modes();
	return ret == -ENOENT ? -EINVAL : ret;
}

/*
 * mode=leak loses its buffer here, at the unload, the youngest object the
 * guest's kmemleak scans must still catch: kmemleak reports only objects
 * at least 5 s old when a scan starts.
 */
static void __exit vmk_runner_test_exit(void)
{
	char *buf;

	if (strcmp(mode, "leak"))
		return;
	buf = kmalloc(128, GFP_KERNEL);
	if (!buf)
		return;
	memset(buf, 0x5a, 128);
	pr_info("vmk_runner_test: leaking 128 bytes\n");
}

module_init(vmk_runner_test_init);
module_exit(vmk_runner_test_exit);

MODULE_DESCRIPTION("vmemkit: misbehaving module for the guest runner's own tests");
MODULE_LICENSE("GPL");
