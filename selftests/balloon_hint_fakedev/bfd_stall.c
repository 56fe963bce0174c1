// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint against a fake host that stops answering: one that takes
 * the free page buffers and never returns them (hold), and one that never
 * looks at the queue, so that it fills up (ignore).  Either way the driver
 * must stop adding, end the round cleanly and keep what it holds accounted
 * for.  A block whose descriptor the host has not returned may still be
 * acted on by the host (a host that discards hinted memory would do so
 * then), so nothing gives such a block back: not DONE, not the shrinker,
 * not memory pressure.  Once the host returns the descriptors, DONE and
 * the shrinker give everything back, and a new round starts; device
 * removal (a reset: the host forgets every buffer) gives everything back
 * at once.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

/* Small, so that the queue is full long before memory runs out. */
#define BFD_QSIZE	32

FIXTURE(stall) {
	long long memfree0, held;
	char markers[1024];
};

FIXTURE_VARIANT(stall) {
	const char *mode;
};

/* The host takes each buffer and never gives it back. */
FIXTURE_VARIANT_ADD(stall, hold) {
	.mode = "hold",
};

/* The host never takes a buffer: the ring fills up. */
FIXTURE_VARIANT_ADD(stall, full) {
	.mode = "ignore",
};

/* A round for BFD_ID that the host leaves hanging. */
FIXTURE_SETUP(stall)
{
	bfd_create_bound(_metadata, BFD_F_FREE_PAGE_HINT, BFD_QSIZE);
	ASSERT_EQ(0, bfd_ctl("mode hint %s", variant->mode)) TH_LOG("mode");
	self->memfree0 = bh_memfree();

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("host_stalls", 1, BFD_WAIT_S))
		TH_LOG("the driver did not notice the host stopped");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("the round was not ended with a stop marker");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bh_log_stats("stalled");

	self->held = bh_stat("held_pages");
}

FIXTURE_TEARDOWN(stall)
{
	bfd_ctl("remove");
}

/* What the fixture's hanging round must look like. */
static void bfd_check_stalled(struct __test_metadata *_metadata,
			      long long memfree0, long long held,
			      const char *mode)
{
	long long drop;

	EXPECT_LE(1, bh_stat("vq_full")) TH_LOG("the queue never ran full");
	/* Every entry but the start and stop markers' holds a block. */
	EXPECT_EQ(BFD_QSIZE - 2, bfd_driver_blocks())
		TH_LOG("the driver did not fill the queue, or overfilled it");
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("not one round");
	EXPECT_EQ(bfd_hinted_pages(), held)
		TH_LOG("held_pages differs from pages allocated");
	drop = memfree0 - bh_memfree();
	EXPECT_GT(BFD_SLACK, llabs(drop - held * BFD_PAGE))
		TH_LOG("MemFree fell by %lld MiB, held is %lld MiB",
		       drop / BFD_MB, held * BFD_PAGE / BFD_MB);
	if (!strcmp(mode, "hold")) {
		EXPECT_EQ(BFD_QSIZE, bfd_counter("hint_held"))
			TH_LOG("the host does not hold every buffer");
		EXPECT_EQ(0, bfd_counter("hint_used"))
			TH_LOG("the host returned buffers");
	} else {
		EXPECT_EQ(0, bfd_counter("hint_seen"))
			TH_LOG("the host took buffers");
	}
}

/*
 * Whatever was asked of the driver (@why), every block is still held: the
 * host has not returned one descriptor.  MemFree is as low as when the
 * round ended, and the host holds what it held.
 */
static void bfd_check_kept(struct __test_metadata *_metadata,
			   long long memfree0, long long held,
			   const char *mode, const char *why)
{
	long long drop;

	EXPECT_EQ(held, bh_stat("held_pages"))
		TH_LOG("%s: %lld of %lld pages given back while the host holds their hints",
		       why, held - bh_stat("held_pages"), held);
	EXPECT_EQ(0, bfd_returned_pages())
		TH_LOG("%s: pages returned while the host holds their hints",
		       why);
	EXPECT_EQ(held, bh_stat("inflight_pages"))
		TH_LOG("%s: held pages not all counted as in flight", why);
	drop = memfree0 - bh_memfree();
	EXPECT_GT(BFD_SLACK, llabs(drop - held * BFD_PAGE))
		TH_LOG("%s: MemFree fell by %lld MiB, held is %lld MiB", why,
		       drop / BFD_MB, held * BFD_PAGE / BFD_MB);
	if (!strcmp(mode, "hold")) {
		EXPECT_EQ(BFD_QSIZE, bfd_counter("hint_held"))
			TH_LOG("%s: the host no longer holds every buffer", why);
	} else {
		EXPECT_EQ(0, bfd_counter("hint_seen"))
			TH_LOG("%s: the host took buffers", why);
	}
}

/*
 * The host answers again: it uses every buffer in the ring and returns
 * those it held; the driver takes the descriptors back without being
 * asked (nothing is in flight any more).
 */
static void bfd_host_returns(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, bfd_ctl("mode hint consume")) TH_LOG("mode");
	EXPECT_EQ(0, bfd_counter("hint_held"))
		TH_LOG("the host still holds buffers");
	EXPECT_LE(BFD_QSIZE, bfd_wait_counter_ge("hint_used", BFD_QSIZE))
		TH_LOG("the host did not use every buffer");
	EXPECT_EQ(0, bh_wait_stat_le("inflight_pages", 0, BFD_WAIT_S))
		TH_LOG("the driver did not take its descriptors back");
}

static void bfd_memfree_back(struct __test_metadata *_metadata,
			     long long memfree0)
{
	EXPECT_LE(memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back");
}

/*
 * DONE frees only blocks whose descriptors came back: none here.  A new
 * id waits for the stuck start marker; once the host answers, the blocks
 * DONE left come back as their descriptors do, and a new round works.
 */
TEST_F_TIMEOUT(stall, done_then_host_answers, 120)
{
	long long stalls;

	bfd_check_stalled(_metadata, self->memfree0, self->held,
			  variant->mode);
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	ASSERT_LE(1, bh_wait_stat_ge("done_seen", 1, BFD_WAIT_S))
		TH_LOG("the driver did not see DONE");
	bfd_check_kept(_metadata, self->memfree0, self->held, variant->mode,
		       "DONE");

	/*
	 * The old start marker is still out: no new round meanwhile.  Both
	 * hint workers may have counted a stall already, so wait for one
	 * more than the round left.
	 */
	stalls = bh_stat("host_stalls");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID + 1)) TH_LOG("cmd_id");
	ASSERT_LE(stalls + 1,
		  bh_wait_stat_ge("host_stalls", stalls + 1, BFD_WAIT_S))
		TH_LOG("the driver did not give up on the stuck start marker");
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("a round over a stuck marker");
	EXPECT_EQ(self->held, bh_stat("held_pages"))
		TH_LOG("allocated for a stuck host, or freed what it holds");

	/* The host answers: DONE's blocks come back as their hints do. */
	bfd_host_returns(_metadata);
	ASSERT_LE(2, bfd_wait_counter_ge("stop_markers", 1) +
		  bfd_wait_counter_ge("start_markers", 1))
		TH_LOG("the host did not take the old markers");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BFD_WAIT_S))
		TH_LOG("blocks DONE left were kept once their hints came back");
	EXPECT_EQ(self->held, bh_stat("returned_done"))
		TH_LOG("DONE returned another number of pages than held");
	bfd_memfree_back(_metadata, self->memfree0);

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID + 2)) TH_LOG("cmd_id");
	ASSERT_LE(2, bh_wait_stat_ge("stops_sent", 2, BFD_WAIT_S))
		TH_LOG("no round once the host answered");
	ASSERT_LE(2, bfd_wait_counter_ge("stop_markers", 2))
		TH_LOG("the host saw no second stop marker");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop|start 2147483651|stop",
		     self->markers);
	EXPECT_EQ(2, bh_stat("rounds")) TH_LOG("not two rounds");
	EXPECT_LT(0, bh_stat("held_pages")) TH_LOG("second round held nothing");
	bfd_check_clean(_metadata);
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * drop_caches runs every shrinker: the driver's frees nothing the host
 * holds, and everything once the host returned it.
 */
TEST_F_TIMEOUT(stall, shrinker, 120)
{
	bfd_check_stalled(_metadata, self->memfree0, self->held,
			  variant->mode);
	ASSERT_EQ(0, bfd_drop_slab()) TH_LOG("drop_caches");
	bfd_check_kept(_metadata, self->memfree0, self->held, variant->mode,
		       "drop_caches");

	bfd_host_returns(_metadata);
	EXPECT_EQ(self->held, bh_stat("held_pages"))
		TH_LOG("blocks given back with no DONE and no pressure");
	ASSERT_EQ(0, bfd_drop_slab()) TH_LOG("drop_caches");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BFD_WAIT_S))
		TH_LOG("the shrinker left pages held");
	EXPECT_EQ(self->held, bh_stat("returned_shrinker"))
		TH_LOG("the shrinker returned another number of pages");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
	bfd_memfree_back(_metadata, self->memfree0);
}

/*
 * Once the host returned the descriptors, a program allocating nearly
 * all memory that was free before the round: reclaim reaches the
 * shrinker, and the program is not OOM-killed.  (While the host holds
 * them the blocks cannot be reclaimed, and such a program would be.)
 */
TEST_F_TIMEOUT(stall, memory_pressure, 120)
{
	size_t len = self->memfree0 - 48 * BFD_MB;
	int status;
	pid_t pid;

	bfd_check_stalled(_metadata, self->memfree0, self->held,
			  variant->mode);
	bfd_host_returns(_metadata);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork");
	if (!pid) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t i;

		if (p == MAP_FAILED)
			_exit(2);
		for (i = 0; i < len; i += BFD_PAGE)
			p[i] = 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0)) TH_LOG("waitpid");
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the allocating program failed (status %#x)", status);
	bh_log_stats("after pressure");
	EXPECT_LT(0, bh_stat("returned_shrinker"))
		TH_LOG("memory pressure did not reach the shrinker");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_memfree() + bh_stat("held_pages") * BFD_PAGE)
		TH_LOG("memory lost beyond what is still held");
}

/* Removal while the host holds everything: all pages come back. */
TEST_F_TIMEOUT(stall, device_removal, 120)
{
	bfd_check_stalled(_metadata, self->memfree0, self->held,
			  variant->mode);
	ASSERT_EQ(0, bfd_ctl("remove")) TH_LOG("remove");
	EXPECT_EQ(0, bfd_counter("present")) TH_LOG("device still there");
	EXPECT_EQ(-1, bh_stat("held_pages")) TH_LOG("driver still bound");
	bfd_memfree_back(_metadata, self->memfree0);
}

TEST_HARNESS_MAIN
