// SPDX-License-Identifier: GPL-2.0-only
/*
 * Accounting and lifetime: exact locked_vm (VmLck) before, during and
 * after; RLIMIT_MEMLOCK enforced without CAP_IPC_LOCK; closing container,
 * device and group in any order with live mappings leaves no pinned page
 * and no container (debugfs); two groups in one v2 container both DMA;
 * two v2 containers of one process share registered memory.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "kselftest_harness.h"
#include "stce_lib.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/vfio/vfio", STCE_DEBUGFS)

#define NPAGES	16
#define IOVA	0x100000ULL

static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[0].effective &= ~(1U << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

FIXTURE(life) {
	struct stce_dev d;
	int c;
	__u8 *buf;
	long vmlck0;
};

FIXTURE_VARIANT(life) {
	int type;
};

FIXTURE_VARIANT_ADD(life, v1) {
	.type = VFIO_SPAPR_TCE_IOMMU,
};

FIXTURE_VARIANT_ADD(life, v2) {
	.type = VFIO_SPAPR_TCE_v2_IOMMU,
};

FIXTURE_SETUP(life)
{
	char bdfs[STCE_MAX_EDU][32];

	ASSERT_GE(stce_find_edus(bdfs, STCE_MAX_EDU), 1);
	ASSERT_EQ(0, stce_group_open(&self->d, bdfs[0]));
	self->c = stce_container_open(&self->d, variant->type);
	ASSERT_LE(0, self->c);
	self->buf = stce_buf(NPAGES * STCE_PAGE);
	ASSERT_NE(NULL, self->buf);
	self->vmlck0 = vmk_vmlck_pages();
	ASSERT_LE(0, self->vmlck0);
}

FIXTURE_TEARDOWN(life)
{
	stce_dev_close(&self->d);
	if (self->c >= 0)
		close(self->c);
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
	EXPECT_EQ(self->vmlck0, vmk_vmlck_pages())
		TH_LOG("locked_vm not returned after closing everything");
}

/* Pin @n pages the version's way: v1 MAP_DMA, v2 REGISTER_MEMORY. */
static int pin(int c, int type, void *p, size_t n, __u64 iova)
{
	if (type == VFIO_SPAPR_TCE_IOMMU)
		return stce_map(c, (uintptr_t)p, iova, n * STCE_PAGE,
				VFIO_DMA_MAP_FLAG_READ);
	return stce_reg(c, true, (uintptr_t)p, n * STCE_PAGE);
}

TEST_F(life, locked_vm_is_exact)
{
	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_ENABLE));
	EXPECT_EQ(self->vmlck0, vmk_vmlck_pages())
		TH_LOG("nothing is charged before pages are pinned");
	ASSERT_EQ(0, pin(self->c, variant->type, self->buf, 6, IOVA));
	ASSERT_EQ(0, pin(self->c, variant->type, self->buf + 8 * STCE_PAGE, 4,
			 IOVA + 8 * STCE_PAGE));
	EXPECT_EQ(self->vmlck0 + 10, vmk_vmlck_pages());
	EXPECT_EQ(10, stce_counter("pinned_pages"));
	if (variant->type == VFIO_SPAPR_TCE_IOMMU) {
		ASSERT_EQ(0, stce_unmap(self->c, IOVA + 2 * STCE_PAGE,
					3 * STCE_PAGE));
		EXPECT_EQ(self->vmlck0 + 7, vmk_vmlck_pages())
			TH_LOG("a partial UNMAP returns exactly its pages");
	} else {
		/* mapping registered memory charges nothing more */
		ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, IOVA,
				      6 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ));
		EXPECT_EQ(self->vmlck0 + 10, vmk_vmlck_pages());
		ASSERT_EQ(0, stce_unmap(self->c, IOVA, 6 * STCE_PAGE));
		ASSERT_EQ(0, stce_reg(self->c, false, (uintptr_t)self->buf,
				      6 * STCE_PAGE));
		EXPECT_EQ(self->vmlck0 + 4, vmk_vmlck_pages());
	}
	/* the teardown closes with the rest still pinned */
}

TEST_F(life, rlimit_memlock_enforced)
{
	struct rlimit rl = {
		.rlim_cur = (self->vmlck0 + 8) * STCE_PAGE,
		.rlim_max = (self->vmlck0 + 8) * STCE_PAGE,
	};

	ASSERT_EQ(0, drop_cap_ipc_lock()) TH_LOG("capset: %s", strerror(errno));
	if (variant->type == VFIO_SPAPR_TCE_IOMMU) {
		struct rlimit none = {
			.rlim_cur = self->vmlck0 * STCE_PAGE,
			.rlim_max = RLIM_INFINITY,
		};

		ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &none));
		EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_ENABLE));
		EXPECT_EQ(ENOMEM, errno)
			TH_LOG("ENABLE with no room for a single page");
		ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_ENABLE));
	} else {
		ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	}
	EXPECT_EQ(-ENOMEM, pin(self->c, variant->type, self->buf, 9, IOVA))
		TH_LOG("9 pages pinned under an 8-page limit");
	EXPECT_EQ(self->vmlck0, vmk_vmlck_pages());
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	ASSERT_EQ(0, pin(self->c, variant->type, self->buf, 8, IOVA));
	EXPECT_EQ(self->vmlck0 + 8, vmk_vmlck_pages());
	EXPECT_EQ(-ENOMEM, pin(self->c, variant->type,
			       self->buf + 8 * STCE_PAGE, 1,
			       IOVA + 8 * STCE_PAGE));
	EXPECT_EQ(self->vmlck0 + 8, vmk_vmlck_pages());
}

/* Container fd first, then the device and group with mappings live. */
TEST_F(life, close_container_first)
{
	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_ENABLE));
	ASSERT_EQ(0, stce_dev_open(&self->d));
	ASSERT_EQ(0, pin(self->c, variant->type, self->buf, NPAGES, IOVA));
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, IOVA,
				      NPAGES * STCE_PAGE,
				      VFIO_DMA_MAP_FLAG_READ));
	close(self->c);
	self->c = -1;
	EXPECT_EQ(NPAGES, stce_counter("pinned_pages"))
		TH_LOG("the group still holds the container");
	stce_dev_close(&self->d);
}

/* The group leaves while the container fd stays open. */
TEST_F(life, group_leaves_with_live_mappings)
{
	if (variant->type == VFIO_SPAPR_TCE_IOMMU)
		ASSERT_EQ(0, ioctl(self->c, VFIO_IOMMU_ENABLE));
	ASSERT_EQ(0, pin(self->c, variant->type, self->buf, NPAGES, IOVA));
	if (variant->type == VFIO_SPAPR_TCE_v2_IOMMU)
		ASSERT_EQ(0, stce_map(self->c, (uintptr_t)self->buf, IOVA,
				      NPAGES * STCE_PAGE,
				      VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, ioctl(self->d.group_fd, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(0, stce_counter("pinned_pages"))
		TH_LOG("detaching the last group must unpin everything");
	EXPECT_EQ(0, stce_counter("nr_containers"));
	EXPECT_EQ(self->vmlck0, vmk_vmlck_pages());
	EXPECT_EQ(-1, ioctl(self->c, VFIO_IOMMU_MAP_DMA, NULL))
		TH_LOG("a container without groups has no IOMMU");
}

/* Two edu devices, each alone in its group, in one container. */
FIXTURE(two) {
	struct stce_dev d[2];
	int c;
	__u8 *buf;
};

FIXTURE_SETUP(two)
{
	char bdfs[STCE_MAX_EDU][32];
	int i;

	ASSERT_EQ(2, stce_find_edus(bdfs, STCE_MAX_EDU))
		TH_LOG("the vfio profile provides two edu devices");
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, stce_group_open(&self->d[i], bdfs[i]));
	ASSERT_NE(self->d[0].group_id, self->d[1].group_id);
	self->buf = stce_buf(4 * STCE_PAGE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(two)
{
	stce_dev_close(&self->d[0]);
	stce_dev_close(&self->d[1]);
	if (self->c >= 0)
		close(self->c);
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
}

TEST_F(two, v1_refuses_a_second_group)
{
	self->c = stce_container_open(&self->d[0], VFIO_SPAPR_TCE_IOMMU);
	ASSERT_LE(0, self->c);
	EXPECT_EQ(-1, ioctl(self->d[1].group_fd, VFIO_GROUP_SET_CONTAINER,
			    &self->c));
	EXPECT_EQ(EBUSY, errno) TH_LOG("v1 is one group per container");
}

TEST_F(two, v2_both_groups_dma)
{
	__u8 *src = self->buf, *dst0 = src + STCE_PAGE,
		*dst1 = src + 2 * STCE_PAGE;
	size_t i;

	self->c = stce_container_open(&self->d[0], VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, self->c);
	ASSERT_EQ(0, stce_reg(self->c, true, (uintptr_t)self->buf,
			      4 * STCE_PAGE));
	/* mapped before the second group joins: replayed into its domain */
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)src, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, ioctl(self->d[1].group_fd, VFIO_GROUP_SET_CONTAINER,
			   &self->c)) TH_LOG("second group: %s", strerror(errno));
	ASSERT_EQ(0, stce_map(self->c, (uintptr_t)dst0, IOVA + STCE_PAGE,
			      2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, stce_dev_open(&self->d[0]));
	ASSERT_EQ(0, stce_dev_open(&self->d[1]));
	for (i = 0; i < EDU_DMA_LEN; i++)
		src[i] = (__u8)(i * 13 + 1);
	memset(dst0, 0, 2 * STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d[0], IOVA, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d[0], IOVA + STCE_PAGE, true, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d[1], IOVA, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d[1], IOVA + 2 * STCE_PAGE, true,
			     EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(src, dst0, EDU_DMA_LEN)) TH_LOG("first device");
	EXPECT_EQ(0, memcmp(src, dst1, EDU_DMA_LEN)) TH_LOG("second device");

	/* the second group leaves; the first keeps working */
	stce_dev_close(&self->d[1]);
	memset(dst0, 0, STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d[0], IOVA + STCE_PAGE, true, EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(src, dst0, EDU_DMA_LEN))
		TH_LOG("the remaining group lost its mappings");
	EXPECT_EQ(4, stce_counter("pinned_pages"));
}

/*
 * Registered memory is shared per mm, as on POWER: two v2 containers of
 * one process (two groups, as two PHBs in QEMU) that register the same
 * range pin and charge it once; each container's registration holds it.
 */
FIXTURE(shared) {
	struct stce_dev d[2];
	int c[2];
	__u8 *buf;
	long vmlck0;
};

FIXTURE_SETUP(shared)
{
	char bdfs[STCE_MAX_EDU][32];
	int i;

	ASSERT_EQ(2, stce_find_edus(bdfs, STCE_MAX_EDU))
		TH_LOG("the vfio profiles provide two edu devices");
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, stce_group_open(&self->d[i], bdfs[i]));
		self->c[i] = stce_container_open(&self->d[i],
						 VFIO_SPAPR_TCE_v2_IOMMU);
		ASSERT_LE(0, self->c[i]);
	}
	self->buf = stce_buf(NPAGES * STCE_PAGE);
	ASSERT_NE(NULL, self->buf);
	self->vmlck0 = vmk_vmlck_pages();
	ASSERT_LE(0, self->vmlck0);
}

FIXTURE_TEARDOWN(shared)
{
	int i;

	for (i = 0; i < 2; i++) {
		stce_dev_close(&self->d[i]);
		if (self->c[i] >= 0)
			close(self->c[i]);
	}
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
	EXPECT_EQ(self->vmlck0, vmk_vmlck_pages())
		TH_LOG("locked_vm not returned after closing everything");
}

TEST_F(shared, two_containers_charge_once)
{
	__u64 va = (uintptr_t)self->buf;
	__u8 *src = self->buf, *dst = self->buf + STCE_PAGE;

	ASSERT_EQ(0, stce_reg(self->c[0], true, va, NPAGES * STCE_PAGE));
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages());
	ASSERT_EQ(0, stce_reg(self->c[1], true, va, NPAGES * STCE_PAGE));
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages())
		TH_LOG("the second container charged the same range again");
	EXPECT_EQ(NPAGES, stce_counter("pinned_pages"))
		TH_LOG("the second container pinned the same range again");
	/* POWER: the same range twice in one container, part of a range */
	EXPECT_EQ(-EBUSY, stce_reg(self->c[1], true, va, NPAGES * STCE_PAGE));
	EXPECT_EQ(-EINVAL, stce_reg(self->c[1], true, va, STCE_PAGE))
		TH_LOG("a range overlapping registered memory");
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages());

	/* the first container maps, unmaps and unregisters */
	ASSERT_EQ(0, stce_map(self->c[0], va, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(-EBUSY, stce_reg(self->c[0], false, va, NPAGES * STCE_PAGE));
	ASSERT_EQ(0, stce_unmap(self->c[0], IOVA, STCE_PAGE));
	ASSERT_EQ(0, stce_reg(self->c[0], false, va, NPAGES * STCE_PAGE));
	EXPECT_EQ(-ENOENT, stce_reg(self->c[0], false, va,
				    NPAGES * STCE_PAGE))
		TH_LOG("registered in the other container only");
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages())
		TH_LOG("the other container still holds the range");
	EXPECT_EQ(NPAGES, stce_counter("pinned_pages"));
	EXPECT_EQ(-EPERM, stce_map(self->c[0], va, IOVA, STCE_PAGE,
				   VFIO_DMA_MAP_FLAG_READ))
		TH_LOG("MAP_DMA from memory this container unregistered");

	/* the second container's pins still back DMA */
	ASSERT_EQ(0, stce_map(self->c[1], va, IOVA, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, stce_map(self->c[1], va + STCE_PAGE, IOVA + STCE_PAGE,
			      STCE_PAGE, VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, stce_dev_open(&self->d[1]));
	stce_fill(src, EDU_DMA_LEN, 5);
	memset(dst, 0, STCE_PAGE);
	ASSERT_EQ(0, edu_dma(&self->d[1], IOVA, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&self->d[1], IOVA + STCE_PAGE, true,
			     EDU_DMA_LEN));
	EXPECT_EQ(0, memcmp(src, dst, EDU_DMA_LEN));

	/* registering again shares the pins; closing a container returns
	 * nothing the other one holds
	 */
	ASSERT_EQ(0, stce_reg(self->c[0], true, va, NPAGES * STCE_PAGE));
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages());
	stce_dev_close(&self->d[0]);
	close(self->c[0]);
	self->c[0] = -1;
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages());
	EXPECT_EQ(NPAGES, stce_counter("pinned_pages"));
	ASSERT_EQ(0, stce_unmap(self->c[1], IOVA, 2 * STCE_PAGE));
	ASSERT_EQ(0, stce_reg(self->c[1], false, va, NPAGES * STCE_PAGE));
	EXPECT_EQ(self->vmlck0, vmk_vmlck_pages());
	EXPECT_EQ(0, stce_counter("pinned_pages"));
}

/* Registrations of different ranges add up; each one is returned once. */
TEST_F(shared, distinct_ranges_add_up)
{
	__u64 va = (uintptr_t)self->buf, half = NPAGES / 2 * STCE_PAGE;

	ASSERT_EQ(0, stce_reg(self->c[0], true, va, half));
	ASSERT_EQ(0, stce_reg(self->c[1], true, va + half, half));
	ASSERT_EQ(0, stce_reg(self->c[1], true, va, half));
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages());
	EXPECT_EQ(NPAGES, stce_counter("pinned_pages"));
	ASSERT_EQ(0, stce_reg(self->c[1], false, va, half));
	EXPECT_EQ(self->vmlck0 + NPAGES, vmk_vmlck_pages());
	ASSERT_EQ(0, stce_reg(self->c[0], false, va, half));
	EXPECT_EQ(self->vmlck0 + NPAGES / 2, vmk_vmlck_pages());
	EXPECT_EQ(NPAGES / 2, stce_counter("pinned_pages"));
	/* the teardown closes with the second half still registered */
}

/*
 * A process that exits with memory registered in two containers: the
 * exit releases the pins exactly (the groups must be free for the child,
 * so this test opens none itself).
 */
TEST(shared_release_at_exit)
{
	char bdfs[STCE_MAX_EDU][32];
	int st, p[2];
	long got[2];
	pid_t pid;

	ASSERT_EQ(2, stce_find_edus(bdfs, STCE_MAX_EDU));
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct stce_dev d[2];
		__u8 *buf = stce_buf(NPAGES * STCE_PAGE);
		long v0 = vmk_vmlck_pages(), out[2] = { -1, -1 };
		int i, c;

		for (i = 0; buf && i < 2; i++) {
			if (stce_group_open(&d[i], bdfs[i]))
				_exit(2);
			c = stce_container_open(&d[i],
						VFIO_SPAPR_TCE_v2_IOMMU);
			if (c < 0 || stce_reg(c, true, (uintptr_t)buf,
					      NPAGES * STCE_PAGE))
				_exit(3);
			if (stce_map(c, (uintptr_t)buf, IOVA, STCE_PAGE,
				     VFIO_DMA_MAP_FLAG_READ))
				_exit(4);
		}
		out[0] = vmk_vmlck_pages() - v0;
		out[1] = stce_counter("pinned_pages");
		if (write(p[1], out, sizeof(out)) != sizeof(out))
			_exit(5);
		_exit(0);	/* with both containers open */
	}
	close(p[1]);
	ASSERT_EQ(sizeof(got), read(p[0], got, sizeof(got)));
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, st);
	EXPECT_EQ(NPAGES, got[0]) TH_LOG("locked_vm in the child");
	EXPECT_EQ(NPAGES, got[1]) TH_LOG("pinned pages in the child");
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
}

TEST_HARNESS_MAIN
