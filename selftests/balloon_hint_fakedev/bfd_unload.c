// SPDX-License-Identifier: GPL-2.0-only
/*
 * rmmod balloon_hint in the middle of a round: after a host that answers
 * took every block but did not write DONE yet, while a host that stopped
 * answering holds its buffers (the driver waits for room), and while the
 * free page virtqueue is full.  The device must be
 * reset and released, every page must come back, and the module must bind
 * the same device again when reloaded.
 */
#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

FIXTURE(unload) {
	long long memfree0;
	char markers[1024];
};

FIXTURE_VARIANT(unload) {
	const char *mode;
	unsigned int qsize;
};

/*
 * A good host: the round is over and everything is held, waiting for a
 * DONE that never comes.
 */
FIXTURE_VARIANT_ADD(unload, awaiting_done) {
	.mode = "consume",
	.qsize = 256,
};

FIXTURE_VARIANT_ADD(unload, host_holds) {
	.mode = "hold",
	.qsize = 32,
};

FIXTURE_VARIANT_ADD(unload, queue_full) {
	.mode = "ignore",
	.qsize = 32,
};

FIXTURE_SETUP(unload)
{
	/* A setup that failed earlier skipped its teardown. */
	bfd_ctl("remove");
	ASSERT_EQ(0, bfd_ctl("create 0x%llx %u",
			     BFD_F_FREE_PAGE_HINT | BFD_F_STATS_VQ,
			     variant->qsize))
		TH_LOG("could not create the fake balloon device");
	ASSERT_EQ(1, bfd_counter("bound"))
		TH_LOG("balloon_hint did not bind the fake device");
	ASSERT_EQ(0, bfd_ctl("mode hint %s", variant->mode)) TH_LOG("mode");
	self->memfree0 = bh_memfree();
}

FIXTURE_TEARDOWN(unload)
{
	/* Leave the driver loaded, as the collection set it up. */
	if (!bfd_driver_loaded())
		bfd_load_driver();
	bfd_ctl("remove");
}

TEST_F_TIMEOUT(unload, mid_round, 120)
{
	long long resets = bfd_counter("resets");

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LT(0, bh_wait_stat_ge("held_pages", 1, BFD_WAIT_S))
		TH_LOG("the driver hinted nothing");
	bh_log_stats("before rmmod");
	ASSERT_EQ(0, system("rmmod balloon_hint")) TH_LOG("rmmod failed");
	EXPECT_FALSE(bfd_driver_loaded()) TH_LOG("module still loaded");
	EXPECT_EQ(0, bfd_counter("bound")) TH_LOG("device still bound");
	EXPECT_LT(resets, bfd_counter("resets")) TH_LOG("device not reset");
	EXPECT_EQ(0, bfd_counter("hint_held"))
		TH_LOG("the host still holds buffers after the reset");
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back after rmmod");

	/* The host is done; a new driver binds and hints again. */
	ASSERT_EQ(0, bfd_ctl("mode hint consume")) TH_LOG("mode");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	ASSERT_EQ(0, bfd_load_driver()) TH_LOG("reload failed");
	EXPECT_EQ(1, bfd_counter("bound")) TH_LOG("not bound again");
	EXPECT_EQ(2, bfd_counter("probes")) TH_LOG("not probed again");
	EXPECT_EQ(1, bh_wait_stat_ge("done_seen", 1, BFD_WAIT_S))
		TH_LOG("the new driver did not read DONE at probe");
	EXPECT_EQ(0, bh_stat("rounds")) TH_LOG("a round on DONE");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID + 1)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("no round after the reload");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_NE(NULL, strstr(self->markers, "start 2147483650|stop"))
		TH_LOG("no clean round after the reload: %s", self->markers);
	bfd_done_frees_all(_metadata, self->memfree0);
}

TEST_HARNESS_MAIN
