// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault-injection sweeps (fail-nth, KERNEL=debug) of what balloon_hint
 * allocates, against the fake host: an inflate, and a free page hint
 * round.
 *
 * The driver does both in work items (size_work, hint_work and its helper
 * on kworkers), which the test's /proc/thread-self/fail-nth never
 * reaches.  The sweeps use the driver's debug triggers instead (module
 * parameter debug_triggers=1, include/uapi/linux/balloon_hint.h): they
 * run the same code in the writing task.  For a round, the fake host
 * writes the new id "quiet" (no config change, so no hint_work races the
 * trigger) and the trigger makes the driver read and answer it.
 */
#include "kselftest_harness.h"
#include "bfd_util.h"
#include "../balloon_hint/bh_failnth.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

/*
 * A free page virtqueue of 8 entries: after the start marker and 6 blocks
 * the driver must kick and wait for room, and the fake host, seeing the
 * first block, writes DONE (trigger 1 DONE), which ends the round.  A
 * round is a few blocks, not all free memory.
 */
#define BFD_FN_QSIZE	8

FIXTURE(failnth) {
	struct vmk_failnth fn;
	int fn_ok;
	long long memfree0;
};

FIXTURE_SETUP(failnth)
{
	self->fn_ok = !vmk_failnth_open(&self->fn);
	bfd_create_bound(_metadata, BFD_F_FREE_PAGE_HINT | BFD_F_STATS_VQ,
			 BFD_FN_QSIZE);
	ASSERT_EQ(0, bh_stat("rounds")) TH_LOG("no fresh driver statistics");
	self->memfree0 = bh_memfree();
}

FIXTURE_TEARDOWN(failnth)
{
	if (self->fn_ok)
		vmk_failnth_close(&self->fn);
	bfd_ctl("remove");
}

/* Pages the fake host was told are in the balloon. */
static long long bfd_host_pages(void *ctx)
{
	long long in = bfd_counter("inflate_pfns");
	long long out = bfd_counter("deflate_pfns");

	return in < 0 || out < 0 ? -1 : in - out;
}

TEST_F_TIMEOUT(failnth, inflate, 120)
{
	struct bh_host_view host = { bfd_host_pages, NULL };

	if (!self->fn_ok)
		SKIP(return, "%s", self->fn.why);
	bh_sweep_inflate(_metadata, &self->fn, &host, "bfd inflate");
	EXPECT_EQ(bh_stat("inflated"), bfd_counter("inflate_pfns"))
		TH_LOG("the host heard of another number of inflated pages");
	EXPECT_EQ(bh_stat("deflated"), bfd_counter("deflate_pfns"))
		TH_LOG("the host heard of another number of deflated pages");
	EXPECT_EQ(bh_stat("balloon_pages"), bfd_counter("actual"))
		TH_LOG("actual in config is not the balloon's size");
}

static const char *const bfd_bad_counts[] = {
	"0", "-0", "257", "16x", "x", "0x100000000", "-2147483648",
};

/* The triggers' documented errors, outside any sweep (every kernel). */
TEST_F(failnth, trigger_input)
{
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(bfd_bad_counts); i++) {
		err = bh_trigger(BALLOON_HINT_BALLOON_FILE, bfd_bad_counts[i]);
		EXPECT_EQ(-EINVAL, err)
			TH_LOG("balloon \"%s\" not refused", bfd_bad_counts[i]);
	}
	EXPECT_EQ(-EINVAL, bh_trigger(BALLOON_HINT_BALLOON_FILE, "-4"))
		TH_LOG("deflate of an empty balloon not refused");
	EXPECT_EQ(0, bh_trigger(BALLOON_HINT_BALLOON_FILE, "0x8\n"))
		TH_LOG("inflate 0x8");
	EXPECT_EQ(-EINVAL, bh_trigger(BALLOON_HINT_BALLOON_FILE, "-12"))
		TH_LOG("deflate of more than the balloon not refused");
	EXPECT_EQ(0, bh_trigger(BALLOON_HINT_BALLOON_FILE, "-8"))
		TH_LOG("deflate 8");
	EXPECT_EQ(0, bh_stat("balloon_pages")) TH_LOG("balloon not empty");
	EXPECT_EQ(8, bfd_counter("inflate_pfns")) TH_LOG("host not told");
	EXPECT_EQ(8, bfd_counter("deflate_pfns")) TH_LOG("host not told");
	/* No new id: the round trigger has nothing to answer. */
	EXPECT_EQ(0, bh_trigger(BALLOON_HINT_HINT_FILE, "1")) TH_LOG("hint");
	EXPECT_EQ(0, bh_stat("rounds")) TH_LOG("a round with no id");
}

/* What a round changes, on both sides. */
struct bfd_round_seen {
	long long rounds, stops_sent, done_seen, bytes_hinted;
	long long starts, stops, host_bytes, triggers;
};

static void bfd_round_look(struct bfd_round_seen *s)
{
	s->rounds = bh_stat("rounds");
	s->stops_sent = bh_stat("stops_sent");
	s->done_seen = bh_stat("done_seen");
	s->bytes_hinted = bh_stat("bytes_hinted");
	s->starts = bfd_counter("start_markers");
	s->stops = bfd_counter("stop_markers");
	s->host_bytes = bfd_counter("hint_bytes");
	s->triggers = bfd_counter("triggers");
}

/*
 * A round for a new id, with the Nth fault point of the task that
 * allocates its blocks failing, N = 1, 2, ... until the round reaches
 * none.  A round reports no error: a block that cannot be allocated makes
 * the driver try the next order down, and below hint_min_order ends the
 * round's blocks.  Whatever was injected, the round must end cleanly
 * (start marker with the id, stop marker, the trigger returns), every
 * block the driver allocated must have been hinted (none held unhinted),
 * and the host's DONE must give every block back.
 */
TEST_F_TIMEOUT(failnth, hint_round, 140)
{
	struct bfd_round_seen s0, s;
	int fd, n, injected;
	char one[2] = "1";
	ssize_t ret;
	unsigned int id;

	if (!self->fn_ok)
		SKIP(return, "%s", self->fn.why);
	fd = bh_trigger_open(BALLOON_HINT_HINT_FILE);
	ASSERT_LE(0, fd)
		TH_LOG("trigger %s: %s (balloon_hint needs debug_triggers=1)",
		       BALLOON_HINT_HINT_FILE, strerror(-fd));

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		id = BFD_ID + n;
		bfd_round_look(&s0);
		ASSERT_EQ(0, bfd_ctl("trigger 1 %u", BFD_DONE)) TH_LOG("trigger");
		ASSERT_EQ(0, bfd_ctl("cmd_id %u quiet", id)) TH_LOG("cmd_id");

		vmk_failnth_arm(&self->fn, n);
		ret = write(fd, one, 1);
		injected = vmk_failnth_disarm(&self->fn);
		ASSERT_EQ(1, ret)
			TH_LOG("n=%d: the hint trigger failed: %s", n,
			       strerror(errno));

		bfd_round_look(&s);
		EXPECT_EQ(s0.rounds + 1, s.rounds)
			TH_LOG("n=%d: not one round", n);
		EXPECT_EQ(s0.stops_sent + 1, s.stops_sent)
			TH_LOG("n=%d: the round sent no stop marker", n);
		EXPECT_EQ(s0.starts + 1, s.starts)
			TH_LOG("n=%d: the host saw no start marker", n);
		EXPECT_EQ(s0.stops + 1, s.stops)
			TH_LOG("n=%d: the host saw no stop marker", n);
		EXPECT_EQ(0, bfd_counter("in_round"))
			TH_LOG("n=%d: the round is still open", n);
		EXPECT_EQ(id, bfd_counter("round_id"))
			TH_LOG("n=%d: the start marker carried another id", n);
		EXPECT_EQ(0, bfd_counter("stale_starts"))
			TH_LOG("n=%d: a start marker for an id not in config", n);
		EXPECT_EQ(s0.triggers + 1, s.triggers)
			TH_LOG("n=%d: the host saw no block, so wrote no DONE", n);
		/* Every block allocated was hinted: none held unhinted. */
		EXPECT_EQ(s.bytes_hinted - s0.bytes_hinted,
			  s.host_bytes - s0.host_bytes)
			TH_LOG("n=%d: the driver hinted %lld bytes, the host saw %lld",
			       n, s.bytes_hinted - s0.bytes_hinted,
			       s.host_bytes - s0.host_bytes);
		bfd_check_clean(_metadata);

		/*
		 * DONE came mid-round and queued hint_work; whichever of it
		 * and this second trigger runs first gives the blocks back.
		 */
		ASSERT_EQ(1, write(fd, one, 1)) TH_LOG("n=%d: hint trigger", n);
		EXPECT_EQ(s0.done_seen + 1, bh_stat("done_seen"))
			TH_LOG("n=%d: DONE not handled once", n);
		EXPECT_EQ(0, bh_stat("held_pages"))
			TH_LOG("n=%d: pages held after DONE", n);
		EXPECT_EQ(bfd_hinted_pages(), bh_stat("returned_done") +
			  bh_stat("returned_shrinker"))
			TH_LOG("n=%d: not every hinted page came back", n);
		if (!injected)
			break;
	}
	close(fd);
	vmk_failnth_report("bfd hint_round", n - 1);
	EXPECT_LT(n, VMK_FAILNTH_MAX) TH_LOG("the round never ran clean");
	bh_log_stats("after the sweep");
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back");
}

TEST_HARNESS_MAIN
