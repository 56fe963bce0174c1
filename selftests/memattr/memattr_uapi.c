// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr uAPI: object creation, SET/GET round trips and run merging, GET on
 * every boundary, and every bad input rejected with nothing changed.  Each
 * test runs against the range store and the per-GFN baseline.
 */
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

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

#define MODEL_PAGES 2048

/* GET the whole object and compare it, and the store's entries, to @model. */
static void check_model(struct __test_metadata *_metadata, int fd,
			const char *model, struct memattr_run *runs,
			const char *count, long long base, bool per_gfn)
{
	__u64 pg = ma_page(), page = 0;
	long long entries = 0;
	__u32 nr = MODEL_PAGES, i;
	int more = -1;

	ASSERT_EQ(0, ma_get(fd, 0, MODEL_PAGES * pg, runs, &nr, &more));
	ASSERT_EQ(0, more);
	for (i = 0; i < nr; i++) {
		__u64 first = runs[i].address / pg, n = runs[i].size / pg, j;

		ASSERT_EQ(page, first) TH_LOG("run %u starts at page %llu", i, first);
		ASSERT_LT(0, n) TH_LOG("run %u is empty", i);
		for (j = first; j < first + n; j++) {
			ASSERT_EQ(model[j] ? MA_PRIVATE : 0, runs[i].attributes)
				TH_LOG("page %llu: wrong attributes", j);
		}
		/* Maximal runs: the next page differs. */
		if (first + n < MODEL_PAGES) {
			ASSERT_NE(model[first], model[first + n])
				TH_LOG("run %u ends inside a run at page %llu", i,
				       first + n);
		}
		if (runs[i].attributes)
			entries += per_gfn ? n : 1;
		page = first + n;
	}
	ASSERT_EQ(MODEL_PAGES, page) TH_LOG("runs end at page %llu", page);
	ASSERT_EQ(base + entries, ma_stat(count))
		TH_LOG("store entries differ from the private runs");
}

/*
 * Random conversions over a striped object, deep enough for a multi-level
 * tree: single pages (merging with, splitting and filling between
 * neighbours), short ranges and long ones spanning many runs, at the object's
 * edges too.  GET and the store's entry count must match a model throughout.
 */
TEST_F(uapi, random_conversions_match_model)
{
	static char model[MODEL_PAGES];
	struct memattr_run *runs = calloc(MODEL_PAGES, sizeof(*runs));
	long long base = ma_stat(variant->count);
	unsigned int seed = 0x3a77, step;
	__u64 first, nr, attrs;
	int fd;

	ASSERT_NE(NULL, runs);
	fd = ma_create(MODEL_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-fd));
	for (first = 0; first < MODEL_PAGES; first += 2) {
		ASSERT_EQ(0, ma_set_pages(fd, first, 1, MA_PRIVATE));
		model[first] = 1;
	}
	check_model(_metadata, fd, model, runs, variant->count, base,
		    variant->flags);
	for (step = 0; step < 4000; step++) {
		unsigned int kind = rand_r(&seed) % 20;

		first = rand_r(&seed) % MODEL_PAGES;
		if (kind < 14)
			nr = 1;
		else if (kind < 19)
			nr = 1 + rand_r(&seed) % 16;
		else
			nr = 1 + rand_r(&seed) % MODEL_PAGES;
		if (kind == 13)
			first = step & 1 ? 0 : MODEL_PAGES - 1;
		if (first + nr > MODEL_PAGES)
			nr = MODEL_PAGES - first;
		attrs = rand_r(&seed) & 1 ? MA_PRIVATE : 0;
		ASSERT_EQ(0, ma_set_pages(fd, first, nr, attrs))
			TH_LOG("step %u: [%llu, +%llu)", step, first, nr);
		memset(model + first, !!attrs, nr);
		if (step % 200 == 199)
			check_model(_metadata, fd, model, runs, variant->count,
				    base, variant->flags);
	}
	check_model(_metadata, fd, model, runs, variant->count, base,
		    variant->flags);
	close(fd);
	EXPECT_EQ(base, ma_stat(variant->count)) TH_LOG("entries left after close");
	free(runs);
}

/* Set [first, first + nr) to @attrs in the object and in @model. */
static int set_model(int fd, char *model, __u64 first, __u64 nr, __u64 attrs)
{
	memset(model + first, !!attrs, nr);
	return ma_set_pages(fd, first, nr, attrs);
}

#define CHECK_MODEL() check_model(_metadata, fd, model, runs,		\
				  variant->count, base, variant->flags)

/*
 * Patterns that reach every way the range store reshapes its leaves of runs
 * (20 runs a leaf): runs added in order (leaves left full) and in reverse
 * order between the runs of full leaves (split in halves), neighbours merged
 * on both sides, a run split in the middle, conversions removing whole
 * leaves of runs, removals leaving leaves nearly empty (folded into a
 * neighbour), and full leaves handing a run to a neighbour with room.  GET
 * and the entry count must match a model after each pattern; the per-GFN
 * store must match it too.
 */
TEST_F(uapi, leaf_patterns_match_model)
{
	static char model[MODEL_PAGES];
	struct memattr_run *runs = calloc(MODEL_PAGES, sizeof(*runs));
	long long base = ma_stat(variant->count);
	__u64 p, nr;
	int fd, k;

	ASSERT_NE(NULL, runs);
	fd = ma_create(MODEL_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-fd));

	for (p = 0; p < MODEL_PAGES; p += 4)
		ASSERT_EQ(0, set_model(fd, model, p, 1, MA_PRIVATE));
	CHECK_MODEL();
	for (k = MODEL_PAGES - 6; k >= 0; k -= 8)
		ASSERT_EQ(0, set_model(fd, model, k, 1, MA_PRIVATE));
	CHECK_MODEL();
	/* Both neighbours merge: [p, p + 3) for p = 0 mod 8. */
	for (p = 1; p < MODEL_PAGES; p += 8)
		ASSERT_EQ(0, set_model(fd, model, p, 1, MA_PRIVATE));
	CHECK_MODEL();
	/* Split in the middle: [p, p + 1) and [p + 2, p + 3) again. */
	for (p = 1; p < MODEL_PAGES; p += 8)
		ASSERT_EQ(0, set_model(fd, model, p, 1, 0));
	CHECK_MODEL();
	/* One run over several leaves of runs, then a hole in its middle. */
	ASSERT_EQ(0, set_model(fd, model, 3, 700, MA_PRIVATE));
	CHECK_MODEL();
	ASSERT_EQ(0, set_model(fd, model, 350, 1, 0));
	CHECK_MODEL();
	/* Remove hundreds of runs and whole leaves at once. */
	ASSERT_EQ(0, set_model(fd, model, 701, 1200, 0));
	CHECK_MODEL();
	/* Stripes again, then holes leaving leaves nearly empty. */
	for (p = 0; p < MODEL_PAGES; p += 2)
		ASSERT_EQ(0, set_model(fd, model, p, 1, MA_PRIVATE));
	for (p = 0; p + 48 <= MODEL_PAGES; p += 48)
		ASSERT_EQ(0, set_model(fd, model, p + 5, 36, 0));
	CHECK_MODEL();
	for (p = 7; p < MODEL_PAGES; p += 97) {
		nr = 60 - p % 50;
		if (p + nr > MODEL_PAGES)
			nr = MODEL_PAGES - p;
		ASSERT_EQ(0, set_model(fd, model, p, nr, p & 1 ? MA_PRIVATE : 0));
	}
	CHECK_MODEL();

	/*
	 * A full leaf hands a run to a neighbour with room.  In-order stripes
	 * fill leaves of 20 runs: pages 0-76, 80-156, 160-236, 240-316...  The
	 * first leaf loses its last 5 runs, then a run goes just before the
	 * second leaf's first.  The third leaf's last run grows to 3 pages and
	 * the fourth leaf loses 3 runs, then a hole splits that grown run.
	 */
	ASSERT_EQ(0, set_model(fd, model, 0, MODEL_PAGES, 0));
	for (p = 0; p < MODEL_PAGES; p += 4)
		ASSERT_EQ(0, set_model(fd, model, p, 1, MA_PRIVATE));
	ASSERT_EQ(0, set_model(fd, model, 60, 20, 0));
	ASSERT_EQ(0, set_model(fd, model, 78, 1, MA_PRIVATE));
	CHECK_MODEL();
	ASSERT_EQ(0, set_model(fd, model, 237, 2, MA_PRIVATE));
	ASSERT_EQ(0, set_model(fd, model, 244, 12, 0));
	ASSERT_EQ(0, set_model(fd, model, 237, 1, 0));
	CHECK_MODEL();
	ASSERT_EQ(0, set_model(fd, model, 0, MODEL_PAGES, 0));
	CHECK_MODEL();
	close(fd);
	EXPECT_EQ(base, ma_stat(variant->count)) TH_LOG("entries left after close");
	free(runs);
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
	/* The command is the whole number: direction and size included. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO(MEMATTR_TYPE, 0x02), NULL));
	EXPECT_EQ(ENOTTY, errno) TH_LOG("GET without its direction and size");
	EXPECT_EQ(-1, ioctl(self->fd, _IO(MEMATTR_TYPE, 0x01), NULL));
	EXPECT_EQ(ENOTTY, errno) TH_LOG("SET without its direction and size");
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
	EXPECT_EQ(-1, ioctl(dev, _IO(MEMATTR_TYPE, 0x00), &c));
	EXPECT_EQ(ENOTTY, errno) TH_LOG("CREATE without its direction and size");
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

/*
 * Struct sizes are capped at PAGE_SIZE, as openat2() and clone3() do: a
 * zero tail up to there is accepted, one byte more is E2BIG, whatever it
 * holds, so the kernel never scans gigabytes of user memory for zeroes.
 */
TEST(struct_size_capped_at_page_size)
{
	__u64 pg = ma_page();
	struct memattr_get_attributes *g;
	struct memattr_create *c;
	struct memattr_run run;
	char *buf;
	int dev, fd;

	buf = calloc(1, 2 * pg);
	ASSERT_NE(NULL, buf);
	dev = open(MA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);

	c = (struct memattr_create *)buf;
	c->size = pg;
	c->object_size = pg;
	fd = ioctl(dev, MEMATTR_CREATE, c);
	ASSERT_LE(0, fd) TH_LOG("size PAGE_SIZE, zero tail: %s", strerror(errno));
	c->size = pg + 1;
	EXPECT_EQ(-1, ioctl(dev, MEMATTR_CREATE, c)) TH_LOG("size PAGE_SIZE + 1");
	EXPECT_EQ(E2BIG, errno);
	c->size = 0xffffffffu;
	EXPECT_EQ(-1, ioctl(dev, MEMATTR_CREATE, c)) TH_LOG("size 4 GiB - 1");
	EXPECT_EQ(E2BIG, errno);

	memset(buf, 0, 2 * pg);
	g = (struct memattr_get_attributes *)buf;
	g->size = pg;
	g->length = pg;
	g->runs_ptr = (uintptr_t)&run;
	g->nr_runs = 1;
	EXPECT_EQ(0, ioctl(fd, MEMATTR_GET_ATTRIBUTES, g))
		TH_LOG("size PAGE_SIZE, zero tail: %s", strerror(errno));
	g->size = pg + 1;
	EXPECT_EQ(-1, ioctl(fd, MEMATTR_GET_ATTRIBUTES, g)) TH_LOG("PAGE_SIZE + 1");
	EXPECT_EQ(E2BIG, errno);
	g->size = 0xffffffffu;
	EXPECT_EQ(-1, ioctl(fd, MEMATTR_GET_ATTRIBUTES, g)) TH_LOG("4 GiB - 1");
	EXPECT_EQ(E2BIG, errno);
	close(fd);
	close(dev);
	free(buf);
}

TEST(backend_unknown)
{
	ASSERT_EQ(0, ma_set_backend("no_such_backend"));
	EXPECT_EQ(-ENODEV, ma_create(ma_page(), 0));
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	EXPECT_EQ(0, ma_set_backend("none"));
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
}

/*
 * /dev/memattr is root only twice over: mode 0600, and CAP_SYS_ADMIN checked
 * at open.  Each test forks a child that drops privileges and tries to open
 * the device; the fixture restores the node's mode.
 */
FIXTURE(root_only) {
	mode_t mode;
};

FIXTURE_SETUP(root_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(MA_DEV, &st)) TH_LOG("stat %s: %s", MA_DEV, strerror(errno));
	self->mode = st.st_mode & 07777;
	ASSERT_EQ(0600, self->mode) TH_LOG("%s has mode %o", MA_DEV, self->mode);
}

FIXTURE_TEARDOWN(root_only)
{
	chmod(MA_DEV, self->mode);
}

enum drop { DROP_NOTHING, DROP_TO_NOBODY, DROP_CAP_SYS_ADMIN };

/* Become nobody, or stay uid 0 without CAP_SYS_ADMIN; 0 on success. */
static int drop_privileges(enum drop how)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (how == DROP_NOTHING)
		return 0;
	if (how == DROP_TO_NOBODY)
		return setgid(65534) || setuid(65534) ? -1 : 0;
	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].permitted &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

/* errno of open(/dev/memattr) in a child that dropped privileges @how. */
static int open_errno_after(struct __test_metadata *_metadata, enum drop how)
{
	int status, fd;
	pid_t pid = fork();

	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (!pid) {
		if (drop_privileges(how))
			_exit(255);
		fd = open(MA_DEV, O_RDWR);
		_exit(fd >= 0 ? 0 : errno);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NE(255, WEXITSTATUS(status)) TH_LOG("could not drop privileges");
	return WEXITSTATUS(status);
}

TEST_F(root_only, nobody_refused_by_mode)
{
	EXPECT_EQ(EACCES, open_errno_after(_metadata, DROP_TO_NOBODY))
		TH_LOG("open as nobody with mode 0600 not refused with EACCES");
}

TEST_F(root_only, nobody_refused_even_with_mode_0666)
{
	ASSERT_EQ(0, chmod(MA_DEV, 0666));
	EXPECT_EQ(EPERM, open_errno_after(_metadata, DROP_TO_NOBODY))
		TH_LOG("open as nobody with mode 0666 not refused with EPERM");
}

TEST_F(root_only, root_without_cap_sys_admin_refused)
{
	EXPECT_EQ(EPERM, open_errno_after(_metadata, DROP_CAP_SYS_ADMIN))
		TH_LOG("open by uid 0 without CAP_SYS_ADMIN not refused with EPERM");
	/* The same process with the capability gets in. */
	EXPECT_EQ(0, open_errno_after(_metadata, DROP_NOTHING))
		TH_LOG("open with CAP_SYS_ADMIN refused");
}

TEST_HARNESS_MAIN
