// SPDX-License-Identifier: GPL-2.0-only
/*
 * What vfio_spapr_tce does, in a few lines: a v2 container on an edu
 * device behind the emulated Intel IOMMU, registered memory, a mapping,
 * one DMA through it, and the module's debugfs view while it is live.
 */
#include "stce_lib.h"

int main(void)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	char bdfs[STCE_MAX_EDU][32], line[256];
	struct stce_dev d;
	__u8 *buf;
	FILE *f;
	int c, i;

	if (stce_find_edus(bdfs, STCE_MAX_EDU) < 1 ||
	    stce_group_open(&d, bdfs[0]))
		return 1;
	c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
	if (c < 0 || stce_dev_open(&d) ||
	    ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info))
		return 1;
	printf("edu %s in IOMMU group %d: sPAPR v2 container\n", d.bdf,
	       d.group_id);
	printf("default window 0x%x+0x%x, DDW page sizes 0x%llx\n",
	       info.dma32_window_start, info.dma32_window_size,
	       (unsigned long long)info.ddw.pgsizes);
	buf = stce_buf(2 * STCE_PAGE);
	if (!buf || stce_reg(c, true, (uintptr_t)buf, 2 * STCE_PAGE) ||
	    stce_map(c, (uintptr_t)buf, 0x10000, 2 * STCE_PAGE,
		     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return 1;
	snprintf((char *)buf, 64, "hello from the TCE table");
	if (edu_dma(&d, 0x10000, false, 64) ||
	    edu_dma(&d, 0x11000, true, 64))
		return 1;
	printf("edu copied IOVA 0x10000 -> device -> IOVA 0x11000: \"%s\"\n",
	       (char *)buf + STCE_PAGE);
	f = fopen(STCE_DEBUGFS "containers", "r");
	for (i = 0; f && fgets(line, sizeof(line), f) && i < 8; i++)
		printf("debugfs: %s", line);
	if (f)
		fclose(f);
	stce_dev_close(&d);
	close(c);
	printf("closed: pinned_pages %ld, nr_containers %ld\n",
	       stce_counter("pinned_pages"), stce_counter("nr_containers"));
	return 0;
}
