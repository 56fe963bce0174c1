// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmk_runner_test - misbehave on purpose so the runner's own tests can show
 * that each kind of kernel badness fails a run.
 *
 * mode=none   load and unload quietly (the guest environment test)
 * mode=warn   WARN() at load: with panic_on_warn the guest panics
 * mode=stack  print a stack dump (a "Call Trace") at load, nothing else
 * mode=taint  add TAINT_USER at load, which no test run may carry
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/panic.h>
#include <linux/printk.h>
#include <linux/string.h>

static char *mode = "none";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "none, warn, stack or taint");

static int __init vmk_runner_test_init(void)
{
	if (!strcmp(mode, "warn"))
		WARN(1, "vmk_runner_test: warning on purpose\n");
	else if (!strcmp(mode, "stack"))
		dump_stack();
	else if (!strcmp(mode, "taint"))
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
	else if (strcmp(mode, "none"))
		return -EINVAL;
	return 0;
}

static void __exit vmk_runner_test_exit(void)
{
}

module_init(vmk_runner_test_init);
module_exit(vmk_runner_test_exit);

MODULE_DESCRIPTION("vmemkit: misbehaving module for the guest runner's own tests");
MODULE_LICENSE("GPL");
