/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the ckpt_restore selftests.
 */
#ifndef CKPT_TEST_H
#define CKPT_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_user.h"

#define PG 4096UL
#define CKPT_DEBUGFS "/sys/kernel/debug/ckpt_restore/"

/* Where ckpt_on_sigbus() returns to: set by ckpt_touch_sigbus(). */
static sigjmp_buf ckpt_bus_jmp;

/* SIGBUS handler for ckpt_touch_sigbus(); install it with sigaction(). */
static inline void ckpt_on_sigbus(int sig)
{
	siglongjmp(ckpt_bus_jmp, 1);
}

/* Read one byte of @p; 1 if that raised SIGBUS. */
static inline int ckpt_touch_sigbus(const char *p)
{
	if (sigsetjmp(ckpt_bus_jmp, 1))
		return 1;
	(void)__atomic_load_n(p, __ATOMIC_RELAXED);
	return 0;
}

/* A new, empty, unnamed image file in /tmp (tmpfs: the page cache). */
static inline int ckpt_tmpfile(void)
{
	return open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

/* Dump [start, end) of the caller (pidfd < 0) or of a traced process. */
static inline int ckpt_dump_range(int dev, int out, int pidfd, void *start,
				  size_t len, struct ckpt_dump *d)
{
	struct ckpt_range r = {
		.start = (uintptr_t)start, .end = (uintptr_t)start + len,
	};

	memset(d, 0, sizeof(*d));
	d->size = sizeof(*d);
	d->out_fd = out;
	if (pidfd >= 0) {
		d->flags = CKPT_DUMP_PIDFD;
		d->pidfd = pidfd;
	}
	if (len) {
		d->nr_ranges = 1;
		d->ranges = (uintptr_t)&r;
	}
	return ioctl(dev, CKPT_DUMP, d) ? -errno : 0;
}

static inline int ckpt_do_restore(int dev, int img, unsigned int flags,
				  struct ckpt_restore *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = flags;
	r->image_fd = img;
	return ioctl(dev, CKPT_RESTORE, r) ? -errno : 0;
}

/* Whole /proc/self/maps into @buf without allocating; returns its length. */
static inline size_t ckpt_read_maps(char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return got;
}

/*
 * The maps lines inside [start, end), clipped to it, each cut to
 * "start-end perms" plus the path for file mappings when @with_path.
 */
static inline void ckpt_maps_in(void *start, size_t len, char *out,
				size_t size, int with_path)
{
	static char maps[1 << 20];
	unsigned long s, e, lo = (uintptr_t)start, hi = lo + len;
	char perms[8], path[512];
	size_t used = 0;
	char *line;

	ckpt_read_maps(maps, sizeof(maps));
	out[0] = 0;
	for (line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511s", &s, &e,
			   perms, path) < 3)
			continue;
		if (e <= lo || s >= hi)
			continue;
		/* Neighbours may merge with the range's ends: clip to it. */
		s = s < lo ? lo : s;
		e = e > hi ? hi : e;
		used += snprintf(out + used, size - used, "%lx-%lx %s %s\n",
				 s, e, perms, with_path ? path : "");
		if (used >= size)
			break;
	}
}

/* A 64-bit value derived from an address, so every page is different. */
static inline __u64 ckpt_pattern(uintptr_t addr, __u64 salt)
{
	return (addr * 0x9E3779B97F4A7C15ULL) ^ salt ^ 0x5a5a5a5a5a5a5a5aULL;
}

static inline void ckpt_fill_page(void *page, __u64 salt)
{
	__u64 *p = page;
	size_t i;

	for (i = 0; i < PG / 8; i++)
		p[i] = ckpt_pattern((uintptr_t)page + i * 8, salt);
}

static inline int ckpt_page_matches(const void *page, __u64 salt)
{
	const __u64 *p = page;
	size_t i;

	for (i = 0; i < PG / 8; i++)
		if (p[i] != ckpt_pattern((uintptr_t)page + i * 8, salt))
			return 0;
	return 1;
}

static inline int ckpt_page_zero(const void *page)
{
	const __u64 *p = page;
	size_t i;

	for (i = 0; i < PG / 8; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * fork() with a pipe between parent and child, the child writing into it
 * if @child_writes, else reading from it.  Returns the child's pid in the
 * parent, 0 in the child, -1 on failure; *@fd is the caller's end.
 */
static inline pid_t ckpt_fork_pipe(int *fd, int child_writes)
{
	int p[2], mine;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	/* The parent reads if the child writes, and the other way round. */
	mine = !pid == !!child_writes;
	*fd = p[mine];
	close(p[!mine]);
	return pid;
}

/*
 * A child process holding @nr private pages at @addr, page i filled with
 * salt @salt + i: @setup (if not NULL) runs in it on the pages, then it
 * says it is ready on the pipe *@ready_fd (the parent's end) and waits to
 * be killed.  Returns the child's pid, or -1.
 */
static inline pid_t ckpt_spawn_filled(char *addr, unsigned long nr,
				      __u64 salt, void (*setup)(char *m),
				      int *ready_fd)
{
	unsigned long i;
	pid_t pid;
	char *m;

	pid = ckpt_fork_pipe(ready_fd, 1);
	if (pid)
		return pid;
	m = mmap(addr, nr * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED)
		_exit(1);
	for (i = 0; i < nr; i++)
		ckpt_fill_page(m + i * PG, salt + i);
	if (setup)
		setup(m);
	if (write(*ready_fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Read a debugfs counter of the module; -1 if it cannot be read. */
static inline long ckpt_stat(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), CKPT_DEBUGFS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/* Reserve an address range nobody uses, then free it for a fixed mapping. */
static inline void *ckpt_free_range(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, len);
	return p;
}

/* Benchmarks: seconds on the monotonic clock, and medians. */
static inline double ckpt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int ckpt_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static inline double ckpt_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), ckpt_cmp_double);
	return v[n / 2];
}

#endif /* CKPT_TEST_H */
