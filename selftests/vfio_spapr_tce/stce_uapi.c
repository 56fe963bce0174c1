// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bad input to every container ioctl gets a clear errno and changes
 * nothing: no page pinned, nothing charged to locked_vm, no TCE in use
 * (a later MAP of the same range still succeeds).  No DMA here.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "stce_lib.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/vfio/vfio", STCE_DEBUGFS)

#define NPAGES	16
#define IOVA	0x100000ULL
#define CRSZ	sizeof(struct vfio_iommu_spapr_tce_create)
/* The default window's size: the module's default, as the collection loads it */
#define DMA32	(2048ULL << 20)

FIXTURE(uapi) {
	struct stce_dev d;
	int c;
	__u8 *buf;
	long pinned, vmlck;
};

FIXTURE_VARIANT(uapi) {
	int type;
};

FIXTURE_VARIANT_ADD(uapi, v1) {
	.type = VFIO_SPAPR_TCE_IOMMU,
};

FIXTURE_VARIANT_ADD(uapi, v2) {
	.type = VFIO_SPAPR_TCE_v2_IOMMU,
};

FIXTURE_SETUP(uapi)
{
	char bdfs[STCE_MAX_EDU][32];

	ASSERT_GE(stce_find_edus(bdfs, STCE_MAX_EDU), 1)
		TH_LOG("no edu device could be bound to vfio-pci");
	ASSERT_EQ(0, stce_group_open(&self->d, bdfs[0]));
	self->c = stce_container_open(&self->d, variant->type);
	ASSERT_LE(0, self->c);
	self->buf = stce_buf(NPAGES * STCE_PAGE);
	ASSERT_NE(NULL, self->buf);
	if (variant->type == VFIO_SPAPR_TCE_IOMMU) {
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_ENABLE));
	} else {
		ASSERT_EQ(0, stce_reg(self->c, true, (uintptr_t)self->buf,
				      NPAGES * STCE_PAGE));
	}
	self->pinned = stce_counter("pinned_pages");
	self->vmlck = vmk_vmlck_pages();
}

FIXTURE_TEARDOWN(uapi)
{
	stce_dev_close(&self->d);
	if (self->c >= 0)
		close(self->c);
	EXPECT_EQ(0, stce_counter("pinned_pages"));
}

/* Nothing pinned or charged since setup, and the range is still free. */
#define ASSERT_NO_STATE_CHANGE()					\
	do {								\
		ASSERT_EQ(self->pinned, stce_counter("pinned_pages"))	\
			TH_LOG("a rejected call left pages pinned");	\
		ASSERT_EQ(self->vmlck, vmk_vmlck_pages())		\
			TH_LOG("a rejected call left locked_vm charged"); \
	} while (0)

static int map_raw(int c, struct vfio_iommu_type1_dma_map *m)
{
	return ioctl(c, VFIO_IOMMU_MAP_DMA, m) ? -errno : 0;
}

static int create(int c, __u32 argsz, __u32 flags, __u32 page_shift,
		  __u64 window_size, __u32 levels, __u32 resv1)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = argsz, .flags = flags, .page_shift = page_shift,
		.__resv1 = resv1, .window_size = window_size, .levels = levels,
	};

	return ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr) ? -errno : 0;
}

TEST_F(uapi, check_extension_and_info)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	char path[80];

	/* what this IOMMU model gives, for the record */
	stce_log_file(STCE_DEBUGFS "containers");
	snprintf(path, sizeof(path),
		 "/sys/kernel/iommu_groups/%d/reserved_regions",
		 self->d.group_id);
	stce_log_file(path);

	EXPECT_EQ(1, ioctl(self->c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU));
	EXPECT_EQ(1, ioctl(self->c, VFIO_CHECK_EXTENSION,
			   VFIO_SPAPR_TCE_v2_IOMMU));
	EXPECT_EQ(0, ioctl(self->c, VFIO_CHECK_EXTENSION, VFIO_EEH))
		TH_LOG("EEH is POWER-only");
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	EXPECT_EQ(0, info.dma32_window_start);
	EXPECT_EQ(DMA32, info.dma32_window_size)
		TH_LOG("the default window is a POWER PHB's 2 GiB");
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU) {
		EXPECT_EQ(VFIO_IOMMU_SPAPR_INFO_DDW, info.flags);
		EXPECT_EQ(1, info.ddw.max_dynamic_windows_supported);
		EXPECT_EQ(4096ULL | (2 << 20), info.ddw.pgsizes);
	} else {
		EXPECT_EQ(0, info.flags);
	}
	info.argsz = 8;
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno) TH_LOG("GET_INFO with argsz below minsz");
	EXPECT_EQ(-1, ioctl(self->c, VFIO_EEH_PE_OP, NULL));
	EXPECT_EQ(ENOTTY, errno) TH_LOG("EEH_PE_OP must answer -ENOTTY");
}

TEST_F(uapi, map_bad_input)
{
	__u64 va = (uintptr_t)self->buf;
	struct vfio_iommu_type1_dma_map m;
	struct { struct vfio_iommu_type1_dma_map m; __u64 extra; } big;

#define MAP(_flags, _va, _iova, _size, _argsz) ({			\
	m = (struct vfio_iommu_type1_dma_map){ .argsz = (_argsz),	\
		.flags = (_flags), .vaddr = (_va), .iova = (_iova),	\
		.size = (_size) };					\
	map_raw(self->c, &m); })
	const __u32 RW = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

	EXPECT_EQ(-EINVAL, MAP(RW, va, IOVA, STCE_PAGE, 16)) TH_LOG("argsz");
	EXPECT_EQ(-EINVAL, MAP(0, va, IOVA, STCE_PAGE, sizeof(m)))
		TH_LOG("no permission");
	EXPECT_EQ(-EINVAL, MAP(RW | VFIO_DMA_MAP_FLAG_VADDR, va, IOVA,
			       STCE_PAGE, sizeof(m))) TH_LOG("unknown flag");
	EXPECT_EQ(-EINVAL, MAP(RW, va + 8, IOVA, STCE_PAGE, sizeof(m)))
		TH_LOG("unaligned vaddr");
	EXPECT_EQ(-EINVAL, MAP(RW, va, IOVA + 8, STCE_PAGE, sizeof(m)))
		TH_LOG("unaligned iova");
	EXPECT_EQ(-EINVAL, MAP(RW, va, IOVA, STCE_PAGE + 8, sizeof(m)))
		TH_LOG("unaligned size");
	EXPECT_EQ(-EINVAL, MAP(RW, va, IOVA, 0, sizeof(m))) TH_LOG("size 0");
	EXPECT_EQ(-ENXIO, MAP(RW, va, DMA32, STCE_PAGE, sizeof(m)))
		TH_LOG("iova just past the window: POWER's ENXIO");
	EXPECT_EQ(-EINVAL, MAP(RW, va, DMA32 - STCE_PAGE,
			       2 * STCE_PAGE, sizeof(m)))
		TH_LOG("size crossing the window end");
	EXPECT_EQ(-EINVAL, MAP(RW, va, IOVA, -STCE_PAGE, sizeof(m)))
		TH_LOG("vaddr + size overflows");
	EXPECT_EQ(-ENXIO, MAP(RW, va, -STCE_PAGE, 2 * STCE_PAGE, sizeof(m)))
		TH_LOG("iova + size overflows");
	/* a newer, larger struct is fine only if the unknown tail is zero */
	big.m = (struct vfio_iommu_type1_dma_map){ .argsz = sizeof(big),
		.flags = RW, .vaddr = va, .iova = IOVA, .size = STCE_PAGE };
	big.extra = 1;
	EXPECT_EQ(-E2BIG, map_raw(self->c, &big.m)) TH_LOG("non-zero tail");
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU) {
		__u8 *other = stce_buf(STCE_PAGE);

		ASSERT_NE(NULL, other);
		EXPECT_EQ(-EPERM, MAP(RW, (uintptr_t)other, IOVA, STCE_PAGE,
				      sizeof(m)))
			TH_LOG("v2 MAP_DMA from unregistered memory");
		EXPECT_EQ(-EPERM, MAP(RW, va, IOVA, (NPAGES + 1) * STCE_PAGE,
				      sizeof(m)))
			TH_LOG("v2 MAP_DMA running past registered memory");
		munmap(other, STCE_PAGE);
	}
	ASSERT_NO_STATE_CHANGE();

	big.extra = 0;
	EXPECT_EQ(0, map_raw(self->c, &big.m)) TH_LOG("zero tail accepted");
	/* refused requests over a TCE in use leave it alone */
	EXPECT_EQ(-EINVAL, MAP(RW, va + 8, IOVA, STCE_PAGE, sizeof(m)));
	EXPECT_EQ(-EINVAL, MAP(RW, va, IOVA - STCE_PAGE, 2 * STCE_PAGE + 8,
			       sizeof(m)));
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		EXPECT_EQ(-EPERM, MAP(RW, va, IOVA - STCE_PAGE,
				      (NPAGES + 1) * STCE_PAGE, sizeof(m)));
	EXPECT_EQ(self->pinned + (variant->type == VFIO_SPAPR_TCE_IOMMU),
		  stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_unmap(self->c, IOVA, STCE_PAGE));
	ASSERT_NO_STATE_CHANGE();
#undef MAP
}

TEST_F(uapi, unmap_bad_input)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = IOVA, .size = 2 * STCE_PAGE,
	};

	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, IOVA,
			      2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ));
	u.argsz = 8;
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_UNMAP_DMA, &u));
	EXPECT_EQ(EINVAL, errno) TH_LOG("argsz");
	u.argsz = sizeof(u);
	u.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_UNMAP_DMA, &u));
	EXPECT_EQ(EINVAL, errno) TH_LOG("flags");
	EXPECT_EQ(-EINVAL, stce_unmap(self->c, IOVA + 1, STCE_PAGE));
	EXPECT_EQ(-ENXIO, stce_unmap(self->c, 1ULL << 40, STCE_PAGE))
		TH_LOG("an iova in no window: POWER's ENXIO");
	EXPECT_EQ(-EINVAL, stce_unmap(self->c, DMA32 - STCE_PAGE,
				      2 * STCE_PAGE))
		TH_LOG("a range running past the window end");
	/* the failed calls left both TCEs mapped: partial unmaps work */
	EXPECT_EQ(0, stce_unmap(self->c, IOVA + STCE_PAGE, STCE_PAGE));
	EXPECT_EQ(0, stce_unmap(self->c, IOVA, STCE_PAGE));
	ASSERT_NO_STATE_CHANGE();
}

/*
 * UNMAP_DMA skips TCEs that are already clear, as POWER and type1 do:
 * QEMU clears whole windows and single TCEs and logs every failure.
 */
TEST_F(uapi, unmap_skips_clear_tces)
{
	__u64 va = (uintptr_t)self->buf;
	long per_map = variant->type == VFIO_SPAPR_TCE_IOMMU;

	/* TCEs 0 and 2 of the range in use, 1 and 3 clear */
	ASSERT_EQ(0, stce_map(self->c, va, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, stce_map(self->c, va + 2 * STCE_PAGE,
			      IOVA + 2 * STCE_PAGE, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(self->pinned + 2 * per_map, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_unmap(self->c, IOVA + 4 * STCE_PAGE, STCE_PAGE))
		TH_LOG("unmapping never-mapped space");
	EXPECT_EQ(0, stce_unmap(self->c, IOVA, 4 * STCE_PAGE))
		TH_LOG("a range with clear TCEs between mapped ones");
	ASSERT_NO_STATE_CHANGE();
	EXPECT_EQ(0, stce_unmap(self->c, IOVA, 4 * STCE_PAGE))
		TH_LOG("unmapping twice");
	/* every TCE of the range is clear again: all four map */
	ASSERT_EQ(0, stce_map(self->c, va, IOVA, 4 * STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(self->pinned + 4 * per_map, stce_counter("pinned_pages"));
	EXPECT_EQ(self->vmlck + 4 * per_map, vmk_vmlck_pages());
	EXPECT_EQ(0, stce_unmap(self->c, 0, DMA32))
		TH_LOG("clearing the whole default window");
	ASSERT_NO_STATE_CHANGE();
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		EXPECT_EQ(0, stce_reg(self->c, false, va, NPAGES * STCE_PAGE))
			TH_LOG("UNMAP dropped the region's mapping count");
}

/*
 * MAP_DMA over TCEs in use replaces them, as H_PUT_TCE on POWER: the old
 * pages are unpinned and un-charged (v1) or lose their mapping count (v2).
 */
TEST_F(uapi, map_replaces_in_use_tces)
{
	__u64 va = (uintptr_t)self->buf;
	long per_map = variant->type == VFIO_SPAPR_TCE_IOMMU;

	ASSERT_EQ(0, stce_map(self->c, va, IOVA, 2 * STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(0, stce_map(self->c, va + 4 * STCE_PAGE, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_WRITE))
		TH_LOG("MAP_DMA over one TCE in use");
	EXPECT_EQ(self->pinned + 2 * per_map, stce_counter("pinned_pages"));
	EXPECT_EQ(self->vmlck + 2 * per_map, vmk_vmlck_pages())
		TH_LOG("the replaced page is still charged");
	/* over the second TCE in use and one clear TCE after it */
	EXPECT_EQ(0, stce_map(self->c, va + 8 * STCE_PAGE, IOVA + STCE_PAGE,
			      2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ |
			      VFIO_DMA_MAP_FLAG_WRITE))
		TH_LOG("MAP_DMA over a TCE in use and a clear one");
	EXPECT_EQ(self->pinned + 3 * per_map, stce_counter("pinned_pages"));
	EXPECT_EQ(self->vmlck + 3 * per_map, vmk_vmlck_pages());
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		EXPECT_EQ(-EBUSY, stce_reg(self->c, false, va,
					   NPAGES * STCE_PAGE))
			TH_LOG("the region is still mapped");
	EXPECT_EQ(0, stce_unmap(self->c, IOVA, 3 * STCE_PAGE));
	ASSERT_NO_STATE_CHANGE();
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		EXPECT_EQ(0, stce_reg(self->c, false, va, NPAGES * STCE_PAGE))
			TH_LOG("replaced TCEs left a mapping count behind");
}

TEST_F(uapi, version_specific_ioctls)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = 1 << 20, .levels = 1,
	};
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm) };

	if (variant->type == VFIO_SPAPR_TCE_IOMMU) {
		EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_ENABLE));
		EXPECT_EQ(EBUSY, errno) TH_LOG("ENABLE twice");
		EXPECT_EQ(-ENOTTY, stce_reg(self->c, true,
					    (uintptr_t)self->buf, STCE_PAGE));
		EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("v1 has no dynamic windows");
		ASSERT_NO_STATE_CHANGE();
		return;
	}
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_ENABLE));
	EXPECT_EQ(ENOTTY, errno) TH_LOG("v2 has no ENABLE");
	EXPECT_EQ(-EBUSY, stce_reg(self->c, true, (uintptr_t)self->buf,
				   NPAGES * STCE_PAGE))
		TH_LOG("the same range registered twice");
	EXPECT_EQ(-EINVAL, stce_reg(self->c, true, (uintptr_t)self->buf,
				    STCE_PAGE)) TH_LOG("overlapping registration");
	EXPECT_EQ(-EINVAL, stce_reg(self->c, true, (uintptr_t)self->buf + 1,
				    STCE_PAGE));
	EXPECT_EQ(-ENOENT, stce_reg(self->c, false, (uintptr_t)self->buf,
				    STCE_PAGE)) TH_LOG("not the registered size");
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(-EBUSY, stce_reg(self->c, false, (uintptr_t)self->buf,
				   NPAGES * STCE_PAGE))
		TH_LOG("unregistering mapped memory");
	ASSERT_EQ(0, stce_unmap(self->c, IOVA, STCE_PAGE));

	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 16, 1 << 20, 1, 0)) TH_LOG("64K: not offered");
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 30, 1 << 20, 1, 0)) TH_LOG("1G: not offered");
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 200, 1 << 20, 1, 0));
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 12, 3 << 20, 1, 0)) TH_LOG("not 2^n");
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 12, 2048, 1, 0)) TH_LOG("below a page");
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 21, 1ULL << 50, 1, 0))
		TH_LOG("2^29 TCEs in one level");
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 12, 1 << 20, 0, 0));
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 12, 1 << 20, 6, 0));
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 1, 12, 1 << 20, 1, 0));
	EXPECT_EQ(-EINVAL, create(self->c, CRSZ, 0, 12, 1 << 20, 1, 1)) TH_LOG("reserved field");
	EXPECT_EQ(-EINVAL, create(self->c, 16, 0, 12, 1 << 20, 1, 0));
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_EQ(stce_ddw_start(), cr.start_addr)
		TH_LOG("the second window at 0x%llx, not at its fixed start",
		       (unsigned long long)cr.start_addr);
	EXPECT_EQ(-ENOSPC, create(self->c, CRSZ, 0, 12, 1 << 20, 1, 0))
		TH_LOG("only one dynamic window");
	rm.start_addr = cr.start_addr + STCE_PAGE;
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	EXPECT_EQ(EINVAL, errno) TH_LOG("no window starts there");
	rm.start_addr = 0;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	/* the default slot is free again: a new window takes IOVA 0 */
	cr.start_addr = 1;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_EQ(0, cr.start_addr);
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, 0, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ))
		TH_LOG("MAP_DMA into the recreated window");
	ASSERT_EQ(0, stce_unmap(self->c, 0, STCE_PAGE));
	ASSERT_NO_STATE_CHANGE();
}

/*
 * A fixed window layout, as on POWER and as QEMU's pseries machine
 * expects: window 0 at 0, the second window at 1 << 59 or, where the
 * IOMMU cannot translate that, at ddw_base.  A window that does not fit
 * at its start is refused with ENOSPC, never moved; removing and
 * creating a window again gives the same start.
 */
TEST_F(uapi, fixed_window_layout)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = 1 << 20, .levels = 1,
	};
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm) };
	unsigned long long start, last, ddw = stce_ddw_start(), size;

	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		SKIP(return, "v1 has no dynamic windows");
	ASSERT_EQ(0, stce_aperture(&start, &last));
	TH_LOG("aperture 0x%llx-0x%llx: second window at 0x%llx",
	       start, last, ddw);
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	ASSERT_EQ(ddw, cr.start_addr);
	rm.start_addr = ddw;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	cr.start_addr = 0;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_EQ(ddw, cr.start_addr) TH_LOG("created again elsewhere");

	/*
	 * Slot 1 too small for a window: the smallest one that runs past the
	 * aperture from there.  With a full 64-bit aperture no window does.
	 */
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	size = last - ddw + 1;		/* 0: all of 2^64 - 1 << 59 */
	if (!(size & (size - 1)))
		size <<= 1;
	else if (__builtin_clzll(size))
		size = 1ULL << (64 - __builtin_clzll(size));
	else
		size = 0;
	if (size && size - 1 <= last - start) {
		EXPECT_EQ(-ENOSPC, create(self->c, CRSZ, 0, 21, size, 3, 0))
			TH_LOG("0x%llx bytes from 0x%llx past the aperture",
			       size, ddw);
	} else {
		TH_LOG("full aperture: every window fits at 0x%llx", ddw);
	}

	/*
	 * Slot 0 with the default window removed: a window over the x86 MSI
	 * range (0xfee00000, reserved by every IOMMU model) does not fit at
	 * 0; a smaller one does.
	 */
	rm.start_addr = 0;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	EXPECT_EQ(-ENOSPC, create(self->c, CRSZ, 0, 12, 4ULL << 30, 2, 0))
		TH_LOG("a 4 GiB window at 0 over the MSI range");
	cr.window_size = DMA32;
	cr.levels = 2;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_EQ(0, cr.start_addr);
	/* both slots taken */
	ASSERT_EQ(0, create(self->c, CRSZ, 0, 12, 1 << 20, 1, 0));
	EXPECT_EQ(-ENOSPC, create(self->c, CRSZ, 0, 12, 1 << 20, 1, 0));
	ASSERT_NO_STATE_CHANGE();
}

/*
 * A window the size of a large guest's RAM (QEMU asks for that): 64 GiB
 * of 4 KiB TCEs, 2^24 of them, too many for one level but fine in two
 * or three, whose nodes below the root come only with the TCEs mapped.
 * The window is at the second window's start, beyond edu's 28-bit DMA
 * reach, and cannot be window 0 (it would cover the x86 MSI range), so
 * edu does no DMA through it here.
 */
TEST_F(uapi, large_window_sparse_table)
{
	const __u64 size = 64ULL << 30, last_tce = size - STCE_PAGE;
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = size, .levels = 1,
	};
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm) };
	__u64 va = (uintptr_t)self->buf;
	long base, root;

	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		SKIP(return, "v1 has no dynamic windows");
	base = stce_counter("table_bytes");
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_EQ(EINVAL, errno) TH_LOG("2^24 TCEs in one level");
	cr.levels = 3;		/* what QEMU asks for a table of 128 MiB */
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr))
		TH_LOG("a 64 GiB window of 4 KiB TCEs: %s", strerror(errno));
	EXPECT_EQ(stce_ddw_start(), cr.start_addr);
	root = stce_counter("table_bytes") - base;
	TH_LOG("root of the table: %ld bytes", root);
	EXPECT_GE(64L << 10, root) TH_LOG("table allocated up front");

	/* two TCEs at each end of the window */
	ASSERT_EQ(0, stce_map(self->c, va, cr.start_addr, 2 * STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, stce_map(self->c, va + 2 * STCE_PAGE,
			      cr.start_addr + last_tce - STCE_PAGE,
			      2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(-EINVAL, stce_map(self->c, va, cr.start_addr + last_tce,
				    2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ))
		TH_LOG("past the end of the window");
	stce_log_file(STCE_DEBUGFS "containers");
	EXPECT_GE(root + (256L << 10), stce_counter("table_bytes") - base)
		TH_LOG("four TCEs took %ld bytes of table",
		       stce_counter("table_bytes") - base - root);
	EXPECT_LT(root, stce_counter("table_bytes") - base)
		TH_LOG("no node allocated for the TCEs mapped");

	/* unmapping frees the nodes; MAP replaces, whole-window UNMAP clears */
	ASSERT_EQ(0, stce_map(self->c, va + 4 * STCE_PAGE, cr.start_addr,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(0, stce_unmap(self->c, cr.start_addr, size));
	EXPECT_EQ(root, stce_counter("table_bytes") - base)
		TH_LOG("nodes left after the window was cleared");
	ASSERT_EQ(0, stce_map(self->c, va, cr.start_addr + (size >> 1),
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_READ));
	rm.start_addr = cr.start_addr;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	EXPECT_EQ(base, stce_counter("table_bytes"));
	ASSERT_NO_STATE_CHANGE();
}

/*
 * The MSI cookie of a group behind a software-managed MSI region (debugfs
 * "msi START size SIZE") lies clear of the default window and of a window
 * created later.  IOMMUs that map MSI doorbells in hardware need none.
 */
TEST_F(uapi, windows_clear_of_msi_cookie)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = 1 << 20, .levels = 1,
	};
	unsigned long long start = 0, size = 0;
	char line[256];
	FILE *f;

	f = fopen(STCE_DEBUGFS "containers", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f) && !size) {
		char *p = strstr(line, " msi ");

		if (p && sscanf(p, " msi %llx size %llx", &start, &size) != 2)
			size = 0;
	}
	fclose(f);
	if (!size)
		SKIP(return,
		     "no MSI cookie: no software-managed MSI region");
	EXPECT_LE(DMA32, start)
		TH_LOG("MSI cookie at 0x%llx inside the default window", start);
	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		return;
	ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_TRUE(cr.start_addr + cr.window_size <= start ||
		    start + size <= cr.start_addr)
		TH_LOG("window 0x%llx+0x%llx over the MSI cookie 0x%llx+0x%llx",
		       (unsigned long long)cr.start_addr,
		       (unsigned long long)cr.window_size, start, size);
}

/* The container belongs to the mm that first used it. */
TEST_F(uapi, other_mm_gets_eperm)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* same fd, same address, different mm */
		int r1 = stce_map(self->c, (uintptr_t)self->buf,
				  IOVA + STCE_PAGE, STCE_PAGE,
				  VFIO_DMA_MAP_FLAG_READ);
		int r2 = stce_unmap(self->c, IOVA, STCE_PAGE);

		_exit(r1 == -EPERM && r2 == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("a forked child could MAP/UNMAP on its parent's container");
	EXPECT_EQ(0, stce_unmap(self->c, IOVA, STCE_PAGE));
	ASSERT_NO_STATE_CHANGE();
}

/*
 * In a forked child (same fd, different mm): GET_INFO, TCE_CREATE,
 * TCE_REMOVE of the window at @start and REGISTER_MEMORY of @buf.
 * Returns a bit per call that did not fail with -EPERM.
 */
static int other_mm_v2_calls(int c, __u64 start, void *buf)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_spapr_tce_remove rm = {
		.argsz = sizeof(rm), .start_addr = start,
	};
	int status, bad = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (!ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info) ||
		    errno != EPERM)
			bad |= 1;
		if (create(c, CRSZ, 0, 12, 1 << 20, 1, 0) != -EPERM)
			bad |= 2;
		if (!ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm) ||
		    errno != EPERM)
			bad |= 4;
		if (stce_reg(c, true, (uintptr_t)buf, STCE_PAGE) != -EPERM)
			bad |= 8;
		_exit(bad);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define OTHER_MM_CALLS	"GET_INFO 1, TCE_CREATE 2, TCE_REMOVE 4, REGISTER 8"

/*
 * TCE_CREATE and TCE_REMOVE claim the container for the caller's mm, as
 * on POWER (tce_iommu_mm_set()): once a process has created or removed
 * a window, another process (here a forked child with the same fd) gets
 * -EPERM from every ioctl of the container, and cannot create, remove or
 * register anything.  v2 only (v1 has no windows to create); no memory is
 * registered before, so the window ioctls are the first to claim.
 */
TEST(window_ioctls_claim_mm)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = 1 << 20, .levels = 1,
	};
	struct vfio_iommu_spapr_tce_remove rm = { .argsz = sizeof(rm) };
	char bdfs[STCE_MAX_EDU][32];
	struct stce_dev d;
	__u8 *buf;
	int c, bad;

	ASSERT_GE(stce_find_edus(bdfs, STCE_MAX_EDU), 1);
	ASSERT_EQ(0, stce_group_open(&d, bdfs[0]));
	buf = stce_buf(STCE_PAGE);
	ASSERT_NE(NULL, buf);

	/* claimed by TCE_CREATE */
	c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	bad = other_mm_v2_calls(c, cr.start_addr, buf);
	EXPECT_EQ(0, bad)
		TH_LOG("after TCE_CREATE, calls the other mm could make: 0x%x (%s)",
		       bad, OTHER_MM_CALLS);
	/* the creator still owns the window and the container */
	rm.start_addr = cr.start_addr;
	EXPECT_EQ(0, ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm))
		TH_LOG("the creator's window: %s", strerror(errno));
	EXPECT_EQ(0, stce_reg(c, true, (uintptr_t)buf, STCE_PAGE));
	EXPECT_EQ(0, stce_reg(c, false, (uintptr_t)buf, STCE_PAGE));
	ASSERT_EQ(0, ioctl(d.group_fd, VFIO_GROUP_UNSET_CONTAINER));
	close(c);

	/* claimed by TCE_REMOVE (of the default window) */
	c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, c);
	rm.start_addr = 0;
	ASSERT_EQ(0, ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	bad = other_mm_v2_calls(c, 0, buf);
	EXPECT_EQ(0, bad)
		TH_LOG("after TCE_REMOVE, calls the other mm could make: 0x%x (%s)",
		       bad, OTHER_MM_CALLS);
	cr.start_addr = 1;
	EXPECT_EQ(0, ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr))
		TH_LOG("the remover recreating window 0: %s", strerror(errno));
	EXPECT_EQ(0, cr.start_addr);

	/* a call that fails claims nothing: another mm may still claim */
	ASSERT_EQ(0, ioctl(d.group_fd, VFIO_GROUP_UNSET_CONTAINER));
	close(c);
	c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, c);
	rm.start_addr = STCE_PAGE;
	EXPECT_EQ(-1, ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, create(c, CRSZ, 0, 12, 3 << 20, 1, 0));
	EXPECT_EQ(15, other_mm_v2_calls(c, 0, buf))
		TH_LOG("a failed window ioctl claimed the container");

	ASSERT_EQ(0, ioctl(d.group_fd, VFIO_GROUP_UNSET_CONTAINER));
	close(c);
	stce_dev_close(&d);
	munmap(buf, STCE_PAGE);
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
}

/*
 * UNREGISTER_MEMORY on a v2 container no mm has claimed is -EPERM, as on
 * POWER (where nothing can be registered before the claim), also after
 * a REGISTER that failed; once claimed, an unknown range is -ENOENT.
 */
TEST(unregister_before_claim_gets_eperm)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = 1 << 20, .levels = 1,
	};
	char bdfs[STCE_MAX_EDU][32];
	struct stce_dev d;
	__u8 *buf;
	int c;

	ASSERT_GE(stce_find_edus(bdfs, STCE_MAX_EDU), 1);
	ASSERT_EQ(0, stce_group_open(&d, bdfs[0]));
	buf = stce_buf(2 * STCE_PAGE);
	ASSERT_NE(NULL, buf);
	c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, c);

	EXPECT_EQ(-EPERM, stce_reg(c, false, (uintptr_t)buf, STCE_PAGE))
		TH_LOG("UNREGISTER on a fresh container");
	EXPECT_EQ(-EINVAL, stce_reg(c, true, (uintptr_t)buf + 1, STCE_PAGE));
	EXPECT_EQ(-EPERM, stce_reg(c, false, (uintptr_t)buf, STCE_PAGE))
		TH_LOG("UNREGISTER after a REGISTER that failed");
	EXPECT_EQ(0, stce_counter("pinned_pages"));

	ASSERT_EQ(0, ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr));
	EXPECT_EQ(-ENOENT, stce_reg(c, false, (uintptr_t)buf, STCE_PAGE))
		TH_LOG("UNREGISTER of nothing once TCE_CREATE claimed");
	ASSERT_EQ(0, stce_reg(c, true, (uintptr_t)buf, 2 * STCE_PAGE));
	EXPECT_EQ(-ENOENT, stce_reg(c, false, (uintptr_t)buf, STCE_PAGE));
	EXPECT_EQ(0, stce_reg(c, false, (uintptr_t)buf, 2 * STCE_PAGE));

	ASSERT_EQ(0, ioctl(d.group_fd, VFIO_GROUP_UNSET_CONTAINER));
	close(c);
	stce_dev_close(&d);
	munmap(buf, 2 * STCE_PAGE);
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
}

TEST_HARNESS_MAIN
