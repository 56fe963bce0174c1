// SPDX-License-Identifier: GPL-2.0-only
/*
 * Real DMA through the sPAPR container: edu copies RAM -> device -> RAM
 * through mapped IOVAs, and cannot reach memory after UNMAP, DISABLE or
 * window removal, nor write a READ-only mapping.  Each test runs for both
 * sPAPR versions.  The fixture's teardown closes everything and checks the
 * module holds no pinned page any more.
 */
#include "kselftest_harness.h"
#include "stce_lib.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/vfio/vfio", STCE_DEBUGFS)

#define IOVA_SRC	0x10000ULL
#define IOVA_DST	0x20000ULL
#define IOVA_RO		0x30000ULL
#define NPAGES		8

FIXTURE(dma) {
	struct stce_dev d;
	int c;
	__u8 *buf;
	__u8 *src, *dst, *ro;
};

FIXTURE_VARIANT(dma) {
	int type;
};

FIXTURE_VARIANT_ADD(dma, v1) {
	.type = VFIO_SPAPR_TCE_IOMMU,
};

FIXTURE_VARIANT_ADD(dma, v2) {
	.type = VFIO_SPAPR_TCE_v2_IOMMU,
};

FIXTURE_SETUP(dma)
{
	char bdfs[STCE_MAX_EDU][32];

	ASSERT_GE(stce_find_edus(bdfs, STCE_MAX_EDU), 1)
		TH_LOG("no edu device could be bound to vfio-pci");
	ASSERT_EQ(0, stce_group_open(&self->d, bdfs[0]))
		TH_LOG("cannot open the IOMMU group of %s", bdfs[0]);
	self->c = stce_container_open(&self->d, variant->type);
	ASSERT_LE(0, self->c)
		TH_LOG("VFIO_SET_IOMMU(sPAPR type %d): %s", variant->type,
		       strerror(-self->c));
	ASSERT_EQ(0, stce_dev_open(&self->d))
		TH_LOG("cannot open the device fd of %s", self->d.bdf);
	self->buf = stce_buf(NPAGES * STCE_PAGE);
	ASSERT_NE(NULL, self->buf);
	self->src = self->buf;
	self->dst = self->buf + STCE_PAGE;
	self->ro = self->buf + 2 * STCE_PAGE;
	if (variant->type == VFIO_SPAPR_TCE_IOMMU) {
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_ENABLE))
			TH_LOG("VFIO_IOMMU_ENABLE: %s", strerror(errno));
	} else {
		ASSERT_EQ(0, stce_reg(self->c, true, (uintptr_t)self->buf,
				      NPAGES * STCE_PAGE))
			TH_LOG("REGISTER_MEMORY failed");
	}
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->src, IOVA_SRC,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_READ))
		TH_LOG("MAP_DMA of the source page failed");
}

FIXTURE_TEARDOWN(dma)
{
	stce_dev_close(&self->d);
	if (self->c >= 0)
		close(self->c);
	EXPECT_EQ(0, stce_counter("pinned_pages"))
		TH_LOG("pages still pinned after closing device, group and container");
	EXPECT_EQ(0, stce_counter("nr_containers"))
		TH_LOG("a container outlived its last group");
}

TEST_F(dma, copy_through_iommu)
{
	stce_fill(self->src, EDU_DMA_LEN, 3);
	memset(self->dst, 0, STCE_PAGE);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->dst, IOVA_DST,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_SRC, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_DST, true, EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(self->src, self->dst, EDU_DMA_LEN))
		TH_LOG("bytes copied RAM -> edu -> RAM through the IOMMU differ");
	EXPECT_TRUE(stce_all_bytes(self->dst + EDU_DMA_LEN, STCE_PAGE - EDU_DMA_LEN, 0))
		TH_LOG("edu wrote past the transfer length");
}

TEST_F(dma, unmap_stops_device_writes)
{
	stce_fill(self->src, EDU_DMA_LEN, 5);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->dst, IOVA_DST,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_SRC, false, EDU_DMA_LEN));
	ASSERT_EQ(0, stce_unmap(self->c, IOVA_DST, STCE_PAGE));
	memset(self->dst, 0x5a, STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_DST, true, EDU_DMA_LEN));
	EXPECT_TRUE(stce_all_bytes(self->dst, STCE_PAGE, 0x5a))
		TH_LOG("a DMA to an unmapped IOVA modified memory");
}

TEST_F(dma, readonly_mapping_rejects_device_writes)
{
	stce_fill(self->ro, EDU_DMA_LEN, 11);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->ro, IOVA_RO,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->dst, IOVA_DST,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	/* the device may read it ... */
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_RO, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_DST, true, EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(self->ro, self->dst, EDU_DMA_LEN))
		TH_LOG("the device could not read a READ mapping");
	/* ... but not write it */
	memset(self->ro, 0x5a, STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_RO, true, EDU_DMA_LEN));
	EXPECT_TRUE(stce_all_bytes(self->ro, STCE_PAGE, 0x5a))
		TH_LOG("the device wrote through a READ-only mapping");
}

/*
 * MAP_DMA over a TCE in use points it at the new page (H_PUT_TCE over a
 * valid TCE on POWER): the device's writes land there, not in the old one.
 */
TEST_F(dma, map_over_in_use_tce_replaces_it)
{
	__u8 *other = self->buf + 3 * STCE_PAGE;

	stce_fill(self->src, EDU_DMA_LEN, 7);
	memset(self->dst, 0x5a, STCE_PAGE);
	memset(other, 0, STCE_PAGE);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->dst, IOVA_DST,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)other, IOVA_DST,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE))
		TH_LOG("MAP_DMA over a TCE in use: %s", strerror(errno));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_SRC, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_DST, true, EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(self->src, other, EDU_DMA_LEN))
		TH_LOG("the DMA did not land in the new page");
	EXPECT_TRUE(stce_all_bytes(self->dst, STCE_PAGE, 0x5a))
		TH_LOG("the DMA still reached the replaced page");
	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		EXPECT_EQ(2, stce_counter("pinned_pages"))
			TH_LOG("the replaced page must be unpinned");
}

/*
 * Two physically contiguous pages (one THP) mapped by one MAP_DMA at an
 * IOVA that straddles an 8 KiB boundary, then the second unmapped alone:
 * the first still takes DMA and the second no longer does.  virtio-iommu
 * cannot unmap part of what one MAP request mapped, so this only holds if
 * the module never lets one iommu_map() call cover both TCEs there.
 */
TEST_F(dma, partial_unmap_of_contiguous_pages)
{
	const __u64 iova = 0x41000, sz = 2 << 20;
	__u8 *area, *huge;
	size_t i;

	area = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	huge = (__u8 *)(((uintptr_t)area + sz - 1) & ~(uintptr_t)(sz - 1));
	ASSERT_EQ(0, madvise(huge, sz, MADV_HUGEPAGE));
	for (i = 0; i < sz; i += STCE_PAGE)
		huge[i] = 0;
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		ASSERT_EQ(0, stce_reg(self->c, true, (uintptr_t)huge,
				      2 * STCE_PAGE));
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)huge, iova, 2 * STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, stce_unmap(self->c, iova + STCE_PAGE, STCE_PAGE));

	stce_fill(self->src, EDU_DMA_LEN, 19);
	memset(huge, 0x5a, 2 * STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_SRC, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d, iova, true, EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(self->src, huge, EDU_DMA_LEN))
		TH_LOG("the page still mapped no longer takes DMA");
	ASSERT_EQ(0, edu_dma(&self->d, iova + STCE_PAGE, true, EDU_DMA_LEN));
	EXPECT_TRUE(stce_all_bytes(huge + STCE_PAGE, STCE_PAGE, 0x5a))
		TH_LOG("DMA still reached the page unmapped alone");
	ASSERT_EQ(0, stce_unmap(self->c, iova, STCE_PAGE));
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		ASSERT_EQ(0, stce_reg(self->c, false, (uintptr_t)huge,
				      2 * STCE_PAGE));
	munmap(area, 2 * sz);
}

/* v1 DISABLE and v2 removal of the window both drop every mapping. */
TEST_F(dma, disable_or_window_removal_stops_dma)
{
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm) };
	long lck;

	stce_fill(self->src, EDU_DMA_LEN, 13);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->dst, IOVA_DST,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_SRC, false, EDU_DMA_LEN));
	lck = vmk_vmlck_pages();

	if (variant->type == VFIO_SPAPR_TCE_IOMMU) {
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_DISABLE));
		EXPECT_EQ(lck - 2, vmk_vmlck_pages())
			TH_LOG("DISABLE did not un-charge the two mapped pages");
		EXPECT_EQ(-EPERM, stce_map(self->c, (uintptr_t)self->dst,
					   IOVA_DST, STCE_PAGE,
					   VFIO_DMA_MAP_FLAG_WRITE))
			TH_LOG("MAP_DMA on a disabled v1 container");
	} else {
		rm.start_addr = 0;
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
		EXPECT_EQ(lck, vmk_vmlck_pages())
			TH_LOG("registered memory must stay charged");
		EXPECT_EQ(-ENXIO, stce_map(self->c, (uintptr_t)self->dst,
					   IOVA_DST, STCE_PAGE,
					   VFIO_DMA_MAP_FLAG_WRITE))
			TH_LOG("MAP_DMA into a removed window");
	}
	EXPECT_EQ(0, stce_counter("pinned_pages") -
		  (variant->type == VFIO_SPAPR_TCE_IOMMU ? 0 : NPAGES))
		TH_LOG("pinned pages left behind");
	memset(self->dst, 0x5a, STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d, IOVA_DST, true, EDU_DMA_LEN));
	EXPECT_TRUE(stce_all_bytes(self->dst, STCE_PAGE, 0x5a))
		TH_LOG("DMA still reached memory after the mappings were dropped");
}

/* v2 only: a dynamic window of 2 MiB TCEs backed by a THP. */
FIXTURE(ddw) {
	struct stce_dev d;
	int c;
	__u8 *src, *huge_area, *huge;
};

FIXTURE_SETUP(ddw)
{
	char bdfs[STCE_MAX_EDU][32];
	size_t i;

	ASSERT_GE(stce_find_edus(bdfs, STCE_MAX_EDU), 1);
	ASSERT_EQ(0, stce_group_open(&self->d, bdfs[0]));
	self->c = stce_container_open(&self->d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, self->c);
	ASSERT_EQ(0, stce_dev_open(&self->d));
	self->src = stce_buf(STCE_PAGE);
	ASSERT_NE(NULL, self->src);
	/* a 2 MiB-aligned 2 MiB region, faulted in as one THP */
	self->huge_area = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->huge_area);
	self->huge = (__u8 *)(((uintptr_t)self->huge_area + (2 << 20) - 1) &
				 ~((uintptr_t)(2 << 20) - 1));
	ASSERT_EQ(0, madvise(self->huge, 2 << 20, MADV_HUGEPAGE));
	for (i = 0; i < (2 << 20); i += STCE_PAGE)
		self->huge[i] = 0;
	ASSERT_EQ(0, stce_reg(self->c, true, (uintptr_t)self->src, STCE_PAGE));
	ASSERT_EQ(0, stce_reg(self->c, true, (uintptr_t)self->huge, 2 << 20))
		TH_LOG("REGISTER_MEMORY of the 2 MiB region failed");
}

FIXTURE_TEARDOWN(ddw)
{
	stce_dev_close(&self->d);
	if (self->c >= 0)
		close(self->c);
	EXPECT_EQ(0, stce_counter("pinned_pages"));
}

TEST_F(ddw, create_use_remove_2m_window)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 21,
		.window_size = 32 << 20, .levels = 1,
	};
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm) };

	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	ASSERT_TRUE(!!(info.flags & VFIO_IOMMU_SPAPR_INFO_DDW));
	ASSERT_TRUE(!!(info.ddw.pgsizes & (2 << 20)))
		TH_LOG("the IOMMU offers no 2 MiB pages (pgsizes 0x%llx)",
		       (unsigned long long)info.ddw.pgsizes);
	/*
	 * The second window starts beyond edu's 28-bit reach (1 << 59 or
	 * ddw_base): use the default slot, whose window starts at 0.
	 */
	rm.start_addr = 0;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr))
		TH_LOG("TCE_CREATE: %s", strerror(errno));
	ASSERT_EQ(0, cr.start_addr) TH_LOG("window 0 starts at 0");

	memset(self->huge, 0, 2 << 20);
	stce_fill(self->src, EDU_DMA_LEN, 17);
	memcpy(self->huge + 0x1000, self->src, EDU_DMA_LEN);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->huge, cr.start_addr,
			      2 << 20, VFIO_DMA_MAP_FLAG_READ |
			      VFIO_DMA_MAP_FLAG_WRITE))
		TH_LOG("MAP_DMA of a 2 MiB TCE (is the region one THP?)");
	ASSERT_EQ(0, edu_dma(&self->d, cr.start_addr + 0x1000, false,
			     EDU_DMA_LEN));
	/* land in the middle of the large page */
	ASSERT_EQ(0, edu_dma(&self->d, cr.start_addr + 0x123000, true,
			     EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(self->src, self->huge + 0x123000, EDU_DMA_LEN))
		TH_LOG("DMA through the 2 MiB window did not land");

	/* a 4 KiB request is not a whole 2 MiB TCE */
	EXPECT_EQ(-EINVAL, stce_unmap(self->c, cr.start_addr, STCE_PAGE));
	rm.start_addr = cr.start_addr;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	memset(self->huge, 0x5a, 2 << 20);
	ASSERT_EQ(0, edu_dma(&self->d, cr.start_addr + 0x123000, true,
			     EDU_DMA_LEN));
	EXPECT_TRUE(stce_all_bytes(self->huge + 0x123000, EDU_DMA_LEN, 0x5a))
		TH_LOG("DMA reached memory after the window was removed");
	/* removal dropped the mapping count: memory can go now */
	EXPECT_EQ(0, stce_reg(self->c, false, (uintptr_t)self->huge, 2 << 20));
}

TEST_HARNESS_MAIN
