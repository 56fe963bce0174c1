// SPDX-License-Identifier: GPL-2.0-only
/*
 * Accounting and lifetime: exact locked_vm (VmLck) before, during and
 * after; RLIMIT_MEMLOCK enforced without CAP_IPC_LOCK; closing container,
 * device and group in any order with live mappings leaves no pinned page
 * and no container (debugfs); two groups in one v2 container both DMA;
 * two v2 containers of one process share registered memory; registrations
 * do not wait for each other's pinning.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>

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

/*
 * Registrations that run at the same time.  A buffer whose last page is
 * missing and registered with a userfaultfd stops REGISTER_MEMORY inside
 * its pin (GUP faults the page in and waits for userspace to supply it):
 * while it waits, another registration must run through, in another
 * process or in another container of the same one.  The waits below are
 * deadlines for something that never happens if a registration pins
 * under a lock the others need, not timings.
 */
#define UFFD_PAGES	64
#define UFFD_WAIT_MS	10000

/*
 * @n anonymous pages, all but the last one populated, registered with a
 * new userfaultfd (missing pages).  Returns the uffd or -errno.
 */
static int uffd_buf(__u8 **bufp, size_t n)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	__u8 *buf;
	int uffd, err;

	buf = mmap(NULL, n * STCE_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -errno;
	memset(buf, 1, (n - 1) * STCE_PAGE);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return -errno;
	reg.range.start = (uintptr_t)buf;
	reg.range.len = n * STCE_PAGE;
	if (ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		err = -errno;
		close(uffd);
		return err;
	}
	*bufp = buf;
	return uffd;
}

/* A page fault on @uffd within @ms: 1, 0 on timeout, or -errno. */
static int uffd_fault(int uffd, int ms)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;
	int r = poll(&p, 1, ms);

	if (r <= 0)
		return r ? -errno : 0;
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	return msg.event == UFFD_EVENT_PAGEFAULT ? 1 : -EIO;
}

/* Supply the missing page at @addr: every fault waiting on it resumes. */
static int uffd_supply(int uffd, void *addr)
{
	static __u8 *src;
	struct uffdio_copy cp = { .dst = (uintptr_t)addr, .len = STCE_PAGE };

	if (!src)
		src = stce_buf(STCE_PAGE);
	if (!src)
		return -ENOMEM;
	cp.src = (uintptr_t)src;
	return ioctl(uffd, UFFDIO_COPY, &cp) && errno != EEXIST ? -errno : 0;
}

struct reg_call {
	pthread_t t;
	int c;
	__u8 *va;
	size_t pages;
	int ret;
};

static void *reg_thread(void *arg)
{
	struct reg_call *r = arg;

	r->ret = stce_reg(r->c, true, (uintptr_t)r->va, r->pages * STCE_PAGE);
	return NULL;
}

/* What the child of two_processes_register_at_once reports. */
struct pin_report {
	int setup;	/* 0, or the step that failed */
	int faulted;	/* its pin reached the missing page */
	int waited_out;	/* the parent's REGISTER outlasted UFFD_WAIT_MS */
	int ret;	/* its REGISTER_MEMORY */
	long vmlck;	/* its VmLck after, less before */
};

/*
 * The child: register a UFFD_PAGES buffer whose last page is missing in a
 * v2 container of the edu device @bdf; tell the parent (@wr) when the pin
 * stops at that page, supply it when the parent says (@rd) it registered
 * too, or after UFFD_WAIT_MS; report and wait for the parent before
 * exiting with everything open.
 */
static void pin_child(const char *bdf, int rd, int wr)
{
	struct pin_report rep = { .ret = -1 };
	struct pollfd p = { .fd = rd, .events = POLLIN };
	struct reg_call r = { .pages = UFFD_PAGES };
	struct stce_dev d;
	int uffd = -1;
	char ch = 'E';
	long v0;

	r.c = -1;
	if (stce_group_open(&d, bdf))
		rep.setup = 1;
	if (!rep.setup) {
		r.c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
		if (r.c < 0)
			rep.setup = 2;
	}
	if (!rep.setup) {
		uffd = uffd_buf(&r.va, UFFD_PAGES);
		if (uffd < 0)
			rep.setup = 3;
	}
	v0 = vmk_vmlck_pages();
	if (!rep.setup && pthread_create(&r.t, NULL, reg_thread, &r))
		rep.setup = 4;
	if (!rep.setup) {
		rep.faulted = uffd_fault(uffd, UFFD_WAIT_MS) == 1;
		ch = 'F';
	}
	if (write(wr, &ch, 1) != 1)
		_exit(1);
	if (!rep.setup) {
		rep.waited_out = poll(&p, 1, UFFD_WAIT_MS) != 1 ||
				 read(rd, &ch, 1) != 1 || ch != 'B';
		if (uffd_supply(uffd, r.va + (UFFD_PAGES - 1) * STCE_PAGE))
			rep.setup = 5;
		pthread_join(r.t, NULL);
		rep.ret = r.ret;
		rep.vmlck = vmk_vmlck_pages() - v0;
	}
	if (write(wr, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	/* everything stays open until the parent has looked (or is gone) */
	while (read(rd, &ch, 1) == 1 && ch != 'X')
		;
	_exit(0);
}

/*
 * Two processes, each with its own container and edu group, register
 * memory at the same time: the second one's REGISTER_MEMORY returns while
 * the first one's is still pinning, and both are charged exactly.
 */
TEST(two_processes_register_at_once)
{
	char bdfs[STCE_MAX_EDU][32];
	struct pin_report rep;
	int to_child[2], from_child[2], st, c, ret;
	struct stce_dev d;
	__u8 *buf;
	long v0;
	pid_t pid;
	char ch;

	ASSERT_EQ(2, stce_find_edus(bdfs, STCE_MAX_EDU));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(from_child));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(to_child[1]);
		close(from_child[0]);
		pin_child(bdfs[0], to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);

	ASSERT_EQ(0, stce_group_open(&d, bdfs[1]));
	c = stce_container_open(&d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, c);
	buf = stce_buf(UFFD_PAGES * STCE_PAGE);
	ASSERT_NE(NULL, buf);
	v0 = vmk_vmlck_pages();

	/* the child's pin stops at its missing page: register now */
	ASSERT_EQ(1, read(from_child[0], &ch, 1));
	ret = ch == 'F' ? stce_reg(c, true, (uintptr_t)buf,
				   UFFD_PAGES * STCE_PAGE) : -1;
	ch = 'B';
	ASSERT_EQ(1, write(to_child[1], &ch, 1));
	ASSERT_EQ(sizeof(rep), read(from_child[0], &rep, sizeof(rep)));
	ASSERT_EQ(0, rep.setup)
		TH_LOG("child set-up step %d failed (3: userfaultfd)",
		       rep.setup);
	EXPECT_TRUE(rep.faulted)
		TH_LOG("the child's pin never reached its missing page");
	EXPECT_FALSE(rep.waited_out)
		TH_LOG("REGISTER_MEMORY waited for another process's pinning");
	EXPECT_EQ(0, ret) TH_LOG("parent: %s", strerror(-ret));
	EXPECT_EQ(0, rep.ret) TH_LOG("child: %s", strerror(-rep.ret));
	EXPECT_EQ(UFFD_PAGES, vmk_vmlck_pages() - v0) TH_LOG("parent");
	EXPECT_EQ(UFFD_PAGES, rep.vmlck) TH_LOG("child");
	EXPECT_EQ(2 * UFFD_PAGES, stce_counter("pinned_pages"));

	ch = 'X';
	ASSERT_EQ(1, write(to_child[1], &ch, 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, st);
	EXPECT_EQ(UFFD_PAGES, stce_counter("pinned_pages"))
		TH_LOG("the child's exit returned what it pinned, only that");
	stce_dev_close(&d);
	close(c);
	EXPECT_EQ(v0, vmk_vmlck_pages());
	EXPECT_EQ(0, stce_counter("pinned_pages"));
	EXPECT_EQ(0, stce_counter("nr_containers"));
}

/*
 * Two containers of one process register at the same time, both stopped
 * in their pins at the same missing page (two faults): the same range is
 * shared, pinned and charged once; of two overlapping ranges, one
 * registers and the other gets -EINVAL, with nothing of it left charged.
 */
TEST_F_TIMEOUT(shared, register_at_once, 60)
{
	struct reg_call r[2] = {
		{ .c = self->c[0], .pages = UFFD_PAGES },
		{ .c = self->c[1], .pages = UFFD_PAGES },
	};
	__u8 *buf, *last;
	int uffd, i, faults, round;
	long want;

	uffd = uffd_buf(&buf, UFFD_PAGES);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(-uffd));
	last = buf + (UFFD_PAGES - 1) * STCE_PAGE;
	for (round = 0; round < 2; round++) {
		/* round 1: the second range starts a page later */
		r[0].va = buf;
		r[1].va = buf + round * STCE_PAGE;
		r[1].pages = UFFD_PAGES - round;
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_create(&r[i].t, NULL, reg_thread,
						    &r[i]));
		for (faults = 0; faults < 2; faults++)
			if (uffd_fault(uffd, UFFD_WAIT_MS) != 1)
				break;
		ASSERT_EQ(0, uffd_supply(uffd, last));
		for (i = 0; i < 2; i++)
			pthread_join(r[i].t, NULL);
		EXPECT_EQ(2, faults)
			TH_LOG("round %d: a registration waited for the other one's pinning",
			       round);
		if (!round) {
			EXPECT_EQ(0, r[0].ret);
			EXPECT_EQ(0, r[1].ret);
			want = UFFD_PAGES;
		} else {
			EXPECT_TRUE((!r[0].ret && r[1].ret == -EINVAL) ||
				    (r[0].ret == -EINVAL && !r[1].ret))
				TH_LOG("overlapping registrations: %d and %d",
				       r[0].ret, r[1].ret);
			want = r[0].ret ? r[1].pages : r[0].pages;
		}
		EXPECT_EQ(self->vmlck0 + want, vmk_vmlck_pages())
			TH_LOG("round %d: charged %ld pages", round,
			       vmk_vmlck_pages() - self->vmlck0);
		EXPECT_EQ(want, stce_counter("pinned_pages"));
		for (i = 0; i < 2; i++)
			if (!r[i].ret)
				ASSERT_EQ(0, stce_reg(r[i].c, false,
						      (uintptr_t)r[i].va,
						      r[i].pages * STCE_PAGE));
		EXPECT_EQ(self->vmlck0, vmk_vmlck_pages());
		EXPECT_EQ(0, stce_counter("pinned_pages"));
		/* the last page is missing again for the next round */
		ASSERT_EQ(0, madvise(last, STCE_PAGE, MADV_DONTNEED));
	}
	close(uffd);
	munmap(buf, UFFD_PAGES * STCE_PAGE);
}

TEST_HARNESS_MAIN
