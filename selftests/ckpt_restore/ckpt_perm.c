// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumping other processes: only a tracer may, checked as root and as an
 * unprivileged user; pidfd handling; and the ckpt tool end to end.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/ckpt")

#define T_PAGES 8

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* A child that maps T_PAGES at @addr, fills them, reports, then sleeps. */
static pid_t spawn_target(char *addr, int *ready_fd)
{
	int p[2];
	pid_t pid;
	char *m;
	int i;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid)  {
		close(p[1]);
		*ready_fd = p[0];
		return pid;
	}
	close(p[0]);
	m = mmap(addr, T_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED)
		_exit(1);
	for (i = 0; i < T_PAGES; i++)
		ckpt_fill_page(m + i * PG, 40 + i);
	if (write(p[1], "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static int wait_ready(int fd)
{
	char c;
	int ok = read(fd, &c, 1) == 1;

	close(fd);
	return ok;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

FIXTURE(perm) {
	int dev;
	int img;
	char *addr;
	pid_t target;
	int pidfd;
};

FIXTURE_SETUP(perm)
{
	int ready;

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->img = ckpt_tmpfile();
	ASSERT_LE(0, self->img);
	self->addr = ckpt_free_range(T_PAGES * PG);
	ASSERT_NE(NULL, self->addr);
	self->target = spawn_target(self->addr, &ready);
	ASSERT_LT(0, self->target);
	ASSERT_TRUE(wait_ready(ready)) TH_LOG("target did not start");
	self->pidfd = pidfd_open(self->target);
	ASSERT_LE(0, self->pidfd);
}

FIXTURE_TEARDOWN(perm)
{
	reap(self->target);
	munmap(self->addr, T_PAGES * PG);
	close(self->pidfd);
	close(self->img);
	close(self->dev);
}

TEST_F(perm, untraced_is_eperm)
{
	struct ckpt_dump d;

	EXPECT_EQ(-EPERM, ckpt_dump_range(self->dev, self->img, self->pidfd,
					  self->addr, T_PAGES * PG, &d))
		TH_LOG("dumping a process we do not trace must be refused");
	EXPECT_EQ(0, lseek(self->img, 0, SEEK_END)) TH_LOG("nothing written");
}

TEST_F(perm, traced_dump_restores_here)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	int status, i;

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->target, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->target, 0, 0));
	ASSERT_EQ(self->target, waitpid(self->target, &status, __WALL));
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, self->pidfd,
				     self->addr, T_PAGES * PG, &d))
		TH_LOG("tracer dump: %s", strerror(errno));
	EXPECT_EQ(T_PAGES, d.nr_pages);
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, self->target, 0, 0));
	/* After detaching the right is gone again. */
	EXPECT_EQ(-EPERM, ckpt_dump_range(self->dev, ckpt_tmpfile(),
					  self->pidfd, self->addr,
					  T_PAGES * PG, &d));

	/* The target's pages, restored into this process. */
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, 0, &r));
	for (i = 0; i < T_PAGES; i++)
		EXPECT_TRUE(ckpt_page_matches(self->addr + i * PG, 40 + i))
			TH_LOG("page %d", i);
}

TEST_F(perm, bad_pidfds)
{
	struct ckpt_dump d;
	int fd;

	EXPECT_EQ(-EBADF, ckpt_dump_range(self->dev, self->img, self->img,
					  NULL, 0, &d))
		TH_LOG("a regular file is not a pidfd");
	reap(self->target);
	EXPECT_EQ(-ESRCH, ckpt_dump_range(self->dev, self->img, self->pidfd,
					  NULL, 0, &d))
		TH_LOG("the process is gone");
	fd = pidfd_open(getpid());
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ckpt_dump_range(self->dev, self->img, fd, self->addr,
				     T_PAGES * PG, &d))
		TH_LOG("a pidfd of ourselves needs no tracing");
	close(fd);
}

/* All VMAs of a live process: special mappings are left out. */
TEST_F(perm, whole_process)
{
	static struct ckpt_restore r;
	static struct ckpt_uimage u;
	static struct ckpt_dump d;
	static int status;

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->target, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->target, 0, 0));
	ASSERT_EQ(self->target, waitpid(self->target, &status, __WALL));
	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, self->pidfd, NULL,
				     0, &d));
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, self->target, 0, 0));
	EXPECT_LE(4, d.nr_vmas) TH_LOG("code, data, stack and our region");
	EXPECT_LE(2, d.nr_skipped) TH_LOG("vdso and vvar are not dumped");
	EXPECT_LE(T_PAGES, d.nr_pages);
	ASSERT_EQ(0, ckpt_uimage_read(self->img, &u));
	EXPECT_EQ(d.nr_vmas, u.hdr.nr_vmas);
	ckpt_uimage_free(&u);
	/* Our own code sits where the target's does. */
	EXPECT_EQ(-EEXIST, ckpt_do_restore(self->dev, self->img, 0, &r));
}

/* As nobody: cannot attach to root's process, so cannot dump it either. */
TEST_F(perm, unprivileged)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct ckpt_restore r;
		struct ckpt_dump d;
		int dev, img, fails = 0;

		if (setgid(65534) || setuid(65534))
			_exit(100);
		dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
		img = ckpt_tmpfile();
		if (dev < 0 || img < 0)
			_exit(101);
		if (ptrace(PTRACE_SEIZE, self->target, 0, 0) == 0 ||
		    errno != EPERM)
			fails |= 1;
		if (ckpt_dump_range(dev, img, self->pidfd, self->addr,
				    T_PAGES * PG, &d) != -EPERM)
			fails |= 2;
		/* Its own stack page dumps as nobody; restoring it clashes. */
		if (ckpt_dump_range(dev, img, -1,
				    (void *)((uintptr_t)&fails & ~(PG - 1)),
				    PG, &d) ||
		    d.nr_vmas != 1 ||
		    ckpt_do_restore(dev, img, 0, &r) != -EEXIST)
			fails |= 4;
		_exit(fails);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_GT(100, WEXITSTATUS(status)) TH_LOG("set-up as nobody failed: %d",
						   WEXITSTATUS(status));
	EXPECT_EQ(0, WEXITSTATUS(status) & 1) TH_LOG("nobody attached to root's process");
	EXPECT_EQ(0, WEXITSTATUS(status) & 2) TH_LOG("nobody dumped root's process");
	EXPECT_EQ(0, WEXITSTATUS(status) & 4) TH_LOG("nobody's own round trip");
}

/* ckpt dump PID FILE; ckpt info FILE; ckpt restore FILE -- CMD */
TEST_F(perm, ckpt_tool)
{
	static const char img[] = "/tmp/ckpt_tool.img";
	static const char img2[] = "/tmp/ckpt_tool2.img";
	static char cmd[512], range[64];

	snprintf(range, sizeof(range), "%lx-%lx", (unsigned long)self->addr,
		 (unsigned long)self->addr + T_PAGES * PG);
	snprintf(cmd, sizeof(cmd), "./ckpt dump %d %s %s > /dev/null",
		 self->target, img, range);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
	snprintf(cmd, sizeof(cmd), "./ckpt info %s | grep -q '%s'", img,
		 "chunks with a bad checksum: 0");
	ASSERT_EQ(0, system(cmd)) TH_LOG("ckpt info must accept the image");
	/* The restored process shows the VMA; CMD sees it via CKPT_PID. */
	snprintf(cmd, sizeof(cmd), "./ckpt restore %s -- sh -c '%s \"^%s %s'",
		 img, "grep -q", range, "rw-p\" /proc/$CKPT_PID/maps");
	EXPECT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
	/* A restored process can be dumped again: same pages. */
	snprintf(cmd, sizeof(cmd), "./ckpt restore %s -- sh -c '%s %s %s | %s'",
		 img, "./ckpt dump $CKPT_PID", img2, range,
		 "grep -q \" 8 pages\"");
	EXPECT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
	snprintf(cmd, sizeof(cmd), "./ckpt restore %s -- true 2>/dev/null",
		 "/tmp/nonexistent.img");
	EXPECT_NE(0, system(cmd)) TH_LOG("a missing image must fail");
	unlink(img);
	unlink(img2);
}

TEST_HARNESS_MAIN
