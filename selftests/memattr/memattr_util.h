/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the memattr selftests: the uAPI calls, debugfs counters,
 * the backend parameter and SIGBUS-safe memory probes.
 */
#ifndef MEMATTR_UTIL_H
#define MEMATTR_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/memattr.h>

#include "vmk_sys.h"

#define MA_DEV		"/dev/memattr"
#define MA_STATS	"/sys/kernel/debug/memattr/stats"
/* The test backend's module, memattr_test.ko (selftests/memattr/). */
#define MA_TEST_DIR	"/sys/kernel/debug/memattr_test/"
#define MA_BACKEND	"/sys/module/memattr/parameters/backend"
#define MA_PRIVATE	MEMATTR_ATTRIBUTE_PRIVATE

static inline __u64 ma_page(void)
{
	return (__u64)sysconf(_SC_PAGESIZE);
}

/* pagemap entry: bit 63 present, bits 0-54 the PFN. */
#define MA_PM_PRESENT	0x8000000000000000ULL
#define MA_PM_PFN_MASK	0x007fffffffffffffULL

/*
 * PFN of each of the @nr pages at @map (0: not present), from
 * /proc/self/pagemap (PFNs need CAP_SYS_ADMIN); 0 or -errno.
 */
static inline int ma_read_pfns(const char *map, unsigned int nr, __u64 *pfn)
{
	__u64 pg = ma_page(), e;
	unsigned int i;
	int fd, ret = 0;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < nr; i++) {
		off_t off = ((uintptr_t)map / pg + i) * sizeof(e);

		if (pread(fd, &e, sizeof(e), off) != sizeof(e)) {
			ret = -EIO;
			break;
		}
		pfn[i] = (e & MA_PM_PRESENT) ? (e & MA_PM_PFN_MASK) : 0;
	}
	close(fd);
	return ret;
}

/* Create an object; returns its fd or -errno. */
static inline int ma_create(__u64 size, __u32 flags)
{
	struct memattr_create c = {
		.size = sizeof(c), .flags = flags, .object_size = size,
	};
	int dev, fd;

	dev = open(MA_DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	fd = ioctl(dev, MEMATTR_CREATE, &c);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

/* SET_ATTRIBUTES in bytes; returns 0 or -errno. */
static inline int ma_set(int fd, __u64 addr, __u64 size, __u64 attrs)
{
	struct memattr_attributes a = {
		.address = addr, .size = size, .attributes = attrs,
	};

	return ioctl(fd, MEMATTR_SET_ATTRIBUTES, &a) ? -errno : 0;
}

/* SET_ATTRIBUTES in pages. */
static inline int ma_set_pages(int fd, __u64 first, __u64 nr,
			       __u64 attrs)
{
	return ma_set(fd, first * ma_page(), nr * ma_page(), attrs);
}

/*
 * GET_ATTRIBUTES of [addr, addr + len) into @runs (capacity *@nr).  On
 * success *@nr is the number of runs and *@more the MORE flag.
 */
static inline int ma_get(int fd, __u64 addr, __u64 len,
			 struct memattr_run *runs, __u32 *nr, int *more)
{
	struct memattr_get_attributes g = {
		.size = sizeof(g), .address = addr, .length = len,
		.runs_ptr = (uintptr_t)runs, .nr_runs = *nr,
	};

	if (ioctl(fd, MEMATTR_GET_ATTRIBUTES, &g))
		return -errno;
	*nr = g.nr_runs;
	*more = !!(g.out_flags & MEMATTR_GET_MORE);
	return 0;
}

/* Attributes of one page, or -errno. */
static inline __s64 ma_page_attrs(int fd, __u64 pgno)
{
	struct memattr_run run;
	__u32 nr = 1;
	int more, ret;

	ret = ma_get(fd, pgno * ma_page(), ma_page(), &run, &nr, &more);
	if (ret)
		return ret;
	return nr == 1 ? (__s64)run.attributes : -EIO;
}

/*
 * Counter @key of the debugfs file @path.  A missing file or key aborts the
 * test (a failure), so that equality checks of counters cannot pass by
 * comparing two "missing" values.
 */
static inline long long ma_counter(const char *path, const char *key)
{
	long long val;
	char name[64];
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "# %s: %s\n", path, strerror(errno));
		abort();
	}
	while (fscanf(f, "%63s %lld", name, &val) == 2) {
		if (!strcmp(name, key)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	fprintf(stderr, "# %s: no counter %s\n", path, key);
	abort();
}

static inline long long ma_stat(const char *key)
{
	return ma_counter(MA_STATS, key);
}

static inline long long ma_test_calls(const char *key)
{
	return ma_counter(MA_TEST_DIR "calls", key);
}

/* The test backend's hook counters, and the pages it holds prepared. */
struct ma_calls {
	long long prepare, abort, commit, finish, prepared;
};

static inline struct ma_calls ma_get_calls(void)
{
	return (struct ma_calls){
		ma_test_calls("prepare"), ma_test_calls("abort"),
		ma_test_calls("commit"), ma_test_calls("finish"),
		ma_test_calls("prepared"),
	};
}

/* Select the backend of objects created from now on. */
static inline int ma_set_backend(const char *name)
{
	return vmk_write_file(MA_BACKEND, name);
}

/*
 * SIGBUS-safe access: ma_probe_read/write return 0, or -1 if the access
 * raised SIGBUS.  Call ma_probe_init() once per process; each thread has its
 * own landing pad.
 */
static __thread sigjmp_buf ma_probe_jb;
static __thread int ma_probe_armed;	/* read by the SIGBUS handler */

static void ma_probe_handler(int sig, siginfo_t *si, void *uc)
{
	if (!__atomic_load_n(&ma_probe_armed, __ATOMIC_RELAXED))
		abort();
	siglongjmp(ma_probe_jb, 1);
}

static inline void ma_probe_init(void)
{
	struct sigaction sa = {
		.sa_sigaction = ma_probe_handler,
		.sa_flags = SA_SIGINFO | SA_NODEFER,
	};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

static inline int ma_probe_read(const __u64 *p, __u64 *val)
{
	if (sigsetjmp(ma_probe_jb, 0)) {
		__atomic_store_n(&ma_probe_armed, 0, __ATOMIC_RELAXED);
		return -1;
	}
	__atomic_store_n(&ma_probe_armed, 1, __ATOMIC_RELAXED);
	*val = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	__atomic_store_n(&ma_probe_armed, 0, __ATOMIC_RELAXED);
	return 0;
}

static inline int ma_probe_write(__u64 *p, __u64 val)
{
	if (sigsetjmp(ma_probe_jb, 0)) {
		__atomic_store_n(&ma_probe_armed, 0, __ATOMIC_RELAXED);
		return -1;
	}
	__atomic_store_n(&ma_probe_armed, 1, __ATOMIC_RELAXED);
	__atomic_store_n(p, val, __ATOMIC_RELEASE);
	__atomic_store_n(&ma_probe_armed, 0, __ATOMIC_RELAXED);
	return 0;
}

#endif /* MEMATTR_UTIL_H */
