// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumping other processes: only a tracer may, checked as root and as an
 * unprivileged user; pidfd handling; and the ckpt tool end to end.
 */
#include <linux/capability.h>
#include <pthread.h>
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
	self->target = ckpt_spawn_filled(self->addr, T_PAGES, 40, NULL, &ready);
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

struct sibling {
	int dev, img, pidfd;
	void *addr;
	int ret;
};

static void *sibling_dump(void *arg)
{
	struct sibling *sb = arg;
	struct ckpt_dump d;

	sb->ret = ckpt_dump_range(sb->dev, sb->img, sb->pidfd, sb->addr,
				  T_PAGES * PG, &d);
	return NULL;
}

/*
 * The uAPI says the calling thread must be the tracer: another thread of
 * the tracer's process is refused (it could have detached and let the
 * target exec meanwhile); the tracer thread itself may dump.
 */
TEST_F(perm, sibling_of_tracer_is_eperm)
{
	struct sibling sb = {
		.dev = self->dev, .img = self->img, .pidfd = self->pidfd,
		.addr = self->addr,
	};
	struct ckpt_dump d;
	pthread_t t;
	int status;

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->target, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->target, 0, 0));
	ASSERT_EQ(self->target, waitpid(self->target, &status, __WALL));
	ASSERT_EQ(0, pthread_create(&t, NULL, sibling_dump, &sb));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-EPERM, sb.ret) TH_LOG("a sibling of the tracer dumped: %s",
					 sb.ret ? strerror(-sb.ret) : "success");
	EXPECT_EQ(0, lseek(self->img, 0, SEEK_END)) TH_LOG("nothing written");
	EXPECT_EQ(0, ckpt_dump_range(self->dev, self->img, self->pidfd,
				     self->addr, T_PAGES * PG, &d));
	EXPECT_EQ(T_PAGES, d.nr_pages);
}

/* Drop every capability of the calling thread (uid stays 0). */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};

	return syscall(SYS_capset, &h, data);
}

/*
 * An image of a read-only VMA with contents, and of a writable one: an
 * eager restore fills the read-only one through its protection
 * (FOLL_FORCE), which needs CAP_CHECKPOINT_RESTORE: without it EPERM and
 * nothing mapped; a lazy restore forces nothing and works; the writable
 * one needs no capability.  With it, the read-only one restores.
 */
TEST(force_needs_cap_checkpoint_restore)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	int dev, ro, rw, status, fails;
	char *p;
	pid_t pid;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ro = ckpt_tmpfile();
	rw = ckpt_tmpfile();
	ASSERT_LE(0, dev);
	ASSERT_LE(0, ro);
	ASSERT_LE(0, rw);
	p = mmap(NULL, T_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ckpt_fill_page(p, 1);
	ASSERT_EQ(0, ckpt_dump_range(dev, rw, -1, p, T_PAGES * PG, &d));
	ASSERT_EQ(0, mprotect(p, T_PAGES * PG, PROT_READ | PROT_EXEC));
	ASSERT_EQ(0, ckpt_dump_range(dev, ro, -1, p, T_PAGES * PG, &d));
	ASSERT_EQ(1, d.nr_pages);
	ASSERT_EQ(0, munmap(p, T_PAGES * PG));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static char lines[4096];

		fails = 0;
		if (drop_caps())
			_exit(100);
		if (ckpt_do_restore(dev, ro, 0, &r) != -EPERM)
			fails |= 1;
		ckpt_maps_in(p, T_PAGES * PG, lines, sizeof(lines), 0);
		if (lines[0])
			fails |= 2;
		if (ckpt_do_restore(dev, ro, CKPT_RESTORE_LAZY, &r) ||
		    !ckpt_page_matches(p, 1) || munmap(p, T_PAGES * PG))
			fails |= 4;
		if (ckpt_do_restore(dev, rw, 0, &r) ||
		    !ckpt_page_matches(p, 1) || munmap(p, T_PAGES * PG))
			fails |= 8;
		_exit(fails);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NE(100, WEXITSTATUS(status)) TH_LOG("capset: cannot drop");
	EXPECT_EQ(0, WEXITSTATUS(status) & 1)
		TH_LOG("eager restore of a read-only VMA without the capability");
	EXPECT_EQ(0, WEXITSTATUS(status) & 2) TH_LOG("the refusal mapped something");
	EXPECT_EQ(0, WEXITSTATUS(status) & 4) TH_LOG("lazy restore without the capability");
	EXPECT_EQ(0, WEXITSTATUS(status) & 8) TH_LOG("writable VMA without the capability");

	ASSERT_EQ(0, ckpt_do_restore(dev, ro, 0, &r));
	EXPECT_TRUE(ckpt_page_matches(p, 1));
	EXPECT_EQ(0, munmap(p, T_PAGES * PG));
	close(rw);
	close(ro);
	close(dev);
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

#define YAMA_SCOPE "/proc/sys/kernel/yama/ptrace_scope"

static int read_scope(void)
{
	char c = 0;
	int fd = open(YAMA_SCOPE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c ? c - '0' : -1;
}

static int write_scope(int scope)
{
	char c = '0' + scope;
	int fd = open(YAMA_SCOPE, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, &c, 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Run @cmd with sh as nobody, its stdout into *@out (a pipe) if @out is
 * not NULL; returns the pid, or -1.
 */
static pid_t spawn_nobody(const char *cmd, int *out)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (out && pipe(p))
		return -1;
	pid = fork();
	if (pid) {
		if (out) {
			close(p[1]);
			*out = p[0];
		}
		return pid;
	}
	if (out && dup2(p[1], 1) != 1)
		_exit(126);
	if (setgid(65534) || setuid(65534))
		_exit(126);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/*
 * An outsider, as nobody: neither an ancestor nor a descendant of the
 * tool.  Reads a pid from the pipe *@in, tries to attach to it, and exits
 * with 0 if it could, 1 if refused with EPERM, 2 otherwise.
 */
static pid_t spawn_outsider(int *in)
{
	pid_t pid, victim;

	pid = ckpt_fork_pipe(in, 0);
	if (pid)
		return pid;
	if (setgid(65534) || setuid(65534))
		_exit(2);
	if (read(*in, &victim, sizeof(victim)) != sizeof(victim))
		_exit(2);
	if (!ptrace(PTRACE_SEIZE, victim, 0, 0)) {
		ptrace(PTRACE_DETACH, victim, 0, 0);
		_exit(0);
	}
	_exit(errno == EPERM ? 1 : 2);
}

static int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Under Yama's ptrace_scope 1, a process restored by `ckpt restore` (all
 * as nobody, so no capability bypasses Yama) may be attached to by CMD,
 * which dumps it again, but by no unrelated process of the same user: the
 * tool names itself with PR_SET_PTRACER, not PR_SET_PTRACER_ANY.
 */
TEST_F(perm, ckpt_tool_narrow_ptracer)
{
	static const char img[] = "/tmp/ckpt_yama.img";
	static const char img2[] = "/tmp/ckpt_yama2.img";
	static const char done[] = "/tmp/ckpt_yama.done";
	static char cmd[512], range[64], line[256];
	int scope, in, out, found = 0, ret;
	pid_t outsider, tool;
	pid_t restored = 0;
	FILE *f;

	scope = read_scope();
	if (scope < 0)
		SKIP(return, "no Yama in this kernel (" YAMA_SCOPE ")");
	ASSERT_EQ(0, write_scope(1));
	snprintf(range, sizeof(range), "%lx-%lx", (unsigned long)self->addr,
		 (unsigned long)self->addr + T_PAGES * PG);
	snprintf(cmd, sizeof(cmd), "./ckpt dump %d %s %s > /dev/null",
		 self->target, img, range);
	EXPECT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
	ASSERT_EQ(0, chmod(img, 0644));

	/* CMD, a descendant of the tool, may attach: it dumps again. */
	snprintf(cmd, sizeof(cmd),
		 "./ckpt restore %s -- sh -c './ckpt dump $CKPT_PID %s %s | grep -q \" 8 pages\"'",
		 img, img2, range);
	EXPECT_EQ(0, wait_exit(spawn_nobody(cmd, NULL))) TH_LOG("%s", cmd);

	outsider = spawn_outsider(&in);
	ASSERT_LT(0, outsider);
	unlink(done);
	snprintf(cmd, sizeof(cmd),
		 "./ckpt restore %s -- sh -c 'while [ ! -e %s ]; do sleep 1; done'",
		 img, done);
	tool = spawn_nobody(cmd, &out);
	ASSERT_LT(0, tool);
	f = fdopen(out, "r");
	ASSERT_NE(NULL, f);
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "into pid ");

		if (p) {
			restored = atoi(p + strlen("into pid "));
			found = restored > 0;
		}
	}
	EXPECT_TRUE(found) TH_LOG("ckpt restore printed no pid");
	if (found)
		EXPECT_EQ(sizeof(restored),
			  write(in, &restored, sizeof(restored)));
	close(in);
	ret = wait_exit(outsider);
	close(open(done, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	EXPECT_EQ(0, wait_exit(tool));
	fclose(f);
	unlink(done);
	unlink(img);
	unlink(img2);
	EXPECT_EQ(0, write_scope(scope));
	EXPECT_EQ(1, ret) TH_LOG("an unrelated process %s the restored one",
				 ret ? "failed to try to attach to" : "attached to");
}

/*
 * Dumps racing with exec: a traced target execs itself again and again
 * (a shell chain of EXEC_CHAIN execs) while its tracer dumps it as a
 * whole, over and over.  Each dump reads the mm the target had when the
 * tracer check was made (the check and get_task_mm() are made under the
 * target's exec_update_lock) and must succeed with an image of it, old
 * or new: no error, whatever the exec is doing.  Its pages may be gone
 * by the time they are read (the new stack moves after the VMA table was
 * taken: an image with one VMA and no pages, seen on 7.3), as for any
 * running target.  The target must get through every exec, and a dump
 * once it waits in its last shell saves its pages.
 *
 * This cannot fail on code that takes no exec_update_lock: the tracer
 * must be the calling thread, which cannot detach while it dumps, and
 * a traced exec gains no privileges, so the mm cannot turn into one the
 * caller may not read between the check and get_task_mm().  It checks
 * the dump against exec itself (the lock, the mm's lifetime, errnos),
 * under lockdep and KASAN on the debug kernel.
 */
#define EXEC_CHAIN	"50"
#define EXEC_SCRIPT \
	"if [ $1 -lt " EXEC_CHAIN " ]; then " \
	"exec /bin/sh -c \"$0\" \"$0\" $(($1 + 1)); fi; echo done; read x"

TEST(dump_races_exec)
{
	int dev, img, pidfd, in[2], out[2], status, ret, bad = 0;
	unsigned int dumps = 0;
	struct ckpt_dump d;
	char buf[8] = "";
	pid_t pid;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* Wait for the tracer, then exec the chain. */
		if (read(0, buf, 1) != 1)
			_exit(1);
		execl("/bin/sh", "sh", "-c", EXEC_SCRIPT, EXEC_SCRIPT, "0",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	pidfd = pidfd_open(pid);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, 0, 0));
	ASSERT_EQ(0, fcntl(out[0], F_SETFL, O_NONBLOCK));
	ASSERT_EQ(1, write(in[1], "g", 1));

	/* Dump until the chain is through (it prints "done"). */
	alarm(120);
	for (;;) {
		ASSERT_EQ(0, ftruncate(img, 0));
		ret = ckpt_dump_range(dev, img, pidfd, NULL, 0, &d);
		dumps++;
		if ((ret || !d.nr_vmas) && bad++ < 5)
			TH_LOG("dump %u while exec'ing: %s, %u VMAs", dumps,
			       ret ? strerror(-ret) : "success", d.nr_vmas);
		if (read(out[0], buf, sizeof(buf)) > 0)
			break;
		ASSERT_EQ(0, waitpid(pid, &status, WNOHANG))
			TH_LOG("the target ended before its last exec");
	}
	ASSERT_EQ(0, ftruncate(img, 0));
	EXPECT_EQ(0, ckpt_dump_range(dev, img, pidfd, NULL, 0, &d));
	EXPECT_LT(0, d.nr_pages) TH_LOG("the waiting shell saved no page");
	alarm(0);
	ksft_print_msg("%u dumps raced %s execs\n", dumps, EXEC_CHAIN);
	EXPECT_EQ(0, bad) TH_LOG("%d of %u dumps failed", bad, dumps);
	EXPECT_EQ(0, strncmp(buf, "done", 4));
	close(in[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	close(out[0]);
	close(pidfd);
	close(img);
	close(dev);
}

TEST_HARNESS_MAIN
