// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumps of a multi-threaded process whose threads keep writing: the image
 * must verify whether or not the target runs (every page is checksummed
 * from the copy that is written), a dump of a stopped target restores
 * byte-identical to the stopped moment, and the ckpt tool stops every
 * thread, so its image is one instant of the target.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/ckpt")

#define NR_WRITERS	3
#define W_PAGES		256	/* per writer: 1 MiB, 16 chunks */
#define LV_PAGES	(NR_WRITERS * W_PAGES)

/*
 * Writer @w sweeps its pages forever, storing its sweep number into the
 * first word of each page in address order.  At any one instant its
 * pages read n+1 up to where it is and n after that: never increasing,
 * and first minus last at most 1.
 */
static void *writer(void *arg)
{
	__u64 *p = arg, seq;
	int i;

	for (seq = 1;; seq++)
		for (i = 0; i < W_PAGES; i++)
			__atomic_store_n(&p[i * (PG / 8)], seq, __ATOMIC_RELAXED);
	return NULL;
}

/* In the target: NR_WRITERS threads writing at @m. */
static void start_writers(char *m)
{
	pthread_t t;
	int i;

	for (i = 0; i < NR_WRITERS; i++)
		if (pthread_create(&t, NULL, writer, m + i * W_PAGES * PG))
			_exit(1);
	/* Let every writer complete a few sweeps first. */
	usleep(100000);
}

/* Does every chunk of every run match its checksum?  Bad chunks, or -1. */
static long bad_chunks(int fd)
{
	static char buf[CKPT_CHUNK_PAGES * PG];
	struct ckpt_uimage u;
	__u64 i, k, n, pos;
	long bad = 0;

	if (ckpt_uimage_read(fd, &u))
		return -1;
	pos = u.hdr.data_offset;
	for (i = 0; i < u.hdr.nr_runs; i++) {
		for (k = 0; k * CKPT_CHUNK_PAGES < u.runs[i].nr_pages; k++) {
			n = u.runs[i].nr_pages - k * CKPT_CHUNK_PAGES;
			if (n > CKPT_CHUNK_PAGES)
				n = CKPT_CHUNK_PAGES;
			if (pread(fd, buf, n * PG, pos) != (ssize_t)(n * PG) ||
			    ckpt_xxh64(buf, n * PG) != u.csums[u.runs[i].chunk + k])
				bad++;
			pos += n * PG;
		}
	}
	ckpt_uimage_free(&u);
	return bad;
}

/*
 * The first words of writer @w's pages in the restored region form one
 * instant of it: never increasing, first minus last at most one.
 */
static int writer_instant(const char *base, int w)
{
	const char *p = base + (size_t)w * W_PAGES * PG;
	__u64 first = *(const __u64 *)p, prev = first, v;
	int i;

	for (i = 1; i < W_PAGES; i++) {
		v = *(const __u64 *)(p + (size_t)i * PG);
		if (v > prev)
			return 0;
		prev = v;
	}
	return first - prev <= 1;
}

/* The constant rest of each page came through. */
static int rest_intact(const char *base)
{
	const __u64 *p;
	int i, j;

	for (i = 0; i < LV_PAGES; i++) {
		p = (const __u64 *)(base + (size_t)i * PG);
		for (j = 1; j < PG / 8; j++)
			if (p[j] != ckpt_pattern((uintptr_t)&p[j], i))
				return 0;
	}
	return 1;
}

/* Attach to every thread of @pid and stop it; how many, or -1. */
static int stop_all(pid_t pid)
{
	int n = 0, status, tid;
	struct dirent *de;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		tid = atoi(de->d_name);
		if (tid <= 0)
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) ||
		    ptrace(PTRACE_INTERRUPT, tid, 0, 0) ||
		    waitpid(tid, &status, __WALL) != tid) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(dir);
	return n;
}

/*
 * Kill the target and reap it with every thread this process traces: the
 * leader is reported only once its traced threads are reaped.
 */
static void reap_all(pid_t target)
{
	kill(target, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0)
		;
}

FIXTURE(live) {
	int dev;
	int img;
	char *base;
	pid_t target;
	int pidfd;
};

FIXTURE_SETUP(live)
{
	char c;
	int ready;

	self->target = -1;
	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->img = ckpt_tmpfile();
	ASSERT_LE(0, self->img);
	self->base = ckpt_free_range(LV_PAGES * PG);
	ASSERT_NE(NULL, self->base);
	/* The rest of each page is constant but not zero. */
	self->target = ckpt_spawn_filled(self->base, LV_PAGES, 0,
					 start_writers, &ready);
	ASSERT_LT(0, self->target);
	ASSERT_EQ(1, read(ready, &c, 1)) TH_LOG("target did not start");
	close(ready);
	self->pidfd = syscall(SYS_pidfd_open, self->target, 0);
	ASSERT_LE(0, self->pidfd);
}

FIXTURE_TEARDOWN(live)
{
	if (self->target > 0)
		reap_all(self->target);
	close(self->pidfd);
	close(self->img);
	close(self->dev);
}

/*
 * The writers keep running through the dump (the main thread is seized
 * but not stopped): the image is not one instant, but it must verify:
 * every chunk matches and an eager restore succeeds.  Three dumps, each
 * into a new unnamed file in @dir.
 */
static void running_dumps(struct __test_metadata *_metadata,
			  struct _test_data_live *self, const char *dir)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	int i, img;

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->target, 0, 0));
	for (i = 0; i < 3; i++) {
		img = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		ASSERT_LE(0, img);
		ASSERT_EQ(0, ckpt_dump_range(self->dev, img, self->pidfd,
					     self->base, LV_PAGES * PG, &d));
		EXPECT_EQ(LV_PAGES, d.nr_pages);
		EXPECT_EQ(0, bad_chunks(img))
			TH_LOG("dump %d: chunks that do not match their checksum", i);
		ASSERT_EQ(0, ckpt_do_restore(self->dev, img, 0, &r))
			TH_LOG("dump %d: restore: %s", i, strerror(errno));
		EXPECT_TRUE(rest_intact(self->base));
		ASSERT_EQ(0, munmap(self->base, LV_PAGES * PG));
		close(img);
	}
}

/* Into tmpfs: the pages are hashed in the image's page cache. */
TEST_F(live, running_dump_verifies)
{
	running_dumps(_metadata, self, "/tmp");
}

/* Into ramfs (not shmem): each page goes through a bounce copy. */
TEST_F(live, running_dump_verifies_bounce)
{
	char dir[] = "/tmp/ckpt_ramfs_XXXXXX";

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, mount("ramfs", dir, "ramfs", 0, NULL))
		TH_LOG("mount ramfs: %s", strerror(errno));
	running_dumps(_metadata, self, dir);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* Every thread stopped: the image is exactly what the target held. */
TEST_F(live, stopped_dump_is_exact)
{
	static char snap[LV_PAGES * PG];
	struct iovec local = { snap, sizeof(snap) };
	struct iovec remote = { self->base, sizeof(snap) };
	struct ckpt_restore r;
	struct ckpt_dump d;
	int w;

	ASSERT_EQ(NR_WRITERS + 1, stop_all(self->target));
	ASSERT_EQ(sizeof(snap), process_vm_readv(self->target, &local, 1,
						 &remote, 1, 0));
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, self->pidfd,
				     self->base, LV_PAGES * PG, &d));
	reap_all(self->target);
	self->target = -1;
	EXPECT_EQ(0, bad_chunks(self->img));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, 0, &r));
	EXPECT_EQ(0, memcmp(snap, self->base, sizeof(snap)))
		TH_LOG("restored memory differs from the stopped target's");
	for (w = 0; w < NR_WRITERS; w++)
		EXPECT_TRUE(writer_instant(self->base, w)) TH_LOG("writer %d", w);
}

/*
 * `ckpt dump PID` stops every thread of PID: each writer's pages in the
 * image are one instant of it, and the image verifies.
 */
TEST_F(live, ckpt_tool_stops_every_thread)
{
	static const char img[] = "/tmp/ckpt_live.img";
	struct ckpt_restore r;
	char cmd[256];
	int fd, w, i;

	for (i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "./ckpt dump %d %s %lx-%lx > /dev/null",
			 self->target, img, (unsigned long)self->base,
			 (unsigned long)self->base + LV_PAGES * PG);
		ASSERT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
		fd = open(img, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		unlink(img);
		EXPECT_EQ(0, bad_chunks(fd)) TH_LOG("dump %d", i);
		ASSERT_EQ(0, ckpt_do_restore(self->dev, fd, 0, &r))
			TH_LOG("dump %d: restore: %s", i, strerror(errno));
		close(fd);
		for (w = 0; w < NR_WRITERS; w++)
			EXPECT_TRUE(writer_instant(self->base, w))
				TH_LOG("dump %d: writer %d was not stopped", i, w);
		EXPECT_TRUE(rest_intact(self->base));
		ASSERT_EQ(0, munmap(self->base, LV_PAGES * PG));
	}
	/* The target runs on after the tool detached. */
	EXPECT_EQ(0, kill(self->target, 0));
}

TEST_HARNESS_MAIN
