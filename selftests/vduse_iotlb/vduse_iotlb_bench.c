// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark: dma_map_page + dma_unmap_page with the bounce copy, timed
 * inside the kernel by the test client, against memcpy() of the same size
 * in the same guest; then 4 KiB map+unmap from two mappers on two vCPUs,
 * per-slot locking against the seed's single global spinlock (the test
 * client holds one spinlock around each map and each unmap:
 * VIT_TEST_F_GLOBAL_LOCK; the module itself has no such mode).
 * Figures are medians over ROUNDS alternating bursts (see vit_bench.h), with
 * their spread and targets (vmk_bench.h).  Each map+unmap figure also gives
 * the time of the map and of the unmap half, from a third burst per round
 * that times the halves apart.
 *
 * Targets (issue: vduse_iotlb performance): 64 KiB map+unmap that bounces
 * once (to_device, from_device) at least 0.7x memcpy of the same size;
 * bidirectional bounces twice, its ratio is shown without a target.  Two
 * mappers with per-slot locks at least 1.5x the global-lock variant.
 *
 * A FROM_DEVICE map zeroes its bounce bytes (so that the device never sees
 * what an earlier mapping left there) and its unmap copies them back: two
 * passes.  For from_device a third reference, memset() of the same size
 * in its own burst each round, gives memcpy / (memset + memcpy), the most
 * that any map+unmap doing those two passes could reach against memcpy,
 * with no other cost at all.
 */
#include "vit_bench.h"

#define BOUNCE_TARGET	0.7	/* 64 KiB, one copy: ratio to memcpy */
#define MAPPERS_TARGET	1.5	/* per-slot locks: ratio to the global lock */

static const char * const dir_names[] = { "bidirectional", "to_device",
					  "from_device" };

/*
 * memcpy and map+unmap of @len bytes in @dir, in alternating bursts (which
 * of the two goes first flips every round), then a burst timing the map
 * and unmap halves apart; one figure each.
 */
static void measure(int cl, __u64 len, __u32 dir)
{
	__u64 n_mc = calibrate(cl, len, 0, VIT_TEST_F_MEMCPY);
	__u64 n_op = calibrate(cl, len, dir, 0);
	int zeroes = dir == VIT_DIR_FROM_DEVICE;
	__u64 n_ms = zeroes ? calibrate(cl, len, 0, VIT_TEST_F_MEMSET) : 0;
	double op[ROUNDS], mc[ROUNDS], r[ROUNDS], map[ROUNDS], unmap[ROUNDS];
	double bound[ROUNDS], ms;
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
		if (zeroes) {
			ms = (double)bench(cl, len, 0, VIT_TEST_F_MEMSET, n_ms) /
			     n_ms;
			bound[k] = mc[k] / (ms + mc[k]);
		}
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
	snprintf(name, sizeof(name), "vduse_iotlb.zero_copy_bound.%llu",
		 (unsigned long long)len);
	if (zeroes)
		vmk_bench_figure(name, "x", bound, ROUNDS, VMK_INFO, 0,
				 "memcpy / (memset + memcpy)");
	snprintf(name, sizeof(name), "vduse_iotlb.map_ns.%s.%llu",
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, "ns", map, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(name, sizeof(name), "vduse_iotlb.unmap_ns.%s.%llu",
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, "ns", unmap, ROUNDS, VMK_INFO, 0, NULL);
}

int main(void)
{
	static const __u64 sizes[] = { 256, 4096, 65536 };
	double pcpu[ROUNDS], glob[ROUNDS], r[ROUNDS];
	const __u32 glock = VIT_TEST_F_GLOBAL_LOCK;
	int ctl, dfd, cl, k;
	unsigned int s, d;
	__u64 count;
	__u32 id;

	ctl = open(VIT_CTL, O_RDWR);
	if (ctl < 0)
		die(VIT_CTL);
	if (vit_create(ctl, (16UL << 20) - 1, 8UL << 20, &id, &dfd))
		die("create domain");
	cl = client(dfd);

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (d = 0; d < 3; d++)
			measure(cl, sizes[s], d);
	}

	/*
	 * Two mappers: size a run from one mapper's speed, then alternate
	 * per-slot locking and the global lock (which goes first flips every
	 * round) and take the median of the per-round ratios.
	 */
	count = calibrate(cl, 4096, VIT_DIR_TO_DEVICE, 0) * MAPPER_BURSTS;
	close(cl);
	two_mappers(dfd, 4096, VIT_DIR_TO_DEVICE, count, 0);
	two_mappers(dfd, 4096, VIT_DIR_TO_DEVICE, count, glock);
	for (k = 0; k < ROUNDS; k++) {
		if (k & 1) {
			glob[k] = two_mappers(dfd, 4096, VIT_DIR_TO_DEVICE,
					      count, glock);
			pcpu[k] = two_mappers(dfd, 4096, VIT_DIR_TO_DEVICE,
					      count, 0);
		} else {
			pcpu[k] = two_mappers(dfd, 4096, VIT_DIR_TO_DEVICE,
					      count, 0);
			glob[k] = two_mappers(dfd, 4096, VIT_DIR_TO_DEVICE,
					      count, glock);
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
	close(dfd);
	close(ctl);
	return 0;
}
