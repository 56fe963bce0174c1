/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fault-injection sweep of an inflate, shared by the test against
 * QEMU's balloon (bh_failnth) and the one against the fake device
 * (../balloon_hint_fakedev/bfd_failnth).  Include kselftest_harness.h
 * first.
 *
 * The driver inflates in its size work, on a kworker, where the test's
 * fail-nth never reaches: the sweep drives the debug trigger "balloon"
 * instead (module parameter debug_triggers=1), which allocates and
 * inflates in the writing task, all or nothing.
 */
#ifndef BH_FAILNTH_H
#define BH_FAILNTH_H

#include "bh_util.h"
#include "vmk_failnth.h"

/* 4 KiB pages per inflate of the sweep: one fault point each, or so. */
#define BH_SWEEP_PAGES	16

/**
 * struct bh_host_view - what the host knows of the balloon
 * @pages: 4 KiB pages the host was told are in the balloon, or -1
 * @ctx: passed to @pages
 */
struct bh_host_view {
	long long (*pages)(void *ctx);
	void *ctx;
};

/* The balloon, as the driver, the kernel and the host count it. */
struct bh_balloon_seen {
	long long pages;	/* balloon_pages */
	long long inflated;	/* inflated */
	long long deflated;	/* deflated */
	long long kernel;	/* /proc/meminfo Balloon:, -1 before 6.15 */
	long long host;		/* the host's view */
};

/*
 * Fold the per-CPU differences of the VM counters into the totals, so
 * that /proc/meminfo is exact (root only); false when that failed.
 */
static inline bool bh_vmstat_refresh(void)
{
	return !vmk_write_file("/proc/sys/vm/stat_refresh", "1");
}

static inline void bh_balloon_look(const struct bh_host_view *host,
				   struct bh_balloon_seen *s)
{
	s->pages = bh_stat("balloon_pages");
	s->inflated = bh_stat("inflated");
	s->deflated = bh_stat("deflated");
	s->kernel = bh_vmstat_refresh() ? bh_meminfo("Balloon") : -1;
	s->host = host->pages(host->ctx);
}

/* Everyone sees the balloon @pages 4 KiB pages larger than in @s0. */
static inline void bh_balloon_expect(struct __test_metadata *_metadata,
				     const struct bh_host_view *host,
				     const struct bh_balloon_seen *s0,
				     long long pages, const char *when)
{
	struct bh_balloon_seen s;

	bh_balloon_look(host, &s);
	EXPECT_EQ(s0->pages + pages, s.pages)
		TH_LOG("%s: balloon_pages %lld, expected %lld", when, s.pages,
		       s0->pages + pages);
	EXPECT_EQ(s0->host + pages, s.host)
		TH_LOG("%s: the host counts %lld pages in the balloon, expected %lld",
		       when, s.host, s0->host + pages);
	if (s0->kernel >= 0)
		EXPECT_EQ(s0->kernel + pages * 4096, s.kernel)
			TH_LOG("%s: meminfo Balloon %lld kB, expected %lld kB",
			       when, s.kernel / 1024,
			       (s0->kernel + pages * 4096) / 1024);
}

/*
 * Inflate BH_SWEEP_PAGES pages with the Nth fault point failing, N = 1,
 * 2, ... until the inflate reaches none.  A failed inflate must return
 * ENOMEM or EFAULT (include/uapi/linux/balloon_hint.h) and leave the
 * balloon as it was, in the driver's, the kernel's and the host's count;
 * a successful one (the last, or one whose fault was absorbed) must have
 * inflated them all, and is deflated again.
 */
static inline void bh_sweep_inflate(struct __test_metadata *_metadata,
				    struct vmk_failnth *fn,
				    const struct bh_host_view *host,
				    const char *name)
{
	struct bh_balloon_seen s0, s;
	int fd, n, err, injected;
	char count[8], undo[8];
	ssize_t ret;
	size_t len;

	fd = bh_trigger_open(BALLOON_HINT_BALLOON_FILE);
	ASSERT_LE(0, fd)
		TH_LOG("trigger %s: %s (balloon_hint needs debug_triggers=1)",
		       BALLOON_HINT_BALLOON_FILE, strerror(-fd));
	/* On the stack, written already: no fault on it while armed. */
	len = snprintf(count, sizeof(count), "%d", BH_SWEEP_PAGES);
	snprintf(undo, sizeof(undo), "-%d", BH_SWEEP_PAGES);
	bh_balloon_look(host, &s0);
	ASSERT_LE(0, s0.host) TH_LOG("cannot see the host's balloon");

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		bh_balloon_look(host, &s0);
		vmk_failnth_arm(fn, n);
		ret = write(fd, count, len);
		err = errno;
		injected = vmk_failnth_disarm(fn);
		if (ret < 0) {
			ASSERT_TRUE(injected)
				TH_LOG("n=%d: inflate failed with no fault injected: %s",
				       n, strerror(err));
			EXPECT_TRUE(err == ENOMEM || err == EFAULT)
				TH_LOG("n=%d: inflate failed with %s, not ENOMEM or EFAULT",
				       n, strerror(err));
			bh_balloon_expect(_metadata, host, &s0, 0,
					  "after a failed inflate");
			bh_balloon_look(host, &s);
			EXPECT_EQ(s0.inflated, s.inflated)
				TH_LOG("n=%d: a failed inflate counted pages", n);
			EXPECT_EQ(s0.deflated, s.deflated)
				TH_LOG("n=%d: a failed inflate deflated pages", n);
			continue;
		}
		ASSERT_EQ((ssize_t)len, ret) TH_LOG("n=%d: short write", n);
		bh_balloon_expect(_metadata, host, &s0, BH_SWEEP_PAGES,
				  injected ? "after an absorbed fault" :
					     "after the inflate");
		bh_balloon_look(host, &s);
		EXPECT_EQ(s0.inflated + BH_SWEEP_PAGES, s.inflated)
			TH_LOG("n=%d: inflated grew by %lld", n,
			       s.inflated - s0.inflated);
		ASSERT_EQ(0, bh_trigger(BALLOON_HINT_BALLOON_FILE, undo))
			TH_LOG("n=%d: deflate after the inflate", n);
		bh_balloon_expect(_metadata, host, &s0, 0, "after the deflate");
		if (!injected)
			break;
	}
	close(fd);
	vmk_failnth_report(name, n - 1);
	EXPECT_LT(n, VMK_FAILNTH_MAX) TH_LOG("the inflate never succeeded");
}

#endif /* BH_FAILNTH_H */
