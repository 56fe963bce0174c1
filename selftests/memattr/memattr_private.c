// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr private pages stay where they are and end through the backend:
 * compaction does not move them (their physical frames, read from
 * /proc/self/pagemap while the pages are shared before and after, do not
 * change), and releasing an object hands every cached private page to the
 * backend's invalidate hook before it is freed.  The conversion's own
 * bookkeeping is charged to the caller's memory cgroup.
 * Needs root (pagemap shows PFNs to CAP_SYS_ADMIN only).
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

/* 32 MiB: the figure the review reproduced compaction moving with. */
#define MOVE_PAGES 8192

/*
 * One compact_memory of the guest takes about 30 s on KERNEL=debug (KASAN,
 * lockdep under TCG), the harness's default limit per test.
 */
#define MOVE_TIMEOUT 240

/* pagemap entry: bit 63 present, bits 0-54 the PFN. */
#define PM_PRESENT	0x8000000000000000ULL
#define PM_PFN_MASK	0x007fffffffffffffULL

static void put_word(char *p, __u64 v)
{
	__atomic_store_n((__u64 *)p, v, __ATOMIC_RELAXED);
}

static __u64 get_word(const char *p)
{
	return __atomic_load_n((const __u64 *)p, __ATOMIC_RELAXED);
}

/* PFNs of the @nr pages at @map, 0 for a page not present. */
static int read_pfns(const char *map, unsigned int nr, __u64 *pfn)
{
	__u64 pg = ma_page();
	unsigned int i;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < nr; i++) {
		__u64 e;
		off_t off = ((uintptr_t)map / pg + i) * sizeof(e);

		if (pread(fd, &e, sizeof(e), off) != sizeof(e)) {
			close(fd);
			return -EIO;
		}
		pfn[i] = (e & PM_PRESENT) ? (e & PM_PFN_MASK) : 0;
	}
	close(fd);
	return 0;
}

FIXTURE(move) {
	int fd;
	__u64 pg;
	char *map;
	__u64 *pfn;
	__u64 *pfn2;
};

FIXTURE_VARIANT(move) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(move, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(move, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

FIXTURE_SETUP(move)
{
	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	self->pg = ma_page();
	self->fd = ma_create(MOVE_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
	self->map = mmap(NULL, MOVE_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	self->pfn = calloc(MOVE_PAGES, sizeof(__u64));
	self->pfn2 = calloc(MOVE_PAGES, sizeof(__u64));
	ASSERT_TRUE(self->pfn && self->pfn2);
}

FIXTURE_TEARDOWN(move)
{
	free(self->pfn2);
	free(self->pfn);
	munmap(self->map, MOVE_PAGES * self->pg);
	close(self->fd);
}

/*
 * Write every page, note the PFNs, make the whole object private, compact
 * memory, make it shared again, fault every page in again and count the
 * pages whose PFN changed.
 */
static int private_moves(int fd, char *map, __u64 pg, __u64 *pfn,
			 __u64 *pfn2)
{
	unsigned int i, moved = 0;

	for (i = 0; i < MOVE_PAGES; i++)
		put_word(map + i * pg, i + 1);
	if (read_pfns(map, MOVE_PAGES, pfn))
		return -1;
	for (i = 0; i < MOVE_PAGES; i++)
		if (!pfn[i])
			return -1;	/* not root: no PFNs */
	if (ma_set_pages(fd, 0, MOVE_PAGES, MA_PRIVATE))
		return -1;
	if (vmk_write_file("/proc/sys/vm/compact_memory", "1"))
		return -1;
	if (ma_set_pages(fd, 0, MOVE_PAGES, 0))
		return -1;
	for (i = 0; i < MOVE_PAGES; i++)
		if (get_word(map + i * pg))
			return -1;	/* not zeroed */
	if (read_pfns(map, MOVE_PAGES, pfn2))
		return -1;
	for (i = 0; i < MOVE_PAGES; i++)
		moved += pfn[i] != pfn2[i];
	return moved;
}

TEST_F_TIMEOUT(move, compaction_does_not_move_private_pages,
	       MOVE_TIMEOUT)
{
	int moved = private_moves(self->fd, self->map, self->pg, self->pfn,
				  self->pfn2);

	ASSERT_LE(0, moved) TH_LOG("setup failed (root? CONFIG_COMPACTION?)");
	EXPECT_EQ(0, moved)
		TH_LOG("%d of %d private pages moved by compaction", moved,
		       MOVE_PAGES);
}

/* Shared pages do not move either: the object is unmovable memory. */
TEST_F_TIMEOUT(move, compaction_does_not_move_shared_pages,
	       MOVE_TIMEOUT)
{
	unsigned int i, moved = 0;

	for (i = 0; i < MOVE_PAGES; i++)
		put_word(self->map + i * self->pg, i);
	ASSERT_EQ(0, read_pfns(self->map, MOVE_PAGES, self->pfn));
	ASSERT_NE(0, self->pfn[0]) TH_LOG("no PFNs: not root?");
	ASSERT_EQ(0, vmk_write_file("/proc/sys/vm/compact_memory", "1"));
	ASSERT_EQ(0, read_pfns(self->map, MOVE_PAGES, self->pfn2));
	for (i = 0; i < MOVE_PAGES; i++)
		moved += self->pfn[i] != self->pfn2[i];
	EXPECT_EQ(0, moved)
		TH_LOG("%u of %d shared pages moved by compaction", moved,
		       MOVE_PAGES);
	for (i = 0; i < MOVE_PAGES; i++)
		ASSERT_EQ(i, get_word(self->map + i * self->pg));
}

#define REL_PAGES 64

FIXTURE(release) {
	__u64 pg;
};

FIXTURE_VARIANT(release) {
	__u32 flags;
	const char *backend;
};

FIXTURE_VARIANT_ADD(release, range) {
	.flags = 0,
	.backend = "test",
};

FIXTURE_VARIANT_ADD(release, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
	.backend = "test",
};

/* sw_rmp WARNs (failing the run) on a private page freed unannounced. */
FIXTURE_VARIANT_ADD(release, sw_rmp) {
	.flags = 0,
	.backend = "sw_rmp",
};

FIXTURE_SETUP(release)
{
	ASSERT_EQ(0, ma_set_backend(variant->backend));
	self->pg = ma_page();
}

FIXTURE_TEARDOWN(release)
{
	ma_set_backend("none");
}

/*
 * Pages 0-31 cached (written), 8-39 private: 24 cached private pages, 8
 * private pages never allocated, 8 cached shared ones.  Closing the object
 * invalidates exactly the 24.
 */
TEST_F(release, invalidate_each_cached_private_page)
{
	bool test = !strcmp(variant->backend, "test");
	long long inv0, inv1;
	unsigned int i;
	char *map;
	int fd;

	fd = ma_create(REL_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-fd));
	map = mmap(NULL, REL_PAGES * self->pg, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (i = 0; i < 32; i++)
		put_word(map + i * self->pg, i + 1);
	ASSERT_EQ(0, munmap(map, REL_PAGES * self->pg));
	ASSERT_EQ(0, ma_set_pages(fd, 8, 32, MA_PRIVATE));

	if (!test) {
		/* sw_rmp: the run fails on a WARN from the console. */
		close(fd);
		return;
	}
	inv0 = ma_test_calls("invalidate");
	ASSERT_LE(0, inv0) TH_LOG("test backend invalidate counter missing");
	close(fd);
	inv1 = ma_test_calls("invalidate");
	EXPECT_EQ(inv0 + 24, inv1)
		TH_LOG("%lld private pages invalidated at release, not 24",
		       inv1 - inv0);
}

#define CG_ROOT	"/sys/fs/cgroup"
#define CG_DIR	CG_ROOT "/memattr_test"

/* Move this process to the cgroup directory @dir. */
static int cg_enter(const char *dir)
{
	char path[128], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return vmk_write_file(path, pid);
}

/*
 * 65536 private single pages, every other page: converting the whole object
 * to shared collects 65536 changes, a 2 MiB array (32 bytes each).  In a
 * memory cgroup limited to 512 KiB that call fails with ENOMEM and changes
 * nothing (no OOM kill: the test would die), and succeeds once the limit
 * is lifted.
 */
#define CG_RUNS 65536

TEST(changes_array_charged_to_memcg)
{
	__u64 pg = ma_page();
	unsigned int i;
	__s64 attrs;
	int fd, ret;

	if (access(CG_ROOT "/cgroup.controllers", F_OK))
		mount("none", CG_ROOT, "cgroup2", 0, NULL);
	if (vmk_write_file(CG_ROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "no cgroup2 memory controller");
	rmdir(CG_DIR);
	ASSERT_EQ(0, mkdir(CG_DIR, 0755)) TH_LOG("mkdir: %s", strerror(errno));

	ASSERT_EQ(0, ma_set_backend("none"));
	fd = ma_create(2ULL * CG_RUNS * pg, 0);
	ASSERT_LE(0, fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-fd));
	for (i = 0; i < CG_RUNS; i++)
		ASSERT_EQ(0, ma_set_pages(fd, 2 * i, 1, MA_PRIVATE));

	ASSERT_EQ(0, cg_enter(CG_DIR));
	ASSERT_EQ(0, vmk_write_file(CG_DIR "/memory.max", "524288"));
	ret = ma_set_pages(fd, 0, 2 * CG_RUNS, 0);
	ASSERT_EQ(0, vmk_write_file(CG_DIR "/memory.max", "max"));
	EXPECT_EQ(-ENOMEM, ret)
		TH_LOG("2 MiB of changes within a 512 KiB cgroup: %s",
		       strerror(-ret));
	attrs = ma_page_attrs(fd, 2 * (CG_RUNS - 1));
	EXPECT_EQ(MA_PRIVATE, attrs) TH_LOG("pages converted over the limit");
	EXPECT_EQ(0, ma_set_pages(fd, 0, 2 * CG_RUNS, 0));
	EXPECT_EQ(0, ma_page_attrs(fd, 2 * (CG_RUNS - 1)));
	ASSERT_EQ(0, cg_enter(CG_ROOT));
	close(fd);
	EXPECT_EQ(0, rmdir(CG_DIR));
	ma_set_backend("none");
}

TEST_HARNESS_MAIN
