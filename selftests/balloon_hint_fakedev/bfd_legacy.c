// SPDX-License-Identifier: GPL-2.0-only
/*
 * A legacy balloon device (no VIRTIO_F_VERSION_1), as older hosts offer:
 * the driver binds it without VERSION_1, answers a hint round with the
 * right markers (start marker with the id, blocks, stop marker), gives
 * everything back on DONE, inflates to the host's target and deflates,
 * and sends statistics with valid tags.
 */
#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_QSIZE	64

FIXTURE(legacy) {
	long long features;
};

FIXTURE_SETUP(legacy)
{
	bfd_create_bound(_metadata, BFD_F_LEGACY | BFD_F_FREE_PAGE_HINT |
			 BFD_F_STATS_VQ, BFD_QSIZE);
	self->features = bfd_counter("features");
}

FIXTURE_TEARDOWN(legacy)
{
	bfd_ctl("remove");
}

TEST_F_TIMEOUT(legacy, round_balloon_stats, 120)
{
	long long memfree0 = bh_memfree(), bufs;
	unsigned int tag, entries = 0, bad = 0;
	unsigned long long val;
	char markers[256], want[64];
	FILE *f;

	EXPECT_FALSE((self->features >> 32) & 1)
		TH_LOG("VERSION_1 negotiated with a legacy device");
	EXPECT_TRUE(self->features & BFD_F_FREE_PAGE_HINT)
		TH_LOG("FREE_PAGE_HINT not negotiated");
	EXPECT_TRUE(bfd_counter("status") & 4) TH_LOG("no DRIVER_OK");

	bfd_whole_round(_metadata);
	bfd_markers(markers, sizeof(markers));
	snprintf(want, sizeof(want), "start %u|stop", BFD_ID);
	EXPECT_STREQ(want, markers);
	EXPECT_LT(0, bfd_counter("hint_blocks")) TH_LOG("no block hinted");
	bfd_check_clean(_metadata);
	bfd_done_frees_all(_metadata, memfree0);

	ASSERT_EQ(0, bfd_ctl("target 256"));
	EXPECT_EQ(256, bfd_wait_counter_ge("actual", 256))
		TH_LOG("the balloon did not reach the target");
	EXPECT_EQ(256, bfd_counter("inflate_pfns"));
	ASSERT_EQ(0, bfd_ctl("target 0"));
	EXPECT_EQ(0, bh_wait_stat_le("balloon_pages", 0, BFD_WAIT_S));
	EXPECT_EQ(256, bfd_counter("deflate_pfns"));

	bufs = bfd_counter("stats_bufs");
	ASSERT_EQ(0, bfd_ctl("stats"));
	ASSERT_LE(bufs + 1, bfd_wait_counter_ge("stats_bufs", bufs + 1));
	f = fopen(BFD_STATS_FILE, "r");
	ASSERT_NE(NULL, f);
	while (fscanf(f, "%u %llu", &tag, &val) == 2) {
		entries++;
		bad += tag >= 16;
	}
	fclose(f);
	EXPECT_LE(9, entries) TH_LOG("%u statistics entries", entries);
	EXPECT_EQ(0, bad) TH_LOG("statistics tags out of range");
}

TEST_HARNESS_MAIN
