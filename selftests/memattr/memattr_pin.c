// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr and pinned pages.  The pin is an io_uring fixed buffer over a
 * mapping of the object, registered with raw syscalls: io_uring pins the
 * pages with pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) and holds them
 * until the buffer is unregistered.  That registration succeeds at all shows
 * long-term pins of this mapping are allowed (no dirty tracking: no
 * page_mkwrite, a backing device without writeback).
 *
 * A pinned page refuses conversion to private with EBUSY and nothing
 * changed (attributes, hooks, data); once unpinned the same conversion
 * works; pins outside the range and conversions to shared are unaffected;
 * a private page cannot be pinned; and under a race between pinning and
 * converting, no page is ever private while pinned.  O_DIRECT writes from
 * the mapping to a loop device pin the pages for the I/O only: conversions
 * racing with them are refused while the I/O is in flight, at once.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include <linux/io_uring.h>
#include <linux/loop.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

#define OBJ_PAGES	16
#define PIN_FIRST	4
#define PIN_NR		2
#define RACE_PINS	200
#define RACE_SECONDS	20
#define PIN_HOLD_US	500
#define DIO_ENOUGH	20	/* of writes, conversions done and refused */
#define DIO_SHARED_US	200
#define PIN_SHARED_US	50

/* A ring with no submissions: only its buffer registrations matter. */
static int ring_setup(void)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	return fd < 0 ? -errno : (int)fd;
}

/* Register [addr, addr + len) as the ring's fixed buffer: pins its pages. */
static int ring_pin(int ring, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };

	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	return 0;
}

static int ring_unpin(int ring)
{
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0))
		return -errno;
	return 0;
}

FIXTURE(pin) {
	int fd;
	int ring;
	__u64 pg;
	unsigned char *map;
};

FIXTURE_VARIANT(pin) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(pin, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(pin, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

FIXTURE_SETUP(pin)
{
	unsigned int i;

	self->ring = -1;
	self->map = MAP_FAILED;
	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("test"));
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "fail_nth", "0"));
	ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "delay_ms", "0"));
	self->pg = ma_page();
	self->fd = ma_create(OBJ_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
	self->map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	/* Page i holds i + 1 in every byte. */
	for (i = 0; i < OBJ_PAGES; i++)
		memset(self->map + i * self->pg, i + 1, self->pg);
	self->ring = ring_setup();
	ASSERT_LE(0, self->ring)
		TH_LOG("io_uring_setup: %s (kernel.io_uring_disabled?)",
		       strerror(-self->ring));
}

FIXTURE_TEARDOWN(pin)
{
	if (self->ring >= 0)
		close(self->ring);
	if (self->map != MAP_FAILED)
		munmap(self->map, OBJ_PAGES * self->pg);
	close(self->fd);
	ma_set_backend("none");
}

/* Page @i's first byte through the mapping @map, or -1 on SIGBUS. */
static int read_byte(const unsigned char *map, unsigned int i)
{
	__u64 v;

	if (ma_probe_read((const __u64 *)(map + i * ma_page()), &v))
		return -1;
	return v & 0xff;
}

/* The attributes of the whole object @fd as one run with @attrs. */
static int one_run(int fd, __u64 attrs)
{
	struct memattr_run runs[4];
	__u32 nr = 4;
	int more;

	if (ma_get(fd, 0, OBJ_PAGES * ma_page(), runs, &nr, &more))
		return 0;
	return nr == 1 && !more && runs[0].address == 0 &&
	       runs[0].size == OBJ_PAGES * ma_page() &&
	       runs[0].attributes == attrs;
}

TEST_F(pin, pinned_page_refuses_private)
{
	long long busy, conversions;
	struct ma_calls c0, c1;
	unsigned int i;

	ASSERT_EQ(0, ring_pin(self->ring, self->map + PIN_FIRST * self->pg,
			      PIN_NR * self->pg))
		TH_LOG("IORING_REGISTER_BUFFERS on a memattr mapping refused");
	busy = ma_stat("pinned_busy");
	conversions = ma_stat("conversions");
	ASSERT_LE(0, busy) TH_LOG("debugfs pinned_busy missing");
	c0 = ma_get_calls();

	EXPECT_EQ(-EBUSY, ma_set_pages(self->fd, 0, OBJ_PAGES, MA_PRIVATE))
		TH_LOG("whole object to private with two pages pinned");
	EXPECT_EQ(-EBUSY, ma_set_pages(self->fd, PIN_FIRST + 1, 1, MA_PRIVATE))
		TH_LOG("the second pinned page alone to private");

	EXPECT_TRUE(one_run(self->fd, 0)) TH_LOG("attributes changed by a refused call");
	c1 = ma_get_calls();
	EXPECT_EQ(c0.prepare, c1.prepare) TH_LOG("prepare ran for a refused call");
	EXPECT_EQ(c0.commit, c1.commit) TH_LOG("commit ran for a refused call");
	EXPECT_EQ(c0.finish, c1.finish) TH_LOG("finish ran for a refused call");
	EXPECT_EQ(c0.abort, c1.abort) TH_LOG("abort ran for a refused call");
	EXPECT_EQ(busy + 2, ma_stat("pinned_busy"));
	EXPECT_EQ(conversions, ma_stat("conversions"));
	/* The zapped pages fault back in with their data. */
	for (i = 0; i < OBJ_PAGES; i++)
		EXPECT_EQ((int)i + 1, read_byte(self->map, i))
			TH_LOG("page %u after the refused conversion", i);

	ASSERT_EQ(0, ring_unpin(self->ring));
	EXPECT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, MA_PRIVATE))
		TH_LOG("to private once unpinned");
	EXPECT_TRUE(one_run(self->fd, MA_PRIVATE));
	c0 = ma_get_calls();
	EXPECT_EQ(c1.prepare + 1, c0.prepare);
	EXPECT_EQ(c1.commit + 1, c0.commit);
	EXPECT_EQ(-1, read_byte(self->map, PIN_FIRST)) TH_LOG("private page mapped");
	EXPECT_EQ(busy + 2, ma_stat("pinned_busy"));
}

/*
 * vmsplice() takes plain references (FOLL_GET), not pins, and the pipe keeps
 * them: the documented hole (README, "Pinned pages").  A page spliced into a
 * pipe while shared does not refuse its conversion to private, and the pipe
 * still reads the page's data after that, while the mapping raises SIGBUS.
 * Should conversions ever check the exact reference count, the conversion
 * fails with EBUSY here and this test (and the README) must change.
 */
TEST_F(pin, vmsplice_reference_survives_conversion)
{
	unsigned char *page = self->map + PIN_FIRST * self->pg;
	struct iovec iov = { .iov_base = page, .iov_len = self->pg };
	unsigned char *want = malloc(self->pg), *got = malloc(self->pg);
	int p[2];

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	memset(want, PIN_FIRST + 1, self->pg);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ((ssize_t)self->pg, vmsplice(p[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));
	EXPECT_EQ(0, ma_set_pages(self->fd, PIN_FIRST, 1, MA_PRIVATE))
		TH_LOG("a plain reference refused the conversion");
	EXPECT_EQ(MA_PRIVATE, ma_page_attrs(self->fd, PIN_FIRST));
	EXPECT_EQ(-1, read_byte(self->map, PIN_FIRST));
	ASSERT_EQ((ssize_t)self->pg, read(p[0], got, self->pg));
	EXPECT_EQ(0, memcmp(want, got, self->pg))
		TH_LOG("the pipe did not read the private page's data");
	close(p[0]);
	close(p[1]);
	/* Back to shared: zeroed, as always. */
	EXPECT_EQ(0, ma_set_pages(self->fd, PIN_FIRST, 1, 0));
	EXPECT_EQ(0, read_byte(self->map, PIN_FIRST));
	free(want);
	free(got);
}

TEST_F(pin, pins_outside_range_do_not_block)
{
	long long busy = ma_stat("pinned_busy");
	struct memattr_run runs[4];
	__u32 nr = 4;
	int more;

	ASSERT_EQ(0, ring_pin(self->ring, self->map + PIN_FIRST * self->pg,
			      PIN_NR * self->pg));
	EXPECT_EQ(0, ma_set_pages(self->fd, 0, PIN_FIRST, MA_PRIVATE))
		TH_LOG("range just below the pinned pages");
	EXPECT_EQ(0, ma_set_pages(self->fd, PIN_FIRST + PIN_NR,
				  OBJ_PAGES - PIN_FIRST - PIN_NR, MA_PRIVATE))
		TH_LOG("range just above the pinned pages");
	ASSERT_EQ(0, ma_get(self->fd, 0, OBJ_PAGES * self->pg, runs, &nr, &more));
	ASSERT_EQ(3, nr);
	EXPECT_EQ(MA_PRIVATE, runs[0].attributes);
	EXPECT_EQ(PIN_FIRST * self->pg, runs[1].address);
	EXPECT_EQ(PIN_NR * self->pg, runs[1].size);
	EXPECT_EQ(0, runs[1].attributes);
	EXPECT_EQ(MA_PRIVATE, runs[2].attributes);
	EXPECT_EQ(PIN_FIRST + 1, read_byte(self->map, PIN_FIRST));
	EXPECT_EQ(-1, read_byte(self->map, PIN_FIRST - 1));
	EXPECT_EQ(busy, ma_stat("pinned_busy"));
	EXPECT_EQ(0, ring_unpin(self->ring));
}

TEST_F(pin, private_to_shared_unaffected)
{
	ASSERT_EQ(0, ma_set_pages(self->fd, 8, 8, MA_PRIVATE));
	ASSERT_EQ(0, ring_pin(self->ring, self->map + PIN_FIRST * self->pg,
			      PIN_NR * self->pg));
	EXPECT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, 0))
		TH_LOG("to shared over a range holding pinned shared pages");
	EXPECT_TRUE(one_run(self->fd, 0));
	EXPECT_EQ(0, read_byte(self->map, 8)) TH_LOG("private->shared did not zero");
	EXPECT_EQ(PIN_FIRST + 1, read_byte(self->map, PIN_FIRST));
	EXPECT_EQ(0, ring_unpin(self->ring));
}

TEST_F(pin, private_page_cannot_be_pinned)
{
	ASSERT_EQ(0, ma_set_pages(self->fd, PIN_FIRST + 1, 1, MA_PRIVATE));
	EXPECT_EQ(-EFAULT, ring_pin(self->ring,
				    self->map + PIN_FIRST * self->pg,
				    PIN_NR * self->pg))
		TH_LOG("a buffer over a private page was registered");
	EXPECT_EQ(0, ring_pin(self->ring, self->map + PIN_FIRST * self->pg,
			      self->pg))
		TH_LOG("the shared page next to it");
	EXPECT_EQ(0, ring_unpin(self->ring));
}

struct race {
	int fd;
	int stop;
	unsigned int shared_us;	/* pause after each return to shared */
	int to_private, busy, errors;
	int marker;		/* tracefs trace_marker, or -1 */
};

/* Write @fmt with @v to the trace marker @fd (if any), as one event. */
static void trace_mark(int fd, const char *fmt, int v)
{
	char buf[16];
	int n;

	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), fmt, v);
	if (write(fd, buf, n) != n)
		return;	/* the parser sees the marker missing */
}

/*
 * Flip the pinned pages between private and shared until told to stop,
 * pausing @shared_us in the shared state when asked to, so that the other
 * thread gets to use the pages at all under single-threaded TCG.
 */
static void *convert_loop(void *arg)
{
	struct race *r = arg;
	int ret;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		trace_mark(r->marker, "C", 0);
		ret = ma_set_pages(r->fd, PIN_FIRST, PIN_NR, MA_PRIVATE);
		trace_mark(r->marker, "c%d", !ret ? 0 : ret == -EBUSY ? 1 : 2);
		if (!ret)
			__atomic_fetch_add(&r->to_private, 1, __ATOMIC_RELAXED);
		else if (ret == -EBUSY)
			__atomic_fetch_add(&r->busy, 1, __ATOMIC_RELAXED);
		else
			r->errors++;
		if (ma_set_pages(r->fd, PIN_FIRST, PIN_NR, 0))
			r->errors++;
		if (r->shared_us)
			usleep(r->shared_us);
	}
	return NULL;
}

/*
 * One thread converts while this one pins: whenever a pin is held, GET must
 * show both pages shared.  Bounded by pins and by time (TCG is slow and a
 * registration waits for the ring to quiesce).
 */
TEST_F_TIMEOUT(pin, never_private_while_pinned, 90)
{
	struct race r = { .fd = self->fd, .shared_us = PIN_SHARED_US,
			  .marker = -1 };
	int pins = 0, bad = 0, ret;
	time_t end = time(NULL) + RACE_SECONDS;
	unsigned int i;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, convert_loop, &r));
	while (pins < RACE_PINS && time(NULL) < end) {
		ret = ring_pin(self->ring, self->map + PIN_FIRST * self->pg,
			       PIN_NR * self->pg);
		if (ret == -EFAULT)
			continue;	/* a page was private */
		if (ret) {
			bad++;
			break;
		}
		pins++;
		/*
		 * Right after pinning, and after a sleep that lets the
		 * converter run (single-threaded TCG only switches vCPUs
		 * now and then).
		 */
		for (i = 0; i < 2; i++) {
			if (ma_page_attrs(self->fd, PIN_FIRST) ||
			    ma_page_attrs(self->fd, PIN_FIRST + 1))
				bad++;
			if (!i)
				usleep(PIN_HOLD_US);
		}
		if (ring_unpin(self->ring))
			bad++;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%d pins, %d conversions to private, %d refused", pins,
	       r.to_private, r.busy);
	EXPECT_EQ(0, bad) TH_LOG("a pinned page was private (or a call failed)");
	EXPECT_EQ(0, r.errors) TH_LOG("conversions failing other than EBUSY");
	EXPECT_LT(0, pins) TH_LOG("the race never pinned");
	EXPECT_LT(0, r.to_private) TH_LOG("the race never converted");
	EXPECT_LT(0, r.busy) TH_LOG("no conversion met a pin: race not exercised");
}

/* Have @done writes and @r's conversions shown every outcome often enough? */
static bool dio_race_seen(struct race *r, int done)
{
	return done >= DIO_ENOUGH &&
	       __atomic_load_n(&r->busy, __ATOMIC_RELAXED) >= DIO_ENOUGH &&
	       __atomic_load_n(&r->to_private, __ATOMIC_RELAXED) >= DIO_ENOUGH;
}

/*
 * A loop device over a memfd of @size bytes, opened O_DIRECT; its fd or
 * -errno.  The device lets go of the memfd when cleared.
 */
static int loop_open(size_t size)
{
	struct loop_config cfg;
	char path[32];
	int ctl, bfd, fd, nr, ret;

	bfd = memfd_create("memattr_pin", MFD_CLOEXEC);
	if (bfd < 0)
		return -errno;
	if (ftruncate(bfd, size)) {
		ret = -errno;
		goto out_close_backing;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		ret = -errno;
		goto out_close_backing;
	}
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	ret = nr < 0 ? -errno : 0;
	close(ctl);
	if (ret)
		goto out_close_backing;
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_close_backing;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	if (ioctl(fd, LOOP_CONFIGURE, &cfg)) {
		ret = -errno;
		close(fd);
		goto out_close_backing;
	}
	ret = fd;
out_close_backing:
	close(bfd);
	return ret;
}

/*
 * The mmap_lock tracepoint of the calling thread, in tracefs: slow GUP
 * takes mmap_lock (to find the VMA and fault), GUP-fast never does.
 */
#define MMAP_LOCK_EV	"events/mmap_lock/mmap_lock_start_locking/"

static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing/", "/sys/kernel/debug/tracing/",
	};
	char path[128];
	unsigned int i;

	mount("tracefs", dirs[0], "tracefs", 0, NULL);	/* if not yet */
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s%senable", dirs[i],
			 MMAP_LOCK_EV);
		if (!access(path, W_OK))
			return dirs[i];
	}
	return NULL;
}

/* Write @val to @file of tracefs @tr, truncating it; 0 or -errno. */
static int trace_write(const char *tr, const char *file, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s%s", tr, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* Trace this thread's mmap_lock attempts from an empty buffer on. */
static int mmap_lock_trace_start(const char *tr)
{
	char filter[32];

	snprintf(filter, sizeof(filter), "common_pid == %d", (int)gettid());
	return trace_write(tr, MMAP_LOCK_EV "filter", filter) ?:
	       trace_write(tr, "trace", "") ?:
	       trace_write(tr, MMAP_LOCK_EV "enable", "1");
}

/*
 * The O_DIRECT race, iteration by iteration.  Each write of the pinning
 * thread is bracketed by trace markers ("P<i>" before, "p<i>" after) and
 * each conversion to private of the converter too ("C" before, "c<r>" after:
 * r 0 done, 1 EBUSY, 2 other); this thread's mmap_lock attempts are traced
 * between them.  A write that took no more mmap_lock than one from
 * anonymous memory pinned both pages through GUP-fast alone; one that took
 * more fell back to slow GUP for a page.  Writes 0 to DIO_CAL - 1, before
 * the race, calibrate this in the same trace: from anonymous memory, from
 * the object's pages mapped, and from them unmapped.
 */
#define DIO_MAX_ITERS	4000
enum { DIO_CAL_ANON, DIO_CAL_MAPPED, DIO_CAL_UNMAPPED, DIO_CAL };

struct dio_iter {
	int locks;		/* mmap_lock attempts between P<i> and p<i> */
	unsigned char seen;	/* 1: P<i> seen, 2: p<i> too */
	unsigned char result;	/* DIO_OK, DIO_EFAULT, DIO_BAD */
	unsigned char data_ok;	/* the device got what the touch wrote */
};

enum { DIO_OK, DIO_EFAULT, DIO_BAD };

/* Refusals, by the pinning writes they overlapped. */
struct dio_refusals {
	int fast;	/* exactly one write, and it pinned through GUP-fast */
	int slow;	/* exactly one write, which fell back to slow GUP */
	int several;	/* more than one write */
	int none;	/* no write in flight */
};

/*
 * Read the trace of the race: this thread's mmap_lock attempts per write,
 * into @it (of @nr writes), and each refused conversion's overlap with the
 * writes, into @rf, a write with more attempts than the anonymous one
 * counting as slow.  Two passes: a conversion may end before the write it
 * overlaps does.  0 or -errno.
 */
static int dio_trace_read(const char *tr, struct dio_iter *it, int nr,
			  struct dio_refusals *rf)
{
	int pass, cur, last, lo, hi, v, base = 0;
	char path[128], line[512];
	const char *m;
	FILE *f;

	snprintf(path, sizeof(path), "%strace", tr);
	for (pass = 0; pass < 2; pass++) {
		if (pass)
			base = it[DIO_CAL_ANON].locks;
		f = fopen(path, "r");
		if (!f)
			return -errno;
		cur = -1;	/* the write in flight */
		last = -1;	/* the last write that ended */
		lo = -1;
		while (fgets(line, sizeof(line), f)) {
			if (strstr(line, "mmap_lock_start_locking:")) {
				if (!pass && cur >= 0)
					it[cur].locks++;
				continue;
			}
			m = strstr(line, "tracing_mark_write: ");
			if (!m)
				continue;
			m += strlen("tracing_mark_write: ");
			if (sscanf(m, "P%d", &v) == 1 && v >= 0 && v < nr) {
				cur = v;
				if (!pass)
					it[v].seen = 1;
			} else if (sscanf(m, "p%d", &v) == 1 && v >= 0 &&
				   v < nr) {
				if (!pass && it[v].seen == 1)
					it[v].seen = 2;
				cur = -1;
				last = v;
			} else if (m[0] == 'C') {
				lo = cur >= 0 ? cur : last + 1;
			} else if (sscanf(m, "c%d", &v) == 1 && v == 1 &&
				   pass && lo >= 0) {
				hi = cur >= 0 ? cur : last;
				if (lo > hi)
					rf->none++;
				else if (lo < hi)
					rf->several++;
				else if (it[lo].locks > base)
					rf->slow++;
				else
					rf->fast++;
				lo = -1;
			}
		}
		fclose(f);
	}
	return 0;
}

/* O_DIRECT write @n of @len bytes from @buf to @lfd, between its markers. */
static ssize_t dio_traced_write(int marker, int n, int lfd, void *buf,
				size_t len)
{
	ssize_t got;
	int err;

	trace_mark(marker, "P%d", n);
	got = pwrite(lfd, buf, len, 0);
	err = errno;
	trace_mark(marker, "p%d", n);
	errno = err;
	return got;
}

/*
 * O_DIRECT writes from the mapping pin the pages (FOLL_PIN, not long-term)
 * until the loop device has the data; a converter flips the pages between
 * private and shared.  Before each write this thread writes the write's
 * number into both pages, mapping them, so that the write's
 * pin_user_pages_fast() finds their PTEs and pins through GUP-fast, unless
 * the converter zapped them in between (then, and for a private page, GUP
 * falls back to slow GUP: those are the race's other outcomes, which no
 * write can avoid).  The trace says which path each write took.
 *
 * Conversions only succeed or fail with EBUSY, writes only succeed or fail
 * with EFAULT (a private page), and: a write that failed with EFAULT never
 * pinned through GUP-fast alone (GUP-fast finds no PTE of a private page);
 * every write that pinned through GUP-fast put on the device the number
 * written before it (a conversion to private and back, which zeroes the
 * pages, cannot have happened while they were pinned); and conversions were
 * refused while a GUP-fast pin alone was in flight.  Runs until every
 * outcome was seen often enough, or for RACE_SECONDS.
 */
TEST_F_TIMEOUT(pin, odirect_race_pins_through_gup_fast, 120)
{
	struct race r = { .fd = self->fd, .shared_us = DIO_SHARED_US,
			  .marker = -1 };
	unsigned char *buf = self->map + PIN_FIRST * self->pg;
	size_t len = PIN_NR * self->pg;
	time_t end = time(NULL) + RACE_SECONDS;
	int lfd, done = 0, efault = 0, bad = 0, n = DIO_CAL, i, base;
	int fast = 0, fast_efault = 0, fast_bad_data = 0, slow_ok = 0;
	int missing = 0;
	struct dio_refusals rf = { 0 };
	const char *tr = tracefs();
	struct dio_iter *it;
	__u64 *chk, *abuf, v;
	char path[128];
	pthread_t t;
	ssize_t got;
	bool ok;

	ASSERT_NE(NULL, tr) TH_LOG("no tracefs with the mmap_lock events");
	it = calloc(DIO_MAX_ITERS, sizeof(*it));
	ASSERT_NE(NULL, it);
	abuf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, abuf);
	chk = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, chk);
	memset(abuf, 1, len);
	lfd = loop_open(len);
	ASSERT_LE(0, lfd) TH_LOG("loop device: %s", strerror(-lfd));

	/* Room for the whole race, and one clock for both CPUs' events. */
	ASSERT_EQ(0, trace_write(tr, "buffer_size_kb", "4096"));
	ASSERT_EQ(0, trace_write(tr, "trace_clock", "global"));
	snprintf(path, sizeof(path), "%strace_marker", tr);
	r.marker = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, r.marker) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, mmap_lock_trace_start(tr));

	/*
	 * Calibration: the fixture wrote the object's pages, so they are
	 * mapped (GUP-fast); MADV_DONTNEED unmaps them (slow GUP faults).
	 */
	got = dio_traced_write(r.marker, DIO_CAL_ANON, lfd, abuf, len);
	ASSERT_EQ((ssize_t)len, got);
	got = dio_traced_write(r.marker, DIO_CAL_MAPPED, lfd, buf, len);
	ASSERT_EQ((ssize_t)len, got);
	ASSERT_EQ(0, madvise(buf, len, MADV_DONTNEED));
	got = dio_traced_write(r.marker, DIO_CAL_UNMAPPED, lfd, buf, len);
	ASSERT_EQ((ssize_t)len, got);

	ASSERT_EQ(0, pthread_create(&t, NULL, convert_loop, &r));
	while (n < DIO_MAX_ITERS && time(NULL) < end &&
	       !dio_race_seen(&r, done)) {
		v = 0x6d61000000000000ULL | n;
		ok = !ma_probe_write((__u64 *)buf, v);
		ok &= !ma_probe_write((__u64 *)(buf + self->pg), v);
		got = dio_traced_write(r.marker, n, lfd, buf, len);
		if (got == (ssize_t)len) {
			done++;
			it[n].result = DIO_OK;
			it[n].data_ok = ok &&
				pread(lfd, chk, len, 0) == (ssize_t)len &&
				chk[0] == v && chk[self->pg / sizeof(v)] == v;
		} else if (got < 0 && errno == EFAULT) {
			efault++;
			it[n].result = DIO_EFAULT;
		} else {
			bad++;
			it[n].result = DIO_BAD;
		}
		n++;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, trace_write(tr, MMAP_LOCK_EV "enable", "0"));
	trace_write(tr, MMAP_LOCK_EV "filter", "0");
	ASSERT_EQ(0, dio_trace_read(tr, it, n, &rf));
	base = it[DIO_CAL_ANON].locks;
	trace_write(tr, "trace_clock", "local");
	close(r.marker);
	ioctl(lfd, LOOP_CLR_FD);
	close(lfd);

	for (i = 0; i < n; i++)
		missing += it[i].seen != 2;
	for (i = DIO_CAL; i < n; i++) {
		if (it[i].locks > base) {
			slow_ok += it[i].result == DIO_OK;
			continue;
		}
		fast++;
		fast_efault += it[i].result == DIO_EFAULT;
		fast_bad_data += it[i].result == DIO_OK && !it[i].data_ok;
	}
	TH_LOG("mmap_lock per write: %d anonymous, %d mapped, %d unmapped",
	       it[DIO_CAL_ANON].locks, it[DIO_CAL_MAPPED].locks,
	       it[DIO_CAL_UNMAPPED].locks);
	TH_LOG("%d writes: %d GUP-fast, %d slow GUP (%d done, %d EFAULT)",
	       n - DIO_CAL, fast, n - DIO_CAL - fast, slow_ok,
	       efault - fast_efault);
	TH_LOG("%d conversions to private, %d refused", r.to_private, r.busy);
	TH_LOG("refused in a GUP-fast write %d, a slow one %d, across %d, none %d",
	       rf.fast, rf.slow, rf.several, rf.none);
	ASSERT_EQ(0, missing) TH_LOG("writes missing from the trace");
	ASSERT_EQ(base, it[DIO_CAL_MAPPED].locks)
		TH_LOG("mapped pages pinned with mmap_lock: not GUP-fast");
	ASSERT_LT(base, it[DIO_CAL_UNMAPPED].locks)
		TH_LOG("unmapped pages pinned without mmap_lock: slow GUP unseen");
	free(it);
	munmap(abuf, len);
	munmap(chk, len);
	EXPECT_EQ(0, bad) TH_LOG("O_DIRECT writes failing other than EFAULT");
	EXPECT_EQ(0, r.errors) TH_LOG("conversions failing other than EBUSY");
	EXPECT_LT(0, done) TH_LOG("no O_DIRECT write went through");
	EXPECT_LT(0, r.to_private) TH_LOG("the race never converted");
	EXPECT_LT(0, r.busy) TH_LOG("no conversion met an O_DIRECT pin");
	EXPECT_EQ(0, fast_efault)
		TH_LOG("EFAULT without slow GUP: the trace misses slow GUP");
	EXPECT_EQ(0, fast_bad_data)
		TH_LOG("a GUP-fast pinned page changed under the write");
	EXPECT_LT(0, fast) TH_LOG("no write pinned through GUP-fast");
	EXPECT_LT(0, rf.fast) TH_LOG("no conversion refused for a GUP-fast pin");
}

TEST_HARNESS_MAIN
