/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Timing helpers shared by the vduse_iotlb benchmarks, around the test
 * client's VIT_TEST_BENCH loop.
 *
 * The host is shared and its load changes from one second to the next, so
 * nothing is timed in one long run: each figure alternates short bursts of
 * what it compares, ROUNDS times, and reports the median of the ratios of
 * adjacent bursts.
 */
#ifndef VIT_BENCH_H
#define VIT_BENCH_H

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "vit_util.h"
#include "vmk_bench.h"

#define ROUNDS		9
#define BURST_NS	40000000ULL	/* one timed burst */
#define MAPPER_BURSTS	2		/* a two-mapper run: 2 bursts each */

static inline int die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(errno));
	exit(1);
}

/*
 * Nanoseconds @count operations took; with VIT_TEST_F_SPLIT, *@map_ns.
 * A VIT_TEST_F_DIRECT loop times swiotlb: one map that did not bounce, or
 * a last map outside swiotlb's buffer (swiotlb not forced), ends the
 * benchmark.
 */
static inline __u64 bench_split(int cl, __u64 len, __u32 dir, __u32 flags,
				__u64 count, __u64 *map_ns)
{
	struct vit_test_cmd c = { .op = VIT_TEST_BENCH, .length = len,
				  .dir = dir, .flags = flags, .count = count };

	if (vit_op(cl, &c))
		die("VIT_TEST_BENCH");
	if ((flags & VIT_TEST_F_DIRECT) &&
	    (c.out_bounced != count || !c.out_in_swiotlb)) {
		fprintf(stderr,
			"%s: %llu of %llu dma-direct maps did not bounce, the last one %s swiotlb (no swiotlb=force?)\n",
			program_invocation_short_name,
			(unsigned long long)(count - c.out_bounced),
			(unsigned long long)count,
			c.out_in_swiotlb ? "in" : "not in");
		exit(1);
	}
	if (map_ns)
		*map_ns = c.out_map_ns;
	return c.out_ns ? c.out_ns : 1;
}

static inline __u64 bench(int cl, __u64 len, __u32 dir, __u32 flags,
			  __u64 count)
{
	return bench_split(cl, len, dir, flags, count, NULL);
}

/* Iterations of one kind of operation that take about BURST_NS. */
static inline __u64 calibrate(int cl, __u64 len, __u32 dir, __u32 flags)
{
	__u64 count = 64, ns;

	ns = bench(cl, len, dir, flags, count);
	count = count * BURST_NS / ns + 1;
	ns = bench(cl, len, dir, flags, count);
	return count * BURST_NS / ns + 1;
}

/* A client file attached to domain @dfd, or unattached when @dfd < 0. */
static inline int client(int dfd)
{
	int cl = open(VIT_CLIENT, O_RDWR);

	if (cl < 0 || (dfd >= 0 && vit_attach(cl, dfd)))
		die("client");
	return cl;
}

struct mapper {
	int cl, cpu;
	__u64 len, count;
	__u32 dir, flags;
};

static inline void *mapper_run(void *arg)
{
	struct mapper *m = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(m->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
	bench(m->cl, m->len, m->dir, m->flags, m->count);
	return NULL;
}

/*
 * Map+unmap pairs of @len bytes in @dir per second of two concurrent
 * mappers on vCPUs 0 and 1, each @count pairs with a client file of its
 * own: attached to domain @dfd, or on the dma-direct device
 * (VIT_TEST_F_DIRECT) when @dfd < 0; @flags: VIT_TEST_BENCH flags
 * (VIT_TEST_F_GLOBAL_LOCK).
 */
static inline double two_mappers(int dfd, __u64 len, __u32 dir, __u64 count,
				 __u32 flags)
{
	struct mapper m[2];
	struct timespec a, b;
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		m[i] = (struct mapper){ .cl = client(dfd), .cpu = i, .len = len,
					.count = count, .dir = dir,
					.flags = flags |
						 (dfd < 0 ? VIT_TEST_F_DIRECT : 0) };
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < 2; i++) {
		errno = pthread_create(&t[i], NULL, mapper_run, &m[i]);
		if (errno)
			die("pthread_create");
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (i = 0; i < 2; i++)
		close(m[i].cl);
	return 2.0 * count /
	       ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
}

#endif /* VIT_BENCH_H */
