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
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"
#include "vmk_sys.h"

VMK_REQUIRE("/dev/ckpt")

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

/*
 * A first touch reads its chunk with the mmap lock dropped and installs
 * it on the retried fault (an image on FUSE served by this process must
 * not be read under the lock its server's own faults need): one unlocked
 * read per chunk touched, and the chunk installed whole.
 */
TEST_F(lazy, first_touch_reads_unlocked)
{
	long reads0 = ckpt_stat("lazy_unlocked_reads");
	long fills0 = ckpt_stat("lazy_fills");
	unsigned long i;

	ASSERT_LE(0, reads0) TH_LOG("no lazy_unlocked_reads counter");
	EXPECT_TRUE(ckpt_page_matches(self->base + 17 * PG, 17));
	EXPECT_EQ(reads0 + 1, ckpt_stat("lazy_unlocked_reads"));
	/* Every fourth page is a hole: pages 16-18 are one run, one chunk. */
	EXPECT_EQ(fills0 + 3, ckpt_stat("lazy_fills"));
	for (i = 16; i < 20; i++)
		EXPECT_TRUE(has_data(i) ? ckpt_page_matches(self->base + i * PG, i) :
					  ckpt_page_zero(self->base + i * PG));
	EXPECT_EQ(reads0 + 1, ckpt_stat("lazy_unlocked_reads"))
		TH_LOG("the rest of the chunk was installed with it");
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

#define OWNER_TRIES	16
#define OWNER_PAGES	(2 * CKPT_CHUNK_PAGES)

/*
 * The child C of the restorer's child B, forked after the restorer A is
 * gone: page 1 was installed in A, then discarded in B, and the image is
 * kept (chunk 1 was never touched, and B got the VMA by fork), so C, which
 * never was the restoring process, must fill it from the image.  A process
 * taken for the restoring one (its mm allocated where A's was, the state
 * comparing by address) gets a page "installed once and discarded" and
 * reads zeroes instead.
 */
static int owner_grandchild(char *base)
{
	int status, bad = 0, i;
	pid_t pid;

	for (i = 0; i < OWNER_TRIES; i++) {
		pid = fork();
		if (pid < 0)
			return -1;
		if (!pid)
			_exit(ckpt_page_matches(base + PG, 1) ? 0 : 1);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return -1;
		bad += WEXITSTATUS(status);
	}
	return bad;
}

/*
 * The lazy state knows its restoring mm by address: it must hold that mm
 * (mmgrab) so that no mm allocated after the restorer exited can be at
 * that address and be taken for it.  All on one CPU, so that the mm
 * freed at the restorer's exit is the next one the slab hands out.
 */
TEST(lazy_owner_exits)
{
	cpu_set_t one;
	char *base;
	int dev, img, status, rfd, i;
	struct ckpt_restore r;
	struct ckpt_dump d;
	pid_t a;
	char c;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	img = ckpt_tmpfile();
	ASSERT_LE(0, img);
	/* Two chunks: the image is kept until both were touched. */
	base = mmap(NULL, OWNER_PAGES * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	for (i = 0; i < OWNER_PAGES; i++)
		ckpt_fill_page(base + i * PG, i);
	ASSERT_EQ(0, ckpt_dump_range(dev, img, -1, base, OWNER_PAGES * PG,
				     &d));
	ASSERT_EQ(0, munmap(base, OWNER_PAGES * PG));

	/* A restores and touches page 0 (chunk 0 is installed in A)... */
	a = ckpt_fork_pipe(&rfd, 1);
	ASSERT_LE(0, a);
	if (!a) {
		if (ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r) ||
		    !ckpt_page_matches(base, 0))
			_exit(2);
		/* ... forks B and exits: B is reparented to this process. */
		a = getpid();
		if (fork())
			_exit(0);
		/* A's mm was freed before B's reparenting. */
		while (getppid() == a)
			usleep(1000);
		if (madvise(base + PG, PG, MADV_DONTNEED))
			_exit(2);
		status = owner_grandchild(base);
		c = status < 0 ? 'e' : status ? 'z' : 'o';
		_exit(write(rfd, &c, 1) == 1 ? 0 : 2);
	}
	ASSERT_EQ(a, waitpid(a, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(1, read(rfd, &c, 1)) TH_LOG("B gave no answer");
	EXPECT_EQ('o', c)
		TH_LOG("%s", c == 'z' ?
		       "a later process read zeroes: taken for the restorer" :
		       "B failed");
	while (wait(&status) > 0)
		;
	close(rfd);
	close(img);
	close(dev);
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

/*
 * Executable VMAs: the lazy file lives on a pseudo filesystem, which newer
 * kernels make noexec, yet a lazily restored executable VMA must come back
 * executable exactly as an eager one does: same permissions in maps, same
 * contents, and code that runs, first touched by an instruction fetch.
 */
#define EX_PAGES	20	/* two chunks */
#define EX_FN2		(17 * PG + 0x100)	/* a function in the second chunk */
#define RW		(PROT_READ | PROT_WRITE)
#define RX		(PROT_READ | PROT_EXEC)
#define RWX		(PROT_READ | PROT_WRITE | PROT_EXEC)

#ifndef PR_SET_MDWE
#define PR_SET_MDWE			65
#define PR_MDWE_REFUSE_EXEC_GAIN	1UL
#endif

/* x86-64: mov eax, @v; ret */
static void put_ret(char *p, int v)
{
	p[0] = (char)0xb8;
	memcpy(p + 1, &v, sizeof(v));
	p[5] = (char)0xc3;
}

static int call_at(const char *p)
{
	return ((int (*)(void))p)();
}

/* A region of @pages pages with @prot, a function returning 42 at its start. */
static char *exec_region(size_t pages, int prot)
{
	char *p = mmap(NULL, pages * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return NULL;
	for (i = 0; i < pages; i++)
		ckpt_fill_page(p + i * PG, i);
	put_ret(p, 42);
	if (pages * PG > EX_FN2)
		put_ret(p + EX_FN2, 7);
	if (mprotect(p, pages * PG, prot)) {
		munmap(p, pages * PG);
		return NULL;
	}
	return p;
}

FIXTURE(exec) {
	int dev;
	int img;
	char *base;
	size_t len;
	char *saved;
	char maps_before[512];
	char maps_after[512];
};

FIXTURE_VARIANT(exec) {
	int prot;		/* of the dumped VMA */
	unsigned int flags;	/* CKPT_RESTORE_* */
};

FIXTURE_VARIANT_ADD(exec, rwx_lazy) { .prot = RWX, .flags = CKPT_RESTORE_LAZY };
FIXTURE_VARIANT_ADD(exec, rx_lazy) { .prot = RX, .flags = CKPT_RESTORE_LAZY };
FIXTURE_VARIANT_ADD(exec, rw_lazy) { .prot = RW, .flags = CKPT_RESTORE_LAZY };
FIXTURE_VARIANT_ADD(exec, rwx_eager) { .prot = RWX };
FIXTURE_VARIANT_ADD(exec, rx_eager) { .prot = RX };
FIXTURE_VARIANT_ADD(exec, rw_eager) { .prot = RW };

FIXTURE_SETUP(exec)
{
	struct ckpt_dump d;

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->img = ckpt_tmpfile();
	ASSERT_LE(0, self->img);
	self->len = EX_PAGES * PG;
	self->base = exec_region(EX_PAGES, variant->prot);
	ASSERT_NE(NULL, self->base);
	self->saved = malloc(self->len);
	ASSERT_NE(NULL, self->saved);
	memcpy(self->saved, self->base, self->len);
	ckpt_maps_in(self->base, self->len, self->maps_before,
		     sizeof(self->maps_before), 0);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, -1, self->base,
				     self->len, &d));
	ASSERT_EQ(1, d.nr_vmas);
	ASSERT_EQ(EX_PAGES, d.nr_pages);
	ASSERT_EQ(0, munmap(self->base, self->len));
}

FIXTURE_TEARDOWN(exec)
{
	munmap(self->base, self->len);
	free(self->saved);
	close(self->img);
	close(self->dev);
}

TEST_F(exec, restore_and_run)
{
	int lazy = !!(variant->flags & CKPT_RESTORE_LAZY);
	int exec = !!(variant->prot & PROT_EXEC);
	struct ckpt_restore r;
	char paths[512];
	int ret;

	ret = ckpt_do_restore(self->dev, self->img, variant->flags, &r);
	ASSERT_EQ(0, ret) TH_LOG("restore: %s", strerror(-ret));
	EXPECT_EQ(lazy, r.nr_lazy_vmas);
	EXPECT_EQ(lazy ? 0 : EX_PAGES, r.nr_pages);

	ckpt_maps_in(self->base, self->len, self->maps_after,
		     sizeof(self->maps_after), 0);
	EXPECT_STREQ(self->maps_before, self->maps_after);
	ckpt_maps_in(self->base, self->len, paths, sizeof(paths), 1);
	EXPECT_EQ(lazy, !!strstr(paths, "anon_inode:[ckpt_lazy]"))
		TH_LOG("%s", paths);

	if (exec) {
		/* Lazy: the first touch of each chunk is an instruction fetch. */
		EXPECT_EQ(7, call_at(self->base + EX_FN2));
		EXPECT_EQ(42, call_at(self->base));
	}
	EXPECT_EQ(0, memcmp(self->saved, self->base, self->len))
		TH_LOG("contents differ after restore");

	if (variant->prot == RWX) {
		/* A write copies the page; the copy is executable too. */
		put_ret(self->base + 3 * PG, 99);
		EXPECT_EQ(99, call_at(self->base + 3 * PG));
	}
	/* VM_MAYEXEC as for anonymous memory: mprotect() can give it back. */
	ASSERT_EQ(0, mprotect(self->base, self->len, PROT_READ));
	ASSERT_EQ(0, mprotect(self->base, self->len, variant->prot | PROT_EXEC))
		TH_LOG("mprotect(PROT_EXEC): %s", strerror(errno));
	EXPECT_EQ(42, call_at(self->base));
	EXPECT_EQ(7, call_at(self->base + EX_FN2));
}

/*
 * Under MDWE (no write+exec, no exec gained) a lazy restore grants no exec
 * that an eager one would not: a read-write-exec VMA is refused by both
 * with the same errno and nothing mapped, read-exec is allowed and runs,
 * and making it writable and executable afterwards is refused.
 */
TEST(exec_lazy_mdwe)
{
	char *rwx, *rx, maps[512];
	int dev, img_rwx, img_rx, eager, lazy;
	struct ckpt_restore r;
	struct ckpt_dump d;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	img_rwx = ckpt_tmpfile();
	img_rx = ckpt_tmpfile();
	ASSERT_LE(0, img_rwx);
	ASSERT_LE(0, img_rx);
	rwx = exec_region(2, RWX);
	rx = exec_region(2, RX);
	ASSERT_NE(NULL, rwx);
	ASSERT_NE(NULL, rx);
	ASSERT_EQ(0, ckpt_dump_range(dev, img_rwx, -1, rwx, 2 * PG, &d));
	ASSERT_EQ(0, ckpt_dump_range(dev, img_rx, -1, rx, 2 * PG, &d));
	ASSERT_EQ(0, munmap(rwx, 2 * PG));
	ASSERT_EQ(0, munmap(rx, 2 * PG));

	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0))
		SKIP(return, "no MDWE: %s", strerror(errno));

	eager = ckpt_do_restore(dev, img_rwx, 0, &r);
	lazy = ckpt_do_restore(dev, img_rwx, CKPT_RESTORE_LAZY, &r);
	EXPECT_EQ(-EACCES, eager);
	EXPECT_EQ(eager, lazy) TH_LOG("lazy: %s", strerror(-lazy));
	ckpt_maps_in(rwx, 2 * PG, maps, sizeof(maps), 0);
	EXPECT_STREQ("", maps);

	ASSERT_EQ(0, ckpt_do_restore(dev, img_rx, CKPT_RESTORE_LAZY, &r));
	EXPECT_EQ(1, r.nr_lazy_vmas);
	EXPECT_EQ(42, call_at(rx));
	EXPECT_EQ(-1, mprotect(rx, 2 * PG, RWX));
	EXPECT_EQ(EACCES, errno);
	ckpt_maps_in(rx, 2 * PG, maps, sizeof(maps), 0);
	EXPECT_NE(NULL, strstr(maps, " r-xp ")) TH_LOG("%s", maps);

	munmap(rx, 2 * PG);
	close(img_rx);
	close(img_rwx);
	close(dev);
}

/* Dumps of lazily restored VMAs: /dev/ckpt, an image, a dump's output. */
FIXTURE(ldump) {
	int dev, img, out;
};

FIXTURE_SETUP(ldump)
{
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	self->img = ckpt_tmpfile();
	self->out = ckpt_tmpfile();
	ASSERT_LE(0, self->dev);
	ASSERT_LE(0, self->img);
	ASSERT_LE(0, self->out);
}

FIXTURE_TEARDOWN(ldump)
{
	close(self->out);
	close(self->img);
	close(self->dev);
}

/*
 * Dump of a lazy VMA whose chunk BAD_CHUNK is corrupted and was never
 * touched: the dump must fail with EBADMSG, not take the chunk that a
 * read would get SIGBUS for as a hole and write zeroes in its place.
 */
TEST_F(ldump, corrupt_chunk_fails)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	unsigned char c;
	long bad0;
	off_t off;
	char *base;

	base = dump_one_run(self->dev, self->img);
	ASSERT_NE(NULL, base) TH_LOG("dump of one run of %d pages", CH_PAGES);
	off = PG + (BAD_CHUNK * CKPT_CHUNK_PAGES + 3) * PG + 123;
	ASSERT_EQ(1, pread(self->img, &c, 1, off));
	c ^= 0x20;
	ASSERT_EQ(1, pwrite(self->img, &c, 1, off));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, CKPT_RESTORE_LAZY,
				     &r));
	/* A good chunk touched first: present pages are dumped as they are. */
	EXPECT_TRUE(ckpt_page_matches(base + 2 * PG, 2));

	bad0 = ckpt_stat("lazy_bad_chunks");
	EXPECT_EQ(-EBADMSG, ckpt_dump_range(self->dev, self->out, -1, base,
					    CH_PAGES * PG, &d))
		TH_LOG("a chunk that fails its checksum is no hole");
	EXPECT_LT(bad0, ckpt_stat("lazy_bad_chunks"));
	/* What was written is no image. */
	EXPECT_EQ(-EINVAL, ckpt_do_restore(self->dev, self->out, 0, &r));
	ASSERT_EQ(0, munmap(base, CH_PAGES * PG));
}

#define BIG_PAGES	65536	/* 256 MiB */
#define BIG_DATA	16	/* pages with data, one every BIG_PAGES / 16 */
#define BIG_HOLE	5000	/* a page in no run, read before the dump */
#define BIG_ROUNDS	512	/* mmap lock round trips a dump may take */

static int big_has_data(unsigned long i)
{
	return i % (BIG_PAGES / BIG_DATA) == 7;
}

/* Pages of the big VMA that do not read as they should; @written too. */
static long big_wrong(const char *base, unsigned long written)
{
	unsigned long i;
	long wrong = 0;

	for (i = 0; i < BIG_PAGES; i++) {
		if (big_has_data(i) || i == written) {
			if (!ckpt_page_matches(base + i * PG, i))
				wrong++;
		} else if (!ckpt_page_zero(base + i * PG)) {
			wrong++;
		}
	}
	return wrong;
}

/*
 * A 256 MiB lazy VMA holding 16 pages, two of them touched, a third page
 * written and a page in no run read: dumping it faults nothing in (Rss
 * stays where it was: missing pages come from the image, pages in no run
 * are holes) and walks the VMA by range, not a page at a time (a bounded
 * number of mmap lock round trips, about 65536 with one GUP call per
 * page); reading every page of it maps the zero page for the holes (Rss
 * grows by the chunks read, not by 256 MiB); and the new image restores
 * exactly what a read of every page gives, untouched chunks included.
 */
TEST_F(ldump, stays_small)
{
	long before, after, rounds;
	struct ckpt_restore r;
	struct ckpt_dump d;
	unsigned long i;
	char *base;

	base = mmap(NULL, BIG_PAGES * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	for (i = 0; i < BIG_PAGES; i++)
		if (big_has_data(i))
			ckpt_fill_page(base + i * PG, i);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, -1, base,
				     BIG_PAGES * PG, &d));
	ASSERT_EQ(BIG_DATA, d.nr_pages);
	ASSERT_EQ(0, munmap(base, BIG_PAGES * PG));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, CKPT_RESTORE_LAZY,
				     &r));

	EXPECT_TRUE(ckpt_page_matches(base + 7 * PG, 7));
	EXPECT_TRUE(ckpt_page_matches(base + (BIG_PAGES / 2 + 7) * PG,
				      BIG_PAGES / 2 + 7));
	EXPECT_TRUE(ckpt_page_zero(base + BIG_HOLE * PG));
	ckpt_fill_page(base + 100 * PG, 100);
	before = vmk_status_pages("VmRSS");
	ASSERT_LT(0, before);
	rounds = ckpt_stat("dump_lock_rounds");
	ASSERT_LE(0, rounds);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->out, -1, base,
				     BIG_PAGES * PG, &d));
	rounds = ckpt_stat("dump_lock_rounds") - rounds;
	after = vmk_status_pages("VmRSS");
	EXPECT_EQ(BIG_DATA + 1, d.nr_pages) TH_LOG("16 pages with data, one written");
	EXPECT_GT(before + 256, after)
		TH_LOG("Rss went from %ld to %ld pages: the dump faulted pages in",
		       before, after);
	EXPECT_GE(BIG_ROUNDS, rounds)
		TH_LOG("%ld mmap lock round trips: not walked by range", rounds);

	/* Holes map the zero page: reading them all costs no memory. */
	EXPECT_EQ(0, big_wrong(base, 100))
		TH_LOG("the lazy VMA does not read as its image");
	after = vmk_status_pages("VmRSS");
	EXPECT_GT(before + 1024, after)
		TH_LOG("Rss went from %ld to %ld pages reading holes", before,
		       after);

	ASSERT_EQ(0, munmap(base, BIG_PAGES * PG));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->out, 0, &r));
	EXPECT_EQ(0, big_wrong(base, 100))
		TH_LOG("pages differ after lazy -> dump -> restore");
	ASSERT_EQ(0, munmap(base, BIG_PAGES * PG));
}

TEST_HARNESS_MAIN
