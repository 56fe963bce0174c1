// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark: dma_map_page + dma_unmap_page with the bounce copy, timed
 * inside the kernel by the test client, against memcpy() of the same size
 * in the same guest; then 4 KiB map+unmap from two mappers on two vCPUs,
 * per-slot locking against the seed's single global spinlock
 * (vduse_iotlb.bench_global_lock=1, sampled when a domain is created).
 * Figures are medians over ROUNDS alternating bursts (see below), with
 * their spread and targets (vmk_bench.h).  Each map+unmap figure also gives
 * the time of the map and of the unmap half, from a third burst per round
 * that times the halves apart.
 *
 * Targets (issue: vduse_iotlb performance): 64 KiB map+unmap that bounces
 * once (to_device, from_device) at least 0.7x memcpy of the same size;
 * bidirectional bounces twice, its ratio is shown without a target.  Two
 * mappers with per-slot locks at least 1.5x the global-lock variant.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "vit_util.h"
#include "vmk_bench.h"

#define PARAM "/sys/module/vduse_iotlb/parameters/bench_global_lock"
/*
 * The host is shared and its load changes from one second to the next, so
 * nothing is timed in one long run: each figure alternates short bursts of
 * what it compares, ROUNDS times, and reports the median of the ratios of
 * adjacent bursts.
 */
#define ROUNDS		9
#define BURST_NS	40000000ULL	/* one timed burst */
#define MAPPER_BURSTS	2		/* a two-mapper run: 2 bursts each */

#define BOUNCE_TARGET	0.7	/* 64 KiB, one copy: ratio to memcpy */
#define MAPPERS_TARGET	1.5	/* per-slot locks: ratio to the global lock */

static const char * const dir_names[] = { "bidirectional", "to_device",
					  "from_device" };

static int die(const char *what)
{
	fprintf(stderr, "vduse_iotlb_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Nanoseconds @count operations took; with VIT_TEST_F_SPLIT, *@map_ns. */
static __u64 bench_split(int cl, __u64 len, __u32 dir, __u32 flags,
			 __u64 count, __u64 *map_ns)
{
	struct vit_test_cmd c = { .op = VIT_TEST_BENCH, .length = len,
				  .dir = dir, .flags = flags, .count = count };

	if (vit_op(cl, &c))
		die("VIT_TEST_BENCH");
	if (map_ns)
		*map_ns = c.out_map_ns;
	return c.out_ns ? c.out_ns : 1;
}

static __u64 bench(int cl, __u64 len, __u32 dir, __u32 flags, __u64 count)
{
	return bench_split(cl, len, dir, flags, count, NULL);
}

/* Iterations of one kind of operation that take about BURST_NS. */
static __u64 calibrate(int cl, __u64 len, __u32 dir, __u32 flags)
{
	__u64 count = 64, ns;

	ns = bench(cl, len, dir, flags, count);
	count = count * BURST_NS / ns + 1;
	ns = bench(cl, len, dir, flags, count);
	return count * BURST_NS / ns + 1;
}

/*
 * memcpy and map+unmap of @len bytes in @dir, in alternating bursts (which
 * of the two goes first flips every round), then a burst timing the map
 * and unmap halves apart; one figure each.
 */
static void measure(int cl, __u64 len, __u32 dir)
{
	__u64 n_mc = calibrate(cl, len, 0, VIT_TEST_F_MEMCPY);
	__u64 n_op = calibrate(cl, len, dir, 0);
	double op[ROUNDS], mc[ROUNDS], r[ROUNDS], map[ROUNDS], unmap[ROUNDS];
	enum vmk_target kind = VMK_INFO;
	__u64 ns, map_ns;
	char name[80];
	int k;

	for (k = 0; k < ROUNDS; k++) {
		if (k & 1)
			op[k] = (double)bench(cl, len, dir, 0, n_op) / n_op;
		mc[k] = (double)bench(cl, len, 0, VIT_TEST_F_MEMCPY, n_mc) / n_mc;
		if (!(k & 1))
			op[k] = (double)bench(cl, len, dir, 0, n_op) / n_op;
		r[k] = mc[k] / op[k];
		ns = bench_split(cl, len, dir, VIT_TEST_F_SPLIT, n_op, &map_ns);
		map[k] = (double)map_ns / n_op;
		unmap[k] = (double)(ns - map_ns) / n_op;
		/* ns per operation -> GB/s */
		op[k] = len / op[k];
		mc[k] = len / mc[k];
	}
	if (len == 65536 && dir != VIT_DIR_BIDIRECTIONAL)
		kind = VMK_AT_LEAST;
	snprintf(name, sizeof(name), "vduse_iotlb.map_unmap.%s.%llu",
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, "x", r, ROUNDS, kind, BOUNCE_TARGET,
			 "memcpy of the same size");
	snprintf(name, sizeof(name), "vduse_iotlb.map_unmap_gbps.%s.%llu",
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, "GB/s", op, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(name, sizeof(name), "vduse_iotlb.memcpy_gbps.%llu",
		 (unsigned long long)len);
	if (dir == VIT_DIR_BIDIRECTIONAL)
		vmk_bench_figure(name, "GB/s", mc, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(name, sizeof(name), "vduse_iotlb.map_ns.%s.%llu",
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, "ns", map, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(name, sizeof(name), "vduse_iotlb.unmap_ns.%s.%llu",
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, "ns", unmap, ROUNDS, VMK_INFO, 0, NULL);
}

/* A domain created with bench_global_lock set to @global. */
static void new_domain(int ctl, int global, int *dfd)
{
	FILE *f = fopen(PARAM, "w");
	__u32 id;

	if (!f || fprintf(f, "%d\n", global) < 0 || fclose(f))
		die("set bench_global_lock");
	if (vit_create(ctl, (16UL << 20) - 1, 8UL << 20, &id, dfd))
		die("create domain");
	f = fopen(PARAM, "w");
	if (!f || fprintf(f, "0\n") < 0 || fclose(f))
		die("reset bench_global_lock");
}

static int client(int dfd)
{
	int cl = open(VIT_CLIENT, O_RDWR);

	if (cl < 0 || vit_attach(cl, dfd))
		die("client");
	return cl;
}

struct mapper {
	int cl, cpu;
	__u64 count, ns;
};

static void *mapper_run(void *arg)
{
	struct mapper *m = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(m->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	m->ns = bench(m->cl, 4096, VIT_DIR_TO_DEVICE, 0, m->count);
	return NULL;
}

/* Aggregate 4 KiB map+unmap pairs per second of two concurrent mappers. */
static double two_mappers(int dfd, __u64 count)
{
	struct mapper m[2];
	struct timespec a, b;
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		m[i] = (struct mapper){ .cl = client(dfd), .cpu = i, .count = count };
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, mapper_run, &m[i]);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (i = 0; i < 2; i++)
		close(m[i].cl);
	return 2.0 * count /
	       ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
}

int main(void)
{
	static const __u64 sizes[] = { 256, 4096, 65536 };
	double pcpu[ROUNDS], glob[ROUNDS], r[ROUNDS];
	int ctl, dfd, gdfd, cl, k;
	unsigned int s, d;
	__u64 count;

	ctl = open(VIT_CTL, O_RDWR);
	if (ctl < 0)
		die(VIT_CTL);
	new_domain(ctl, 0, &dfd);
	new_domain(ctl, 1, &gdfd);
	cl = client(dfd);

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (d = 0; d < 3; d++)
			measure(cl, sizes[s], d);
	}

	/*
	 * Two mappers: size a run from one mapper's speed, then alternate the
	 * two domains (which goes first flips every round) and take the
	 * median of the per-round ratios.
	 */
	count = calibrate(cl, 4096, VIT_DIR_TO_DEVICE, 0) * MAPPER_BURSTS;
	close(cl);
	two_mappers(dfd, count);
	two_mappers(gdfd, count);
	for (k = 0; k < ROUNDS; k++) {
		if (k & 1) {
			glob[k] = two_mappers(gdfd, count);
			pcpu[k] = two_mappers(dfd, count);
		} else {
			pcpu[k] = two_mappers(dfd, count);
			glob[k] = two_mappers(gdfd, count);
		}
		r[k] = pcpu[k] / glob[k];
	}
	vmk_bench_figure("vduse_iotlb.two_mappers.4096", "x", r, ROUNDS,
			 VMK_AT_LEAST, MAPPERS_TARGET,
			 "the same with one global spinlock");
	vmk_bench_figure("vduse_iotlb.two_mappers_ops.4096", "ops/s", pcpu,
			 ROUNDS, VMK_INFO, 0, NULL);
	vmk_bench_figure("vduse_iotlb.two_mappers_global_ops.4096", "ops/s",
			 glob, ROUNDS, VMK_INFO, 0, NULL);
	close(gdfd);
	close(dfd);
	close(ctl);
	return 0;
}
