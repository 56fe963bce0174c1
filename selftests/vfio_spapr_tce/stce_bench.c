// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_DMA + UNMAP_DMA of 64 MiB, as 16384 single-page calls and as one
 * call, for vfio_spapr_tce (v1 pins in MAP; v2 maps pre-registered memory)
 * and for the in-tree vfio_iommu_type1, same guest, same group, same
 * pre-faulted buffer.  Prints pages/s and the ratio to type1, then proves
 * the sPAPR mappings were real with one edu DMA per version.
 */
#include "stce_lib.h"

#define BUF_SIZE	(64UL << 20)
#define NPAGES		(BUF_SIZE / STCE_PAGE)
#define RUNS		3

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median seconds of RUNS rounds of map+unmap of the whole buffer. */
static double run(int c, __u8 *buf, bool single)
{
	double t[RUNS], t0;
	unsigned long i;
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
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	return t[RUNS / 2];
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

static void report(const char *mode, const char *backend, double secs,
		   double base)
{
	double pps = NPAGES / secs;

	printf("%-12s %-24s %10.0f pages/s  %6.2fx type1\n", mode, backend,
	       pps, base / secs);
	/* one VMK-BENCH line per figure, built key by key */
	printf("VMK-BENCH {\"name\":\"map_unmap_64m_%s\",", mode);
	printf("\"backend\":\"%s\",\"pages_per_s\":%.0f,", backend, pps);
	printf("\"seconds\":%.6f,\"ratio_vs_type1\":%.3f}\n", secs,
	       base / secs);
}

int main(void)
{
	static const char * const names[] = { "vfio_iommu_type1", "spapr_tce_v1",
				"spapr_tce_v2_prereg" };
	const int types[] = { VFIO_TYPE1v2_IOMMU, VFIO_SPAPR_TCE_IOMMU,
			      VFIO_SPAPR_TCE_v2_IOMMU };
	double single[3], one[3], reg_secs = 0, t0;
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
	if (!buf)
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
		single[b] = run(c, buf, true);
		one[b] = run(c, buf, false);
		if (single[b] < 0 || one[b] < 0) {
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

	printf("64 MiB MAP_DMA + UNMAP_DMA, median of %d runs\n", RUNS);
	for (b = 0; b < 3; b++)
		report("single_page", names[b], single[b], single[0]);
	for (b = 0; b < 3; b++)
		report("one_call", names[b], one[b], one[0]);
	printf("v2 REGISTER_MEMORY of 64 MiB (once, not in the figures): %.1f ms\n",
	       reg_secs * 1e3);
	printf("VMK-BENCH {\"name\":\"register_memory_64m\",");
	printf("\"backend\":\"spapr_tce_v2\",\"seconds\":%.6f}\n", reg_secs);
	return 0;
}
