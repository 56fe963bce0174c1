// SPDX-License-Identifier: GPL-2.0-only
/*
 * Eager restores share a VMA's batches (512 pages each) between the
 * restoring task and a helper work item on another CPU, each populating,
 * reading and checking the batches it takes.  Whichever of them fails a
 * batch, and however they raced, the restore must return the error of
 * the first failing batch in image order and leave the process as it was;
 * a restore killed on the way must unwind too.
 */
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/ckpt")

#define FB_BATCH	512			/* CKPT_BATCH_PAGES */
#define FB_BATCHES	8
#define FB_PAGES	(FB_BATCHES * FB_BATCH)
#define FB_KILL_PAGES	(64 * FB_BATCH)		/* 128 MiB */

static char maps_before[1 << 20], maps_after[1 << 20];

/* Image offset of byte @byte of page @page of a one-run image. */
static off_t fb_pos(unsigned long page, unsigned long byte)
{
	return PG + page * PG + byte;
}

/* Flip one bit of the image at @off. */
static int fb_flip(int img, off_t off)
{
	unsigned char c;

	if (pread(img, &c, 1, off) != 1)
		return -1;
	c ^= 0x10;
	return pwrite(img, &c, 1, off) == 1 ? 0 : -1;
}

/*
 * Restore @img expecting @err with /proc/self/maps unchanged and one more
 * undone restore; 0 if all of that held.
 */
static int fb_restore_fails(struct __test_metadata *_metadata, int dev,
			    int img, int err, const char *what)
{
	long undone0 = ckpt_stat("restores_undone");
	struct ckpt_restore r;
	size_t a, b;
	int ret;

	a = ckpt_read_maps(maps_before, sizeof(maps_before));
	ret = ckpt_do_restore(dev, img, 0, &r);
	b = ckpt_read_maps(maps_after, sizeof(maps_after));
	EXPECT_EQ(-err, ret) TH_LOG("%s: restore returned %d", what, ret);
	EXPECT_EQ(a, b) TH_LOG("%s: maps changed", what);
	EXPECT_EQ(0, memcmp(maps_before, maps_after, a))
		TH_LOG("%s: the process must be as before the call", what);
	EXPECT_EQ(undone0 + 1, ckpt_stat("restores_undone"))
		TH_LOG("%s: the filled VMA must have been unmapped", what);
	return ret == -err && a == b && !memcmp(maps_before, maps_after, a) ?
	       0 : -1;
}

/* FB_PAGES written private anonymous pages, dumped as one run. */
FIXTURE(fill) {
	int dev;
	int img;
	char *base;
};

FIXTURE_SETUP(fill)
{
	struct ckpt_dump d;
	unsigned long i;

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	self->img = ckpt_tmpfile();
	self->base = ckpt_free_range(FB_PAGES * PG);
	ASSERT_LE(0, self->dev);
	ASSERT_LE(0, self->img);
	ASSERT_NE(NULL, self->base);
	ASSERT_EQ(self->base, mmap(self->base, FB_PAGES * PG,
				   PROT_READ | PROT_WRITE, MAP_PRIVATE |
				   MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	for (i = 0; i < FB_PAGES; i++)
		ckpt_fill_page(self->base + i * PG, i);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, -1, self->base,
				     FB_PAGES * PG, &d));
	ASSERT_EQ(1, d.nr_runs) TH_LOG("dense memory dumps as one run");
	ASSERT_EQ(0, munmap(self->base, FB_PAGES * PG));
}

FIXTURE_TEARDOWN(fill)
{
	munmap(self->base, FB_PAGES * PG);
	close(self->img);
	close(self->dev);
}

/*
 * A corrupted chunk in each batch in turn, whichever filler takes it:
 * EBADMSG with the process unchanged; then the repaired image restores
 * byte-exact.  Over these restores the helper must have filled batches.
 */
TEST_F(fill, corrupt_each_batch)
{
	long fill0 = ckpt_stat("fill_pages");
	long helper0 = ckpt_stat("fill_pages_helper");
	struct ckpt_restore r;
	unsigned long i, bad = 0;
	char what[64];
	off_t off;
	int k;

	for (k = 0; k < FB_BATCHES; k++) {
		/* A different chunk of each batch, never its first. */
		off = fb_pos(k * FB_BATCH + 16 * (k + 1) + 7, 1000 + k);
		ASSERT_EQ(0, fb_flip(self->img, off));
		snprintf(what, sizeof(what), "bad chunk in batch %d", k);
		fb_restore_fails(_metadata, self->dev, self->img, EBADMSG,
				 what);
		ASSERT_EQ(0, fb_flip(self->img, off));
	}
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, 0, &r));
	EXPECT_EQ(FB_PAGES, r.nr_pages);
	for (i = 0; i < FB_PAGES; i++)
		bad += !ckpt_page_matches(self->base + i * PG, i);
	EXPECT_EQ(0, bad) TH_LOG("pages wrong after the repaired restore");
	EXPECT_LE(fill0 + FB_PAGES, ckpt_stat("fill_pages"));
	EXPECT_LT(helper0, ckpt_stat("fill_pages_helper"))
		TH_LOG("the helper filled none of %d restores' batches",
		       FB_BATCHES + 1);
	TH_LOG("helper filled %ld of %ld pages",
	       ckpt_stat("fill_pages_helper") - helper0,
	       ckpt_stat("fill_pages") - fill0);
}

/* The first CPU of NUMA node @node, or -1. */
static int fb_node_cpu(int node)
{
	char path[64];
	int cpu = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &cpu) != 1)
		cpu = -1;
	fclose(f);
	return cpu;
}

/*
 * The restoring task's memory policy holds for every page, also those the
 * helper populates: with MPOL_BIND to @node, every restored page is on
 * @node.  The task runs on a CPU of the other node, where an unbound
 * work item it queues runs too (its pod), so a helper allocating by its
 * own policy (local to its CPU) puts pages there; both nodes are tried.
 */
static void fb_bind_restore(struct __test_metadata *_metadata, int dev,
			    int img, char *base, int node)
{
	static void *pages[FB_PAGES];
	static int status[FB_PAGES];
	unsigned long mask = 1UL << node, i, off = 0;
	int cpu = fb_node_cpu(!node);
	struct ckpt_restore r;
	cpu_set_t set;

	if (access("/sys/devices/system/node/node1", F_OK) || cpu < 0)
		SKIP(return, "one NUMA node (collection.conf: numa_nodes = 2)");
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	ASSERT_EQ(0, syscall(SYS_set_mempolicy, 2 /* MPOL_BIND */, &mask,
			     sizeof(mask) * 8));
	ASSERT_EQ(0, ckpt_do_restore(dev, img, 0, &r));
	ASSERT_EQ(0, syscall(SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0));
	for (i = 0; i < FB_PAGES; i++)
		pages[i] = base + i * PG;
	ASSERT_EQ(0, syscall(SYS_move_pages, 0, FB_PAGES, pages, NULL, status,
			     0));
	for (i = 0; i < FB_PAGES; i++)
		off += status[i] != node;
	EXPECT_EQ(0, off) TH_LOG("%lu of %d pages not on node %d (page 0: %d)",
				 off, FB_PAGES, node, status[0]);
	for (i = 0; i < FB_PAGES; i++)
		if (!ckpt_page_matches(base + i * PG, i))
			break;
	EXPECT_EQ(FB_PAGES, i);
}

TEST_F(fill, mempolicy_bind_node0)
{
	fb_bind_restore(_metadata, self->dev, self->img, self->base, 0);
}

TEST_F(fill, mempolicy_bind_node1)
{
	fb_bind_restore(_metadata, self->dev, self->img, self->base, 1);
}

/*
 * Restores killed after 0-60 ms: each child dies of SIGKILL, a restore
 * cut short unmaps what it mapped (restores_undone), and every restore
 * either finished or was undone.
 */
TEST(killed_restore)
{
	long done0 = ckpt_stat("restores"), undone0 = ckpt_stat("restores_undone");
	int dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	int img = ckpt_tmpfile(), p[2], status, k, started = 0;
	struct ckpt_restore r;
	struct ckpt_dump d;
	unsigned long i;
	char *base, c;
	pid_t pid;

	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	base = ckpt_free_range(FB_KILL_PAGES * PG);
	ASSERT_NE(NULL, base);
	ASSERT_EQ(base, mmap(base, FB_KILL_PAGES * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			     -1, 0));
	for (i = 0; i < FB_KILL_PAGES; i++)
		memset(base + i * PG, (int)(i % 251) + 1, PG);
	ASSERT_EQ(0, ckpt_dump_range(dev, img, -1, base, FB_KILL_PAGES * PG,
				     &d));
	ASSERT_EQ(0, munmap(base, FB_KILL_PAGES * PG));

	for (k = 0; k < 4; k++) {
		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(p[0]);
			c = 1;
			if (write(p[1], &c, 1) != 1)
				_exit(1);
			ckpt_do_restore(dev, img, 0, &r);
			pause();
			_exit(0);
		}
		close(p[1]);
		started += read(p[0], &c, 1) == 1;
		close(p[0]);
		usleep(k * 20000);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("restore %d: the child must die of SIGKILL", k);
	}
	EXPECT_EQ(4, started);
	/* A kill before the call reached the module counts in neither. */
	EXPECT_GE(4, ckpt_stat("restores") - done0 +
		     ckpt_stat("restores_undone") - undone0);
	EXPECT_LT(undone0, ckpt_stat("restores_undone"))
		TH_LOG("no restore was cut short by its SIGKILL");
	TH_LOG("finished %ld, undone %ld of 4",
	       ckpt_stat("restores") - done0,
	       ckpt_stat("restores_undone") - undone0);
	close(img);
	close(dev);
}

/*
 * Two VMAs of FB_PAGES each, one after the other: a private file mapping
 * and private anonymous memory, every page written, dumped as two runs.
 * Restoring the file VMA faults each page in from the file, so cutting
 * the file short afterwards makes populating the batches past its new end
 * fail with EFAULT (SIGBUS on fault), found before anything is read; a
 * corrupted chunk in the anonymous VMA is found only after its batch was
 * read, so an earlier batch's error may be known before or after a later
 * one's.  Either way the earlier batch's error must win.
 */
FIXTURE(fillfile) {
	int dev;
	int img;
	int fd;
	char path[64];
	char *base;
	char *file_vma;
	char *anon_vma;
};

FIXTURE_VARIANT(fillfile) {
	bool file_first;	/* the file VMA has the lower address */
	int cut_page;		/* the file ends where this page starts */
	int bad_batch;		/* a bad chunk in this anon batch, or -1 */
	int err;		/* the first failing batch's error */
};

FIXTURE_VARIANT_ADD(fillfile, cut_at_batch_3) {
	.file_first = true, .cut_page = 3 * FB_BATCH, .bad_batch = -1,
	.err = EFAULT,
};

FIXTURE_VARIANT_ADD(fillfile, cut_at_0) {
	.file_first = true, .cut_page = 0, .bad_batch = -1, .err = EFAULT,
};

FIXTURE_VARIANT_ADD(fillfile, cut_in_last_batch) {
	.file_first = false, .cut_page = FB_PAGES - FB_BATCH + 100,
	.bad_batch = -1, .err = EFAULT,
};

/*
 * The file's last batch fails at its last page, after populating the
 * others, while the next batch (the anonymous VMA's first) may already be
 * read and fail its check: the populate error must still win.
 */
FIXTURE_VARIANT_ADD(fillfile, cut_then_bad) {
	.file_first = true, .cut_page = FB_PAGES - 1, .bad_batch = 0,
	.err = EFAULT,
};

/*
 * The anonymous VMA's last batch fails its check after it was read, while
 * the next batch (the file's first) fails at once: the checksum error of
 * the earlier batch must win.
 */
FIXTURE_VARIANT_ADD(fillfile, bad_then_cut) {
	.file_first = false, .cut_page = 0, .bad_batch = FB_BATCHES - 1,
	.err = EBADMSG,
};

FIXTURE_VARIANT_ADD(fillfile, bad_far_before_cut) {
	.file_first = false, .cut_page = 5 * FB_BATCH, .bad_batch = 1,
	.err = EBADMSG,
};

FIXTURE_SETUP(fillfile)
{
	size_t len = FB_PAGES * PG;
	struct ckpt_dump d;
	unsigned long i;

	snprintf(self->path, sizeof(self->path), "/tmp/ckpt_fill.%d",
		 getpid());
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	self->img = ckpt_tmpfile();
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	self->base = ckpt_free_range(2 * len);
	ASSERT_LE(0, self->dev);
	ASSERT_LE(0, self->img);
	ASSERT_LE(0, self->fd);
	ASSERT_NE(NULL, self->base);
	ASSERT_EQ(0, ftruncate(self->fd, len));
	self->file_vma = self->base + (variant->file_first ? 0 : len);
	self->anon_vma = self->base + (variant->file_first ? len : 0);
	ASSERT_EQ(self->file_vma, mmap(self->file_vma, len,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_FIXED_NOREPLACE,
				       self->fd, 0));
	ASSERT_EQ(self->anon_vma, mmap(self->anon_vma, len,
				       PROT_READ | PROT_WRITE, MAP_PRIVATE |
				       MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				       -1, 0));
	for (i = 0; i < 2 * FB_PAGES; i++)
		ckpt_fill_page(self->base + i * PG, i);
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, -1, self->base,
				     2 * len, &d));
	ASSERT_EQ(2, d.nr_vmas);
	ASSERT_EQ(2, d.nr_runs) TH_LOG("each VMA's written pages, one run");
	ASSERT_EQ(2 * FB_PAGES, d.nr_pages);
	ASSERT_EQ(0, munmap(self->base, 2 * len));
}

FIXTURE_TEARDOWN(fillfile)
{
	munmap(self->base, 2 * FB_PAGES * PG);
	close(self->fd);
	unlink(self->path);
	close(self->img);
	close(self->dev);
}

/* Does the image hold page @i of the region at fb_pos(@i, 0)? */
static int fb_image_has(int img, const char *base, unsigned long i)
{
	__u64 buf[PG / 8];
	size_t k;

	if (pread(img, buf, PG, fb_pos(i, 0)) != PG)
		return 0;
	for (k = 0; k < PG / 8; k++)
		if (buf[k] != ckpt_pattern((uintptr_t)(base + i * PG) + k * 8,
					   i))
			return 0;
	return 1;
}

/*
 * The first failing batch's error, with the process unchanged, however
 * the two fillers raced (several tries), then a good restore.
 */
TEST_F(fillfile, first_failure_wins)
{
	unsigned long bad_page = 0, i, wrong = 0;
	struct ckpt_restore r;
	char what[64];
	struct stat st;
	off_t off = 0;
	int try;

	ASSERT_EQ(0, ftruncate(self->fd, variant->cut_page * PG));
	if (variant->bad_batch >= 0) {
		bad_page = (self->anon_vma - self->base) / PG +
			   variant->bad_batch * FB_BATCH + 100;
		ASSERT_TRUE(fb_image_has(self->img, self->base, bad_page))
			TH_LOG("runs follow each other in the image");
		off = fb_pos(bad_page, 5);
		ASSERT_EQ(0, fb_flip(self->img, off));
	}
	for (try = 0; try < 4; try++) {
		snprintf(what, sizeof(what), "try %d", try);
		fb_restore_fails(_metadata, self->dev, self->img,
				 variant->err, what);
	}
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(variant->cut_page * PG, st.st_size)
		TH_LOG("a private mapping must not grow its file");

	/* Whole again, the same image restores every written page. */
	ASSERT_EQ(0, ftruncate(self->fd, FB_PAGES * PG));
	if (variant->bad_batch >= 0)
		ASSERT_EQ(0, fb_flip(self->img, off));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, 0, &r));
	EXPECT_EQ(2 * FB_PAGES, r.nr_pages);
	for (i = 0; i < 2 * FB_PAGES; i++)
		wrong += !ckpt_page_matches(self->base + i * PG, i);
	EXPECT_EQ(0, wrong) TH_LOG("pages wrong once the file is whole");
}

TEST_HARNESS_MAIN
