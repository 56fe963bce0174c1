// SPDX-License-Identifier: GPL-2.0-only
/*
 * Free page reporting against the fake device: a reporting virtqueue too
 * small for a whole report is refused at probe (-ENOSPC, as in-tree), the
 * driver asks for blocks of the pageblock order (2 MiB with 4 KiB pages)
 * and the host sees nothing smaller, and a hint round waiting on a host
 * that stopped answering does not hold reporting up.
 *
 * The guests boot with init_on_free=1, so the driver reports only when the
 * device offers PAGE_POISON as well (it must tell the host what free pages
 * contain).  Only one page reporting device may exist, and the core keeps
 * the order the first one registered with for the rest of the boot.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_REPORT_F	(BFD_F_FREE_PAGE_HINT | BFD_F_PAGE_POISON | \
			 BFD_F_REPORTING)
#define BFD_QSIZE	32
/* PAGE_REPORTING_CAPACITY: the most blocks the core puts in one report. */
#define BFD_REPORT_CAP	32
#define BFD_PMD_SIZE	"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
#define BFD_REPORT_ORDER \
	"/sys/module/page_reporting/parameters/page_reporting_order"
/* Memory freed to make the core report again. */
#define BFD_FREE_BYTES	(96 * BFD_MB)
/*
 * Free page virtqueue of the stalled round: small enough that the round
 * fills it with the free memory of any guest (the debug kernel's 512 MiB
 * guest has about 100 MiB free once BFD_FREE_BYTES are in use: fewer
 * blocks than BFD_QSIZE, so that round ended without filling the queue).
 */
#define BFD_STALL_QSIZE	8
/* hint_stall_ms for the test that needs the driver to wait long. */
#define BFD_LONG_STALL_MS	20000

/* The pageblock order, from the PMD size (THP's order, 9 on x86). */
static int bfd_pageblock_order(void)
{
	long size = vmk_read_long(BFD_PMD_SIZE);
	int order = 0;

	if (size <= 0)
		return -1;
	while ((BFD_PAGE << order) < size)
		order++;
	return order;
}

/* Wait until the host has seen no new report for @quiet_s seconds. */
static long long bfd_reports_settle(double quiet_s)
{
	double end = bh_now() + BFD_WAIT_S, still = bh_now() + quiet_s;
	long long n = bfd_counter("report_bufs"), v;

	while (bh_now() < end && bh_now() < still) {
		usleep(100000);
		v = bfd_counter("report_bufs");
		if (v != n) {
			n = v;
			still = bh_now() + quiet_s;
		}
	}
	return n;
}

/*
 * The driver counts a report once the host returned it, the host when it
 * takes it: with reports still coming, they agree only now and then.
 */
static bool bfd_reports_agree(void)
{
	double end = bh_now() + BFD_WAIT_S;

	while (bh_now() < end) {
		if (bfd_counter("report_bufs") == bh_stat("reports") &&
		    bfd_counter("report_bytes") == bh_stat("reported_bytes"))
			return true;
		usleep(10000);
	}
	return false;
}

FIXTURE(report) {
	char markers[1024];
};

FIXTURE_SETUP(report)
{
	bfd_ctl("remove");
}

FIXTURE_TEARDOWN(report)
{
	bfd_ctl("remove");
	/* The last test reloads the driver with its own parameters. */
	if (bfd_driver_param("hint_stall_ms") != BFD_STALL_MS) {
		system("rmmod balloon_hint 2>/dev/null");
		bfd_load_driver();
	}
}

/* Fewer entries than one report needs: the driver refuses the device. */
TEST_F(report, small_queue_refused)
{
	ASSERT_EQ(0, bfd_ctl("create 0x%llx %u %u", BFD_REPORT_F, BFD_QSIZE,
			     BFD_REPORT_CAP / 2))
		TH_LOG("could not create the fake balloon device");
	EXPECT_EQ(0, bfd_counter("bound"))
		TH_LOG("balloon_hint bound a reporting queue of %d entries",
		       BFD_REPORT_CAP / 2);
	EXPECT_TRUE(bfd_counter("status") & 128)
		TH_LOG("the failed probe did not mark the device FAILED");
	EXPECT_EQ(-1, bh_stat("reporting")) TH_LOG("driver statistics exist");
	EXPECT_EQ(0, bfd_counter("report_bufs")) TH_LOG("a report was sent");
	ASSERT_EQ(0, bfd_ctl("remove")) TH_LOG("remove");

	/* Exactly a report's worth is enough. */
	ASSERT_EQ(0, bfd_ctl("create 0x%llx %u %u", BFD_REPORT_F, BFD_QSIZE,
			     BFD_REPORT_CAP))
		TH_LOG("could not create the fake balloon device");
	EXPECT_EQ(1, bfd_counter("bound")) TH_LOG("a full-size queue refused");
	EXPECT_EQ(1, bh_stat("reporting")) TH_LOG("not reporting");
}

/*
 * The core reports blocks of the order the driver asked for: pageblock
 * order, 2 MiB with 4 KiB pages (an order 0 would make the core report
 * every free 4 KiB page).  Reports start on their own after registration;
 * a freed region makes more.
 */
TEST_F_TIMEOUT(report, pageblock_order, 120)
{
	int order = bfd_pageblock_order();
	long long n;
	char *p;

	ASSERT_LT(0, order) TH_LOG("no %s", BFD_PMD_SIZE);
	ASSERT_EQ(0, bfd_ctl("create 0x%llx %u", BFD_REPORT_F, BFD_QSIZE))
		TH_LOG("could not create the fake balloon device");
	ASSERT_EQ(1, bfd_counter("bound")) TH_LOG("not bound");
	ASSERT_EQ(1, bh_stat("reporting")) TH_LOG("not reporting");
	EXPECT_EQ(order, vmk_read_long(BFD_REPORT_ORDER))
		TH_LOG("the page reporting order is not the pageblock order");

	p = bh_fill(BFD_FREE_BYTES);
	ASSERT_NE(NULL, p) TH_LOG("mmap");
	n = bfd_reports_settle(3);
	munmap(p, BFD_FREE_BYTES);
	EXPECT_LT(n, bfd_wait_counter_ge("report_bufs", n + 1))
		TH_LOG("no report after %lld MiB were freed",
		       BFD_FREE_BYTES / BFD_MB);
	n = bfd_reports_settle(3);
	TH_LOG("%lld reports, %lld blocks, %lld MiB, smallest order %lld", n,
	       bfd_counter("report_blocks"),
	       bfd_counter("report_bytes") / BFD_MB,
	       bfd_counter("report_min_order"));
	EXPECT_LE(order, bfd_counter("report_min_order"))
		TH_LOG("a block below the pageblock order was reported");
	EXPECT_TRUE(bfd_reports_agree())
		TH_LOG("driver and host never counted the same reports and bytes");
}

/*
 * A round whose host stopped answering makes the hint workers wait for
 * room, up to hint_stall_ms (here 20 s) each.  Free page reporting hints
 * the blocks it isolates while a round is open and shares the free page
 * virtqueue with the round: it must not wait behind those waits.  The
 * region freed during the wait must be reported long before they end.
 */
TEST_F_TIMEOUT(report, not_held_up_by_a_stalled_round, 120)
{
	char args[64];
	double t0;
	long long n;
	char *p;

	ASSERT_EQ(0, system("rmmod balloon_hint")) TH_LOG("rmmod");
	snprintf(args, sizeof(args), "hint_stall_ms=%d debug_triggers=1",
		 BFD_LONG_STALL_MS);
	ASSERT_EQ(0, bfd_load_driver_args(args)) TH_LOG("load %s", args);
	ASSERT_EQ(0, bfd_ctl("create 0x%llx %u", BFD_REPORT_F, BFD_STALL_QSIZE))
		TH_LOG("could not create the fake balloon device");
	ASSERT_EQ(1, bfd_counter("bound")) TH_LOG("not bound");
	ASSERT_EQ(1, bh_stat("reporting")) TH_LOG("not reporting");

	p = bh_fill(BFD_FREE_BYTES);
	ASSERT_NE(NULL, p) TH_LOG("mmap");
	bfd_reports_settle(3);

	/* The host takes every buffer and answers none: the queue fills. */
	ASSERT_EQ(0, bfd_ctl("mode hint hold")) TH_LOG("mode");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("vq_full", 1, BFD_WAIT_S))
		TH_LOG("the round did not fill the queue");
	n = bfd_counter("report_bufs");
	t0 = bh_now();
	munmap(p, BFD_FREE_BYTES);
	EXPECT_LT(n, bfd_wait_counter_ge("report_bufs", n + 1))
		TH_LOG("no report after %lld MiB were freed",
		       BFD_FREE_BYTES / BFD_MB);
	TH_LOG("first report after %.1f s", bh_now() - t0);
	EXPECT_EQ(0, bh_stat("host_stalls"))
		TH_LOG("the report came only once the round gave up waiting");
	EXPECT_EQ(1, bfd_counter("in_round")) TH_LOG("the round ended");

	/* Removal ends the wait at once and gives everything back. */
	t0 = bh_now();
	ASSERT_EQ(0, bfd_ctl("remove")) TH_LOG("remove");
	EXPECT_GT(BFD_LONG_STALL_MS / 1000 / 2, bh_now() - t0)
		TH_LOG("removal waited for the stalled round");
}

TEST_HARNESS_MAIN
