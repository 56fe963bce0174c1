// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr uAPI: object creation, SET/GET round trips and run merging, GET on
 * every boundary, and every bad input rejected with nothing changed.  Each
 * test runs against the range store and the per-GFN baseline.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "memattr_util.h"

#define OBJ_PAGES 64

FIXTURE(uapi) {
	int fd;
	__u64 pg;
};

FIXTURE_VARIANT(uapi) {
	__u32 flags;
	const char *count;	/* debugfs counter of store entries */
};

FIXTURE_VARIANT_ADD(uapi, range) {
	.flags = 0,
	.count = "runs",
};

FIXTURE_VARIANT_ADD(uapi, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
	.count = "gfn_entries",
};

FIXTURE_SETUP(uapi)
{
	ASSERT_EQ(0, ma_set_backend("sw_rmp")) TH_LOG("cannot select sw_rmp");
	self->pg = ma_page();
	self->fd = ma_create(OBJ_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
}

FIXTURE_TEARDOWN(uapi)
{
	close(self->fd);
}

/* Expected run, in pages. */
struct xrun {
	__u64 first, nr, attrs;
};

/* Check that GET of [first, first + nr) pages returns exactly @want. */
static void check_runs(struct __test_metadata *_metadata, int fd,
		       __u64 first, __u64 nr,
		       const struct xrun *want, unsigned int n_want)
{
	struct memattr_run runs[OBJ_PAGES + 1];
	__u64 pg = ma_page();
	__u32 nr_runs = OBJ_PAGES + 1;
	unsigned int i;
	int more = -1;

	ASSERT_EQ(0, ma_get(fd, first * pg, nr * pg, runs, &nr_runs, &more));
	ASSERT_EQ(0, more) TH_LOG("MORE set with room to spare");
	ASSERT_EQ(n_want, nr_runs) TH_LOG("query [%llu,+%llu): got %u runs",
					  first, nr, nr_runs);
	for (i = 0; i < n_want; i++) {
		EXPECT_EQ(want[i].first * pg, runs[i].address)
			TH_LOG("run %u address", i);
		EXPECT_EQ(want[i].nr * pg, runs[i].size) TH_LOG("run %u size", i);
		EXPECT_EQ(want[i].attrs, runs[i].attributes)
			TH_LOG("run %u attributes", i);
	}
}

#define CHECK_RUNS(fd, first, nr, ...) do {				\
	const struct xrun __w[] = { __VA_ARGS__ };			\
	check_runs(_metadata, fd, first, nr, __w, ARRAY_SIZE(__w));	\
} while (0)

TEST_F(uapi, new_object_is_shared)
{
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, OBJ_PAGES, 0 });
}

TEST_F(uapi, round_trip_and_merge)
{
	long long base = ma_stat(variant->count);

	ASSERT_EQ(0, ma_set_pages(self->fd, 4, 4, MA_PRIVATE));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, 4, 0 }, { 4, 4, MA_PRIVATE },
		   { 8, OBJ_PAGES - 8, 0 });
	/* Adjacent private runs merge, on either side. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 8, 2, MA_PRIVATE));
	ASSERT_EQ(0, ma_set_pages(self->fd, 2, 2, MA_PRIVATE));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, 2, 0 }, { 2, 8, MA_PRIVATE },
		   { 10, OBJ_PAGES - 10, 0 });
	EXPECT_EQ(base + (variant->flags ? 8 : 1), ma_stat(variant->count))
		TH_LOG("store entries after merging");
	/* Re-setting what is already set changes nothing. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 3, 5, MA_PRIVATE));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, 2, 0 }, { 2, 8, MA_PRIVATE },
		   { 10, OBJ_PAGES - 10, 0 });
	/* A hole splits the run in two. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 5, 1, 0));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, 2, 0 }, { 2, 3, MA_PRIVATE },
		   { 5, 1, 0 }, { 6, 4, MA_PRIVATE }, { 10, OBJ_PAGES - 10, 0 });
	EXPECT_EQ(base + (variant->flags ? 7 : 2), ma_stat(variant->count))
		TH_LOG("store entries after the split");
	/* Filling it merges them again; whole-object private then shared. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 5, 1, MA_PRIVATE));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, 2, 0 }, { 2, 8, MA_PRIVATE },
		   { 10, OBJ_PAGES - 10, 0 });
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, MA_PRIVATE));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, OBJ_PAGES, MA_PRIVATE });
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, 0));
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, OBJ_PAGES, 0 });
	EXPECT_EQ(base, ma_stat(variant->count)) TH_LOG("store entries left");
}

TEST_F(uapi, get_on_every_boundary)
{
	/* Private [4, 8) and the last page. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 4, 4, MA_PRIVATE));
	ASSERT_EQ(0, ma_set_pages(self->fd, OBJ_PAGES - 1, 1, MA_PRIVATE));

	CHECK_RUNS(self->fd, 3, 1, { 3, 1, 0 });
	CHECK_RUNS(self->fd, 3, 2, { 3, 1, 0 }, { 4, 1, MA_PRIVATE });
	CHECK_RUNS(self->fd, 4, 1, { 4, 1, MA_PRIVATE });
	CHECK_RUNS(self->fd, 4, 4, { 4, 4, MA_PRIVATE });
	CHECK_RUNS(self->fd, 5, 2, { 5, 2, MA_PRIVATE });
	CHECK_RUNS(self->fd, 7, 1, { 7, 1, MA_PRIVATE });
	CHECK_RUNS(self->fd, 7, 2, { 7, 1, MA_PRIVATE }, { 8, 1, 0 });
	CHECK_RUNS(self->fd, 8, 1, { 8, 1, 0 });
	CHECK_RUNS(self->fd, 0, 4, { 0, 4, 0 });
	CHECK_RUNS(self->fd, OBJ_PAGES - 2, 2, { OBJ_PAGES - 2, 1, 0 },
		   { OBJ_PAGES - 1, 1, MA_PRIVATE });
	CHECK_RUNS(self->fd, OBJ_PAGES - 1, 1, { OBJ_PAGES - 1, 1, MA_PRIVATE });
	CHECK_RUNS(self->fd, 0, 1, { 0, 1, 0 });
}

TEST_F(uapi, get_more_and_continue)
{
	struct memattr_run runs[2];
	__u64 pg = self->pg;
	__u32 nr;
	int more = -1;

	ASSERT_EQ(0, ma_set_pages(self->fd, 10, 5, MA_PRIVATE));
	/* No room at all: nothing written, MORE set. */
	nr = 0;
	ASSERT_EQ(0, ma_get(self->fd, 0, OBJ_PAGES * pg, runs, &nr, &more));
	EXPECT_EQ(0, nr);
	EXPECT_EQ(1, more);
	/* Two of three runs, then the rest from where they ended. */
	nr = 2;
	ASSERT_EQ(0, ma_get(self->fd, 0, OBJ_PAGES * pg, runs, &nr, &more));
	ASSERT_EQ(2, nr);
	EXPECT_EQ(1, more);
	EXPECT_EQ(15 * pg, runs[1].address + runs[1].size);
	nr = 2;
	ASSERT_EQ(0, ma_get(self->fd, 15 * pg, (OBJ_PAGES - 15) * pg, runs,
			    &nr, &more));
	EXPECT_EQ(1, nr);
	EXPECT_EQ(0, more);
	EXPECT_EQ(OBJ_PAGES * pg, runs[0].address + runs[0].size);
	/* Exactly enough room: MORE clear. */
	nr = 1;
	ASSERT_EQ(0, ma_get(self->fd, 10 * pg, 5 * pg, runs, &nr, &more));
	EXPECT_EQ(1, nr);
	EXPECT_EQ(0, more);
}

TEST_F(uapi, set_bad_input_changes_nothing)
{
	__u64 pg = self->pg, end = OBJ_PAGES * pg;
	const struct {
		__u64 addr, size, attrs, flags;
		const char *what;
	} bad[] = {
		{ 1, pg, MA_PRIVATE, 0, "unaligned address" },
		{ pg / 2, pg, MA_PRIVATE, 0, "half-page address" },
		{ 0, pg + 1, MA_PRIVATE, 0, "unaligned size" },
		{ 0, 0, MA_PRIVATE, 0, "size 0" },
		{ -pg, 2 * pg, MA_PRIVATE, 0, "address + size overflows" },
		{ 0, -pg, MA_PRIVATE, 0, "huge size" },
		{ end - pg, 2 * pg, MA_PRIVATE, 0, "runs past the end" },
		{ end, pg, MA_PRIVATE, 0, "starts at the end" },
		{ 0, pg, 1ULL << 0, 0, "attribute bit 0" },
		{ 0, pg, MA_PRIVATE | (1ULL << 4), 0, "attribute bit 4" },
		{ 0, pg, 1ULL << 63, 0, "attribute bit 63" },
		{ 0, pg, MA_PRIVATE, 1, "flags 1" },
		{ 0, pg, MA_PRIVATE, 1ULL << 63, "flags bit 63" },
	};
	long long conversions = ma_stat("conversions");
	struct memattr_attributes a;
	unsigned int i;

	ASSERT_EQ(0, ma_set_pages(self->fd, 0, 2, MA_PRIVATE));
	conversions = ma_stat("conversions");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		a = (struct memattr_attributes){
			bad[i].addr, bad[i].size, bad[i].attrs, bad[i].flags,
		};
		EXPECT_EQ(-1, ioctl(self->fd, MEMATTR_SET_ATTRIBUTES, &a))
			TH_LOG("%s accepted", bad[i].what);
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s: %s", bad[i].what,
						strerror(errno));
	}
	EXPECT_EQ(-1, ioctl(self->fd, MEMATTR_SET_ATTRIBUTES, NULL));
	EXPECT_EQ(EFAULT, errno);
	CHECK_RUNS(self->fd, 0, OBJ_PAGES, { 0, 2, MA_PRIVATE },
		   { 2, OBJ_PAGES - 2, 0 });
	EXPECT_EQ(conversions, ma_stat("conversions"));
}

TEST_F(uapi, get_bad_input)
{
	struct memattr_run runs[4];
	struct memattr_get_attributes g, ok = {
		.size = sizeof(g), .address = 0, .length = self->pg,
		.runs_ptr = (uintptr_t)runs, .nr_runs = 4,
	};
	struct {
		struct memattr_get_attributes g;
		__u64 tail;
	} big = { ok, 0 };

	g = ok;
	ASSERT_EQ(0, ioctl(self->fd, MEMATTR_GET_ATTRIBUTES, &g));
	EXPECT_EQ(1, g.nr_runs);

#define EXPECT_GET_ERR(err, field, value) do {				\
	g = ok;								\
	g.field = value;						\
	EXPECT_EQ(-1, ioctl(self->fd, MEMATTR_GET_ATTRIBUTES, &g))	\
		TH_LOG(#field " = " #value " accepted");		\
	EXPECT_EQ(err, errno) TH_LOG(#field " = " #value);		\
} while (0)
	EXPECT_GET_ERR(EINVAL, size, 8);
	EXPECT_GET_ERR(EINVAL, flags, 1);
	EXPECT_GET_ERR(EINVAL, out_flags, MEMATTR_GET_MORE);
	EXPECT_GET_ERR(EINVAL, address, 1);
	EXPECT_GET_ERR(EINVAL, length, 0);
	EXPECT_GET_ERR(EINVAL, length, 3);
	EXPECT_GET_ERR(EINVAL, length, (OBJ_PAGES + 1) * self->pg);
	EXPECT_GET_ERR(EINVAL, address, OBJ_PAGES * self->pg);
	EXPECT_GET_ERR(EFAULT, runs_ptr, 8);
#undef EXPECT_GET_ERR

	/* A bigger struct from a newer program: fine if the tail is zero. */
	big.g.size = sizeof(big);
	EXPECT_EQ(0, ioctl(self->fd, MEMATTR_GET_ATTRIBUTES, &big));
	big.g = ok;
	big.g.size = sizeof(big);
	big.tail = 1;
	EXPECT_EQ(-1, ioctl(self->fd, MEMATTR_GET_ATTRIBUTES, &big));
	EXPECT_EQ(E2BIG, errno);
}

TEST_F(uapi, unknown_ioctl)
{
	EXPECT_EQ(-1, ioctl(self->fd, MEMATTR_CREATE, NULL));
	EXPECT_EQ(ENOTTY, errno) TH_LOG("CREATE on an object fd");
	EXPECT_EQ(-1, ioctl(self->fd, _IO(MEMATTR_TYPE, 0x7f), NULL));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(create_bad_input)
{
	long long objects = ma_stat("objects");
	__u64 pg = ma_page();
	struct {
		struct memattr_create c;
		__u64 tail;
	} big = { { .size = sizeof(big), .object_size = pg }, 0 };
	struct memattr_create c;
	int dev, fd;

	ASSERT_LE(0, objects) TH_LOG("debugfs stats missing");
	EXPECT_EQ(-EINVAL, ma_create(0, 0)) TH_LOG("size 0");
	EXPECT_EQ(-EINVAL, ma_create(pg + 1, 0)) TH_LOG("unaligned size");
	EXPECT_EQ(-EINVAL, ma_create(pg, 1u << 1)) TH_LOG("unknown flag");
	EXPECT_EQ(-EINVAL, ma_create(pg, 1u << 31)) TH_LOG("flag bit 31");
	EXPECT_EQ(-E2BIG, ma_create(MEMATTR_MAX_OBJECT_SIZE + pg, 0));
	EXPECT_EQ(-E2BIG, ma_create(-pg, 0)) TH_LOG("size near 2^64");

	dev = open(MA_DEV, O_RDWR);
	ASSERT_LE(0, dev);
	c = (struct memattr_create){ .size = 8, .object_size = pg };
	EXPECT_EQ(-1, ioctl(dev, MEMATTR_CREATE, &c));
	EXPECT_EQ(EINVAL, errno) TH_LOG("struct size 8");
	EXPECT_EQ(-1, ioctl(dev, MEMATTR_CREATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	big.tail = 1;
	EXPECT_EQ(-1, ioctl(dev, MEMATTR_CREATE, &big));
	EXPECT_EQ(E2BIG, errno) TH_LOG("non-zero tail");
	EXPECT_EQ(-1, ioctl(dev, _IO(MEMATTR_TYPE, 0x7f), NULL));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(objects, ma_stat("objects")) TH_LOG("failed create left an object");

	/* Zero tail is fine; the largest object is fine and costs nothing. */
	big.tail = 0;
	fd = ioctl(dev, MEMATTR_CREATE, &big);
	ASSERT_LE(0, fd) TH_LOG("zero tail: %s", strerror(errno));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fd = ma_create(MEMATTR_MAX_OBJECT_SIZE, 0);
	ASSERT_LE(0, fd) TH_LOG("max size: %s", strerror(-fd));
	EXPECT_EQ(objects + 1, ma_stat("objects"));
	close(fd);
	close(dev);
	EXPECT_EQ(objects, ma_stat("objects"));
}

TEST(backend_unknown)
{
	ASSERT_EQ(0, ma_set_backend("no_such_backend"));
	EXPECT_EQ(-ENODEV, ma_create(ma_page(), 0));
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	EXPECT_EQ(0, ma_set_backend("none"));
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
}

TEST(root_only)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(MA_DEV, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("an unprivileged open was not refused with EACCES");
}

TEST_HARNESS_MAIN
