// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lazy restore: anonymous VMAs filled on first touch by the module's fault
 * handler.  Data must be right on first touch from several threads at
 * once, writes must land in private copies, the image must stay referenced
 * (even closed and unlinked) until every page was touched or the VMA is
 * unmapped, and fork must not lose untouched pages.  Contents are checked
 * one chunk at a time on first touch: a corrupted chunk gives SIGBUS for
 * its pages only.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"

#define LZ_PAGES	1024	/* 4 MiB */
#define NR_THREADS	4

/* Three of four pages hold data; every fourth is untouched. */
static int has_data(unsigned long i)
{
	return i % 4 != 3;
}

FIXTURE(lazy) {
	int dev;
	char *base;
	size_t len;
	long live0, images0;
	char path[64];
};

FIXTURE_VARIANT(lazy) {
	int unlink_image;	/* close and unlink the image before touching */
};

FIXTURE_VARIANT_ADD(lazy, image_open) { .unlink_image = 0 };
FIXTURE_VARIANT_ADD(lazy, image_unlinked) { .unlink_image = 1 };

FIXTURE_SETUP(lazy)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	unsigned long i;
	int img;

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->live0 = ckpt_stat("lazy_live");
	self->images0 = ckpt_stat("lazy_images");
	ASSERT_LE(0, self->live0) TH_LOG("debugfs counters not readable");

	self->len = LZ_PAGES * PG;
	self->base = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->base);
	for (i = 0; i < LZ_PAGES; i++)
		if (has_data(i))
			ckpt_fill_page(self->base + i * PG, i);

	snprintf(self->path, sizeof(self->path), "/tmp/ckpt_lazy_%d",
		 getpid());
	img = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, img);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, img, -1, self->base,
				     self->len, &d));
	ASSERT_EQ(LZ_PAGES / 4 * 3, d.nr_pages);
	ASSERT_EQ(0, munmap(self->base, self->len));

	ASSERT_EQ(0, ckpt_do_restore(self->dev, img, CKPT_RESTORE_LAZY, &r))
		TH_LOG("lazy restore: %s", strerror(errno));
	EXPECT_EQ(1, r.nr_lazy_vmas);
	EXPECT_EQ(0, r.nr_pages) TH_LOG("nothing is filled before first touch");
	EXPECT_EQ(LZ_PAGES / 4 * 3, r.nr_lazy_pages);
	EXPECT_EQ(self->live0 + 1, ckpt_stat("lazy_live"));
	EXPECT_EQ(self->images0 + 1, ckpt_stat("lazy_images"));
	close(img);
	if (variant->unlink_image)
		ASSERT_EQ(0, unlink(self->path));
}

FIXTURE_TEARDOWN(lazy)
{
	munmap(self->base, self->len);
	unlink(self->path);
	close(self->dev);
}

struct reader {
	char *base;
	int start;
	long bad;
};

/* Each thread starts at a different page and walks all of them. */
static void *read_all(void *arg)
{
	struct reader *rd = arg;
	unsigned long k, i;
	char *page;

	for (k = 0; k < LZ_PAGES; k++) {
		i = (k + rd->start) % LZ_PAGES;
		page = rd->base + i * PG;
		if (has_data(i) ? !ckpt_page_matches(page, i) :
				  !ckpt_page_zero(page))
			rd->bad++;
	}
	return NULL;
}

TEST_F(lazy, first_touch_from_threads)
{
	struct reader rd[NR_THREADS];
	pthread_t t[NR_THREADS];
	int i;

	for (i = 0; i < NR_THREADS; i++) {
		/* Two pairs start on the same page to race for it. */
		rd[i] = (struct reader){ self->base, (i / 2) * 97, 0 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, read_all, &rd[i]));
	}
	for (i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, rd[i].bad) TH_LOG("thread %d saw %ld wrong pages",
					       i, rd[i].bad);
	}
	EXPECT_EQ(self->images0, ckpt_stat("lazy_images"))
		TH_LOG("image must be released once every page was touched");
	EXPECT_EQ(self->live0 + 1, ckpt_stat("lazy_live"));
	/* A discarded page comes back as zeroes, like anonymous memory. */
	ASSERT_EQ(0, madvise(self->base, PG, MADV_DONTNEED));
	EXPECT_TRUE(ckpt_page_zero(self->base));
	ASSERT_EQ(0, munmap(self->base, self->len));
	self->base = NULL;
	EXPECT_EQ(self->live0, ckpt_stat("lazy_live"))
		TH_LOG("lazy state must go with the last mapping");
}

TEST_F(lazy, write_before_read_copies_page)
{
	char *page = self->base + 5 * PG;
	__u64 word = ckpt_pattern((uintptr_t)page + 96, 5);

	/* A pure store as first access: the rest of the page must be there. */
	page[100] = ((unsigned char *)&word)[4];
	EXPECT_TRUE(ckpt_page_matches(page, 5));
	page[100] ^= 1;
	EXPECT_FALSE(ckpt_page_matches(page, 5)) TH_LOG("write did not land");
	EXPECT_TRUE(ckpt_page_matches(self->base + 6 * PG, 6));
}

TEST_F(lazy, unmap_before_populated_drops_image)
{
	EXPECT_TRUE(ckpt_page_matches(self->base + 2 * PG, 2));
	EXPECT_EQ(self->images0 + 1, ckpt_stat("lazy_images"))
		TH_LOG("image still needed for untouched pages");
	ASSERT_EQ(0, munmap(self->base, self->len));
	self->base = NULL;
	EXPECT_EQ(self->images0, ckpt_stat("lazy_images"));
	EXPECT_EQ(self->live0, ckpt_stat("lazy_live"));
}

TEST_F(lazy, fork_before_populated)
{
	struct reader rd = { self->base, 0, 0 };
	int status;
	pid_t pid;

	/* Touch a few pages first so both processes share some. */
	EXPECT_TRUE(ckpt_page_matches(self->base, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		read_all(&rd);
		_exit(rd.bad ? 1 : 0);
	}
	read_all(&rd);
	EXPECT_EQ(0, rd.bad) TH_LOG("parent saw wrong pages");
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child saw wrong pages");
	ASSERT_EQ(0, munmap(self->base, self->len));
	self->base = NULL;
	EXPECT_EQ(self->images0, ckpt_stat("lazy_images"));
	EXPECT_EQ(self->live0, ckpt_stat("lazy_live"));
}

TEST_F(lazy, split_and_partial_unmap)
{
	/* mprotect splits the VMA; both parts keep filling correctly. */
	ASSERT_EQ(0, mprotect(self->base + 100 * PG, 10 * PG, PROT_READ));
	EXPECT_TRUE(ckpt_page_matches(self->base + 104 * PG, 104));
	ASSERT_EQ(0, munmap(self->base + 200 * PG, 100 * PG));
	EXPECT_TRUE(ckpt_page_matches(self->base + 300 * PG, 300));
	EXPECT_TRUE(ckpt_page_zero(self->base + 199 * PG))
		TH_LOG("a page in no run reads as zeroes");
	EXPECT_EQ(self->images0 + 1, ckpt_stat("lazy_images"));
}

/* A lazy VMA dumps like anonymous memory, faulting its pages in. */
TEST_F(lazy, dump_lazy_vma)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	unsigned long i;
	long bad = 0;
	int img = ckpt_tmpfile();

	ASSERT_LE(0, img);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, img, -1, self->base,
				     self->len, &d));
	EXPECT_EQ(1, d.nr_vmas);
	EXPECT_EQ(LZ_PAGES / 4 * 3, d.nr_pages)
		TH_LOG("only the pages with data, zero pages skipped");
	ASSERT_EQ(0, munmap(self->base, self->len));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, img, 0, &r));
	for (i = 0; i < LZ_PAGES; i++)
		if (has_data(i) ? !ckpt_page_matches(self->base + i * PG, i) :
				  !ckpt_page_zero(self->base + i * PG))
			bad++;
	EXPECT_EQ(0, bad) TH_LOG("pages differ after lazy -> dump -> restore");
	close(img);
}

#define CH_PAGES	(16 * CKPT_CHUNK_PAGES)	/* one run of 16 chunks */
#define BAD_CHUNK	5

/*
 * Fill CH_PAGES pages, dump them into @img as one run and unmap them.
 * Returns where they were, or NULL.
 */
static char *dump_one_run(int dev, int img)
{
	struct ckpt_dump d;
	unsigned long i;
	char *base;

	base = mmap(NULL, CH_PAGES * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	for (i = 0; i < CH_PAGES; i++)
		ckpt_fill_page(base + i * PG, i);
	if (ckpt_dump_range(dev, img, -1, base, CH_PAGES * PG, &d) ||
	    d.nr_runs != 1) {
		munmap(base, CH_PAGES * PG);
		return NULL;
	}
	munmap(base, CH_PAGES * PG);
	return base;
}

/*
 * One byte of chunk BAD_CHUNK is flipped in the image.  The lazy restore
 * call does not read contents, so it succeeds; the first touch of a chunk
 * installs all of its pages; every page of the bad chunk gives SIGBUS, on
 * every touch, and every other chunk reads back right.  Eager restores
 * refuse the same image.
 */
TEST(lazy_corrupt_chunk_sigbus)
{
	struct sigaction sa = { .sa_handler = ckpt_on_sigbus }, old_sa;
	long live0, fills0, bad0;
	struct ckpt_restore r;
	unsigned long i;
	unsigned char c;
	int dev, img, bad_pages = 0, wrong = 0;
	off_t off;
	char *base;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	live0 = ckpt_stat("lazy_live");
	base = dump_one_run(dev, img);
	ASSERT_NE(NULL, base) TH_LOG("dump of one run of %d pages", CH_PAGES);

	off = PG + (BAD_CHUNK * CKPT_CHUNK_PAGES + 3) * PG + 123;
	ASSERT_EQ(1, pread(img, &c, 1, off));
	c ^= 0x20;
	ASSERT_EQ(1, pwrite(img, &c, 1, off));

	EXPECT_EQ(-EBADMSG, ckpt_do_restore(dev, img, 0, &r))
		TH_LOG("eager restore must check every chunk");
	EXPECT_EQ(-EBADMSG, ckpt_do_restore(dev, img,
					    CKPT_RESTORE_LAZY |
					    CKPT_RESTORE_VERIFY_FIRST, &r));

	fills0 = ckpt_stat("lazy_fills");
	bad0 = ckpt_stat("lazy_bad_chunks");
	ASSERT_EQ(0, ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r))
		TH_LOG("lazy restore reads no contents: %s", strerror(errno));
	EXPECT_EQ(CH_PAGES, r.nr_lazy_pages);
	EXPECT_EQ(fills0, ckpt_stat("lazy_fills"));

	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old_sa));
	/* A good chunk: one fault installs all of its pages. */
	EXPECT_TRUE(ckpt_page_matches(base + 2 * PG, 2));
	EXPECT_EQ(fills0 + CKPT_CHUNK_PAGES, ckpt_stat("lazy_fills"))
		TH_LOG("the whole chunk goes in on first touch");
	for (i = 0; i < CKPT_CHUNK_PAGES; i++)
		bad_pages += ckpt_touch_sigbus(base + (BAD_CHUNK * CKPT_CHUNK_PAGES + i) * PG);
	EXPECT_EQ(CKPT_CHUNK_PAGES, bad_pages)
		TH_LOG("every page of the bad chunk must raise SIGBUS");
	EXPECT_EQ(bad0 + CKPT_CHUNK_PAGES, ckpt_stat("lazy_bad_chunks"))
		TH_LOG("one failed check per touch, nothing installed");
	for (i = 0; i < CH_PAGES; i++) {
		if (i / CKPT_CHUNK_PAGES == BAD_CHUNK)
			continue;
		if (ckpt_touch_sigbus(base + i * PG) ||
		    !ckpt_page_matches(base + i * PG, i))
			wrong++;
	}
	EXPECT_EQ(0, wrong) TH_LOG("pages of good chunks wrong or SIGBUS");
	EXPECT_EQ(1, ckpt_touch_sigbus(base + BAD_CHUNK * CKPT_CHUNK_PAGES * PG))
		TH_LOG("the bad chunk stays bad");
	ASSERT_EQ(0, sigaction(SIGBUS, &old_sa, NULL));
	EXPECT_EQ(fills0 + CH_PAGES - CKPT_CHUNK_PAGES, ckpt_stat("lazy_fills"));

	ASSERT_EQ(0, munmap(base, CH_PAGES * PG));
	EXPECT_EQ(live0, ckpt_stat("lazy_live"))
		TH_LOG("lazy state and image must go with the mapping");
	close(img);
	close(dev);
}

#define TRUNC_CHUNK	9

/*
 * The image shrinks after a lazy restore, ending inside chunk TRUNC_CHUNK:
 * reading that chunk comes up short and then hits the end of the file,
 * later chunks are gone, and so is the checksum table, so every first
 * touch raises SIGBUS and installs nothing.  Each touch reads afresh: once
 * the image is whole again every page reads back right and the image is
 * released after the last one.
 */
TEST(lazy_image_truncated_after_restore)
{
	struct sigaction sa = { .sa_handler = ckpt_on_sigbus }, old_sa;
	long fills0, images0;
	struct ckpt_restore r;
	int dev, img, wrong = 0;
	unsigned long i;
	struct stat st;
	char *base, *orig;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	base = dump_one_run(dev, img);
	ASSERT_NE(NULL, base) TH_LOG("dump of one run of %d pages", CH_PAGES);

	images0 = ckpt_stat("lazy_images");
	ASSERT_EQ(0, ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r))
		TH_LOG("lazy restore: %s", strerror(errno));
	/* A copy of the image, allocated once its range is taken again. */
	ASSERT_EQ(0, fstat(img, &st));
	orig = malloc(st.st_size);
	ASSERT_NE(NULL, orig);
	ASSERT_EQ(st.st_size, pread(img, orig, st.st_size, 0));
	fills0 = ckpt_stat("lazy_fills");
	ASSERT_EQ(0, ftruncate(img, PG + (TRUNC_CHUNK * CKPT_CHUNK_PAGES + 3) *
			       PG + 100));

	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old_sa));
	EXPECT_EQ(1, ckpt_touch_sigbus(base + (TRUNC_CHUNK * CKPT_CHUNK_PAGES + 1) * PG))
		TH_LOG("a chunk cut by the end of the file must raise SIGBUS");
	EXPECT_EQ(1, ckpt_touch_sigbus(base))
		TH_LOG("a whole chunk whose checksum is gone must raise SIGBUS");
	EXPECT_EQ(1, ckpt_touch_sigbus(base + (CH_PAGES - 1) * PG))
		TH_LOG("a chunk past the end of the file must raise SIGBUS");
	EXPECT_EQ(fills0, ckpt_stat("lazy_fills"))
		TH_LOG("nothing of an unreadable chunk may be installed");

	ASSERT_EQ(st.st_size, pwrite(img, orig, st.st_size, 0));
	for (i = 0; i < CH_PAGES; i++)
		if (ckpt_touch_sigbus(base + i * PG) ||
		    !ckpt_page_matches(base + i * PG, i))
			wrong++;
	ASSERT_EQ(0, sigaction(SIGBUS, &old_sa, NULL));
	EXPECT_EQ(0, wrong) TH_LOG("pages wrong or SIGBUS after the image came back");
	EXPECT_EQ(fills0 + CH_PAGES, ckpt_stat("lazy_fills"));
	EXPECT_EQ(images0, ckpt_stat("lazy_images"))
		TH_LOG("the image goes once every page is in");

	ASSERT_EQ(0, munmap(base, CH_PAGES * PG));
	free(orig);
	close(img);
	close(dev);
}

TEST_HARNESS_MAIN
