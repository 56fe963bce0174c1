// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/vduse_iotlb argument checking: every bad layout, size, flag and
 * user memory range is refused with its errno and changes nothing.  The
 * uAPI header coexists with <linux/vduse.h> and uses an ioctl type of its
 * own; the memory a domain pins is charged to its creator's memory cgroup.
 */
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <linux/remoteproc_cdev.h>
/* Before vit_util.h's <linux/vduse_iotlb.h>: it must not redefine these. */
#include <linux/vduse.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vit_util.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define MiB (1024ULL * 1024)

struct layout {
	const char what[40];
	__u64 iova_limit, bounce;
};

static const struct layout bad_layouts[] = {
	{ "bounce below the minimum", 4 * MiB - 1, 60 << 10 },
	{ "bounce above the maximum", (4ULL << 30) - 1, 2ULL << 30 },
	{ "bounce not a page multiple", 4 * MiB - 1, MiB + 100 },
	{ "zero bounce", 4 * MiB - 1, 0 },
	{ "limit + 1 not a page multiple", 4 * MiB, MiB },
	{ "no coherent page above bounce", MiB - 1, MiB },
	{ "limit below bounce", MiB / 2 - 1, MiB },
	{ "limit above the maximum", (1ULL << 49) - 1, MiB },
	{ "limit wraps", ~0ULL, MiB },
};

FIXTURE(ctl) {
	int ctl;
};

FIXTURE_SETUP(ctl)
{
	self->ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", VIT_CTL, strerror(errno));
}

FIXTURE_TEARDOWN(ctl)
{
	close(self->ctl);
}

TEST_F(ctl, bad_layout)
{
	__u32 id;
	unsigned int i;
	int dfd;

	for (i = 0; i < ARRAY_SIZE(bad_layouts); i++)
		EXPECT_EQ(-EINVAL, vit_create(self->ctl, bad_layouts[i].iova_limit,
					      bad_layouts[i].bounce, &id, &dfd))
			TH_LOG("%s", bad_layouts[i].what);
	EXPECT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"))
		TH_LOG("a refused create left a domain");
}

TEST_F(ctl, bad_struct)
{
	struct {
		struct vduse_iotlb_create c;
		__u64 tail;
	} big = { .c = { .size = sizeof(big), .iova_limit = 4 * MiB - 1,
			 .bounce_size = MiB }, .tail = 1 };
	struct vduse_iotlb_create c = { .size = sizeof(c) - 4,
					.iova_limit = 4 * MiB - 1,
					.bounce_size = MiB };

	EXPECT_EQ(-EINVAL, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, &c))
		TH_LOG("size smaller than the first version");
	c.size = sizeof(c);
	c.flags = 1;
	EXPECT_EQ(-EINVAL, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, &c))
		TH_LOG("unknown flag");
	c.flags = 0;
	c.out_fd = 3;
	EXPECT_EQ(-EINVAL, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, &c))
		TH_LOG("output fields must be zero on input");
	EXPECT_EQ(-E2BIG, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, &big))
		TH_LOG("unknown non-zero trailing bytes");
	EXPECT_EQ(-ENOTTY, vit_ioctl(self->ctl, _IO(VDUSE_IOTLB_TYPE, 0x7f), &c));
	EXPECT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"));

	/* Zero trailing bytes are fine: a newer userspace on an older kernel. */
	big.tail = 0;
	ASSERT_EQ(0, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, &big));
	EXPECT_EQ(0, close(big.c.out_fd));
	EXPECT_EQ(0, vit_destroy(self->ctl, big.c.out_domain_id));
}

TEST_F(ctl, info_destroy)
{
	struct vduse_iotlb_info info;
	__u32 id, id2;
	int dfd, dfd2;

	ASSERT_EQ(0, vit_create(self->ctl, 8 * MiB - 1, 2 * MiB, &id, &dfd));
	ASSERT_EQ(0, vit_create(self->ctl, 8 * MiB - 1, MiB, &id2, &dfd2));
	EXPECT_NE(id, id2);
	EXPECT_NE(-1, fcntl(dfd, F_GETFD) & FD_CLOEXEC) TH_LOG("domain fd is O_CLOEXEC");
	ASSERT_EQ(0, vit_info(self->ctl, id, &info));
	EXPECT_EQ(2 * MiB, info.out_bounce_size);
	EXPECT_EQ(8 * MiB - 1, info.out_iova_limit);
	EXPECT_EQ(VIT_PAGE, info.out_page_size);
	EXPECT_EQ(0, info.out_mappings);
	EXPECT_EQ(0, info.out_kernel_pages) TH_LOG("bounce pages are allocated lazily");
	EXPECT_EQ(2, vmk_read_key(VIT_GLOBAL_STATS, "domains"));

	EXPECT_EQ(-ENOENT, vit_info(self->ctl, 1000, &info));
	EXPECT_EQ(0, vit_destroy(self->ctl, id));
	EXPECT_EQ(-ENOENT, vit_info(self->ctl, id, &info)) TH_LOG("id gone after destroy");
	EXPECT_EQ(-ENOENT, vit_destroy(self->ctl, id)) TH_LOG("double destroy");
	/* The domain fd still holds the domain. */
	EXPECT_EQ(2, vmk_read_key(VIT_GLOBAL_STATS, "domains"));
	close(dfd);
	EXPECT_EQ(1, vmk_read_key(VIT_GLOBAL_STATS, "domains"));
	close(dfd2);
	EXPECT_EQ(0, vit_destroy(self->ctl, id2));
	EXPECT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"));
}

/*
 * A struct larger than a page is refused with E2BIG even when its tail is
 * zero: the kernel does not scan megabytes of it.
 */
TEST_F(ctl, struct_size_capped)
{
	size_t len = 2 * VIT_PAGE;
	struct vduse_iotlb_create *c = calloc(1, len);

	ASSERT_NE(NULL, c);
	c->iova_limit = 4 * MiB - 1;
	c->bounce_size = MiB;
	c->size = VIT_PAGE + 1;
	EXPECT_EQ(-E2BIG, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, c))
		TH_LOG("a page and a byte");
	c->size = ~0U;
	EXPECT_EQ(-E2BIG, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, c))
		TH_LOG("4 GiB");
	EXPECT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"));
	c->size = VIT_PAGE;
	ASSERT_EQ(0, vit_ioctl(self->ctl, VDUSE_IOTLB_CREATE, c))
		TH_LOG("a page with a zero tail is fine");
	EXPECT_EQ(0, close(c->out_fd));
	EXPECT_EQ(0, vit_destroy(self->ctl, c->out_domain_id));
	free(c);
}

#define MAX_DOMAINS	VDUSE_IOTLB_MAX_DOMAINS_PER_FD

/*
 * One open file holds at most MAX_DOMAINS domains: the next CREATE is
 * ENOSPC and leaves nothing behind; DESTROY makes room, and another file
 * has its own allowance.
 */
TEST_F(ctl, domains_capped)
{
	__u32 ids[MAX_DOMAINS], id;
	int i, dfd, ctl2;

	for (i = 0; i < MAX_DOMAINS; i++) {
		ASSERT_EQ(0, vit_create(self->ctl, (128 << 10) - 1, 64 << 10,
					&ids[i], &dfd)) TH_LOG("domain %d", i);
		close(dfd);
	}
	EXPECT_EQ(-ENOSPC, vit_create(self->ctl, (128 << 10) - 1, 64 << 10,
				      &id, &dfd)) TH_LOG("one domain too many");
	EXPECT_EQ(MAX_DOMAINS, vmk_read_key(VIT_GLOBAL_STATS, "domains"));
	ASSERT_EQ(0, vit_destroy(self->ctl, ids[7]));
	ASSERT_EQ(0, vit_create(self->ctl, (128 << 10) - 1, 64 << 10, &ids[7],
				&dfd)) TH_LOG("after a DESTROY");
	close(dfd);
	ctl2 = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, ctl2);
	ASSERT_EQ(0, vit_create(ctl2, (128 << 10) - 1, 64 << 10, &id, &dfd))
		TH_LOG("another file");
	close(dfd);
	close(ctl2);
	for (i = 0; i < MAX_DOMAINS; i++)
		EXPECT_EQ(0, vit_destroy(self->ctl, ids[i]));
	EXPECT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"));
}

/* Drop CAP_IPC_LOCK so that RLIMIT_MEMLOCK applies to this process. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[0].effective &= ~(1U << CAP_IPC_LOCK);
	data[0].permitted &= ~(1U << CAP_IPC_LOCK);
	data[0].inheritable &= ~(1U << CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

TEST_F(ctl, bad_umem)
{
	struct vduse_iotlb_info info;
	struct vduse_iotlb_umem u;
	__u8 *mem;
	__u32 id;
	int dfd, status;
	pid_t pid;

	ASSERT_EQ(0, vit_create(self->ctl, 4 * MiB - 1, MiB, &id, &dfd));
	mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);

	EXPECT_EQ(-EINVAL, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 100,
				    VIT_PAGE, mem)) TH_LOG("misaligned IOVA");
	EXPECT_EQ(-EINVAL, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 0,
				    VIT_PAGE + 1, mem)) TH_LOG("misaligned length");
	EXPECT_EQ(-EINVAL, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 0, 0,
				    mem)) TH_LOG("zero length");
	EXPECT_EQ(-EINVAL, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 0,
				    VIT_PAGE, mem + 1)) TH_LOG("misaligned address");
	EXPECT_EQ(-ERANGE, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id,
				    MiB - VIT_PAGE, 2 * VIT_PAGE, mem))
		TH_LOG("range leaves the streaming region");
	EXPECT_EQ(-EFAULT, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 0,
				    VIT_PAGE, NULL)) TH_LOG("unmapped address");
	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	u.domain_id = id;
	u.length = VIT_PAGE;
	u.uaddr = (uintptr_t)mem;
	u.__reserved = 1;
	EXPECT_EQ(-EINVAL, vit_ioctl(self->ctl, VDUSE_IOTLB_UMEM_REG, &u))
		TH_LOG("reserved field");
	EXPECT_EQ(-ENOENT, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id + 1, 0,
				    VIT_PAGE, mem)) TH_LOG("unknown domain");

	ASSERT_EQ(0, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 64 << 10,
			      64 << 10, mem));
	EXPECT_EQ(-EEXIST, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id,
				    120 << 10, 64 << 10, mem + MiB))
		TH_LOG("overlapping registration");
	EXPECT_EQ(-ENOENT, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_DEREG, id,
				    64 << 10, 32 << 10, NULL))
		TH_LOG("deregistration of part of a range");
	EXPECT_EQ(-EINVAL, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_DEREG, id,
				    64 << 10, 64 << 10, mem))
		TH_LOG("DEREG takes no address");
	ASSERT_EQ(0, vit_info(self->ctl, id, &info));
	EXPECT_EQ(16, info.out_user_pages) TH_LOG("only the good registration counts");

	/* Over RLIMIT_MEMLOCK without CAP_IPC_LOCK: -ENOMEM, nothing pinned. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl = { 128 << 10, 128 << 10 };

		if (setrlimit(RLIMIT_MEMLOCK, &rl) || drop_ipc_lock())
			_exit(2);
		_exit(vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, id, 256 << 10,
			       256 << 10, mem + MiB) == -ENOMEM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("registration over RLIMIT_MEMLOCK");
	ASSERT_EQ(0, vit_info(self->ctl, id, &info));
	EXPECT_EQ(16, info.out_user_pages) TH_LOG("refused registration changed state");

	EXPECT_EQ(0, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_DEREG, id, 64 << 10,
			      64 << 10, NULL));
	ASSERT_EQ(0, vit_info(self->ctl, id, &info));
	EXPECT_EQ(0, info.out_user_pages);
	close(dfd);
	munmap(mem, 2 * MiB);
}

/*
 * One program may include <linux/vduse.h> and <linux/vduse_iotlb.h>: VDUSE's
 * own ioctls keep their values (the header once redefined
 * VDUSE_IOTLB_REG_UMEM and VDUSE_IOTLB_DEREG_UMEM), and /dev/vduse_iotlb's
 * ioctls use a type that is neither VDUSE's nor the one nsfs and
 * remoteproc share (0xB7, which the header once used).
 */
TEST(headers_coexist)
{
	static const unsigned long ours[] = {
		VDUSE_IOTLB_CREATE, VDUSE_IOTLB_INFO, VDUSE_IOTLB_UMEM_REG,
		VDUSE_IOTLB_UMEM_DEREG, VDUSE_IOTLB_DESTROY,
	};
	unsigned int i;

	EXPECT_EQ((unsigned long)_IOW(VDUSE_BASE, 0x18, struct vduse_iova_umem),
		  (unsigned long)VDUSE_IOTLB_REG_UMEM)
		TH_LOG("VDUSE's VDUSE_IOTLB_REG_UMEM was redefined");
	EXPECT_EQ((unsigned long)_IOW(VDUSE_BASE, 0x19, struct vduse_iova_umem),
		  (unsigned long)VDUSE_IOTLB_DEREG_UMEM)
		TH_LOG("VDUSE's VDUSE_IOTLB_DEREG_UMEM was redefined");
	for (i = 0; i < ARRAY_SIZE(ours); i++) {
		EXPECT_EQ(VDUSE_IOTLB_TYPE, _IOC_TYPE(ours[i]));
		EXPECT_NE(VDUSE_BASE, _IOC_TYPE(ours[i]));
		EXPECT_NE(NSIO, _IOC_TYPE(ours[i])) TH_LOG("nsfs's ioctl type");
		EXPECT_NE(RPROC_MAGIC, _IOC_TYPE(ours[i]))
			TH_LOG("remoteproc's ioctl type");
	}
}

#define CG_DIR	VMK_CG_ROOT "/vduse_iotlb_test"

/*
 * A domain's bounce table (64 bytes per slot: 16 MiB for the largest
 * streaming region) is charged to the memory cgroup of the process that
 * creates the domain, and uncharged when the domain dies.
 */
TEST_F(ctl, table_charged_to_memcg)
{
	const long long table = (VDUSE_IOTLB_MAX_BOUNCE_SIZE / VIT_PAGE) * 64;
	long long before, with, after;
	__u32 id;
	int dfd;

	if (vmk_cg_memory())
		SKIP(return, "no cgroup2 memory controller");
	rmdir(CG_DIR);
	ASSERT_EQ(0, mkdir(CG_DIR, 0755)) TH_LOG("mkdir: %s", strerror(errno));
	ASSERT_EQ(0, vmk_cg_enter(CG_DIR));

	before = vmk_read_long(CG_DIR "/memory.current");
	ASSERT_LE(0, before);
	ASSERT_EQ(0, vit_create(self->ctl, VDUSE_IOTLB_MAX_BOUNCE_SIZE + MiB - 1,
				VDUSE_IOTLB_MAX_BOUNCE_SIZE, &id, &dfd));
	with = vmk_read_long(CG_DIR "/memory.current");
	EXPECT_LE(before + table, with)
		TH_LOG("a %lld byte bounce table charged %lld bytes", table,
		       with - before);
	close(dfd);
	ASSERT_EQ(0, vit_destroy(self->ctl, id));
	after = vmk_read_long(CG_DIR "/memory.current");
	EXPECT_GT(before + table / 4, after)
		TH_LOG("%lld bytes still charged after the domain died",
		       after - before);

	ASSERT_EQ(0, vmk_cg_enter(VMK_CG_ROOT));
	EXPECT_EQ(0, rmdir(CG_DIR));
}

TEST_HARNESS_MAIN
