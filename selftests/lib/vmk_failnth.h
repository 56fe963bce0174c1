/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fault-injection sweeps through /proc/thread-self/fail-nth
 * (Documentation/fault-injection/fault-injection.rst).
 *
 * Writing N to the calling thread's fail-nth makes the Nth fault point that
 * thread reaches fail: a slab allocation (failslab), a page allocation
 * (fail_page_alloc) or a copy from or to user memory (fail_usercopy),
 * sleeping allocations included once vmk_failnth_open() has told the three
 * injectors not to ignore them.  Reading it back after the call gives 0 when
 * the fault was injected, the points still to go otherwise.
 *
 * A sweep arms N = 1, 2, ... around one operation until a run reaches no
 * more injection points:
 *
 *	struct vmk_failnth fn;
 *	int n, ret, injected;
 *
 *	if (vmk_failnth_open(&fn))
 *		SKIP(return, "%s", fn.why);
 *	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
 *		(snapshot the state the operation must leave alone)
 *		vmk_failnth_arm(&fn, n);
 *		ret = operation();	(one system call, or a few)
 *		injected = vmk_failnth_disarm(&fn);
 *		if (!injected)
 *			break;		(n - 1 points: the operation is done)
 *		(ret < 0: assert the errno and that the snapshot still holds;
 *		 ret == 0: the failure was absorbed: undo the operation)
 *	}
 *	vmk_failnth_report("name", n - 1);
 *
 * Only the calling thread is affected, and only between arm and disarm:
 * keep that window to the operation under test.  Fault injection needs
 * CONFIG_FAULT_INJECTION (KERNEL=debug); elsewhere vmk_failnth_open() fails
 * with a reason to SKIP with.
 */
#ifndef VMK_FAILNTH_H
#define VMK_FAILNTH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Bound on a sweep: an operation with more points than this is a bug. */
#define VMK_FAILNTH_MAX 100000

struct vmk_failnth {
	int fd;			/* /proc/thread-self/fail-nth, O_RDWR */
	char why[160];		/* why vmk_failnth_open() failed */
};

static inline int vmk_failnth_knob(const char *attr, const char *knob,
				   const char *val)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s", attr, knob);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

/*
 * Open the calling thread's fail-nth and set the injectors up: sleeping and
 * highmem allocations and order-0 pages count, nothing fails at random
 * (probability 0: only fail-nth fires) and a failure prints nothing (no
 * stack dump on the console: a sweep makes thousands).  Returns 0, or -1
 * with fn->why set.
 */
static inline int vmk_failnth_open(struct vmk_failnth *fn)
{
	static const char *const attrs[] = {
		"failslab", "fail_page_alloc", "fail_usercopy", NULL,
	};
	unsigned int i;
	int err;

	fn->fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fn->fd < 0) {
		snprintf(fn->why, sizeof(fn->why),
			 "/proc/thread-self/fail-nth: %s (needs CONFIG_FAULT_INJECTION: KERNEL=debug)",
			 strerror(errno));
		return -1;
	}
	for (i = 0; attrs[i]; i++) {
		err = vmk_failnth_knob(attrs[i], "probability", "0");
		if (!err)
			err = vmk_failnth_knob(attrs[i], "verbose", "0");
		if (err) {
			snprintf(fn->why, sizeof(fn->why),
				 "/sys/kernel/debug/%s: %s (needs CONFIG_FAULT_INJECTION_DEBUG_FS and %s)",
				 attrs[i], strerror(-err), attrs[i]);
			close(fn->fd);
			fn->fd = -1;
			return -1;
		}
	}
	err = vmk_failnth_knob("failslab", "ignore-gfp-wait", "N");
	if (!err)
		err = vmk_failnth_knob("fail_page_alloc", "ignore-gfp-wait", "N");
	if (!err)
		err = vmk_failnth_knob("fail_page_alloc", "ignore-gfp-highmem", "N");
	if (!err)
		err = vmk_failnth_knob("fail_page_alloc", "min-order", "0");
	if (err) {
		snprintf(fn->why, sizeof(fn->why),
			 "cannot set the fault injectors up: %s", strerror(-err));
		close(fn->fd);
		fn->fd = -1;
		return -1;
	}
	return 0;
}

static inline void vmk_failnth_close(struct vmk_failnth *fn)
{
	if (fn->fd >= 0)
		close(fn->fd);
	fn->fd = -1;
}

/* Make the calling thread's nth fault point from now on fail. */
static inline int vmk_failnth_arm(struct vmk_failnth *fn, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	return pwrite(fn->fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * Disarm; returns 1 when the armed fault was injected, 0 when the operation
 * ended before reaching it.  Reading and writing fail-nth copy to and from
 * user memory, which are fault points themselves while it is still armed:
 * a read that fails with EFAULT was such a point (so the operation did not
 * reach the armed one), and the write of 0 is retried until it lands.
 */
static inline int vmk_failnth_disarm(struct vmk_failnth *fn)
{
	char buf[16] = "";
	ssize_t n;
	int injected, tries;

	n = pread(fn->fd, buf, sizeof(buf) - 1, 0);
	injected = n > 0 && buf[0] == '0' && (buf[1] == '\n' || !buf[1]);
	for (tries = 0; tries < 4 && pwrite(fn->fd, "0", 1, 0) != 1; tries++)
		;
	return injected;
}

/*
 * Entries of directory @path without . and .. (open fds in /proc/self/fd,
 * a module's debugfs objects), or -1: what a failed call must not add.
 */
static inline int vmk_count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The line each sweep prints: how many injection points it reached. */
static inline void vmk_failnth_report(const char *name, int points)
{
	printf("# sweep %s: %d injection points\n", name, points);
	fflush(stdout);
}

#endif /* VMK_FAILNTH_H */
