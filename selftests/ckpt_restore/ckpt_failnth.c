// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault-injection sweeps (vmk_failnth.h): CKPT_DUMP of a traced target and
 * CKPT_RESTORE (eager, verify-first, lazy) into a fresh target process,
 * with the Nth allocation or user copy of the calling thread failing, for
 * N = 1, 2, ... until the call reaches no injection point.
 *
 * The image is tiny on purpose (four VMAs of two or three pages: private
 * anonymous, read-exec with a hole, shared memfd, private file with one
 * modified page), so each sweep has hundreds of points under KASAN.
 *
 * A failed call must return ENOMEM or EFAULT and leave nothing behind:
 * - dump: the output is refused by a later restore, the dump counter did
 *   not move, the target's maps and memory are unchanged and it still
 *   answers, no pin is held, its VmPin/VmLck are unchanged and the kernel
 *   holds no reference to the output file (its flock is free once we
 *   close it);
 * - restore: the target's /proc/PID/maps and the checksum of its memory
 *   around and between the image's VMAs are exactly as before, no pin is
 *   held, no lazy state or lazy image reference is left and the kernel
 *   holds no reference to the image file; then a clean retry succeeds
 *   and reads back byte-exact.
 * A call that absorbed its fault must have done the whole job.
 */
#include <signal.h>
#include <sys/file.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_failnth.h"
#include "vmk_require.h"
#include "vmk_sys.h"

VMK_REQUIRE("/dev/ckpt", CKPT_DEBUGFS)

#define R_PAGES		16
#define DATA_PATH	"/tmp/ckpt_failnth.data"
#define IMG_PATH	"/tmp/ckpt_failnth.img"
#define OUT_PATH	"/tmp/ckpt_failnth.out"

/*
 * A call's path may differ from one call to the next (an eager restore
 * shares its batches with a helper on another CPU, whose faults are not
 * injected), so a sweep ends only after QUIET consecutive values of N
 * reached no injection point, and reports the last N that did.
 */
#define QUIET		8

enum { V_ANON, V_SHARED, V_FILE };

/*
 * The image's VMAs in a region of R_PAGES pages: pages @first to
 * @first + @nr - 1, the pages of @fill holding contents.  Pages 0, 4, 8,
 * 12 and 15 are gaps, where a restore target keeps canary pages.
 */
static const struct {
	int first, nr, prot, kind;
	unsigned int fill;	/* bit i: page first + i has contents */
} layout[] = {
	{ 1, 3, PROT_READ | PROT_WRITE, V_ANON, 0x7 },
	{ 5, 3, PROT_READ | PROT_EXEC, V_ANON, 0x5 },
	{ 9, 3, PROT_READ | PROT_WRITE, V_SHARED, 0x3 },
	{ 13, 2, PROT_READ | PROT_WRITE, V_FILE, 0x1 },
};

static const int gaps[] = { 0, 4, 8, 12, 15 };

/* What the image's VMAs read back as, page by page over the region. */
static unsigned char expect[R_PAGES * PG];

/* Map the image's VMAs at @base and fill them; 0 or -errno. */
static int build_source(char *base)
{
	char *p;
	int i, j, fd;

	for (i = 0; i < ARRAY_SIZE(layout); i++) {
		fd = -1;
		if (layout[i].kind == V_SHARED) {
			fd = memfd_create("ckpt_failnth", MFD_CLOEXEC);
			if (fd < 0 || ftruncate(fd, layout[i].nr * PG))
				return -errno;
		} else if (layout[i].kind == V_FILE) {
			fd = open(DATA_PATH, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				return -errno;
		}
		p = mmap(base + layout[i].first * PG, layout[i].nr * PG,
			 PROT_READ | PROT_WRITE,
			 (layout[i].kind == V_SHARED ? MAP_SHARED : MAP_PRIVATE) |
			 (fd < 0 ? MAP_ANONYMOUS : 0) | MAP_FIXED_NOREPLACE,
			 fd, 0);
		if (fd >= 0)
			close(fd);
		if (p == MAP_FAILED)
			return -errno;
		for (j = 0; j < layout[i].nr; j++)
			if (layout[i].fill & 1U << j)
				ckpt_fill_page(p + j * PG, layout[i].first + j);
		if (mprotect(p, layout[i].nr * PG, layout[i].prot))
			return -errno;
	}
	return 0;
}

static void unmap_layout(char *base)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(layout); i++)
		munmap(base + layout[i].first * PG, layout[i].nr * PG);
}

/* A private file mapping reads its unmodified pages from this file. */
static int make_data_file(void)
{
	static char page[PG];
	int fd, i, ok = 1;

	fd = open(DATA_PATH, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		memset(page, 0xd0 + i, PG);
		ok &= write(fd, page, PG) == PG;
	}
	close(fd);
	return ok ? 0 : -EIO;
}

/* @n bytes of @pid's memory at @addr into @buf; 0 or -errno. */
static int peek(pid_t pid, const char *addr, void *buf, size_t n)
{
	char path[64];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = pread(fd, buf, n, (uintptr_t)addr);
	close(fd);
	return got == (ssize_t)n ? 0 : got < 0 ? -errno : -EIO;
}

/*
 * @pid's /proc/PID/maps into @buf, as the logical layout: without inode
 * numbers (each restore of a shared VMA makes a new shmem file, "/dev/zero
 * (deleted)"), and with neighbours that could be one VMA joined, since mm
 * may leave them apart when an injected fault hits its merge.
 */
static void read_maps(pid_t pid, char *buf, size_t size)
{
	static char raw[1 << 16];
	unsigned long s, e, ps = 0, pe = 0;
	unsigned long long off, poff = 0;
	char perms[8], dev[16], pperms[8] = "", pdev[16] = "";
	const char *path = "", *ppath = "";
	char name[64], *line, *save;
	size_t used = 0;
	int fd, at;
	ssize_t n;

	snprintf(name, sizeof(name), "/proc/%d/maps", pid);
	buf[0] = 0;
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (used + 1 < sizeof(raw) &&
	       (n = read(fd, raw + used, sizeof(raw) - 1 - used)) > 0)
		used += n;
	close(fd);
	raw[used] = 0;
	used = 0;
	for (line = strtok_r(raw, "\n", &save); ; line = strtok_r(NULL, "\n", &save)) {
		at = 0;
		if (line && sscanf(line, "%lx-%lx %7s %llx %15s %*u %n", &s, &e,
				   perms, &off, dev, &at) == 5 && at) {
			path = line + at;
			if (s == pe && !strcmp(perms, pperms) &&
			    !strcmp(dev, pdev) && !strcmp(path, ppath) &&
			    off == (*path == '/' ? poff + (pe - ps) : 0)) {
				pe = e;
				continue;
			}
		}
		if (pe && used < size)
			used += snprintf(buf + used, size - used,
					 "%lx-%lx %s %08llx %s %s\n", ps, pe,
					 pperms, poff, pdev, ppath);
		if (!line || !at)
			break;
		ps = s;
		pe = e;
		poff = off;
		memcpy(pperms, perms, sizeof(perms));
		memcpy(pdev, dev, sizeof(dev));
		ppath = path;
	}
}

/* The kB of @key ("VmPin", "VmLck") in /proc/PID/status, or -1. */
static long status_kb(pid_t pid, const char *key)
{
	char path[64], buf[4096], *at;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	at = strstr(buf, key);
	return at ? strtol(at + strlen(key) + 1, NULL, 10) : -1;
}

/* Pages pinned with FOLL_PIN anywhere and not released yet. */
static long long pins_held(void)
{
	/* Fold every CPU's pending deltas into the counters first. */
	vmk_write_file("/proc/sys/vm/stat_refresh", "1");
	return vmk_read_key("/proc/vmstat", "nr_foll_pin_acquired") -
	       vmk_read_key("/proc/vmstat", "nr_foll_pin_released");
}

/* Does anything still hold the open file that locked @path? */
static int file_still_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), busy;

	if (fd < 0)
		return -1;
	busy = flock(fd, LOCK_EX | LOCK_NB) != 0;
	close(fd);
	return busy;
}

/* XXH64 of the canary pages of @pid's region, or 0 if one is unreadable. */
static __u64 canary_sum(pid_t pid, char *base)
{
	static unsigned char buf[ARRAY_SIZE(gaps) * PG];
	int i;

	for (i = 0; i < ARRAY_SIZE(gaps); i++)
		if (peek(pid, base + gaps[i] * PG, buf + i * PG, PG))
			return 0;
	return ckpt_xxh64(buf, sizeof(buf));
}

/* Do the image's VMAs in @pid read back as @expect?  -1, or a bad page. */
static int bad_page(pid_t pid, char *base)
{
	static unsigned char got[PG];
	int i, j, pg;

	for (i = 0; i < ARRAY_SIZE(layout); i++) {
		for (j = 0; j < layout[i].nr; j++) {
			pg = layout[i].first + j;
			if (peek(pid, base + pg * PG, got, PG) ||
			    memcmp(got, expect + pg * PG, PG))
				return pg;
		}
	}
	return -1;
}

/* Everything a failed call must leave as it was, in one snapshot. */
struct state {
	long long pins;
	long vmpin, vmlck, lazy_live, lazy_images, dumps, restores;
	__u64 mem;
};

static void snapshot(struct state *s, pid_t pid, char *base, int canaries)
{
	s->pins = pins_held();
	s->vmpin = status_kb(pid, "VmPin");
	s->vmlck = status_kb(pid, "VmLck");
	s->lazy_live = ckpt_stat("lazy_live");
	s->lazy_images = ckpt_stat("lazy_images");
	s->dumps = ckpt_stat("dumps");
	s->restores = ckpt_stat("restores");
	s->mem = canaries ? canary_sum(pid, base) : 0;
}

static char maps_before[1 << 16], maps_now[1 << 16];

/* Fresh source at @base: @expect, and the image for the restore sweeps. */
static int prepare(int dev, char *base)
{
	struct ckpt_dump d;
	int img, ret, i;

	ret = make_data_file();
	if (!ret)
		ret = build_source(base);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(layout); i++)
		memcpy(expect + layout[i].first * PG, base + layout[i].first * PG,
		       layout[i].nr * PG);
	img = open(IMG_PATH, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (img < 0)
		return -errno;
	ret = ckpt_dump_range(dev, img, -1, base, R_PAGES * PG, &d);
	close(img);
	unmap_layout(base);
	return ret;
}

/* What both sweeps start from: a source image and a target process. */
struct rig {
	int dev;
	char *base;
	pid_t target;
	int cmd, reply;		/* our ends of the pipes to the target */
};

/*
 * Open /dev/ckpt, prepare() a source image, and fork a target that runs
 * @body(base, command fd, reply fd).  Returns 0 or -errno.
 */
static int rig_start(struct rig *g, void (*body)(char *, int, int))
{
	int to[2], from[2], ret;

	g->target = -1;
	g->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	if (g->dev < 0)
		return -errno;
	g->base = ckpt_free_range(R_PAGES * PG);
	if (!g->base)
		return -ENOMEM;
	ret = prepare(g->dev, g->base);
	if (ret)
		return ret;
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		return -errno;
	g->target = fork();
	if (g->target < 0)
		return -errno;
	if (!g->target) {
		close(to[1]);
		close(from[0]);
		body(g->base, to[0], from[1]);
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	g->cmd = to[1];
	g->reply = from[0];
	return 0;
}

static void rig_stop(struct rig *g)
{
	if (g->target > 0) {
		kill(g->target, SIGKILL);
		waitpid(g->target, NULL, 0);
	}
	unlink(OUT_PATH);
	unlink(IMG_PATH);
	unlink(DATA_PATH);
}

/* ---- dump ---- */

/* The dump target: the source, then answer each byte with its checksum. */
static void dump_target(char *base, int cmd, int reply)
{
	__u64 sum;
	char c;
	int i;

	if (build_source(base))
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		for (sum = 0, i = 0; i < ARRAY_SIZE(layout); i++)
			sum = sum * CKPT_XXH_P1 +
			      ckpt_xxh64(base + layout[i].first * PG,
					 layout[i].nr * PG);
		if (write(reply, &sum, sizeof(sum)) != sizeof(sum))
			_exit(1);
	}
	_exit(0);
}

FIXTURE(dump) {
	struct rig g;
	int pidfd;
};

FIXTURE_SETUP(dump)
{
	ASSERT_EQ(0, rig_start(&self->g, dump_target));
	self->pidfd = syscall(SYS_pidfd_open, self->g.target, 0);
	ASSERT_LE(0, self->pidfd);
}

FIXTURE_TEARDOWN(dump)
{
	rig_stop(&self->g);
}

/* The target still runs: it answers with the checksum of its memory. */
static int ping(int cmd, int reply, __u64 *sum)
{
	return write(cmd, "p", 1) == 1 &&
	       read(reply, sum, sizeof(*sum)) == sizeof(*sum);
}

/* A dump that returned 0 wrote a whole image: restore it here, compare. */
static int image_restores(int dev, int fd, char *base)
{
	struct ckpt_restore r;
	int bad = -1, i, pg;

	if (ckpt_do_restore(dev, fd, 0, &r))
		return -2;
	for (i = 0; i < ARRAY_SIZE(layout) && bad < 0; i++)
		for (pg = layout[i].first;
		     pg < layout[i].first + layout[i].nr && bad < 0; pg++)
			if (memcmp(base + pg * PG, expect + pg * PG, PG))
				bad = pg;
	unmap_layout(base);
	return bad;
}

TEST_F_TIMEOUT(dump, sweep, 600)
{
	static struct ckpt_range range;
	static struct ckpt_dump d;
	struct state before, now;
	struct vmk_failnth fn;
	int n, ret, injected, out, status, quiet = 0;
	int absorbed = 0, enomem = 0, efault = 0;
	__u64 sum0, sum;

	if (vmk_failnth_open(&fn))
		SKIP(return, "%s", fn.why);
	ASSERT_TRUE(ping(self->g.cmd, self->g.reply, &sum0));
	/* A tracer may dump; the target keeps running, blocked in read(). */
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->g.target, 0, 0));
	range.start = (uintptr_t)self->g.base;
	range.end = (uintptr_t)self->g.base + R_PAGES * PG;
	read_maps(self->g.target, maps_before, sizeof(maps_before));

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		snapshot(&before, self->g.target, self->g.base, 0);
		unlink(OUT_PATH);
		out = open(OUT_PATH, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			   0600);
		ASSERT_LE(0, out);
		ASSERT_EQ(0, flock(out, LOCK_EX));
		memset(&d, 0, sizeof(d));
		d.size = sizeof(d);
		d.flags = CKPT_DUMP_PIDFD;
		d.pidfd = self->pidfd;
		d.out_fd = out;
		d.nr_ranges = 1;
		d.ranges = (uintptr_t)&range;

		vmk_failnth_arm(&fn, n);
		ret = ioctl(self->g.dev, CKPT_DUMP, &d) ? -errno : 0;
		injected = vmk_failnth_disarm(&fn);
		quiet = injected ? 0 : quiet + 1;

		if (!injected || !ret) {
			ASSERT_EQ(0, ret) TH_LOG("N=%d: %s", n, strerror(-ret));
			ASSERT_EQ(-1, image_restores(self->g.dev, out, self->g.base))
				TH_LOG("N=%d: the dump's image does not restore right",
				       n);
			close(out);
			absorbed += injected;
			if (quiet == QUIET)
				break;
			continue;
		}
		ASSERT_TRUE(ret == -ENOMEM || ret == -EFAULT)
			TH_LOG("N=%d: dump failed with %d (%s), not ENOMEM or EFAULT",
			       n, ret, strerror(-ret));
		enomem += ret == -ENOMEM;
		efault += ret == -EFAULT;
		snapshot(&now, self->g.target, self->g.base, 0);
		EXPECT_EQ(before.dumps, now.dumps)
			TH_LOG("N=%d: a failed dump was counted", n);
		ret = ckpt_do_restore(self->g.dev, out, 0, &(struct ckpt_restore){});
		if (!ret)
			unmap_layout(self->g.base);
		ASSERT_NE(0, ret)
			TH_LOG("N=%d: the output of a failed dump restored", n);
		close(out);
		ASSERT_EQ(0, file_still_locked(OUT_PATH))
			TH_LOG("N=%d: the output file is still referenced", n);
		read_maps(self->g.target, maps_now, sizeof(maps_now));
		ASSERT_STREQ(maps_before, maps_now)
			TH_LOG("N=%d: the target's maps changed", n);
		ASSERT_TRUE(ping(self->g.cmd, self->g.reply, &sum))
			TH_LOG("N=%d: the target does not answer", n);
		ASSERT_EQ(sum0, sum) TH_LOG("N=%d: the target's memory changed", n);
		ASSERT_EQ(before.pins, now.pins) TH_LOG("N=%d: pins left", n);
		ASSERT_EQ(before.vmpin, now.vmpin) TH_LOG("N=%d: VmPin", n);
		ASSERT_EQ(before.vmlck, now.vmlck) TH_LOG("N=%d: VmLck", n);
	}
	vmk_failnth_report("ckpt_dump", n - QUIET);
	vmk_failnth_close(&fn);
	ksft_print_msg("%d ENOMEM, %d EFAULT, %d absorbed\n", enomem, efault,
		       absorbed);
	/* Still a live, working process once the sweep is over. */
	ASSERT_TRUE(ping(self->g.cmd, self->g.reply, &sum));
	ASSERT_EQ(sum0, sum);
	close(self->g.cmd);
	ASSERT_EQ(self->g.target, waitpid(self->g.target, &status, 0));
	self->g.target = -1;
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

/* ---- restore ---- */

struct rcmd {
	char op;		/* 'r', 't' or 'u': see restore_target() */
	int n;			/* 'r', 't': arm fail-nth with it; 0: clean */
	unsigned int flags;	/* 'r': CKPT_RESTORE_* */
};

struct rreply {
	int ret;		/* 0 or -errno; 't': pages that raised SIGBUS */
	int injected;
};

/*
 * Read a byte of every page of the anonymous VMAs, lazy ones in a lazy
 * restore; how many raised SIGBUS.
 */
static int touch_layout(char *base)
{
	int i, j, bus = 0;

	for (i = 0; i < ARRAY_SIZE(layout); i++)
		for (j = 0; j < layout[i].nr && layout[i].kind == V_ANON; j++)
			bus += ckpt_touch_sigbus(base +
						 (layout[i].first + j) * PG);
	return bus;
}

/*
 * The restore target: canaries in the gaps, then on command a restore
 * ('r'), a first touch of every page ('t', SIGBUS counted), both with
 * fail-nth armed as told, or an unmap of the image's VMAs ('u').
 */
static void restore_target(char *base, int cmd, int reply)
{
	static const struct sigaction bus = { .sa_handler = ckpt_on_sigbus };
	struct ckpt_restore r;
	struct vmk_failnth fn;
	struct rreply rep;
	struct rcmd c;
	int dev, img, i;
	char *p;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	if (dev < 0 || vmk_failnth_open(&fn) || sigaction(SIGBUS, &bus, NULL))
		_exit(1);
	for (i = 0; i < ARRAY_SIZE(gaps); i++) {
		p = mmap(base + gaps[i] * PG, PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
		if (p == MAP_FAILED)
			_exit(1);
		ckpt_fill_page(p, 1000 + gaps[i]);
	}
	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		memset(&rep, 0, sizeof(rep));
		if (c.op == 'u') {
			unmap_layout(base);
		} else if (c.op == 't') {
			vmk_failnth_arm(&fn, c.n);
			rep.ret = touch_layout(base);
			rep.injected = vmk_failnth_disarm(&fn);
		} else {
			img = open(IMG_PATH, O_RDONLY | O_CLOEXEC);
			if (img < 0 || flock(img, LOCK_EX))
				_exit(1);
			memset(&r, 0, sizeof(r));
			r.size = sizeof(r);
			r.flags = c.flags;
			r.image_fd = img;
			if (c.n)
				vmk_failnth_arm(&fn, c.n);
			rep.ret = ioctl(dev, CKPT_RESTORE, &r) ? -errno : 0;
			if (c.n)
				rep.injected = vmk_failnth_disarm(&fn);
			close(img);
		}
		if (write(reply, &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
	}
	_exit(0);
}

FIXTURE(restore) {
	struct rig g;
};

FIXTURE_VARIANT(restore) {
	unsigned int flags;
	const char *name;
};

FIXTURE_VARIANT_ADD(restore, eager) {
	.flags = 0, .name = "ckpt_restore",
};

FIXTURE_VARIANT_ADD(restore, verify_first) {
	.flags = CKPT_RESTORE_VERIFY_FIRST, .name = "ckpt_restore_verify_first",
};

FIXTURE_VARIANT_ADD(restore, lazy) {
	.flags = CKPT_RESTORE_LAZY, .name = "ckpt_restore_lazy",
};

FIXTURE_SETUP(restore)
{
	ASSERT_EQ(0, rig_start(&self->g, restore_target));
}

FIXTURE_TEARDOWN(restore)
{
	rig_stop(&self->g);
}

/* Have the target run @op; its reply, or ret -EPIPE if it is gone. */
static struct rreply order(int cmd, int reply, char op, int n,
			   unsigned int flags)
{
	struct rcmd c = { .op = op, .n = n, .flags = flags };
	struct rreply rep = { .ret = -EPIPE };

	if (write(cmd, &c, sizeof(c)) != sizeof(c) ||
	    read(reply, &rep, sizeof(rep)) != sizeof(rep))
		rep.ret = -EPIPE;
	return rep;
}

static char maps_restored[1 << 16];

/*
 * The target's maps as before the call (@maps_before), and everything of
 * @base the same: memory around the image's VMAs, pins, VmPin, VmLck,
 * lazy state, the restore counter, and no reference to the image file.
 */
static void check_unchanged(struct __test_metadata *_metadata,
			    const struct rig *g, const struct state *base,
			    int n, const char *after)
{
	struct state now;

	read_maps(g->target, maps_now, sizeof(maps_now));
	ASSERT_STREQ(maps_before, maps_now)
		TH_LOG("N=%d: %s changed the maps", n, after);
	snapshot(&now, g->target, g->base, 1);
	ASSERT_EQ(base->mem, now.mem)
		TH_LOG("N=%d: %s changed the target's memory", n, after);
	ASSERT_EQ(base->pins, now.pins) TH_LOG("N=%d: pins left", n);
	ASSERT_EQ(base->vmpin, now.vmpin) TH_LOG("N=%d: VmPin", n);
	ASSERT_EQ(base->vmlck, now.vmlck) TH_LOG("N=%d: VmLck", n);
	ASSERT_EQ(base->lazy_live, now.lazy_live)
		TH_LOG("N=%d: lazy state left after %s", n, after);
	ASSERT_EQ(base->lazy_images, now.lazy_images)
		TH_LOG("N=%d: lazy image reference left after %s", n, after);
	ASSERT_EQ(base->restores, now.restores)
		TH_LOG("N=%d: %s was counted as a restore", n, after);
	ASSERT_EQ(0, file_still_locked(IMG_PATH))
		TH_LOG("N=%d: the image file is still referenced", n);
}

/* The image restored whole in the target; unmap it, back to @base. */
static void check_restored(struct __test_metadata *_metadata,
			   const struct rig *g, struct state *base, int n)
{
	read_maps(g->target, maps_now, sizeof(maps_now));
	ASSERT_STREQ(maps_restored, maps_now)
		TH_LOG("N=%d: restored maps differ", n);
	ASSERT_EQ(-1, bad_page(g->target, g->base))
		TH_LOG("N=%d: restored contents differ", n);
	ASSERT_EQ(0, order(g->cmd, g->reply, 'u', 0, 0).ret);
	base->restores = ckpt_stat("restores");
	check_unchanged(_metadata, g, base, n, "unmapping");
}

/* One clean restore and unmap: @maps_restored, @maps_before, @base. */
static void first_round(struct __test_metadata *_metadata,
			const struct rig *g, unsigned int flags,
			struct state *base)
{
	struct rreply rep;

	rep = order(g->cmd, g->reply, 'r', 0, flags);
	ASSERT_EQ(0, rep.ret) TH_LOG("clean restore: %s", strerror(-rep.ret));
	read_maps(g->target, maps_restored, sizeof(maps_restored));
	ASSERT_EQ(-1, bad_page(g->target, g->base));
	ASSERT_EQ(0, order(g->cmd, g->reply, 'u', 0, 0).ret);
	read_maps(g->target, maps_before, sizeof(maps_before));
	snapshot(base, g->target, g->base, 1);
	ASSERT_NE(0, base->mem) TH_LOG("canaries unreadable");
}

TEST_F_TIMEOUT(restore, sweep, 600)
{
	struct vmk_failnth fn;
	struct rreply rep;
	struct state base;
	int n, injected, quiet = 0, absorbed = 0, enomem = 0, efault = 0;

	/* The target arms its own fail-nth; this only checks it exists. */
	if (vmk_failnth_open(&fn))
		SKIP(return, "%s", fn.why);
	vmk_failnth_close(&fn);
	first_round(_metadata, &self->g, variant->flags, &base);

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		rep = order(self->g.cmd, self->g.reply, 'r', n, variant->flags);
		ASSERT_NE(-EPIPE, rep.ret) TH_LOG("N=%d: the target died", n);
		injected = rep.injected;
		quiet = injected ? 0 : quiet + 1;
		if (injected && rep.ret) {
			ASSERT_TRUE(rep.ret == -ENOMEM || rep.ret == -EFAULT)
				TH_LOG("N=%d: restore failed with %d (%s), not ENOMEM or EFAULT",
				       n, rep.ret, strerror(-rep.ret));
			enomem += rep.ret == -ENOMEM;
			efault += rep.ret == -EFAULT;
			check_unchanged(_metadata, &self->g, &base, n,
					"a failed restore");
			/* The same restore, clean, into the same target. */
			rep = order(self->g.cmd, self->g.reply, 'r', 0,
				    variant->flags);
			ASSERT_EQ(0, rep.ret)
				TH_LOG("N=%d: clean retry: %s", n, strerror(-rep.ret));
		} else {
			ASSERT_EQ(0, rep.ret)
				TH_LOG("N=%d: %s", n, strerror(-rep.ret));
			absorbed += injected;
		}
		check_restored(_metadata, &self->g, &base, n);
		if (quiet == QUIET)
			break;
	}
	vmk_failnth_report(variant->name, n - QUIET);
	ksft_print_msg("%d ENOMEM, %d EFAULT, %d absorbed\n", enomem, efault,
		       absorbed);
}

FIXTURE(touch) {
	struct rig g;
};

FIXTURE_SETUP(touch)
{
	ASSERT_EQ(0, rig_start(&self->g, restore_target));
}

FIXTURE_TEARDOWN(touch)
{
	rig_stop(&self->g);
}

/*
 * First touch of every page of a lazy restore, with the Nth fault point
 * of the touching thread failing: an allocation failure in the fault
 * handler may only make the fault retry (VM_FAULT_OOM), never raise
 * SIGBUS or install a wrong or partial chunk.
 */
TEST_F_TIMEOUT(touch, lazy_first_touch, 600)
{
	struct vmk_failnth fn;
	struct rreply rep;
	struct state base;
	int n, quiet = 0;

	if (vmk_failnth_open(&fn))
		SKIP(return, "%s", fn.why);
	vmk_failnth_close(&fn);
	first_round(_metadata, &self->g, CKPT_RESTORE_LAZY, &base);

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		rep = order(self->g.cmd, self->g.reply, 'r', 0,
			    CKPT_RESTORE_LAZY);
		ASSERT_EQ(0, rep.ret) TH_LOG("N=%d: %s", n, strerror(-rep.ret));
		rep = order(self->g.cmd, self->g.reply, 't', n, 0);
		ASSERT_NE(-EPIPE, rep.ret) TH_LOG("N=%d: the target died", n);
		quiet = rep.injected ? 0 : quiet + 1;
		ASSERT_EQ(0, rep.ret)
			TH_LOG("N=%d: %d pages raised SIGBUS on first touch",
			       n, rep.ret);
		check_restored(_metadata, &self->g, &base, n);
		if (quiet == QUIET)
			break;
	}
	vmk_failnth_report("ckpt_lazy_first_touch", n - QUIET);
}

TEST_HARNESS_MAIN
