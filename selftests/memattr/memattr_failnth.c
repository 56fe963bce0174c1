// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr fault-injection sweeps (issue 14): MEMATTR_CREATE, SET in both
 * directions (over several runs, and splitting one), GET and the fault
 * path fail at their 1st, 2nd, ... allocation or user copy through
 * /proc/thread-self/fail-nth, until a call reaches no injection point.
 *
 * A call that fails must return an errno the uAPI lists for it and leave
 * everything as it was: no fd, no object, no module reference, the same
 * runs, the module's counters unchanged but for prepares that were aborted
 * (the test backend's "prepared" back to 0), and every shared page's data
 * still there.  A call that absorbed the failure, and the retry after a
 * failure, must have done their work in full.  A fault on a shared page
 * must end with the page mapped (an allocation failure in a fault is
 * retried, never a SIGBUS: the uAPI raises SIGBUS only on private pages).
 *
 * Each sweep runs on both stores, with the test backend (hook counters) and
 * with sw_rmp (which WARNs, failing the run, on hooks out of order).
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_failnth.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV, MA_STATS)

#define MA_REFCNT "/sys/module/memattr/refcnt"
#define MA_TEST_REFCNT "/sys/module/memattr_test/refcnt"

/*
 * The object: GFNs [0, OBJ_PAGES), the sweeps work on [WIN, OBJ_PAGES).
 * Before each sweep call only GFNs below 64 have attributes or pages: from
 * 64 on the per-GFN store's xarray and the page cache need new nodes, so
 * a call reaching past 64 allocates there too.
 */
#define OBJ_PAGES	72
#define WIN		52
/* Pages of the window written before each sweep call; the rest never are. */
#define WRITTEN_END	64
#define MAX_RUNS	OBJ_PAGES

/* What an object holds before the call under test. */
enum start {
	/* All shared: the call is the object's first conversion. */
	START_EMPTY,
	/* The start_private runs. */
	START_RUNS,
	/* GFNs 0, 2, ... 2 * (NR_STRIPES - 1) private, one run each. */
	START_STRIPES,
};

/* The private runs of START_RUNS: GFNs 53, 55, 57-61 and 63. */
static const struct { unsigned int first, nr; } start_private[] = {
	{ 53, 1 }, { 55, 1 }, { 57, 5 }, { 63, 1 },
};

/*
 * More runs than a range store leaf holds (20), so it has split; and a
 * conversion over them has more changing runs than the first array of
 * changes holds (16), so it grows.
 */
#define NR_STRIPES	21

/* The module's counters a failed call must leave alone. */
static const char *const stat_keys[] = {
	"objects", "conversions", "pinned_busy", "pages_converted", "runs",
	"gfn_entries", "hook_commit", "commit_locks", "hook_finish",
};

#define NR_STATS ARRAY_SIZE(stat_keys)

/* What a call under test must leave as it was when it fails. */
struct snap {
	long long stat[NR_STATS];
	long long prepare, abort;	/* hook_prepare, hook_abort */
	struct ma_calls calls;		/* the test backend's, if selected */
	long refcnt;			/* memattr's module references */
	long be_refcnt;			/* memattr_test's, or 0 */
	int fds;			/* open fds of this process */
	struct memattr_run runs[MAX_RUNS];	/* GET of the whole object */
	__u32 nr_runs;
};

/* An object under test, its mapping and what it should hold. */
struct obj {
	int fd;
	char *map;
	__u64 attrs[OBJ_PAGES];	/* attributes of each page */
	__u64 data[OBJ_PAGES];	/* first word of each shared page */
};

/* What every sweep needs. */
struct sweep {
	struct vmk_failnth fn;
	__u64 pg;
	__u32 flags;		/* MEMATTR_CREATE flags of the objects */
	bool test_backend;	/* the test backend's counters apply */
};

FIXTURE(failnth) {
	struct sweep sw;
	int dev;
};

FIXTURE_VARIANT(failnth) {
	__u32 flags;
	const char *backend;
};

FIXTURE_VARIANT_ADD(failnth, range_test) {
	.flags = 0,
	.backend = "test",
};

FIXTURE_VARIANT_ADD(failnth, per_gfn_test) {
	.flags = MEMATTR_CREATE_PER_GFN,
	.backend = "test",
};

FIXTURE_VARIANT_ADD(failnth, range_sw_rmp) {
	.flags = 0,
	.backend = "sw_rmp",
};

FIXTURE_VARIANT_ADD(failnth, per_gfn_sw_rmp) {
	.flags = MEMATTR_CREATE_PER_GFN,
	.backend = "sw_rmp",
};

FIXTURE_SETUP(failnth)
{
	self->dev = -1;
	self->sw.fn.fd = -1;
	ma_probe_init();
	self->sw.pg = ma_page();
	self->sw.flags = variant->flags;
	ASSERT_EQ(0, ma_set_backend(variant->backend))
		TH_LOG("cannot select backend %s", variant->backend);
	self->sw.test_backend = !strcmp(variant->backend, "test");
	if (self->sw.test_backend) {
		ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "fail_nth", "0"));
		ASSERT_EQ(0, vmk_write_file(MA_TEST_DIR "delay_ms", "0"));
	}
	if (vmk_failnth_open(&self->sw.fn))
		SKIP(return, "%s", self->sw.fn.why);
	self->dev = open(MA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", MA_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(failnth)
{
	if (self->dev >= 0)
		close(self->dev);
	vmk_failnth_close(&self->sw.fn);
	ma_set_backend("none");
}

static __u64 pattern(unsigned int page)
{
	return 0xfa11000000000000ULL | page;
}

static __u64 *page_word(const struct obj *o, __u64 pg, unsigned int page)
{
	return (__u64 *)(o->map + page * pg);
}

/* GET of the whole object into @runs; returns 0 or -errno. */
static int get_all(int fd, __u64 pg, struct memattr_run *runs, __u32 *nr)
{
	int more = 0, ret;

	*nr = MAX_RUNS;
	ret = ma_get(fd, 0, OBJ_PAGES * pg, runs, nr, &more);
	return ret ?: more ? -E2BIG : 0;
}

/* The state of the module, and of object @fd unless it is -1. */
static void take_snap(struct __test_metadata *_metadata,
		      const struct sweep *sw, int fd, struct snap *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NR_STATS; i++) {
		s->stat[i] = ma_stat(stat_keys[i]);
		ASSERT_LE(0, s->stat[i]) TH_LOG("no counter %s", stat_keys[i]);
	}
	s->prepare = ma_stat("hook_prepare");
	s->abort = ma_stat("hook_abort");
	if (sw->test_backend)
		s->calls = ma_get_calls();
	s->refcnt = vmk_read_long(MA_REFCNT);
	ASSERT_LE(0, s->refcnt) TH_LOG("%s: %s", MA_REFCNT, strerror(-s->refcnt));
	/* The test backend's objects pin its own module. */
	if (sw->test_backend) {
		s->be_refcnt = vmk_read_long(MA_TEST_REFCNT);
		ASSERT_LE(0, s->be_refcnt)
			TH_LOG("%s: %s", MA_TEST_REFCNT,
			       strerror(-s->be_refcnt));
	}
	s->fds = vmk_count_dir("/proc/self/fd");
	ASSERT_LE(0, s->fds);
	if (fd >= 0)
		ASSERT_EQ(0, get_all(fd, sw->pg, s->runs, &s->nr_runs));
}

/*
 * Whether the call @what, failing (or absorbing a failure, in a fault) at
 * point @n, left anything behind on object @fd (-1: none) since @before:
 * every counter as it was except that prepares may have run, each of them
 * aborted.
 */
static void expect_unchanged(struct __test_metadata *_metadata,
			     const struct sweep *sw, int fd,
			     const struct snap *before, const char *what, int n)
{
	bool test_backend = sw->test_backend;
	struct snap snap, *after = &snap;
	unsigned int i;

	take_snap(_metadata, sw, fd, after);

	for (i = 0; i < NR_STATS; i++) {
		const char *key = stat_keys[i];

		EXPECT_EQ(before->stat[i], after->stat[i])
			TH_LOG("%s failing at point %d changed %s", what, n,
			       key);
	}
	EXPECT_EQ(after->prepare - before->prepare, after->abort - before->abort)
		TH_LOG("%s failing at point %d: prepares not aborted", what, n);
	if (test_backend) {
		EXPECT_EQ(before->calls.commit, after->calls.commit)
			TH_LOG("%s failing at point %d committed", what, n);
		EXPECT_EQ(before->calls.finish, after->calls.finish)
			TH_LOG("%s failing at point %d finished", what, n);
		EXPECT_EQ(after->calls.prepare - before->calls.prepare,
			  after->calls.abort - before->calls.abort)
			TH_LOG("%s failing at point %d: test prepares not aborted",
			       what, n);
		EXPECT_EQ(0, after->calls.prepared)
			TH_LOG("%s failing at point %d left pages prepared",
			       what, n);
	}
	EXPECT_EQ(before->refcnt, after->refcnt)
		TH_LOG("%s failing at point %d changed memattr's refcnt", what, n);
	EXPECT_EQ(before->be_refcnt, after->be_refcnt)
		TH_LOG("%s failing at point %d changed memattr_test's refcnt",
		       what, n);
	EXPECT_EQ(before->fds, after->fds)
		TH_LOG("%s failing at point %d left an fd", what, n);
	ASSERT_EQ(before->nr_runs, after->nr_runs)
		TH_LOG("%s failing at point %d changed the runs", what, n);
	EXPECT_EQ(0, memcmp(before->runs, after->runs,
			    before->nr_runs * sizeof(before->runs[0])))
		TH_LOG("%s failing at point %d changed the attributes", what, n);
}

/*
 * The call @what failed with @err at point @n: it must have been the
 * injection, reported with an errno the uAPI lists for it, and the call
 * must have left nothing behind.
 */
static void expect_failed(struct __test_metadata *_metadata,
			  const struct sweep *sw, int fd,
			  const struct snap *before, int err, int injected,
			  const char *what, int n)
{
	ASSERT_TRUE(injected)
		TH_LOG("%s failed without injection: %s", what, strerror(err));
	EXPECT_TRUE(err == ENOMEM || err == EFAULT)
		TH_LOG("%s failing at point %d: %s, not ENOMEM or EFAULT", what,
		       n, strerror(err));
	expect_unchanged(_metadata, sw, fd, before, what, n);
}

/* Set @nr pages from @first to @attrs in the model, as a SET would. */
static void model_set(struct obj *o, unsigned int first, unsigned int nr,
		      __u64 attrs)
{
	unsigned int i;

	for (i = first; i < first + nr; i++) {
		/* Private -> shared zeroes the page. */
		if (o->attrs[i] && !attrs)
			o->data[i] = 0;
		o->attrs[i] = attrs;
	}
}

/*
 * Check the object against the model: GET gives the model's maximal runs,
 * every shared page of the window reads its data (faulting back in after a
 * zap), every private one raises SIGBUS.
 */
static void check_obj(struct __test_metadata *_metadata, const struct obj *o,
		      __u64 pg, const char *what, int n)
{
	struct memattr_run runs[MAX_RUNS];
	unsigned int i, first, r = 0;
	__u32 nr;
	__u64 v;

	ASSERT_EQ(0, get_all(o->fd, pg, runs, &nr));
	for (first = 0; first < OBJ_PAGES; r++) {
		for (i = first; i < OBJ_PAGES && o->attrs[i] == o->attrs[first]; i++)
			;
		ASSERT_LT(r, nr) TH_LOG("%s (point %d): fewer runs than expected",
					what, n);
		EXPECT_EQ(first * pg, runs[r].address)
			TH_LOG("%s (point %d): run %u", what, n, r);
		EXPECT_EQ((i - first) * pg, runs[r].size)
			TH_LOG("%s (point %d): run %u", what, n, r);
		EXPECT_EQ(o->attrs[first], runs[r].attributes)
			TH_LOG("%s (point %d): run %u", what, n, r);
		first = i;
	}
	EXPECT_EQ(r, nr) TH_LOG("%s (point %d): more runs than expected", what, n);

	for (i = WIN; i < OBJ_PAGES; i++) {
		if (o->attrs[i]) {
			EXPECT_EQ(-1, ma_probe_read(page_word(o, pg, i), &v))
				TH_LOG("%s (point %d): private page %u readable",
				       what, n, i);
			continue;
		}
		ASSERT_EQ(0, ma_probe_read(page_word(o, pg, i), &v))
			TH_LOG("%s (point %d): shared page %u raised SIGBUS",
			       what, n, i);
		EXPECT_EQ(o->data[i], v)
			TH_LOG("%s (point %d): page %u holds %#llx", what, n, i,
			       (unsigned long long)v);
	}
}

/* Convert @nr pages from @first to private, in the object and the model. */
static void obj_private(struct __test_metadata *_metadata, __u64 pg,
			struct obj *o, unsigned int first, unsigned int nr)
{
	ASSERT_EQ(0, ma_set_pages(o->fd, first, nr, MA_PRIVATE));
	model_set(o, first, nr, MA_PRIVATE);
}

/*
 * A new object, mapped, with the first word of the pages [WIN, WRITTEN_END)
 * written, then converted as @start says: what each sweep call starts
 * from.  A new one per call, so that each call finds the same state and
 * allocates the same (the range store's spare leaves, the xarray's nodes).
 * START_EMPTY makes the call under test the object's first conversion, the
 * only one that fills the range store's spare leaves without having used
 * one (every conversion tops them up to two).
 */
static void obj_make(struct __test_metadata *_metadata, __u64 pg, __u32 flags,
		     enum start start, struct obj *o)
{
	unsigned int i;

	memset(o, 0, sizeof(*o));
	o->fd = ma_create(OBJ_PAGES * pg, flags);
	ASSERT_LE(0, o->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-o->fd));
	o->map = mmap(NULL, OBJ_PAGES * pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		      o->fd, 0);
	ASSERT_NE(MAP_FAILED, o->map) TH_LOG("mmap: %s", strerror(errno));
	for (i = WIN; i < WRITTEN_END; i++) {
		o->data[i] = pattern(i);
		*page_word(o, pg, i) = o->data[i];
	}
	for (i = 0; start == START_RUNS && i < ARRAY_SIZE(start_private); i++)
		obj_private(_metadata, pg, o, start_private[i].first,
			    start_private[i].nr);
	for (i = 0; start == START_STRIPES && i < NR_STRIPES; i++)
		obj_private(_metadata, pg, o, 2 * i, 1);
}

static void obj_free(struct obj *o, __u64 pg)
{
	munmap(o->map, OBJ_PAGES * pg);
	close(o->fd);
}

/*
 * Sweep SET of @nr pages from @first to @attrs over a fresh object each
 * time, made as @start says.  A failure must change nothing, and the same
 * SET must then succeed.
 */
static void sweep_set(struct __test_metadata *_metadata,
		      struct sweep *sw, const char *name, enum start start,
		      unsigned int first, unsigned int nr, __u64 attrs)
{
	struct memattr_attributes a = {
		.address = first * sw->pg, .size = nr * sw->pg,
		.attributes = attrs,
	};
	int n, ret, err, injected;
	struct snap before;
	struct obj o;

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		obj_make(_metadata, sw->pg, sw->flags, start, &o);
		take_snap(_metadata, sw, o.fd, &before);

		vmk_failnth_arm(&sw->fn, n);
		ret = ioctl(o.fd, MEMATTR_SET_ATTRIBUTES, &a);
		err = errno;
		injected = vmk_failnth_disarm(&sw->fn);

		if (ret) {
			expect_failed(_metadata, sw, o.fd, &before, err,
				      injected, name, n);
			check_obj(_metadata, &o, sw->pg, name, n);
			/* The object still works: the same call goes through. */
			ASSERT_EQ(0, ioctl(o.fd, MEMATTR_SET_ATTRIBUTES, &a))
				TH_LOG("%s after a failure at point %d: %s",
				       name, n, strerror(errno));
		}
		model_set(&o, first, nr, attrs);
		check_obj(_metadata, &o, sw->pg, name, n);
		obj_free(&o, sw->pg);
		if (!injected)
			break;
	}
	vmk_failnth_report(name, n - 1);
}

/* The first conversion of an object: a run of its own. */
TEST_F(failnth, set_private_first)
{
	sweep_set(_metadata, &self->sw, "set_private_first", START_EMPTY, 54, 4,
		  MA_PRIVATE);
}

/*
 * Shared -> private over the four runs, the five shared runs between and
 * around them changing (more than a conversion keeps without allocating),
 * past GFN 64.
 */
TEST_F(failnth, set_private)
{
	sweep_set(_metadata, &self->sw, "set_private", START_RUNS, 52, 16,
		  MA_PRIVATE);
}

/*
 * Shared -> private over NR_STRIPES runs in two leaves of the range store,
 * NR_STRIPES shared runs between and after them changing.
 */
TEST_F(failnth, set_private_stripes)
{
	sweep_set(_metadata, &self->sw, "set_private_stripes", START_STRIPES,
		  0, 2 * NR_STRIPES + 2, MA_PRIVATE);
}

/* Private -> shared: three runs change, a fourth is left alone. */
TEST_F(failnth, set_shared)
{
	sweep_set(_metadata, &self->sw, "set_shared", START_RUNS, 54, 10, 0);
}

/* Private -> shared inside the run 57-61: it splits in two. */
TEST_F(failnth, set_shared_split)
{
	sweep_set(_metadata, &self->sw, "set_shared_split", START_RUNS, 58, 2, 0);
}

/* Shared -> private inside the shared gap 64-71: a run of its own. */
TEST_F(failnth, set_private_gap)
{
	sweep_set(_metadata, &self->sw, "set_private_gap", START_RUNS, 66, 3,
		  MA_PRIVATE);
}

TEST_F(failnth, get)
{
	struct memattr_run runs[MAX_RUNS];
	struct memattr_get_attributes g = {
		.size = sizeof(g), .length = OBJ_PAGES * self->sw.pg,
		.runs_ptr = (uintptr_t)runs, .nr_runs = MAX_RUNS,
	};
	int n, ret, err, injected;
	struct snap before;
	struct obj o;

	obj_make(_metadata, self->sw.pg, self->sw.flags, START_RUNS, &o);
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take_snap(_metadata, &self->sw, o.fd, &before);
		/* Written before arming: no page fault in the call. */
		memset(runs, 0xff, sizeof(runs));
		g.nr_runs = MAX_RUNS;
		g.out_flags = 0;

		vmk_failnth_arm(&self->sw.fn, n);
		ret = ioctl(o.fd, MEMATTR_GET_ATTRIBUTES, &g);
		err = errno;
		injected = vmk_failnth_disarm(&self->sw.fn);

		if (ret) {
			expect_failed(_metadata, &self->sw, o.fd, &before, err,
				      injected, "get", n);
		} else {
			ASSERT_EQ(before.nr_runs, g.nr_runs)
				TH_LOG("get absorbing point %d: run count", n);
			EXPECT_EQ(0, g.out_flags);
			EXPECT_EQ(0, memcmp(before.runs, runs,
					    g.nr_runs * sizeof(runs[0])))
				TH_LOG("get absorbing point %d: wrong runs", n);
		}
		check_obj(_metadata, &o, self->sw.pg, "get", n);
		if (!injected)
			break;
	}
	obj_free(&o, self->sw.pg);
	vmk_failnth_report("get", n - 1);
}

TEST_F(failnth, create)
{
	struct memattr_create c = {
		.size = sizeof(c), .flags = self->sw.flags,
		.object_size = OBJ_PAGES * self->sw.pg,
	};
	struct snap before, after;
	int n, fd, err, injected;
	struct obj o;

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take_snap(_metadata, &self->sw, -1, &before);

		vmk_failnth_arm(&self->sw.fn, n);
		fd = ioctl(self->dev, MEMATTR_CREATE, &c);
		err = errno;
		injected = vmk_failnth_disarm(&self->sw.fn);

		if (fd < 0) {
			expect_failed(_metadata, &self->sw, -1, &before, err,
				      injected, "create", n);
		} else {
			/* A working object: all shared, converts, maps. */
			memset(&o, 0, sizeof(o));
			o.fd = fd;
			o.map = mmap(NULL, OBJ_PAGES * self->sw.pg,
				     PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			ASSERT_NE(MAP_FAILED, o.map)
				TH_LOG("create absorbing point %d: mmap: %s", n,
				       strerror(errno));
			check_obj(_metadata, &o, self->sw.pg, "create", n);
			ASSERT_EQ(0, ma_set_pages(fd, 60, 8, MA_PRIVATE));
			model_set(&o, 60, 8, MA_PRIVATE);
			check_obj(_metadata, &o, self->sw.pg, "create", n);
			obj_free(&o, self->sw.pg);
			take_snap(_metadata, &self->sw, -1, &after);
			EXPECT_EQ(before.refcnt, after.refcnt)
				TH_LOG("object of point %d kept a module reference", n);
			EXPECT_EQ(before.be_refcnt, after.be_refcnt)
				TH_LOG("object of point %d kept a backend reference",
				       n);
			EXPECT_EQ(before.stat[0], after.stat[0])
				TH_LOG("object of point %d still counted", n);
		}
		if (!injected)
			break;
	}
	vmk_failnth_report("create", n - 1);
}

/*
 * Map @fd at the start of a 1 GiB-aligned stretch of address space that
 * nothing else uses, so that a fault there allocates its page tables too
 * (munmap frees them again).
 */
static char *map_fresh(int fd, size_t size)
{
	const uintptr_t gib = 1UL << 30;
	char *res, *at;

	res = mmap(NULL, 2 * gib, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	at = (char *)(((uintptr_t)res + gib - 1) & ~(gib - 1));
	munmap(res, 2 * gib);
	return mmap(at, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
}

/*
 * Sweep the fault of GFN @page through a mapping made just before in an
 * empty stretch: its page tables are new, and its folio and page-cache
 * node too unless @page was written before.
 */
static void sweep_fault(struct __test_metadata *_metadata,
			struct sweep *sw, const char *name, unsigned int page)
{
	struct snap before;
	int n, ret, injected;
	struct obj o;
	__u64 v = 0;

	/* The landing pad's thread-local flag, faulted in. */
	ASSERT_EQ(0, ma_probe_read(&v, &v));
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		obj_make(_metadata, sw->pg, sw->flags, START_RUNS, &o);
		ASSERT_EQ(0, munmap(o.map, OBJ_PAGES * sw->pg));
		o.map = map_fresh(o.fd, OBJ_PAGES * sw->pg);
		ASSERT_NE(MAP_FAILED, o.map) TH_LOG("mmap: %s", strerror(errno));
		take_snap(_metadata, sw, o.fd, &before);

		vmk_failnth_arm(&sw->fn, n);
		ret = ma_probe_read(page_word(&o, sw->pg, page), &v);
		injected = vmk_failnth_disarm(&sw->fn);

		/*
		 * An allocation failing in a fault is VM_FAULT_OOM, which the
		 * fault handler retries: the page must come in all the same.
		 */
		ASSERT_EQ(0, ret)
			TH_LOG("%s: SIGBUS on shared page %u, failing at point %d",
			       name, page, n);
		EXPECT_EQ(o.data[page], v)
			TH_LOG("%s failing at point %d: read %#llx", name, n,
			       (unsigned long long)v);
		/* Only the fault counters may move. */
		expect_unchanged(_metadata, sw, o.fd, &before, name, n);
		check_obj(_metadata, &o, sw->pg, name, n);
		/* The page is mapped for good: it takes a write. */
		o.data[page] = ~pattern(page);
		ASSERT_EQ(0, ma_probe_write(page_word(&o, sw->pg, page),
					    o.data[page]));
		check_obj(_metadata, &o, sw->pg, name, n);
		obj_free(&o, sw->pg);
		if (!injected)
			break;
	}
	vmk_failnth_report(name, n - 1);
}

/* A page written before: only the page tables are new. */
TEST_F(failnth, fault_cached)
{
	sweep_fault(_metadata, &self->sw, "fault_cached", WIN);
}

/* A page never touched, past GFN 64: the fault allocates its folio and
 * page-cache nodes.
 */
TEST_F(failnth, fault_new)
{
	sweep_fault(_metadata, &self->sw, "fault_new", OBJ_PAGES - 2);
}

TEST_HARNESS_MAIN
