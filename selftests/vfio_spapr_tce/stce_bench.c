// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_DMA + UNMAP_DMA of 64 MiB, as 16384 single-page calls and as one
 * call, for vfio_spapr_tce (v1 pins in MAP; v2 maps pre-registered memory)
 * and for the in-tree vfio_iommu_type1, same guest, same group, same
 * pre-faulted buffer.  Prints the ratio of type1's median time to each
 * run's (the median of RUNS runs with their spread, vmk_bench.h) and
 * pages/s, then proves the sPAPR mappings were real with one edu DMA per
 * version.
 *
 * Targets (issue: vfio_spapr_tce performance): one call at least 1.5x
 * type1, single-page calls at least 1.0x type1, for v1 and v2.
 */
#include "stce_lib.h"
#include "vmk_bench.h"

#define BUF_SIZE	(64UL << 20)
#define NPAGES		(BUF_SIZE / STCE_PAGE)
#define RUNS		5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds of each of RUNS rounds of map+unmap of the whole buffer. */
static int run(int c, __u8 *buf, bool single, double *t)
{
	unsigned long i;
	double t0;
	int r;

	for (r = 0; r < RUNS; r++) {
		t0 = now();
		if (single) {
			for (i = 0; i < NPAGES; i++)
				if (stce_map(c, (uintptr_t)buf + i * STCE_PAGE,
					     i * STCE_PAGE, STCE_PAGE,
					     VFIO_DMA_MAP_FLAG_READ |
					     VFIO_DMA_MAP_FLAG_WRITE))
					return -1;
			for (i = 0; i < NPAGES; i++)
				if (stce_unmap(c, i * STCE_PAGE, STCE_PAGE))
					return -1;
		} else {
			if (stce_map(c, (uintptr_t)buf, 0, BUF_SIZE,
				     VFIO_DMA_MAP_FLAG_READ |
				     VFIO_DMA_MAP_FLAG_WRITE) ||
			    stce_unmap(c, 0, BUF_SIZE))
				return -1;
		}
		t[r] = now() - t0;
	}
	return 0;
}

#define STCE_UNSAFE "/sys/module/vfio_spapr_tce/parameters/allow_unsafe_interrupts"
#define TYPE1_UNSAFE "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"

/*
 * Behind an IOMMU without interrupt remapping (virtio-iommu; amd-iommu on
 * 7.3 under QEMU 7.2) the collection loads this module with
 * allow_unsafe_interrupts=1: give type1 the same, or it refuses the group
 * and there is no baseline.
 */
static int same_unsafe_interrupts(void)
{
	char v[8] = "";
	FILE *f = fopen(STCE_UNSAFE, "r");

	if (f) {
		if (!fgets(v, sizeof(v), f))
			v[0] = 0;
		fclose(f);
	}
	if (!v[0]) {
		fprintf(stderr, "cannot read %s\n", STCE_UNSAFE);
		return -1;
	}
	f = fopen(TYPE1_UNSAFE, "w");
	if (!f || fputs(v, f) < 0 || fclose(f)) {
		perror(TYPE1_UNSAFE);
		return -1;
	}
	if (v[0] == 'Y')
		printf("# both backends with allow_unsafe_interrupts=Y\n");
	return 0;
}

/* One RAM -> edu -> RAM copy through the first and last pages. */
static int dma_check(struct stce_dev *d, int c, __u8 *buf)
{
	__u64 last = BUF_SIZE - STCE_PAGE;
	int i, ret;

	if (stce_map(c, (uintptr_t)buf, 0, BUF_SIZE,
		     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return -1;
	for (i = 0; i < EDU_DMA_LEN; i++)
		buf[i] = (__u8)(i * 3 + 7);
	memset(buf + last, 0, EDU_DMA_LEN);
	ret = edu_dma(d, 0, false, EDU_DMA_LEN) ||
	      edu_dma(d, last, true, EDU_DMA_LEN) ||
	      memcmp(buf, buf + last, EDU_DMA_LEN);
	return stce_unmap(c, 0, BUF_SIZE) || ret ? -1 : 0;
}

/*
 * Figures of one backend from its per-run times @secs: the ratio to
 * type1's times @base (when @vs_type1: type1 itself has none) against
 * @target, and pages/s.
 */
static void report(const char *mode, const char *backend, const double *secs,
		   const double *base, bool vs_type1, double target)
{
	double ratio[RUNS], pps[RUNS];
	char name[96];
	int r;

	/*
	 * The backends run one after another (a group is in one container
	 * at a time), so run r of one is no closer in time to run r of
	 * type1 than any other: each run is set against type1's median.
	 */
	for (r = 0; r < RUNS; r++) {
		ratio[r] = vmk_median(base, RUNS) / secs[r];
		pps[r] = NPAGES / secs[r];
	}
	if (vs_type1) {
		snprintf(name, sizeof(name), "stce.map_unmap_64m.%s.%s", mode,
			 backend);
		vmk_bench_figure(name, "x", ratio, RUNS, VMK_AT_LEAST, target,
				 "vfio_iommu_type1 in the same guest");
	}
	snprintf(name, sizeof(name), "stce.map_unmap_64m_pages_per_s.%s.%s",
		 mode, backend);
	vmk_bench_figure(name, "pages/s", pps, RUNS, VMK_INFO, 0, NULL);
}

int main(void)
{
	static const char * const names[] = { "vfio_iommu_type1", "spapr_tce_v1",
				"spapr_tce_v2_prereg" };
	const int types[] = { VFIO_TYPE1v2_IOMMU, VFIO_SPAPR_TCE_IOMMU,
			      VFIO_SPAPR_TCE_v2_IOMMU };
	static double single[3][RUNS], one[3][RUNS];
	double reg_secs = 0, t0;
	char bdfs[STCE_MAX_EDU][32];
	struct stce_dev d;
	__u8 *buf;
	int b, c;

	if (stce_find_edus(bdfs, STCE_MAX_EDU) < 1 ||
	    stce_group_open(&d, bdfs[0])) {
		fprintf(stderr, "no edu device bound to vfio-pci\n");
		return 1;
	}
	buf = stce_buf(BUF_SIZE);
	if (!buf || same_unsafe_interrupts())
		return 1;

	for (b = 0; b < 3; b++) {
		c = stce_container_open(&d, types[b]);
		if (c < 0) {
			fprintf(stderr, "%s: %s\n", names[b], strerror(-c));
			return 1;
		}
		if (types[b] == VFIO_SPAPR_TCE_IOMMU &&
		    ioctl(c, VFIO_IOMMU_ENABLE))
			return 1;
		if (types[b] == VFIO_SPAPR_TCE_v2_IOMMU) {
			t0 = now();
			if (stce_reg(c, true, (uintptr_t)buf, BUF_SIZE))
				return 1;
			reg_secs = now() - t0;
		}
		if (run(c, buf, true, single[b]) || run(c, buf, false, one[b])) {
			fprintf(stderr, "%s: map/unmap failed\n", names[b]);
			return 1;
		}
		if (b) {
			if (stce_dev_open(&d) || dma_check(&d, c, buf)) {
				fprintf(stderr, "%s: edu DMA check failed\n",
					names[b]);
				return 1;
			}
			printf("%s: edu DMA through the 64 MiB mapping ok\n",
			       names[b]);
			close(d.dev_fd);
			d.dev_fd = -1;
		}
		if (ioctl(d.group_fd, VFIO_GROUP_UNSET_CONTAINER))
			return 1;
		close(c);
	}

	printf("# 64 MiB MAP_DMA + UNMAP_DMA, %d runs each\n", RUNS);
	for (b = 0; b < 3; b++)
		report("single_page", names[b], single[b], single[0], b, 1.0);
	for (b = 0; b < 3; b++)
		report("one_call", names[b], one[b], one[0], b, 1.5);
	printf("# v2 REGISTER_MEMORY of 64 MiB (once, not in the figures): %.1f ms\n",
	       reg_secs * 1e3);
	return 0;
}
