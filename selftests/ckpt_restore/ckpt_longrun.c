// SPDX-License-Identifier: GPL-2.0-only
/*
 * Long runs (image format v4): a densely filled VMA is dumped as one run
 * however long, and restored batch by batch (eager) or chunk by chunk on
 * first touch (lazy).  The run here is longer than two batches of the
 * module (512 pages), starts three pages into its VMA (so chunks and
 * batches are not aligned to the VMA) and ends with a partial chunk.
 * Corrupted chunks inside it and header counts that disagree with it are
 * refused with the process unchanged.
 */

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/ckpt")

#define LR_VMA		1400	/* pages of the VMA */
#define LR_FIRST	3	/* first filled page */
#define LR_PAGES	1388	/* filled pages: 2 batches + 364, 87 chunks */
#define LR_CHUNKS	((LR_PAGES + CKPT_CHUNK_PAGES - 1) / CKPT_CHUNK_PAGES)
#define LR_BAD_CHUNK	40	/* inside the run's second batch */

static char maps_before[1 << 20], maps_after[1 << 20];
/* Page @i of the VMA holds the pattern it was filled with. */
static int page_ok(const char *base, unsigned long i)
{
	if (i < LR_FIRST || i >= LR_FIRST + LR_PAGES)
		return ckpt_page_zero(base + i * PG);
	return ckpt_page_matches(base + i * PG, i);
}

/*
 * Open /dev/ckpt and a new image file, map LR_VMA pages at a free place
 * (shared anonymous memory if @shared, else private), fill pages
 * [LR_FIRST, @last), dump the VMA into the image and unmap it.
 * Returns 0 or -errno.
 */
static int lr_setup(int *dev, int *img, char **base, unsigned long last,
		    bool shared, struct ckpt_dump *d)
{
	unsigned long i;
	int ret;

	*dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	*img = ckpt_tmpfile();
	*base = ckpt_free_range(LR_VMA * PG);
	if (*dev < 0 || *img < 0 || !*base)
		return -ENODEV;
	if (mmap(*base, LR_VMA * PG, PROT_READ | PROT_WRITE,
		 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0) != *base)
		return -errno;
	for (i = LR_FIRST; i < last; i++)
		ckpt_fill_page(*base + i * PG, i);
	ret = ckpt_dump_range(*dev, *img, -1, *base, LR_VMA * PG, d);
	munmap(*base, LR_VMA * PG);
	return ret ? ret : d->nr_runs == 1 ? 0 : -EUCLEAN;
}

static void lr_teardown(int dev, int img, char *base)
{
	munmap(base, LR_VMA * PG);
	close(img);
	close(dev);
}

FIXTURE(longrun) {
	int dev;
	int img;
	char *base;
	struct ckpt_dump d;
};

FIXTURE_SETUP(longrun)
{
	int ret = lr_setup(&self->dev, &self->img, &self->base,
			   LR_FIRST + LR_PAGES, false, &self->d);

	ASSERT_EQ(0, ret) TH_LOG("dump of one long run: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(longrun)
{
	lr_teardown(self->dev, self->img, self->base);
}

/* The same image, restored in each mode. */
FIXTURE(lrmode) {
	int dev;
	int img;
	char *base;
	struct ckpt_dump d;
};

FIXTURE_VARIANT(lrmode) {
	unsigned int flags;
	bool shared;
};

FIXTURE_VARIANT_ADD(lrmode, eager) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(lrmode, verify_first) {
	.flags = CKPT_RESTORE_VERIFY_FIRST,
};

FIXTURE_VARIANT_ADD(lrmode, lazy) {
	.flags = CKPT_RESTORE_LAZY,
};

/* Shared memory is filled through the shmem file, batch by batch too. */
FIXTURE_VARIANT_ADD(lrmode, shared) {
	.flags = 0, .shared = true,
};

FIXTURE_SETUP(lrmode)
{
	int ret = lr_setup(&self->dev, &self->img, &self->base,
			   LR_FIRST + LR_PAGES, variant->shared, &self->d);

	ASSERT_EQ(0, ret) TH_LOG("dump of one long run: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(lrmode)
{
	lr_teardown(self->dev, self->img, self->base);
}

/* The dump and the image's header and tables: one run, all its chunks. */
TEST_F(longrun, dump_is_one_run)
{
	struct ckpt_uimage u;

	EXPECT_EQ(1, self->d.nr_vmas);
	EXPECT_EQ(1, self->d.nr_runs)
		TH_LOG("%d consecutive filled pages must be one run, got %llu runs",
		       LR_PAGES, (unsigned long long)self->d.nr_runs);
	EXPECT_EQ(LR_PAGES, self->d.nr_pages);
	ASSERT_EQ(0, ckpt_uimage_read(self->img, &u));
	EXPECT_EQ(CKPT_IMAGE_VERSION, u.hdr.version);
	EXPECT_EQ(1, u.hdr.nr_runs);
	EXPECT_EQ(LR_PAGES, u.hdr.nr_pages);
	EXPECT_EQ(LR_CHUNKS, u.hdr.nr_chunks)
		TH_LOG("one checksum per %d-page chunk of the run",
		       CKPT_CHUNK_PAGES);
	EXPECT_EQ((uintptr_t)self->base + LR_FIRST * PG, u.runs[0].start);
	EXPECT_EQ(LR_PAGES, u.runs[0].nr_pages);
	EXPECT_EQ(0, u.runs[0].chunk);
	EXPECT_EQ(0, u.runs[0].vma);
	EXPECT_EQ(0, u.runs[0].reserved);
	EXPECT_EQ(PG + LR_PAGES * PG + sizeof(struct ckpt_image_vma) +
		  sizeof(struct ckpt_image_run) + LR_CHUNKS * sizeof(__u64),
		  self->d.image_size)
		TH_LOG("contents, one VMA, one run and the checksums only");
	ckpt_uimage_free(&u);
}

/* Every page back, byte for byte; lazy pages touched last chunk first. */
TEST_F(lrmode, restore_exact)
{
	long fills0 = ckpt_stat("lazy_fills"), live0 = ckpt_stat("lazy_live");
	bool lazy = variant->flags & CKPT_RESTORE_LAZY;
	struct ckpt_restore r;
	unsigned long i;
	int wrong = 0;

	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, variant->flags, &r))
		TH_LOG("restore of a %d-page run: %s", LR_PAGES,
		       strerror(errno));
	EXPECT_EQ(lazy ? 0 : LR_PAGES, r.nr_pages);
	EXPECT_EQ(lazy ? LR_PAGES : 0, r.nr_lazy_pages);
	for (i = LR_VMA; i-- > 0;)
		wrong += !page_ok(self->base, i);
	EXPECT_EQ(0, wrong) TH_LOG("%d pages differ after restore", wrong);
	if (lazy) {
		EXPECT_EQ(fills0 + LR_PAGES, ckpt_stat("lazy_fills"))
			TH_LOG("each page of the run read once");
	}
	ASSERT_EQ(0, munmap(self->base, LR_VMA * PG));
	EXPECT_EQ(live0, ckpt_stat("lazy_live"));
}

/*
 * One byte flipped in a chunk in the run's second batch.  Eager restores
 * fail with EBADMSG and leave /proc/self/maps as it was; a lazy restore
 * succeeds and only that chunk's pages raise SIGBUS.
 */
TEST_F(lrmode, corrupt_chunk)
{
	struct sigaction sa = { .sa_handler = ckpt_on_sigbus }, old_sa;
	long undone0 = ckpt_stat("restores_undone");
	struct ckpt_restore r;
	int bad_pages = 0, wrong = 0;
	unsigned long i, k;
	unsigned char c;
	size_t a, b;
	off_t off;

	off = PG + (LR_BAD_CHUNK * CKPT_CHUNK_PAGES + 5) * PG + 77;
	ASSERT_EQ(1, pread(self->img, &c, 1, off));
	c ^= 0x01;
	ASSERT_EQ(1, pwrite(self->img, &c, 1, off));

	if (!(variant->flags & CKPT_RESTORE_LAZY)) {
		a = ckpt_read_maps(maps_before, sizeof(maps_before));
		EXPECT_EQ(-EBADMSG, ckpt_do_restore(self->dev, self->img,
						    variant->flags, &r));
		b = ckpt_read_maps(maps_after, sizeof(maps_after));
		EXPECT_EQ(a, b);
		EXPECT_EQ(0, memcmp(maps_before, maps_after, a))
			TH_LOG("the process must be as before the call");
		EXPECT_EQ(undone0 + !(variant->flags & CKPT_RESTORE_VERIFY_FIRST),
			  ckpt_stat("restores_undone"))
			TH_LOG("an eager fill unmaps; verify-first never maps");
		return;
	}

	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, variant->flags, &r));
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old_sa));
	for (i = 0; i < LR_VMA; i++) {
		k = i >= LR_FIRST ? (i - LR_FIRST) / CKPT_CHUNK_PAGES : 0;
		if (i >= LR_FIRST && k == LR_BAD_CHUNK)
			bad_pages += ckpt_touch_sigbus(self->base + i * PG);
		else if (ckpt_touch_sigbus(self->base + i * PG) ||
			 !page_ok(self->base, i))
			wrong++;
	}
	ASSERT_EQ(0, sigaction(SIGBUS, &old_sa, NULL));
	EXPECT_EQ(CKPT_CHUNK_PAGES, bad_pages)
		TH_LOG("every page of the bad chunk must raise SIGBUS");
	EXPECT_EQ(0, wrong) TH_LOG("pages of good chunks wrong or SIGBUS");
}

/*
 * One byte flipped in a chunk of the run's first batch.  An eager private
 * restore checks a batch while it reads the next one, so this mismatch is
 * found while the third batch is being prepared and the second batch's
 * check may still be running: it must still fail with EBADMSG and leave
 * /proc/self/maps as it was.
 */
TEST_F(longrun, corrupt_first_batch)
{
	long undone0 = ckpt_stat("restores_undone");
	struct ckpt_restore r;
	unsigned char c;
	size_t a, b;
	off_t off;

	off = PG + (3 * CKPT_CHUNK_PAGES + 9) * PG + 1000;
	ASSERT_EQ(1, pread(self->img, &c, 1, off));
	c ^= 0x80;
	ASSERT_EQ(1, pwrite(self->img, &c, 1, off));

	a = ckpt_read_maps(maps_before, sizeof(maps_before));
	EXPECT_EQ(-EBADMSG, ckpt_do_restore(self->dev, self->img, 0, &r))
		TH_LOG("a bad chunk in the first of three batches");
	b = ckpt_read_maps(maps_after, sizeof(maps_after));
	EXPECT_EQ(a, b);
	EXPECT_EQ(0, memcmp(maps_before, maps_after, a))
		TH_LOG("the process must be as before the call");
	EXPECT_EQ(undone0 + 1, ckpt_stat("restores_undone"))
		TH_LOG("the fill was undone");
}

/*
 * Lazy install bitmaps are kept per group of pages of the VMA, not per run.
 * The chunk holding VMA pages 499..514 spans two groups: after its first
 * touch a page of either group, discarded, must read back as zeroes (it was
 * installed once), not be filled from the image again.
 */
TEST_F(longrun, lazy_discard_across_groups)
{
	long fills0;
	struct ckpt_restore r;

	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, CKPT_RESTORE_LAZY,
				     &r));
	fills0 = ckpt_stat("lazy_fills");
	EXPECT_TRUE(page_ok(self->base, 510));
	EXPECT_EQ(fills0 + CKPT_CHUNK_PAGES, ckpt_stat("lazy_fills"))
		TH_LOG("the whole chunk goes in on first touch");
	EXPECT_TRUE(page_ok(self->base, 514)) TH_LOG("last page of the chunk");
	ASSERT_EQ(0, madvise(self->base + 511 * PG, 2 * PG, MADV_DONTNEED));
	EXPECT_TRUE(ckpt_page_zero(self->base + 511 * PG));
	EXPECT_TRUE(ckpt_page_zero(self->base + 512 * PG))
		TH_LOG("a discarded page of the second group reads as zeroes");
	EXPECT_EQ(fills0 + CKPT_CHUNK_PAGES, ckpt_stat("lazy_fills"))
		TH_LOG("nothing is read again");
	EXPECT_TRUE(page_ok(self->base, 515)) TH_LOG("next chunk");
}

enum lr_mutation {
	CHUNKS_MORE, CHUNKS_FEWER, RUN_PAST_VMA, RUN_HUGE, HDR_PAGES_HUGE,
	RUN_RESERVED, VERSION_3,
};

FIXTURE(lrbad) {
	int dev;
	int img;
	char *base;
};

FIXTURE_VARIANT(lrbad) {
	enum lr_mutation m;
	unsigned int flags;
};

/* A checksum more than the run has, with the file holding it. */
FIXTURE_VARIANT_ADD(lrbad, chunks_more) {
	.m = CHUNKS_MORE, .flags = CKPT_RESTORE_LAZY,
};

/* A checksum fewer than the run needs, the file cut to match. */
FIXTURE_VARIANT_ADD(lrbad, chunks_fewer) {
	.m = CHUNKS_FEWER, .flags = CKPT_RESTORE_LAZY,
};

/* The VMA one page shorter than the run. */
FIXTURE_VARIANT_ADD(lrbad, run_past_vma) {
	.m = RUN_PAST_VMA, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(lrbad, run_past_vma_eager) {
	.m = RUN_PAST_VMA,
};

FIXTURE_VARIANT_ADD(lrbad, run_huge) {
	.m = RUN_HUGE, .flags = CKPT_RESTORE_LAZY,
};

/* Header pages (and data size) beyond any address space and file. */
FIXTURE_VARIANT_ADD(lrbad, header_pages_huge) {
	.m = HDR_PAGES_HUGE, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(lrbad, run_reserved) {
	.m = RUN_RESERVED, .flags = CKPT_RESTORE_LAZY,
};

/* Version 3 capped runs at 512 pages with a 32-bit length. */
FIXTURE_VARIANT_ADD(lrbad, version_3) {
	.m = VERSION_3, .flags = CKPT_RESTORE_LAZY,
};

/* Filled up to the VMA's end, so a shorter VMA cuts the run. */
FIXTURE_SETUP(lrbad)
{
	struct ckpt_dump d;
	int ret = lr_setup(&self->dev, &self->img, &self->base, LR_VMA,
			   false, &d);

	ASSERT_EQ(0, ret) TH_LOG("dump of one long run: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(lrbad)
{
	lr_teardown(self->dev, self->img, self->base);
}

TEST_F(lrbad, refused_unchanged)
{
	struct ckpt_restore r;
	struct ckpt_uimage u;
	struct stat st;
	size_t a, b;
	int ret;

	ASSERT_EQ(0, fstat(self->img, &st));
	ASSERT_EQ(0, ckpt_uimage_read(self->img, &u));
	ASSERT_EQ(1, u.hdr.nr_runs);
	switch (variant->m) {
	case CHUNKS_MORE:
		u.hdr.nr_chunks++;
		ASSERT_EQ(0, ftruncate(self->img, st.st_size + sizeof(__u64)));
		break;
	case CHUNKS_FEWER:
		u.hdr.nr_chunks--;
		ASSERT_EQ(0, ftruncate(self->img, st.st_size - sizeof(__u64)));
		break;
	case RUN_PAST_VMA:
		u.vmas[0].end -= PG;
		break;
	case RUN_HUGE:
		u.runs[0].nr_pages = 1ULL << 40;
		break;
	case HDR_PAGES_HUGE:
		u.hdr.nr_pages = 1ULL << 50;
		u.hdr.data_size = u.hdr.nr_pages * PG;
		break;
	case RUN_RESERVED:
		u.runs[0].reserved = 1;
		break;
	case VERSION_3:
		u.hdr.version = 3;
		break;
	}
	ckpt_uimage_reseal(&u);
	if (variant->m == CHUNKS_MORE || variant->m == CHUNKS_FEWER) {
		/* Header only: the checksum table is what the file holds. */
		ASSERT_EQ(sizeof(u.hdr), pwrite(self->img, &u.hdr,
						sizeof(u.hdr), 0));
	} else {
		ASSERT_EQ(0, ckpt_uimage_write(self->img, &u));
	}
	ckpt_uimage_free(&u);

	a = ckpt_read_maps(maps_before, sizeof(maps_before));
	ret = ckpt_do_restore(self->dev, self->img, variant->flags, &r);
	b = ckpt_read_maps(maps_after, sizeof(maps_after));
	EXPECT_EQ(-EINVAL, ret) TH_LOG("got %s", strerror(-ret));
	EXPECT_EQ(a, b);
	EXPECT_EQ(0, memcmp(maps_before, maps_after, a))
		TH_LOG("the process must be as before the call");
}

TEST_HARNESS_MAIN
