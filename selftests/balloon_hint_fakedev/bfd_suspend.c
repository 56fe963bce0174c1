// SPDX-License-Identifier: GPL-2.0-only
/*
 * A suspend/resume cycle of the balloon device (the fake device's
 * "suspend": the driver's .freeze, a device reset, its .restore, as a
 * transport's PM callbacks run them).  The reset makes the device forget
 * every queue, so the driver must give back what the device held and set
 * its queues up again: after the cycle the balloon inflates, a hint round
 * runs, DONE returns everything, and rmmod neither hangs nor loses a page.
 */
#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_QSIZE	64
/* The balloon target a test sets, in 4 KiB pages. */
#define BFD_INFLATE	256

FIXTURE(suspend) {
	long long memfree0;
	char markers[1024];
};

FIXTURE_SETUP(suspend)
{
	bfd_create_bound(_metadata, BFD_F_FREE_PAGE_HINT | BFD_F_STATS_VQ,
			 BFD_QSIZE);
	self->memfree0 = bh_memfree();
}

FIXTURE_TEARDOWN(suspend)
{
	if (!bfd_driver_loaded())
		bfd_load_driver();
	bfd_ctl("remove");
}

/*
 * What a cycle that returned @err (after @resets device resets) must
 * leave: the driver's queues made again.
 */
static void bfd_check_cycle(struct __test_metadata *_metadata, int err,
			    long long resets)
{
	ASSERT_EQ(0, err) TH_LOG("suspend: %s", strerror(-err));
	ASSERT_EQ(1, bfd_counter("suspends")) TH_LOG("no cycle ran");
	ASSERT_LT(resets, bfd_counter("resets")) TH_LOG("no device reset");
	/* Before anything that would wait on a queue nobody looks at. */
	ASSERT_EQ(2, bfd_counter("probes"))
		TH_LOG("the driver did not set up its queues after the reset");
	ASSERT_EQ(1, bfd_counter("bound")) TH_LOG("driver unbound");
	EXPECT_TRUE(bfd_counter("status") & 4) TH_LOG("no DRIVER_OK");
	EXPECT_FALSE(bfd_counter("status") & 128) TH_LOG("device FAILED");
	/* A device asks for statistics only once it has a buffer. */
	EXPECT_EQ(2, bfd_wait_counter_ge("stats_bufs", 2))
		TH_LOG("no statistics buffer after the restore");
}

/* 4 KiB pages in the balloon as the host heard of them. */
static long long bfd_balloon_balance(void)
{
	return bfd_counter("inflate_pfns") - bfd_counter("deflate_pfns");
}

/* Wait until the host's "actual" (what the driver told it) is @pages. */
static long long bfd_wait_actual(long long pages)
{
	double end = bh_now() + BFD_WAIT_S;
	long long v;

	for (;;) {
		v = bfd_counter("actual");
		if (v == pages || bh_now() > end)
			return v;
		usleep(10000);
	}
}

/* The host sets a target, then takes it back: both reach the driver. */
static void bfd_inflate_deflate(struct __test_metadata *_metadata)
{
	long long in = bfd_counter("inflate_pfns");
	long long out = bfd_counter("deflate_pfns");

	ASSERT_EQ(0, bfd_ctl("target %d", BFD_INFLATE)) TH_LOG("target");
	ASSERT_EQ(BFD_INFLATE, bfd_wait_actual(BFD_INFLATE))
		TH_LOG("the balloon did not reach the target");
	EXPECT_LE(in + BFD_INFLATE, bfd_counter("inflate_pfns"))
		TH_LOG("the host heard of fewer inflated pages");
	EXPECT_EQ(BFD_INFLATE, bfd_balloon_balance())
		TH_LOG("the host counts another number of pages in the balloon");
	ASSERT_EQ(0, bfd_ctl("target 0")) TH_LOG("target");
	ASSERT_EQ(0, bfd_wait_actual(0)) TH_LOG("the balloon did not deflate");
	EXPECT_LE(out + BFD_INFLATE, bfd_counter("deflate_pfns"))
		TH_LOG("the host heard of fewer deflated pages");
	EXPECT_EQ(0, bfd_balloon_balance())
		TH_LOG("the host still counts pages in the balloon");
}

/*
 * Blocks held from a round when the device is reset go back at the
 * freeze; after the restore the balloon works and a new id gets a clean
 * round that DONE ends.
 */
TEST_F_TIMEOUT(suspend, held_blocks_then_new_round, 120)
{
	long long held, resets;
	int err;

	bfd_whole_round(_metadata);
	held = bh_stat("held_pages");
	ASSERT_LT(0, held) TH_LOG("nothing held before the cycle");

	resets = bfd_counter("resets");
	err = bfd_ctl("suspend");
	if (err == -EOPNOTSUPP)
		SKIP(return, "kernel without CONFIG_PM_SLEEP");
	bfd_check_cycle(_metadata, err, resets);
	bh_log_stats("after the cycle");
	EXPECT_EQ(0, bh_stat("held_pages")) TH_LOG("blocks held over a reset");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back after the cycle");

	bfd_inflate_deflate(_metadata);

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID + 1)) TH_LOG("cmd_id");
	ASSERT_LE(2, bh_wait_stat_ge("stops_sent", 2, BFD_WAIT_S))
		TH_LOG("no round after the cycle");
	ASSERT_LE(2, bfd_wait_counter_ge("stop_markers", 2))
		TH_LOG("the host saw no second stop marker");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop|start 2147483650|stop",
		     self->markers);
	EXPECT_LT(0, bh_stat("held_pages")) TH_LOG("second round held nothing");
	EXPECT_EQ(0, bh_stat("rehinted_blocks"))
		TH_LOG("blocks given back at the freeze were hinted again");
	bfd_check_clean(_metadata);
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * Pages in the balloon at the freeze are deflated first, the host told
 * (as in-tree); after the restore the driver inflates to the target
 * again, and rmmod with pages in the balloon and blocks held finishes and
 * gives everything back.  What the host heard is checked as a balance
 * (pfns inflated minus pfns deflated): compaction may migrate ballooned
 * pages at any time, above all while a round holds nearly all free
 * memory, and each migration is one more pfn inflated and one more
 * deflated (it did: 110 of them during the round, on lts).
 */
TEST_F_TIMEOUT(suspend, balloon_then_rmmod, 120)
{
	long long resets, deflated;
	int err;

	ASSERT_EQ(0, bfd_ctl("target %d", BFD_INFLATE)) TH_LOG("target");
	ASSERT_EQ(BFD_INFLATE, bfd_wait_actual(BFD_INFLATE))
		TH_LOG("the balloon did not reach the target");

	resets = bfd_counter("resets");
	err = bfd_ctl("suspend");
	if (err == -EOPNOTSUPP)
		SKIP(return, "kernel without CONFIG_PM_SLEEP");
	bfd_check_cycle(_metadata, err, resets);
	/* The restore may be inflating again already: no balance here. */
	EXPECT_LE(BFD_INFLATE, bfd_counter("deflate_pfns"))
		TH_LOG("the host did not hear of the deflate at freeze");

	/* The target is still there: the driver inflates to it again. */
	ASSERT_EQ(BFD_INFLATE, bfd_wait_actual(BFD_INFLATE))
		TH_LOG("no inflate after the cycle");
	EXPECT_EQ(BFD_INFLATE, bfd_balloon_balance())
		TH_LOG("the host heard of another number of inflated pages");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("no round after the cycle");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");

	deflated = bfd_counter("deflate_pfns");
	ASSERT_EQ(0, system("rmmod balloon_hint")) TH_LOG("rmmod failed");
	EXPECT_EQ(0, bfd_counter("bound")) TH_LOG("device still bound");
	EXPECT_LE(deflated + BFD_INFLATE, bfd_counter("deflate_pfns"))
		TH_LOG("the host did not hear of the deflate at removal");
	EXPECT_EQ(0, bfd_balloon_balance())
		TH_LOG("the host still counts pages in the balloon after removal");
	EXPECT_EQ(0, bfd_counter("actual")) TH_LOG("actual not 0 after removal");
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back after rmmod");
	ASSERT_EQ(0, bfd_load_driver()) TH_LOG("reload failed");
	EXPECT_EQ(1, bfd_counter("bound")) TH_LOG("not bound again");
}

TEST_HARNESS_MAIN
