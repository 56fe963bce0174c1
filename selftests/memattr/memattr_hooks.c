// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr platform hooks, through the test backend: calls per changing run,
 * none for runs already converted, all-or-nothing rollback when prepare
 * fails on the Nth call, and faults waiting for (only) a conversion of their
 * own page.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

#define OBJ_PAGES 64

FIXTURE(hooks) {
	int fd;
	__u64 pg;
};

FIXTURE_VARIANT(hooks) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(hooks, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(hooks, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

FIXTURE_SETUP(hooks)
{
	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("test"));
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "fail_nth", "0"));
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "delay_ms", "0"));
	self->pg = ma_page();
	self->fd = ma_create(OBJ_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
}

FIXTURE_TEARDOWN(hooks)
{
	close(self->fd);
	vmk_write_file(MA_TEST_DIR "fail_nth", "0");
	vmk_write_file(MA_TEST_DIR "delay_ms", "0");
	ma_set_backend("none");
}

/* Private pages 2, 6-7, 12, 20-23: four runs, all other pages shared. */
static int make_pattern(int fd)
{
	return ma_set_pages(fd, 2, 1, MA_PRIVATE) ?:
	       ma_set_pages(fd, 6, 2, MA_PRIVATE) ?:
	       ma_set_pages(fd, 12, 1, MA_PRIVATE) ?:
	       ma_set_pages(fd, 20, 4, MA_PRIVATE);
}

TEST_F(hooks, one_call_per_changing_run)
{
	struct ma_calls c0, c1;

	ASSERT_EQ(0, make_pattern(self->fd));
	c0 = ma_get_calls();
	ASSERT_LE(0, c0.prepare) TH_LOG("test backend counters missing");
	/* [0, 24) to private: four shared runs change, four private do not. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, 24, MA_PRIVATE));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.prepare + 4, c1.prepare);
	EXPECT_EQ(c0.commit + 4, c1.commit);
	EXPECT_EQ(c0.finish + 4, c1.finish);
	EXPECT_EQ(c0.abort, c1.abort);
	EXPECT_EQ(0, c1.prepared) TH_LOG("prepared pages left over");
	/* Nothing changes: no hook at all. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 4, 16, MA_PRIVATE));
	c0 = ma_get_calls();
	EXPECT_EQ(c1.prepare, c0.prepare);
	EXPECT_EQ(c1.commit, c0.commit);
	EXPECT_EQ(c1.finish, c0.finish);
	/* Back to shared in one run. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, 0));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.prepare + 1, c1.prepare);
	EXPECT_EQ(c0.finish + 1, c1.finish);
}

TEST_F(hooks, rollback_when_prepare_fails)
{
	struct memattr_run before[16], after[16];
	__u32 nb = 16, na = 16;
	long long conversions;
	struct ma_calls c0, c1;
	int more;

	ASSERT_EQ(0, make_pattern(self->fd));
	ASSERT_EQ(0, ma_get(self->fd, 0, OBJ_PAGES * self->pg, before, &nb, &more));
	conversions = ma_stat("conversions");
	c0 = ma_get_calls();

	/* To shared over [0, 32): four changing runs; the third prepare fails. */
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "fail_nth", "3"));
	EXPECT_EQ(-EIO, ma_set_pages(self->fd, 0, 32, 0));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.prepare + 3, c1.prepare) TH_LOG("prepare calls");
	EXPECT_EQ(c0.abort + 2, c1.abort) TH_LOG("the two prepared runs not aborted");
	EXPECT_EQ(c0.commit, c1.commit) TH_LOG("commit ran after a failed prepare");
	EXPECT_EQ(c0.finish, c1.finish) TH_LOG("finish ran after a failed prepare");
	EXPECT_EQ(0, c1.prepared) TH_LOG("prepared pages left over");
	EXPECT_EQ(conversions, ma_stat("conversions"));
	ASSERT_EQ(0, ma_get(self->fd, 0, OBJ_PAGES * self->pg, after, &na, &more));
	ASSERT_EQ(nb, na) TH_LOG("run count changed");
	EXPECT_EQ(0, memcmp(before, after, nb * sizeof(before[0])))
		TH_LOG("attributes changed by a failed conversion");

	/* Failing the first prepare aborts nothing; then it goes through. */
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "fail_nth", "1"));
	EXPECT_EQ(-EIO, ma_set_pages(self->fd, 0, 32, MA_PRIVATE));
	EXPECT_EQ(c1.abort, ma_test_calls("abort"));
	EXPECT_EQ(MA_PRIVATE, ma_page_attrs(self->fd, 2));
	EXPECT_EQ(0, ma_page_attrs(self->fd, 3));
	EXPECT_EQ(0, ma_set_pages(self->fd, 0, 32, 0));
	EXPECT_EQ(0, ma_page_attrs(self->fd, 2));
	EXPECT_EQ(0, ma_test_calls("prepared"));
}

TEST_F(hooks, rollback_leaves_mappings_usable)
{
	char *map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	__u64 *p;
	__u64 v;

	ASSERT_NE(MAP_FAILED, map);
	p = (__u64 *)(map + 5 * self->pg);
	*p = 99;
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "fail_nth", "1"));
	EXPECT_EQ(-EIO, ma_set_pages(self->fd, 4, 4, MA_PRIVATE));
	EXPECT_EQ(0, ma_probe_read(p, &v)) TH_LOG("page stayed shared but SIGBUS");
	EXPECT_EQ(99, v) TH_LOG("failed conversion lost data");
	munmap(map, OBJ_PAGES * self->pg);
}

struct convert_arg {
	int fd;
	__u64 first, nr, attrs;
	int ret;
	int done;	/* set (release) once the ioctl returned */
};

static void *convert_thread(void *p)
{
	struct convert_arg *a = p;

	a->ret = ma_set_pages(a->fd, a->first, a->nr, a->attrs);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int is_done(struct convert_arg *a)
{
	return __atomic_load_n(&a->done, __ATOMIC_ACQUIRE);
}

/*
 * Start @a in a thread with every prepare sleeping @delay_ms, and return
 * once its first prepare has been entered: the conversion is in flight.
 */
static void start_slow(struct __test_metadata *_metadata, pthread_t *thr,
		       struct convert_arg *a, const char *delay_ms)
{
	long long prepares = ma_test_calls("prepare");

	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "delay_ms", delay_ms));
	ASSERT_EQ(0, pthread_create(thr, NULL, convert_thread, a));
	while (ma_test_calls("prepare") == prepares)
		usleep(1000);
}

TEST_F(hooks, fault_waits_only_for_its_conversion)
{
	char *map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	struct convert_arg arg = { self->fd, 8, 4, 0, -1, 0 };
	long long retries;
	pthread_t thr;
	__u64 v;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, ma_set_pages(self->fd, 8, 4, MA_PRIVATE));
	/* The private -> shared conversion of [8, 12) sits in prepare. */
	start_slow(_metadata, &thr, &arg, "2000");

	/* A page outside it faults at once, without a retry. */
	retries = ma_stat("fault_retries");
	EXPECT_EQ(0, ma_probe_read((__u64 *)(map + 20 * self->pg), &v));
	EXPECT_EQ(retries, ma_stat("fault_retries")) TH_LOG("unrelated fault retried");
	ASSERT_FALSE(is_done(&arg)) TH_LOG("conversion ended too early to tell");

	/*
	 * A page inside is still private: without waiting the fault would
	 * raise SIGBUS.  It waits, then finds the page shared and zeroed.
	 */
	EXPECT_EQ(0, ma_probe_read((__u64 *)(map + 9 * self->pg), &v))
		TH_LOG("fault did not wait for the conversion of its page");
	EXPECT_EQ(0, v);
	EXPECT_LT(retries, ma_stat("fault_retries")) TH_LOG("wait not counted");
	pthread_join(thr, NULL);
	EXPECT_EQ(0, arg.ret);
	munmap(map, OBJ_PAGES * self->pg);
}

struct fault_arg {
	__u64 *addr;
	__u64 v;
	int ret;
	pid_t tid;	/* published (release) before the read */
	int done;	/* set (release) once the read returned */
};

static void *fault_thread(void *p)
{
	struct fault_arg *f = p;

	ma_probe_init();
	__atomic_store_n(&f->tid, gettid(), __ATOMIC_RELEASE);
	f->ret = ma_probe_read(f->addr, &f->v);
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A fault waiting for a conversion does not hold mmap_lock: while it waits,
 * another thread of the process maps and unmaps memory at once, not after
 * the conversion (it took a 3 s conversion's length before).
 */
TEST_F(hooks, waiting_fault_holds_no_mmap_lock)
{
	char *map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	struct convert_arg arg = { self->fd, 8, 4, 0, -1, 0 };
	struct fault_arg f = { .ret = -1 };
	long long retries;
	pthread_t thr, fthr;
	void *other;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, ma_set_pages(self->fd, 8, 4, MA_PRIVATE));
	retries = ma_stat("fault_retries");
	ASSERT_LE(0, retries) TH_LOG("memattr debugfs stats missing");
	start_slow(_metadata, &thr, &arg, "3000");

	f.addr = (__u64 *)(map + 9 * self->pg);
	ASSERT_EQ(0, pthread_create(&fthr, NULL, fault_thread, &f));
	while (ma_stat("fault_retries") == retries && !is_done(&arg))
		usleep(1000);
	ASSERT_FALSE(is_done(&arg)) TH_LOG("conversion ended before the fault waited");

	other = mmap(NULL, self->pg, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	EXPECT_EQ(0, munmap(other, self->pg));
	EXPECT_FALSE(is_done(&arg))
		TH_LOG("mmap() waited for the conversion behind a waiting fault");
	EXPECT_FALSE(__atomic_load_n(&f.done, __ATOMIC_ACQUIRE))
		TH_LOG("the fault did not wait for the conversion");

	pthread_join(thr, NULL);
	pthread_join(fthr, NULL);
	EXPECT_EQ(0, arg.ret);
	EXPECT_EQ(0, f.ret) TH_LOG("fault after the conversion raised SIGBUS");
	EXPECT_EQ(0, f.v);
	munmap(map, OBJ_PAGES * self->pg);
}

TEST_F(hooks, overlapping_conversions_wait_disjoint_do_not)
{
	struct convert_arg a = { self->fd, 0, 8, MA_PRIVATE, -1, 0 };
	struct ma_calls c0, c1;
	pthread_t ta;

	/* [16, 24) private, for a disjoint conversion that changes it. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 16, 8, MA_PRIVATE));
	/* A: [0, 8) to private, three changing runs, 1 s in each prepare. */
	ASSERT_EQ(0, ma_set_pages(self->fd, 2, 1, MA_PRIVATE));
	ASSERT_EQ(0, ma_set_pages(self->fd, 5, 1, MA_PRIVATE));
	c0 = ma_get_calls();
	start_slow(_metadata, &ta, &a, "1000");
	/*
	 * Disjoint [16, 24) back to shared runs all its hooks (1 s in
	 * prepare) while A is still in its prepares.
	 */
	ASSERT_EQ(0, ma_set_pages(self->fd, 16, 8, 0));
	c1 = ma_get_calls();
	EXPECT_FALSE(is_done(&a)) TH_LOG("disjoint conversion waited for A");
	EXPECT_LE(c0.prepare + 2, c1.prepare) TH_LOG("no prepare of its own");
	EXPECT_EQ(c0.commit + 1, c1.commit) TH_LOG("commits: A's or none");
	EXPECT_EQ(c0.finish + 1, c1.finish);
	EXPECT_EQ(0, ma_page_attrs(self->fd, 16));
	EXPECT_EQ(0, ma_page_attrs(self->fd, 23));
	/*
	 * Overlapping [4, 12) must run after A, so it undoes A on [4, 8).
	 * That it waited is read from the hooks, not from A's thread: A's
	 * thread may not have run again since its ioctl returned.  When the
	 * overlapping call returns, A's three finishes (A's last step
	 * before it leaves the range) and its own one have run.
	 */
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "delay_ms", "0"));
	ASSERT_EQ(0, ma_set_pages(self->fd, 4, 8, 0));
	EXPECT_EQ(c1.finish + 4, ma_test_calls("finish"))
		TH_LOG("overlapping conversion did not wait for A");
	pthread_join(ta, NULL);
	ASSERT_EQ(0, a.ret);
	/* A's three, the disjoint one's and the overlapping one's. */
	EXPECT_EQ(c0.commit + 5, ma_test_calls("commit"));
	EXPECT_EQ(MA_PRIVATE, ma_page_attrs(self->fd, 0));
	EXPECT_EQ(MA_PRIVATE, ma_page_attrs(self->fd, 3));
	EXPECT_EQ(0, ma_page_attrs(self->fd, 4)) TH_LOG("overlapping conversions reordered");
	EXPECT_EQ(0, ma_page_attrs(self->fd, 7));
}

/* State letter of task @pid ("R", "S", "D"...), or 0. */
static char task_state(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * A conversion waiting for an overlapping one sleeps killable: SIGKILL ends
 * it (-EINTR in the kernel) at once, changing nothing, while the other
 * conversion is still in its prepare.
 */
TEST_F(hooks, waiting_conversion_is_killable)
{
	struct convert_arg a = { self->fd, 0, 8, MA_PRIVATE, -1, 0 };
	int status, i;
	pthread_t ta;
	char st = 0;
	pid_t pid;

	start_slow(_metadata, &ta, &a, "2000");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ma_set_pages(self->fd, 4, 8, MA_PRIVATE) ? 1 : 0);
	/* Until it sleeps in the kernel ("D": TASK_KILLABLE), at most 2 s. */
	for (i = 0; i < 2000 && (st = task_state(pid)) != 'D'; i++)
		usleep(1000);
	EXPECT_EQ('D', st) TH_LOG("overlapping conversion did not wait");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_FALSE(is_done(&a)) TH_LOG("the waiting conversion was not killable");
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	pthread_join(ta, NULL);
	ASSERT_EQ(0, a.ret);
	EXPECT_EQ(MA_PRIVATE, ma_page_attrs(self->fd, 7));
	EXPECT_EQ(0, ma_page_attrs(self->fd, 8)) TH_LOG("killed conversion changed a page");
	EXPECT_EQ(0, ma_page_attrs(self->fd, 11));
}

/*
 * Poll (up to 2 s) until task @tid sleeps in a fault that waits for a
 * conversion (fault_retries moved from @retries, and @tid is in "D"); its
 * last state seen.
 */
static char fault_waiter_state(pid_t tid, long long retries)
{
	char st = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		if (ma_stat("fault_retries") != retries) {
			st = task_state(tid);
			if (st == 'D')
				break;
		}
		usleep(1000);
	}
	return st;
}

/*
 * Fork a child that reads @addr, through the mapping (@how 0: a page fault
 * that may drop mmap_lock and retry) or through /proc/self/mem (@how 1:
 * GUP that may not, so the fault waits holding mmap_lock), and return once
 * it waits for the conversion: its fault counted a retry and it sleeps
 * ("D").  The child's pid, or -1.
 */
static pid_t fork_waiting_reader(struct __test_metadata *_metadata,
				 __u64 *addr, int how)
{
	long long retries = ma_stat("fault_retries");
	pid_t pid;
	__u64 v;
	int fd;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (!how)
			_exit(ma_probe_read(addr, &v) ? 2 : 0);
		fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(3);
		_exit(pread(fd, &v, sizeof(v), (uintptr_t)addr) == sizeof(v) ?
		      0 : 4);
	}
	EXPECT_EQ('D', fault_waiter_state(pid, retries))
		TH_LOG("the reader did not wait for the conversion");
	return pid;
}

/*
 * A fault waiting for a conversion sleeps killable, whether it dropped
 * mmap_lock (a user access) or holds it (GUP that may not retry:
 * /proc/self/mem): SIGKILL ends the faulting process while the conversion
 * is still in its prepare, and the conversion then completes as if nothing
 * happened: every hook once, nothing left prepared, the page shared and
 * zeroed.  With the wait uninterruptible (a throwaway change) the child
 * died only after the conversion had committed.
 */
static void check_killed_reader(struct __test_metadata *_metadata, int fd,
				__u64 pg, int how)
{
	char *map = mmap(NULL, OBJ_PAGES * pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
	struct convert_arg arg = { fd, 8, 4, 0, -1, 0 };
	struct ma_calls c0, c1;
	pthread_t thr;
	int status;
	pid_t pid;
	__u64 v;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, ma_set_pages(fd, 8, 4, MA_PRIVATE));
	c0 = ma_get_calls();
	/* [8, 12) back to shared sits 2 s in its one prepare. */
	start_slow(_metadata, &thr, &arg, "2000");
	pid = fork_waiting_reader(_metadata, (__u64 *)(map + 9 * pg), how);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.commit, c1.commit)
		TH_LOG("the killed reader lived until the conversion committed");
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("reader exit status %#x", status);

	pthread_join(thr, NULL);
	EXPECT_EQ(0, arg.ret) TH_LOG("conversion: %s", strerror(-arg.ret));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.prepare + 1, c1.prepare);
	EXPECT_EQ(c0.commit + 1, c1.commit);
	EXPECT_EQ(c0.finish + 1, c1.finish);
	EXPECT_EQ(c0.abort, c1.abort);
	EXPECT_EQ(0, c1.prepared) TH_LOG("prepared pages left over");
	EXPECT_EQ(0, ma_page_attrs(fd, 8));
	EXPECT_EQ(0, ma_page_attrs(fd, 11));
	EXPECT_EQ(0, ma_probe_read((__u64 *)(map + 9 * pg), &v))
		TH_LOG("converted page raised SIGBUS");
	EXPECT_EQ(0, v) TH_LOG("converted page not zeroed");
	munmap(map, OBJ_PAGES * pg);
}

TEST_F(hooks, waiting_fault_is_killable)
{
	check_killed_reader(_metadata, self->fd, self->pg, 0);
}

TEST_F(hooks, waiting_gup_is_killable)
{
	check_killed_reader(_metadata, self->fd, self->pg, 1);
}

static int usr1_seen;

static void usr1_handler(int sig)
{
	__atomic_fetch_add(&usr1_seen, 1, __ATOMIC_RELAXED);
}

/*
 * A non-fatal signal does not end the wait (README, "Faults that wait"):
 * for 300 ms after SIGUSR1 the faulting thread still sleeps, its handler
 * has not run, and the conversion is still in its prepare.  Once the
 * conversion ends, the handler runs (once) and the access completes,
 * reading the page shared and zeroed, without SIGBUS.
 */
TEST_F(hooks, waiting_fault_defers_other_signals)
{
	char *map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	struct convert_arg arg = { self->fd, 8, 4, 0, -1, 0 };
	struct fault_arg f = { .ret = -1 };
	long long retries, commits;
	pthread_t thr, fthr;
	pid_t tid;
	int i;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_NE(SIG_ERR, signal(SIGUSR1, usr1_handler));
	ASSERT_EQ(0, ma_set_pages(self->fd, 8, 4, MA_PRIVATE));
	retries = ma_stat("fault_retries");
	commits = ma_test_calls("commit");
	start_slow(_metadata, &thr, &arg, "2000");

	f.addr = (__u64 *)(map + 9 * self->pg);
	ASSERT_EQ(0, pthread_create(&fthr, NULL, fault_thread, &f));
	while (!(tid = __atomic_load_n(&f.tid, __ATOMIC_ACQUIRE)))
		usleep(1000);
	ASSERT_EQ('D', fault_waiter_state(tid, retries))
		TH_LOG("the fault did not wait for the conversion");
	ASSERT_EQ(0, pthread_kill(fthr, SIGUSR1));
	for (i = 0; i < 300; i++) {
		if (__atomic_load_n(&usr1_seen, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&f.done, __ATOMIC_ACQUIRE))
			break;
		usleep(1000);
	}
	EXPECT_EQ(0, __atomic_load_n(&usr1_seen, __ATOMIC_RELAXED))
		TH_LOG("SIGUSR1 ended the wait");
	EXPECT_FALSE(__atomic_load_n(&f.done, __ATOMIC_ACQUIRE));
	EXPECT_EQ('D', task_state(tid));
	ASSERT_EQ(commits, ma_test_calls("commit"))
		TH_LOG("the conversion committed first: no test");

	pthread_join(thr, NULL);
	pthread_join(fthr, NULL);
	EXPECT_EQ(0, arg.ret);
	EXPECT_EQ(1, __atomic_load_n(&usr1_seen, __ATOMIC_RELAXED));
	EXPECT_EQ(0, f.ret) TH_LOG("the access raised SIGBUS");
	EXPECT_EQ(0, f.v);
	munmap(map, OBJ_PAGES * self->pg);
}

/*
 * A conversion of many runs commits them under the conversion lock in
 * batches of at most 64 (MEMATTR_COMMIT_BATCH): 256 changing runs take the
 * lock 4 times, not once, both ways, and the result is one run.
 */
#define STRIPE_PAGES	512

static void check_one_run(struct __test_metadata *_metadata, int fd,
			  __u64 pg, __u64 attrs)
{
	struct memattr_run run;
	__u32 nr = 1;
	int more = -1;

	ASSERT_EQ(0, ma_get(fd, 0, STRIPE_PAGES * pg, &run, &nr, &more));
	EXPECT_EQ(1, nr);
	EXPECT_EQ(0, more) TH_LOG("more than one run");
	EXPECT_EQ(STRIPE_PAGES * pg, run.size);
	EXPECT_EQ(attrs, run.attributes);
}

TEST_F(hooks, commits_bounded_per_lock_hold)
{
	long long locks;
	struct ma_calls c0, c1;
	__u64 p;
	int fd;

	fd = ma_create(STRIPE_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-fd));
	for (p = 0; p < STRIPE_PAGES; p += 2)
		ASSERT_EQ(0, ma_set_pages(fd, p, 1, MA_PRIVATE));
	c0 = ma_get_calls();
	locks = ma_stat("commit_locks");
	/* 256 shared runs change. */
	ASSERT_EQ(0, ma_set_pages(fd, 0, STRIPE_PAGES, MA_PRIVATE));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.commit + STRIPE_PAGES / 2, c1.commit);
	EXPECT_EQ(c0.finish + STRIPE_PAGES / 2, c1.finish);
	EXPECT_EQ(locks + STRIPE_PAGES / 2 / 64, ma_stat("commit_locks"));
	check_one_run(_metadata, fd, self->pg, MA_PRIVATE);

	for (p = 1; p < STRIPE_PAGES; p += 2)
		ASSERT_EQ(0, ma_set_pages(fd, p, 1, 0));
	c0 = ma_get_calls();
	locks = ma_stat("commit_locks");
	/* 256 private runs change. */
	ASSERT_EQ(0, ma_set_pages(fd, 0, STRIPE_PAGES, 0));
	c1 = ma_get_calls();
	EXPECT_EQ(c0.commit + STRIPE_PAGES / 2, c1.commit);
	EXPECT_EQ(locks + STRIPE_PAGES / 2 / 64, ma_stat("commit_locks"));
	check_one_run(_metadata, fd, self->pg, 0);
	close(fd);
}

TEST_HARNESS_MAIN
