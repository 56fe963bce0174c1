// SPDX-License-Identifier: GPL-2.0-only
/*
 * Blocks that free page reporting isolates while a hint round is open are
 * hinted too, and go back to the free lists when the reporting callback
 * returns.  A host may act on a hint (a host that discards hinted memory
 * would) until it returns the descriptor, so the callback must not return
 * while the host holds a hint of one of its blocks: the blocks stay
 * isolated (report_inflight_bytes) until the host gives the hints back.
 *
 * Only where free pages need not keep their contents: under init_on_free
 * or page poisoning no reported block is hinted at all (see hint.c), and
 * the test checks that rule instead.  The test guests boot with
 * init_on_free=1 (a debug option no test collection may override), so the
 * wait is checked only where the test runs without it.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_REPORT_F	(BFD_F_FREE_PAGE_HINT | BFD_F_PAGE_POISON | \
			 BFD_F_REPORTING)
/* Room for the round's first blocks and every reported block. */
#define BFD_QSIZE	256
/* The round pauses in the kick that brings its 8th block. */
#define BFD_TRIGGER	8
/* Memory freed while the round is paused, for the core to report. */
#define BFD_FREE_BYTES	(96 * BFD_MB)
/* How long the host holds the hints before the test looks again. */
#define BFD_HOLD_S	2

FIXTURE(report_hint) {
	long long memfree0;
	char *p;
};

FIXTURE_SETUP(report_hint)
{
	bfd_ctl("remove");
	/*
	 * One worker: a helper would go on allocating while the round's
	 * worker sits in the paused kick, and take the freed memory before
	 * the core reports it.
	 */
	ASSERT_EQ(0, bfd_reload_driver(BFD_ONE_WORKER_ARGS))
		TH_LOG("reload with %s", BFD_ONE_WORKER_ARGS);
	bfd_create_bound(_metadata, BFD_REPORT_F, BFD_QSIZE);
	ASSERT_EQ(1, bh_stat("reporting")) TH_LOG("not reporting");
	self->memfree0 = bh_memfree();
	self->p = bh_fill(BFD_FREE_BYTES);
	ASSERT_NE(NULL, self->p) TH_LOG("mmap");
}

FIXTURE_TEARDOWN(report_hint)
{
	bfd_ctl("resume");
	bfd_ctl("remove");
	if (self->p)
		munmap(self->p, BFD_FREE_BYTES);
	system("rmmod balloon_hint 2>/dev/null");
	bfd_load_driver();
}

/*
 * A round paused by the host in its first kick (the start marker was
 * used: the host is answering this round), then every later buffer held,
 * then BFD_FREE_BYTES freed for the core to report while the round is
 * still open.
 */
static void bfd_report_in_round(struct __test_metadata *_metadata,
				char **p)
{
	bfd_pause_round(_metadata, BFD_TRIGGER);
	ASSERT_EQ(0, bfd_ctl("mode hint hold")) TH_LOG("mode");
	ASSERT_EQ(1, bfd_counter("in_round")) TH_LOG("no round open");
	munmap(*p, BFD_FREE_BYTES);
	*p = NULL;
}

TEST_F_TIMEOUT(report_hint, report_waits_for_its_hints, 120)
{
	bool keep = bfd_counter("guest_init_on_free") ||
		    bfd_counter("guest_page_poisoning");
	long long reports, hinted;

	reports = bfd_counter("report_bufs");
	bfd_report_in_round(_metadata, &self->p);
	EXPECT_LT(reports, bfd_wait_counter_ge("report_bufs", reports + 1))
		TH_LOG("no report after %lld MiB were freed",
		       BFD_FREE_BYTES / BFD_MB);
	if (keep) {
		/* Nothing hinted: the report is not held up by the host. */
		EXPECT_EQ(0, bh_wait_stat_le("report_inflight_bytes", 0,
					     BFD_WAIT_S))
			TH_LOG("a report did not end");
		EXPECT_EQ(0, bh_stat("report_hinted_bytes"))
			TH_LOG("a reported block was hinted, free pages must keep their contents");
		EXPECT_EQ(0, bfd_counter("hint_held"))
			TH_LOG("the host holds hints");
		goto done;
	}

	hinted = bh_wait_stat_ge("report_hinted_bytes", 1, BFD_WAIT_S);
	ASSERT_LT(0, hinted) TH_LOG("no reported block was hinted");
	sleep(BFD_HOLD_S);
	bh_log_stats("the host holding the reported blocks' hints");
	/* The host holds the hints: the report has not returned. */
	EXPECT_LE(BFD_PAGE, bfd_counter("hint_held_bytes"))
		TH_LOG("the host holds no hinted block");
	EXPECT_LT(0, bh_stat("report_inflight_bytes"))
		TH_LOG("reported blocks went back to the free lists, their hints still held");

	/* The host returns the hints: the report ends. */
	ASSERT_EQ(0, bfd_ctl("mode hint consume")) TH_LOG("mode");
	EXPECT_EQ(0, bh_wait_stat_le("report_inflight_bytes", 0, BFD_WAIT_S))
		TH_LOG("the report did not end once the host returned its hints");
	EXPECT_EQ(0, bfd_counter("hint_held")) TH_LOG("the host holds hints");
done:
	/* The host answers again: the round ends, DONE frees everything. */
	ASSERT_EQ(0, bfd_ctl("mode hint consume")) TH_LOG("mode");
	ASSERT_EQ(0, bfd_ctl("resume")) TH_LOG("resume");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("the round did not end");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bfd_check_clean(_metadata);
	bfd_done_frees_all(_metadata, self->memfree0);
}

TEST_HARNESS_MAIN
