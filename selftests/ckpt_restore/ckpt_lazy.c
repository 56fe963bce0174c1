// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lazy restore: anonymous VMAs filled on first touch by the module's fault
 * handler.  Data must be right on first touch from several threads at
 * once, writes must land in private copies, the image must stay referenced
 * (even closed and unlinked) until every page was touched or the VMA is
 * unmapped, and fork must not lose untouched pages.
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

TEST_HARNESS_MAIN
