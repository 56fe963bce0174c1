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
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
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

static void put_word(char *p, __u64 v)
{
	__atomic_store_n((__u64 *)p, v, __ATOMIC_RELAXED);
}

static __u64 get_word(const char *p)
{
	return __atomic_load_n((const __u64 *)p, __ATOMIC_RELAXED);
}

/* One object of each store: pages [0, MOVE_PAGES) private, the rest shared. */
struct move_obj {
	const char *name;
	__u32 flags;
	int fd;
	char *map;
	__u64 *pfn;
	__u64 *pfn2;
};

/* Map @o->fd (2 * MOVE_PAGES pages) and allocate its PFN arrays. */
static int move_obj_map(struct move_obj *o, __u64 pg)
{
	o->map = mmap(NULL, 2 * MOVE_PAGES * pg, PROT_READ | PROT_WRITE,
		      MAP_SHARED, o->fd, 0);
	if (o->map == MAP_FAILED)
		return -errno;
	o->pfn = calloc(2 * MOVE_PAGES, sizeof(__u64));
	o->pfn2 = calloc(2 * MOVE_PAGES, sizeof(__u64));
	if (!o->pfn || !o->pfn2)
		return -ENOMEM;
	return 0;
}

/* Pages of [first, first + MOVE_PAGES) whose PFN changed, every @step. */
static unsigned int move_obj_moved(struct move_obj *o, unsigned int first,
				   unsigned int step)
{
	unsigned int i, moved = 0;

	for (i = first; i < first + MOVE_PAGES; i += step)
		moved += o->pfn[i] != o->pfn2[i];
	return moved;
}

static void move_obj_fini(struct move_obj *o, __u64 pg)
{
	free(o->pfn2);
	free(o->pfn);
	if (o->map && o->map != MAP_FAILED)
		munmap(o->map, 2 * MOVE_PAGES * pg);
	if (o->fd >= 0)
		close(o->fd);
}

FIXTURE(compaction) {
	int unused;
};

FIXTURE_SETUP(compaction)
{
}

FIXTURE_TEARDOWN(compaction)
{
}

/*
 * Fault in the pages of a range-store object, a per-GFN object and a
 * control (an ordinary shmem file, whose pages compaction may move) one
 * after the other, so they come from the same free memory, then punch every
 * other control page out: holes for compaction to fill.  Note the PFNs,
 * make the first half of each object private, compact memory (the slow
 * part: once for all four cases, twice if no control page moved), make the
 * private halves shared again, fault every page in again and count, per
 * half, the pages whose PFN changed.  Private pages must not move (a
 * platform tracks them per physical page), nor shared ones (the object's
 * memory is unmovable).  How many control pages moved is printed: where
 * compaction moved none (it moves pages only below where its two scanners
 * meet), the run could not have caught a movable object page either.  The
 * private halves read zeroes after the round trip; the shared halves keep
 * their data.
 */
TEST_F_TIMEOUT(compaction, moves_no_object_page, MOVE_TIMEOUT)
{
	struct move_obj obj[] = {
		{ .name = "range", .flags = 0, .fd = -1 },
		{ .name = "per-GFN", .flags = MEMATTR_CREATE_PER_GFN, .fd = -1 },
	};
	struct move_obj ctl = { .name = "control", .fd = -1 };
	unsigned int i, k, round, ctl_moved = 0;
	__u64 pg = ma_page();
	int ret;

	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	for (k = 0; k < ARRAY_SIZE(obj); k++) {
		obj[k].fd = ma_create(2 * MOVE_PAGES * pg, obj[k].flags);
		ASSERT_LE(0, obj[k].fd) TH_LOG("MEMATTR_CREATE: %s",
					       strerror(-obj[k].fd));
		ret = move_obj_map(&obj[k], pg);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", obj[k].name, strerror(-ret));
	}
	ctl.fd = memfd_create("memattr_control", MFD_CLOEXEC);
	ASSERT_LE(0, ctl.fd);
	ASSERT_EQ(0, ftruncate(ctl.fd, 2 * MOVE_PAGES * pg));
	ASSERT_EQ(0, move_obj_map(&ctl, pg));
	for (i = 0; i < 2 * MOVE_PAGES; i++) {
		for (k = 0; k < ARRAY_SIZE(obj); k++)
			put_word(obj[k].map + i * pg, i + 1);
		put_word(ctl.map + i * pg, i + 1);
	}
	for (i = 1; i < 2 * MOVE_PAGES; i += 2)
		ASSERT_EQ(0, fallocate(ctl.fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, i * pg, pg));
	for (k = 0; k < ARRAY_SIZE(obj); k++) {
		ASSERT_EQ(0, ma_read_pfns(obj[k].map, 2 * MOVE_PAGES, obj[k].pfn));
		ASSERT_NE(0, obj[k].pfn[0]) TH_LOG("no PFNs: not root?");
		ASSERT_EQ(0, ma_set_pages(obj[k].fd, 0, MOVE_PAGES,
					  MA_PRIVATE));
	}
	ASSERT_EQ(0, ma_read_pfns(ctl.map, 2 * MOVE_PAGES, ctl.pfn));

	/* Again if no control page moved: a first run may find nothing to do. */
	for (round = 0; round < 2 && !ctl_moved; round++) {
		ASSERT_EQ(0, vmk_write_file("/proc/sys/vm/compact_memory", "1"))
			TH_LOG("compact_memory (CONFIG_COMPACTION?)");
		ASSERT_EQ(0, ma_read_pfns(ctl.map, 2 * MOVE_PAGES, ctl.pfn2));
		ctl_moved = move_obj_moved(&ctl, 0, 2) +
			    move_obj_moved(&ctl, MOVE_PAGES, 2);
	}

	for (k = 0; k < ARRAY_SIZE(obj); k++) {
		struct move_obj *o = &obj[k];

		ASSERT_EQ(0, ma_set_pages(o->fd, 0, MOVE_PAGES, 0));
		for (i = 0; i < 2 * MOVE_PAGES; i++)
			ASSERT_EQ(i < MOVE_PAGES ? 0 : (__u64)i + 1,
				  get_word(o->map + i * pg))
				TH_LOG("%s object, page %u", o->name, i);
		ASSERT_EQ(0, ma_read_pfns(o->map, 2 * MOVE_PAGES, o->pfn2));
		EXPECT_EQ(0, move_obj_moved(o, 0, 1))
			TH_LOG("%s object: %u of %d private pages moved (%u of %d control pages)",
			       o->name, move_obj_moved(o, 0, 1), MOVE_PAGES,
			       ctl_moved, MOVE_PAGES);
		EXPECT_EQ(0, move_obj_moved(o, MOVE_PAGES, 1))
			TH_LOG("%s object: %u of %d shared pages moved (%u of %d control pages)",
			       o->name, move_obj_moved(o, MOVE_PAGES, 1),
			       MOVE_PAGES, ctl_moved, MOVE_PAGES);
	}
	ksft_print_msg("compaction: %u of %d control pages moved in %u round(s)\n",
		       ctl_moved, MOVE_PAGES, round);
	for (k = 0; k < ARRAY_SIZE(obj); k++)
		move_obj_fini(&obj[k], pg);
	move_obj_fini(&ctl, pg);
	ma_set_backend("none");
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

#define CG_DIR	VMK_CG_ROOT "/memattr_test"

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

	if (vmk_cg_memory())
		SKIP(return, "no cgroup2 memory controller");
	rmdir(CG_DIR);
	ASSERT_EQ(0, mkdir(CG_DIR, 0755)) TH_LOG("mkdir: %s", strerror(errno));

	ASSERT_EQ(0, ma_set_backend("none"));
	fd = ma_create(2ULL * CG_RUNS * pg, 0);
	ASSERT_LE(0, fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-fd));
	for (i = 0; i < CG_RUNS; i++)
		ASSERT_EQ(0, ma_set_pages(fd, 2 * i, 1, MA_PRIVATE));

	ASSERT_EQ(0, vmk_cg_enter(CG_DIR));
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
	ASSERT_EQ(0, vmk_cg_enter(VMK_CG_ROOT));
	close(fd);
	EXPECT_EQ(0, rmdir(CG_DIR));
	ma_set_backend("none");
}

TEST_HARNESS_MAIN
