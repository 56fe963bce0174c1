// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark: dma_map_page + dma_unmap_page with the bounce copy, timed
 * inside the kernel by the test client, against memcpy() of the same size
 * in the same guest; then 4 KiB map+unmap from two mappers on two vCPUs,
 * per-slot locking against the seed's single global spinlock
 * (vduse_iotlb.bench_global_lock=1, sampled when a domain is created).
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "vit_util.h"

#define PARAM "/sys/module/vduse_iotlb/parameters/bench_global_lock"
#define TARGET_NS 300000000ULL	/* per measurement */

static const char * const dir_names[] = { "bidirectional", "to_device",
					  "from_device" };

static int die(const char *what)
{
	fprintf(stderr, "vduse_iotlb_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t bench(int cl, uint64_t len, uint32_t dir, uint32_t flags,
		      uint64_t count)
{
	struct vit_test_cmd c = { .op = VIT_TEST_BENCH, .length = len,
				  .dir = dir, .flags = flags, .count = count };

	if (vit_op(cl, &c))
		die("bench ioctl");
	return c.out_ns ? c.out_ns : 1;
}

/* Nanoseconds per operation, measured for about TARGET_NS. */
static double per_op(int cl, uint64_t len, uint32_t dir, uint32_t flags)
{
	uint64_t count = 64, ns;

	ns = bench(cl, len, dir, flags, count);
	count = count * TARGET_NS / ns + 1;
	ns = bench(cl, len, dir, flags, count);
	return (double)ns / count;
}

/* A domain created with bench_global_lock set to @global. */
static void domain(int ctl, int global, int *dfd)
{
	FILE *f = fopen(PARAM, "w");
	uint32_t id;

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
	uint64_t count, ns;
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
static double two_mappers(int dfd, uint64_t count)
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
	static const uint64_t sizes[] = { 256, 4096, 65536 };
	double mc, op, pcpu, glob;
	int ctl, dfd, gdfd, cl;
	uint64_t count;
	unsigned int s, d;

	ctl = open(VIT_CTL, O_RDWR);
	if (ctl < 0)
		die(VIT_CTL);
	domain(ctl, 0, &dfd);
	cl = client(dfd);

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		mc = per_op(cl, sizes[s], 0, VIT_TEST_F_MEMCPY);
		for (d = 0; d < 3; d++) {
			op = per_op(cl, sizes[s], d, 0);
			printf("map+unmap %6lu B %-13s %9.0f ops/s %6.2f GB/s, memcpy %6.2f GB/s, ratio %.2f\n",
			       (unsigned long)sizes[s], dir_names[d], 1e9 / op,
			       sizes[s] / op, sizes[s] / mc, mc / op);
			printf("VMK-BENCH {\"name\":\"vduse_iotlb.map_unmap.%s.%lu\","
			       "\"ops_per_s\":%.0f,\"gb_per_s\":%.3f,"
			       "\"memcpy_gb_per_s\":%.3f,\"ratio_vs_memcpy\":%.3f}\n",
			       dir_names[d], (unsigned long)sizes[s], 1e9 / op,
			       sizes[s] / op, sizes[s] / mc, mc / op);
		}
	}
	close(cl);

	/* Two mappers: size the run from one mapper's speed. */
	cl = client(dfd);
	count = TARGET_NS / per_op(cl, 4096, VIT_DIR_TO_DEVICE, 0) + 1;
	close(cl);
	pcpu = two_mappers(dfd, count);
	domain(ctl, 1, &gdfd);
	glob = two_mappers(gdfd, count);
	printf("2 mappers, 4 KiB to_device: per-slot locks %.0f ops/s, global spinlock %.0f ops/s, ratio %.2f\n",
	       pcpu, glob, pcpu / glob);
	printf("VMK-BENCH {\"name\":\"vduse_iotlb.two_mappers.4096\","
	       "\"per_slot_ops_per_s\":%.0f,\"global_lock_ops_per_s\":%.0f,"
	       "\"ratio\":%.3f}\n", pcpu, glob, pcpu / glob);
	close(gdfd);
	close(dfd);
	close(ctl);
	return 0;
}
