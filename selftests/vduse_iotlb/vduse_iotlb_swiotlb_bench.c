// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark: vduse_iotlb against swiotlb, the kernel's own bounce buffer,
 * in one guest booted with swiotlb=force.  The test client times the same
 * loop of dma_map_page() + dma_unmap_page() of the same kernel buffer on a
 * domain's device (bounced by vduse_iotlb) and on a platform device of its
 * own without DMA ops (dma-direct, bounced by swiotlb: VIT_TEST_F_DIRECT).
 * The benchmark fails unless every swiotlb map really bounced: its DMA
 * address is not the buffer's physical one, and the last one of each
 * burst lies in swiotlb's buffer, whose slots debugfs shows.  (Its
 * high-water mark would be a second witness, but 7.3's swiotlb keeps it
 * only with swiotlb=...,track_hiwater, which adds a global atomic to
 * every swiotlb map and unmap: not what is measured here.)
 *
 * Figures, for 4 KiB and 64 KiB in each direction: swiotlb ns per
 * map+unmap / vduse_iotlb ns per map+unmap, one mapper and two mappers on
 * two vCPUs (the ratio of their aggregate rates), each the median of ROUNDS
 * alternating bursts (see vit_bench.h); for one mapper, also the map and
 * unmap halves of both, timed apart.  Target (issue: vduse_iotlb performance):
 * every ratio at least 1.0, i.e. vduse_iotlb as fast as swiotlb or faster.
 */
#include "vit_bench.h"

#define SWIOTLB_DIR	"/sys/kernel/debug/swiotlb/"
#define TARGET		1.0
#define BASELINE	"swiotlb in the same guest"

static const char * const dir_names[] = { "bidirectional", "to_device",
					  "from_device" };

static __u64 read_u64(const char *path)
{
	unsigned long long v;
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%llu", &v) != 1)
		die(path);
	fclose(f);
	return v;
}

/*
 * swiotlb must be there for the platform device to bounce through; that
 * it does, every burst checks (bench_split()).
 */
static void check_swiotlb(int cl)
{
	__u64 nslabs = read_u64(SWIOTLB_DIR "io_tlb_nslabs");

	if (!nslabs) {
		fprintf(stderr, "%s: swiotlb has no slots\n",
			program_invocation_short_name);
		exit(1);
	}
	bench(cl, 65536, VIT_DIR_TO_DEVICE, VIT_TEST_F_DIRECT, 16);
	printf("# swiotlb: %llu slots of 2 KiB; dma-direct maps bounce through them\n",
	       (unsigned long long)nslabs);
}

static void figure(const char *what, __u32 dir, __u64 len, const char *unit,
		   const double *v, enum vmk_target kind)
{
	char name[96];

	snprintf(name, sizeof(name), "vduse_iotlb.%s.%s.%llu", what,
		 dir_names[dir], (unsigned long long)len);
	vmk_bench_figure(name, unit, v, ROUNDS, kind, TARGET,
			 kind == VMK_INFO ? NULL : BASELINE);
}

/*
 * One mapper: map+unmap of @len bytes in @dir on swiotlb's device (@sw)
 * and the domain's (@vd) in alternating bursts (which goes first flips
 * every round), then a burst of each timing the halves apart.
 */
static void one_mapper(int vd, int sw, __u64 len, __u32 dir)
{
	__u64 n_sw = calibrate(sw, len, dir, VIT_TEST_F_DIRECT);
	__u64 n_vd = calibrate(vd, len, dir, 0);
	double r[ROUNDS], vmap[ROUNDS], vunmap[ROUNDS], smap[ROUNDS],
	       sunmap[ROUNDS], vns[ROUNDS], sns[ROUNDS];
	__u64 ns, map_ns;
	int k;

	for (k = 0; k < ROUNDS; k++) {
		if (k & 1)
			vns[k] = (double)bench(vd, len, dir, 0, n_vd) / n_vd;
		sns[k] = (double)bench(sw, len, dir, VIT_TEST_F_DIRECT, n_sw) /
			 n_sw;
		if (!(k & 1))
			vns[k] = (double)bench(vd, len, dir, 0, n_vd) / n_vd;
		r[k] = sns[k] / vns[k];
		ns = bench_split(vd, len, dir, VIT_TEST_F_SPLIT, n_vd, &map_ns);
		vmap[k] = (double)map_ns / n_vd;
		vunmap[k] = (double)(ns - map_ns) / n_vd;
		ns = bench_split(sw, len, dir,
				 VIT_TEST_F_SPLIT | VIT_TEST_F_DIRECT, n_sw,
				 &map_ns);
		smap[k] = (double)map_ns / n_sw;
		sunmap[k] = (double)(ns - map_ns) / n_sw;
	}
	figure("vs_swiotlb", dir, len, "x", r, VMK_AT_LEAST);
	figure("map_unmap_ns", dir, len, "ns", vns, VMK_INFO);
	figure("swiotlb_map_unmap_ns", dir, len, "ns", sns, VMK_INFO);
	figure("map_ns", dir, len, "ns", vmap, VMK_INFO);
	figure("unmap_ns", dir, len, "ns", vunmap, VMK_INFO);
	figure("swiotlb_map_ns", dir, len, "ns", smap, VMK_INFO);
	figure("swiotlb_unmap_ns", dir, len, "ns", sunmap, VMK_INFO);
}

/* Two mappers: the domain's rate / swiotlb's, per round. */
static void mappers(int vd, int sw, int dfd, __u64 len, __u32 dir)
{
	__u64 n_sw = calibrate(sw, len, dir, VIT_TEST_F_DIRECT) * MAPPER_BURSTS;
	__u64 n_vd = calibrate(vd, len, dir, 0) * MAPPER_BURSTS;
	double r[ROUNDS], vops[ROUNDS], sops[ROUNDS];
	int k;

	for (k = 0; k < ROUNDS; k++) {
		if (k & 1)
			vops[k] = two_mappers(dfd, len, dir, n_vd, 0);
		sops[k] = two_mappers(-1, len, dir, n_sw, 0);
		if (!(k & 1))
			vops[k] = two_mappers(dfd, len, dir, n_vd, 0);
		r[k] = vops[k] / sops[k];
	}
	figure("vs_swiotlb_2mappers", dir, len, "x", r, VMK_AT_LEAST);
	figure("2mappers_ops", dir, len, "ops/s", vops, VMK_INFO);
	figure("swiotlb_2mappers_ops", dir, len, "ops/s", sops, VMK_INFO);
}

int main(void)
{
	static const __u64 sizes[] = { 4096, 65536 };
	static const __u32 dirs[] = { VIT_DIR_TO_DEVICE, VIT_DIR_FROM_DEVICE,
				      VIT_DIR_BIDIRECTIONAL };
	int ctl, dfd, vd, sw;
	unsigned int s, d;
	__u32 id;

	ctl = open(VIT_CTL, O_RDWR);
	if (ctl < 0)
		die(VIT_CTL);
	if (vit_create(ctl, (16UL << 20) - 1, 8UL << 20, &id, &dfd))
		die("create domain");
	vd = client(dfd);
	sw = client(-1);
	check_swiotlb(sw);

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (d = 0; d < ARRAY_SIZE(dirs); d++)
			one_mapper(vd, sw, sizes[s], dirs[d]);
	}
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (d = 0; d < ARRAY_SIZE(dirs); d++)
			mappers(vd, sw, dfd, sizes[s], dirs[d]);
	}
	close(sw);
	close(vd);
	close(dfd);
	close(ctl);
	return 0;
}
