// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint against a fake host that answers at once: a normal round,
 * a new command id while the driver is still allocating, DONE in the middle
 * of a round, DONE with no round, DONE twice, and DONE before the host took
 * the start marker.  Each checks what the device saw on the free page
 * virtqueue against the driver's statistics and /proc/meminfo.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_QSIZE	128
/* Blocks the fake host takes before it changes the id or writes DONE. */
#define BFD_TRIGGER	8

FIXTURE(round) {
	long long memfree0;
	long long min_free_kbytes0;	/* to restore; 0: not changed */
	bool reloaded;			/* driver loaded with other parameters */
	char markers[1024];
};

FIXTURE_SETUP(round)
{
	bfd_create_bound(_metadata, BFD_F_FREE_PAGE_HINT | BFD_F_STATS_VQ,
			 BFD_QSIZE);
	ASSERT_EQ(0, bh_stat("rounds")) TH_LOG("no fresh driver statistics");
	self->memfree0 = bh_memfree();
}

FIXTURE_TEARDOWN(round)
{
	if (self->min_free_kbytes0)
		bfd_set_min_free_kbytes(self->min_free_kbytes0);
	if (self->reloaded)
		bfd_reload_driver(BFD_DRIVER_ARGS);
	bfd_ctl("remove");
}

TEST_F_TIMEOUT(round, normal, 120)
{
	long long held, drop, features = bfd_counter("features");

	EXPECT_TRUE(bfd_counter("status") & 4) TH_LOG("no DRIVER_OK");
	EXPECT_TRUE((features >> 32) & 1) TH_LOG("VERSION_1 not negotiated");
	EXPECT_TRUE(features & BFD_F_FREE_PAGE_HINT)
		TH_LOG("FREE_PAGE_HINT not negotiated");
	EXPECT_EQ(1, bfd_counter("stats_bufs"))
		TH_LOG("the stats buffer was not primed at probe");
	EXPECT_EQ(0, bfd_counter("inflate_pfns"))
		TH_LOG("inflated with no target");

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("the round did not end");
	ASSERT_LE(1, bfd_wait_counter_ge("stop_markers", 1))
		TH_LOG("the host saw no stop marker");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bh_log_stats("after the round");

	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop", self->markers);
	EXPECT_EQ(BFD_ID, bh_stat("hint_cmd_id")) TH_LOG("id not seen");
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("not one round");
	EXPECT_EQ(0, bfd_counter("stale_starts"))
		TH_LOG("start marker carried another id");
	EXPECT_EQ(0, bh_stat("host_stalls")) TH_LOG("stalled on a good host");
	EXPECT_EQ(bh_stat("bytes_hinted"), bfd_counter("hint_bytes"))
		TH_LOG("bytes seen by the host differ from bytes_hinted");
	EXPECT_EQ(bfd_counter("hint_seen"), bfd_counter("hint_used"))
		TH_LOG("the host did not return every buffer");
	bfd_check_clean(_metadata);

	held = bh_stat("held_pages");
	/*
	 * The round held most of this small guest: kswapd may already have
	 * had the shrinker give some back (MemFree then rose by as much).
	 */
	if (held + bh_stat("returned_shrinker") <= 64 * BFD_MB / BFD_PAGE)
		bh_log_stats("with hardly anything held");
	EXPECT_LT(64 * BFD_MB / BFD_PAGE, held + bh_stat("returned_shrinker"))
		TH_LOG("hardly anything held");
	drop = self->memfree0 - bh_memfree();
	EXPECT_GT(BFD_SLACK, llabs(drop - held * BFD_PAGE))
		TH_LOG("MemFree fell by %lld MiB, held is %lld MiB",
		       drop / BFD_MB, held * BFD_PAGE / BFD_MB);

	bfd_done_frees_all(_metadata, self->memfree0);
	EXPECT_EQ(held, bh_stat("returned_done"))
		TH_LOG("DONE returned another number of pages than held");
}

/*
 * The driver reloaded as one worker (BFD_ONE_WORKER_ARGS) for a test that
 * acts in the middle of a round: with the helper, the round's worker could
 * run out of blocks while the host still sat in the helper's kick.
 */
static void bfd_one_worker(struct __test_metadata *_metadata, bool *reloaded)
{
	*reloaded = true;
	ASSERT_EQ(0, bfd_reload_driver(BFD_ONE_WORKER_ARGS))
		TH_LOG("reload with %s", BFD_ONE_WORKER_ARGS);
	ASSERT_EQ(1, bfd_counter("bound")) TH_LOG("not bound again");
}

TEST_F_TIMEOUT(round, id_change_while_allocating, 120)
{
	bfd_one_worker(_metadata, &self->reloaded);
	ASSERT_EQ(0, bfd_ctl("trigger %u %u", BFD_TRIGGER, BFD_ID + 1))
		TH_LOG("trigger");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(2, bh_wait_stat_ge("stops_sent", 2, BFD_WAIT_S))
		TH_LOG("the two rounds did not end");
	ASSERT_LE(2, bfd_wait_counter_ge("stop_markers", 2))
		TH_LOG("the host saw fewer than two stop markers");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bh_log_stats("after the id change");

	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop|start 2147483650|stop",
		     self->markers);
	EXPECT_EQ(1, bfd_counter("triggers")) TH_LOG("the id never changed");
	EXPECT_EQ(1, bh_stat("id_changed_mid_round"))
		TH_LOG("the driver did not see the id change mid-round");
	EXPECT_EQ(2, bh_stat("rounds")) TH_LOG("not two rounds");
	EXPECT_EQ(2, bh_stat("cmd_ids")) TH_LOG("not two ids");
	EXPECT_EQ(BFD_ID + 1, bh_stat("hint_cmd_id")) TH_LOG("new id unseen");
	/* The old round's blocks count again for the new id, once each. */
	EXPECT_LE(BFD_TRIGGER, bh_stat("rehinted_blocks"))
		TH_LOG("held blocks not hinted again for the new id");
	bfd_check_clean(_metadata);
	EXPECT_EQ(bfd_hinted_pages(), bh_stat("held_pages") +
		  bh_stat("returned_shrinker"))
		TH_LOG("a block counted twice in held_pages");
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * The host changes the id after BFD_TRIGGER blocks and writes @then (STOP
 * or DONE) the moment the driver's stop marker for the first round
 * arrives: the second id was withdrawn before the driver could answer it.
 * The driver must read config again before it starts a round, so it
 * answers @then and starts no round for the withdrawn id.
 */
static void bfd_new_id_then(struct __test_metadata *_metadata,
			    char *markers, size_t len, unsigned int then,
			    bool *reloaded)
{
	bfd_one_worker(_metadata, reloaded);
	ASSERT_EQ(0, bfd_ctl("trigger %u %u", BFD_TRIGGER, BFD_ID + 1))
		TH_LOG("trigger");
	ASSERT_EQ(0, bfd_ctl("trigger stop %u", then)) TH_LOG("trigger stop");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_EQ(2, bfd_wait_counter_ge("triggers", 2))
		TH_LOG("the host did not change the id, then write %u", then);
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bh_log_stats("after the withdrawn id");

	bfd_markers(markers, len);
	EXPECT_STREQ("start 2147483649|stop", markers)
		TH_LOG("a round started for an id the host had withdrawn");
	EXPECT_EQ(0, bfd_counter("stale_starts"))
		TH_LOG("a start marker carried an id no longer in config");
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("not one round");
	EXPECT_EQ(1, bh_stat("id_changed_mid_round"))
		TH_LOG("the driver did not see the id change mid-round");
	EXPECT_EQ(then, bh_stat("hint_cmd_id"))
		TH_LOG("the driver did not read the host's last word");
	bfd_check_clean(_metadata);
}

TEST_F_TIMEOUT(round, new_id_then_stop, 120)
{
	bfd_new_id_then(_metadata, self->markers, sizeof(self->markers),
			0, &self->reloaded);
	EXPECT_LE(1, bh_stat("stop_seen")) TH_LOG("STOP not seen");
	EXPECT_EQ(0, bh_stat("done_seen")) TH_LOG("DONE seen");
	/* STOP gives nothing back: the blocks wait for DONE. */
	EXPECT_LT(0, bh_stat("held_pages")) TH_LOG("nothing held");
	bfd_done_frees_all(_metadata, self->memfree0);
}

TEST_F_TIMEOUT(round, new_id_then_done, 120)
{
	bfd_new_id_then(_metadata, self->markers, sizeof(self->markers),
			BFD_DONE, &self->reloaded);
	EXPECT_EQ(1, bh_wait_stat_ge("done_seen", 1, BFD_WAIT_S))
		TH_LOG("DONE not seen once");
	bfd_all_back(_metadata, self->memfree0);
}

/* drop_caches in a loop: memory pressure for as long as @stop is 0. */
struct bfd_dropper {
	int stop;
	int drops;
};

static void *bfd_drop_loop(void *arg)
{
	struct bfd_dropper *d = arg;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE) &&
	       !bfd_drop_slab())
		__atomic_add_fetch(&d->drops, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Let the paused round go on; it ends with its one stop marker. */
static void bfd_resume_round(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, bfd_ctl("resume")) TH_LOG("resume");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("the round did not end");
	ASSERT_LE(1, bfd_wait_counter_ge("stop_markers", 1))
		TH_LOG("the host saw no stop marker");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
}

/*
 * Memory pressure while the driver is still allocating: the shrinker
 * takes blocks back, the round is cut short (one stop marker, no second
 * round), pressure_stops counts it once, and every page is accounted for.
 * The round is paused by the host while drop_caches runs: a round with
 * nothing to wait for takes a few ms, and in a single-threaded TCG guest
 * a shrinker on the other CPU often ran only after it had ended.
 */
TEST_F_TIMEOUT(round, pressure_while_allocating, 120)
{
	long long back;

	bfd_pause_round(_metadata, BFD_TRIGGER);
	ASSERT_EQ(0, bfd_drop_slab()) TH_LOG("drop_caches failed");
	back = bh_stat("returned_shrinker");
	bfd_resume_round(_metadata);
	bh_log_stats("after pressure mid-round");

	EXPECT_LT(0, back) TH_LOG("the shrinker took nothing back mid-round");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop", self->markers);
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("not one round");
	EXPECT_EQ(1, bh_stat("pressure_stops"))
		TH_LOG("the round cut short by pressure counted otherwise than once");
	bfd_check_clean(_metadata);
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * The host returns the descriptors of the blocks it took before the round
 * paused and holds every buffer after: the shrinker frees exactly the
 * blocks whose descriptors came back and keeps those whose hints the host
 * holds (the driver's held pages are the host's held bytes, less the
 * 4-byte stop marker), until the host returns those too.
 */
TEST_F_TIMEOUT(round, shrinker_spares_held_hints, 120)
{
	long long host_pages, held;

	bfd_one_worker(_metadata, &self->reloaded);
	bfd_pause_round(_metadata, BFD_TRIGGER);
	ASSERT_EQ(0, bfd_ctl("mode hint hold")) TH_LOG("mode");
	bfd_resume_round(_metadata);
	bh_log_stats("host holding the rest of the round");
	ASSERT_LT(0, bfd_counter("hint_used")) TH_LOG("the host returned none");
	ASSERT_LT(0, bfd_counter("hint_held")) TH_LOG("the host holds none");
	host_pages = bfd_counter("hint_held_bytes") / BFD_PAGE;
	ASSERT_LT(0, host_pages) TH_LOG("the host holds no block");
	ASSERT_LT(host_pages, bh_stat("held_pages"))
		TH_LOG("every block held is one the host holds");

	ASSERT_EQ(0, bfd_drop_slab()) TH_LOG("drop_caches");
	bh_log_stats("after drop_caches");
	held = bh_stat("held_pages");
	EXPECT_EQ(host_pages, held)
		TH_LOG("the driver holds %lld MiB, the host holds hints of %lld MiB",
		       held * BFD_PAGE / BFD_MB,
		       host_pages * BFD_PAGE / BFD_MB);
	EXPECT_EQ(held, bh_stat("inflight_pages"))
		TH_LOG("blocks the host holds not counted in flight");
	EXPECT_LT(0, bh_stat("returned_shrinker"))
		TH_LOG("the shrinker freed none of the blocks the host returned");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");

	/* The host returns the rest: they go too. */
	ASSERT_EQ(0, bfd_ctl("mode hint consume")) TH_LOG("mode");
	EXPECT_EQ(0, bh_wait_stat_le("inflight_pages", 0, BFD_WAIT_S))
		TH_LOG("the driver did not take its descriptors back");
	ASSERT_EQ(0, bfd_drop_slab()) TH_LOG("drop_caches");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BFD_WAIT_S))
		TH_LOG("the shrinker kept blocks the host returned");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop", self->markers);
	bfd_check_clean(_metadata);
	bfd_all_back(_metadata, self->memfree0);
}

/*
 * The host writes STOP while the driver is still allocating, as QEMU's
 * config shows STOP for the rest of a round once it took the start
 * marker: the driver reads it mid-round (mid_round_reads) and goes on
 * until no block is left, one start and one stop marker.  The config
 * change is made while the host holds the round paused, so it is read by
 * the round and not after it.
 */
TEST_F_TIMEOUT(round, stop_while_allocating, 120)
{
	long long held, min_order;
	char fails[64];

	bfd_one_worker(_metadata, &self->reloaded);
	min_order = bfd_driver_param("hint_min_order");
	bfd_pause_round(_metadata, BFD_TRIGGER);
	ASSERT_EQ(0, bfd_ctl("cmd_id 0")) TH_LOG("cmd_id STOP");
	bfd_resume_round(_metadata);
	bh_log_stats("after STOP mid-round");

	EXPECT_EQ(1, bh_stat("mid_round_reads"))
		TH_LOG("the round did not read config once");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop", self->markers);
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("not one round");
	EXPECT_EQ(0, bh_stat("id_changed_mid_round"))
		TH_LOG("STOP taken for a new id");
	EXPECT_EQ(0, bh_stat("pressure_stops")) TH_LOG("a pressure stop");
	/*
	 * It ended because no block was left: an allocation of the
	 * smallest order failed, and it held more than half the memory
	 * that was free (a driver that took STOP for the end held 132 MiB
	 * of 400 here, and no allocation had failed).
	 */
	ASSERT_LE(0, min_order) TH_LOG("no hint_min_order parameter");
	snprintf(fails, sizeof(fails), "alloc_fail_order_%lld", min_order);
	EXPECT_LT(0, bh_stat(fails))
		TH_LOG("the round ended before it ran out of free blocks");
	held = bh_stat("held_pages") + bh_stat("returned_shrinker");
	EXPECT_LT(self->memfree0 / 2, held * BFD_PAGE)
		TH_LOG("the round ended early: %lld MiB held of %lld MiB free",
		       held * BFD_PAGE / BFD_MB, self->memfree0 / BFD_MB);
	/* Then hint_work reads nothing new: STOP between rounds. */
	EXPECT_EQ(1, bh_wait_stat_ge("stop_seen", 1, BFD_WAIT_S))
		TH_LOG("STOP not seen once after the round");
	bfd_check_clean(_metadata);
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * Rounds that hint the held blocks again while the shrinker frees them:
 * a block must be hinted with the size it had when it was picked, never
 * with what its page says after the shrinker freed it (page_private of a
 * freed page is 0, or the buddy order of whatever it became part of).
 * The race is narrow: this counts on many blocks and rounds to hit it.
 */
TEST_F_TIMEOUT(round, rehint_while_shrinking, 120)
{
	struct bfd_dropper d = {};
	long long stops;
	pthread_t t;
	int i, err = 0;

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("the first round did not end");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");

	ASSERT_EQ(0, pthread_create(&t, NULL, bfd_drop_loop, &d));
	for (i = 1; i <= 8 && !err; i++) {
		stops = bh_stat("stops_sent");
		err = bfd_ctl("cmd_id %u", BFD_ID + i);
		if (!err && bh_wait_stat_ge("stops_sent", stops + 1,
					    BFD_WAIT_S) <= stops)
			err = -ETIMEDOUT;
	}
	__atomic_store_n(&d.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	ASSERT_EQ(0, err) TH_LOG("round %d: %s", i - 1, strerror(-err));
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bh_log_stats("after rehinting under pressure");
	TH_LOG("%d drop_caches runs, %lld blocks hinted again", d.drops,
	       bh_stat("rehinted_blocks"));
	EXPECT_LT(0, bh_stat("rehinted_blocks")) TH_LOG("nothing hinted again");
	EXPECT_LT(0, bh_stat("returned_shrinker"))
		TH_LOG("the shrinker took nothing back");
	/*
	 * Not bfd_check_clean(): a block the shrinker frees after it was
	 * picked for a hint may be allocated and hinted again in the same
	 * round by an allocation already under way (dup_blocks), which is
	 * harmless.  A wrong size is not.
	 */
	EXPECT_LE(bfd_driver_param("hint_min_order"),
		  bfd_counter("hint_min_order"))
		TH_LOG("a block smaller than hint_min_order was hinted");
	EXPECT_EQ(bfd_driver_blocks(), bfd_counter("hint_blocks"))
		TH_LOG("the host saw another number of blocks than the driver hinted");
	EXPECT_EQ(0, bfd_counter("bad_buffers"))
		TH_LOG("malformed buffer on the free page virtqueue");
	EXPECT_EQ(0, bfd_counter("outside_round"))
		TH_LOG("a block came outside start/stop markers");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * A round holds nearly all free memory; a program then needs BFD_NEED
 * more than is left free.  Reclaim must take back about that much, not
 * everything: pages the shrinker frees are progress only if reclaim is
 * told of them, else direct reclaim goes on through every priority and
 * the last ones ask for twice all that is held (it returned all 398 MiB
 * here, where 32 were needed): less than half must come back.
 */
#define BFD_NEED	(32 * BFD_MB)

/*
 * Reclaim's view, for the log: vmstat counters and DMA32's free pages and
 * watermarks (boost is what fallbacks into other pageblock types add).
 */
static void bfd_log_vm(const char *when)
{
	static const char * const keys[] = {
		"allocstall_movable", "pgsteal_kswapd", "pgsteal_direct",
		"slabs_scanned", "pageoutrun", "oom_kill", "compact_stall",
	};
	char line[256], out[1024] = "";
	size_t n = 0, i;
	bool dma32 = false;
	FILE *f;

	for (i = 0; i < ARRAY_SIZE(keys); i++)
		n += snprintf(out + n, sizeof(out) - n, " %s=%lld", keys[i],
			      vmk_read_key("/proc/vmstat", keys[i]));
	f = fopen("/proc/zoneinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char key[32];
		long long v;

		if (!strncmp(line, "Node", 4)) {
			dma32 = strstr(line, "DMA32");
			continue;
		}
		if (!dma32 || sscanf(line, " %31[a-z ] %lld", key, &v) != 2)
			continue;
		key[strcspn(key, " ")] = 0;
		if (strcmp(key, "pages") && strcmp(key, "boost") &&
		    strcmp(key, "min") && strcmp(key, "low") &&
		    strcmp(key, "high"))
			continue;
		/* "pages free": the zone's free pages. */
		if (n < sizeof(out))
			n += snprintf(out + n, sizeof(out) - n, " dma32_%s=%lld",
				      strcmp(key, "pages") ? key : "free", v);
	}
	if (f)
		fclose(f);
	printf("# vm %s:%s\n", when, out);
}

/*
 * Wait status of a program that allocates and touches @len bytes, with
 * vm.min_free_kbytes set to @min_free_kb first unless that is 0; -1 if it
 * could not be started.  It is the OOM killer's first choice.
 */
static int bfd_run_filler(long long len, long min_free_kb)
{
	int status;
	pid_t pid;

	bfd_log_vm("before pressure");
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		vmk_write_file("/proc/self/oom_score_adj", "1000");
		if (min_free_kb && bfd_set_min_free_kbytes(min_free_kb) < 0)
			_exit(2);
		_exit(bh_fill(len) ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	bfd_log_vm("after pressure");
	bh_log_stats("after pressure");
	return status;
}

TEST_F_TIMEOUT(round, pressure_takes_what_it_needs, 120)
{
	long long held, back0, back, len;
	int status;

	bfd_whole_round(_metadata);
	held = bh_stat("held_pages");
	back0 = bh_stat("returned_shrinker");
	len = bh_meminfo("MemFree") + BFD_NEED;
	TH_LOG("held %lld MiB, allocating %lld MiB",
	       held * BFD_PAGE / BFD_MB, len / BFD_MB);
	ASSERT_LT(len + BFD_NEED, held * BFD_PAGE)
		TH_LOG("the round held too little to tell");

	status = bfd_run_filler(len, 0);
	ASSERT_NE(-1, status) TH_LOG("fork or waitpid");
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the allocating program failed (status %#x)", status);
	back = bh_stat("returned_shrinker") - back0;
	TH_LOG("the shrinker returned %lld MiB of %lld MiB held",
	       back * BFD_PAGE / BFD_MB, held * BFD_PAGE / BFD_MB);
	EXPECT_LT(0, back) TH_LOG("memory pressure did not reach the shrinker");
	/*
	 * How much more than BFD_NEED comes back is up to kswapd, which
	 * reclaims up to the high watermark at rising priorities: 44 of
	 * 210 MiB held on the debug kernel, 100 of 398 on lts.
	 */
	EXPECT_GT(held / 2, back)
		TH_LOG("the shrinker gave back far more than was needed");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
	bfd_done_frees_all(_metadata, self->memfree0);
}

/*
 * What the OOM killer decides on is free memory plus the LRU lists, where
 * held blocks are not: with no swap, a min watermark that one reclaim
 * pass (one block back) cannot reach sends an allocation to the OOM
 * killer however much is held.  Watermark boosting raises min so, now
 * and then, on the latest kernel; a raised min_free_kbytes does it every
 * time.  The driver's OOM notifier must give blocks back first.
 */
#define BFD_MIN_FREE_KB	(64 * 1024)

TEST_F_TIMEOUT(round, oom_takes_held_blocks_first, 120)
{
	long long held, kills0;
	int status;

	bfd_whole_round(_metadata);
	held = bh_stat("held_pages");
	ASSERT_LT(2 * BFD_MIN_FREE_KB * 1024LL, held * BFD_PAGE)
		TH_LOG("the round held too little to tell");
	kills0 = vmk_read_key("/proc/vmstat", "oom_kill");
	self->min_free_kbytes0 = vmk_read_long(BFD_MIN_FREE_PATH);
	ASSERT_LT(0, self->min_free_kbytes0) TH_LOG("min_free_kbytes");
	ASSERT_LT(self->min_free_kbytes0, BFD_MIN_FREE_KB);

	status = bfd_run_filler(BFD_NEED, BFD_MIN_FREE_KB);
	ASSERT_NE(-1, status) TH_LOG("fork or waitpid");
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the allocating program failed (status %#x)", status);
	EXPECT_EQ(kills0, vmk_read_key("/proc/vmstat", "oom_kill"))
		TH_LOG("the OOM killer ran with %lld MiB held",
		       held * BFD_PAGE / BFD_MB);
	TH_LOG("%lld MiB of %lld MiB held came back, %lld MiB by the OOM notifier",
	       bh_stat("returned_shrinker") * BFD_PAGE / BFD_MB,
	       held * BFD_PAGE / BFD_MB,
	       bh_stat("returned_oom") * BFD_PAGE / BFD_MB);
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
	EXPECT_EQ(self->min_free_kbytes0,
		  bfd_set_min_free_kbytes(self->min_free_kbytes0));
	self->min_free_kbytes0 = 0;
	bfd_done_frees_all(_metadata, self->memfree0);
}

TEST_F_TIMEOUT(round, done_while_allocating, 120)
{
	ASSERT_EQ(0, bfd_ctl("trigger %u %u", BFD_TRIGGER, BFD_DONE))
		TH_LOG("trigger");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("done_seen", 1, BFD_WAIT_S))
		TH_LOG("the driver did not see DONE");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BFD_WAIT_S))
		TH_LOG("pages still held after DONE");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	bh_log_stats("after DONE mid-round");

	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop", self->markers);
	EXPECT_EQ(1, bfd_counter("triggers")) TH_LOG("DONE never written");
	EXPECT_EQ(1, bh_stat("stops_sent")) TH_LOG("round not ended once");
	EXPECT_LT(0, bh_stat("returned_done")) TH_LOG("DONE returned nothing");
	bfd_check_clean(_metadata);
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back after DONE");
}

TEST_F_TIMEOUT(round, done_without_round_and_twice, 120)
{
	long long reads = bh_stat("cmd_id_reads"), returned;

	/* DONE before any start marker: nothing to give back. */
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	ASSERT_LE(reads + 1, bh_wait_stat_ge("cmd_id_reads", reads + 1,
					     BFD_WAIT_S))
		TH_LOG("the driver did not read the id");
	EXPECT_EQ(1, bh_wait_stat_ge("done_seen", 1, BFD_WAIT_S))
		TH_LOG("DONE not seen once");
	EXPECT_EQ(0, bh_stat("rounds")) TH_LOG("a round started on DONE");
	EXPECT_EQ(0, bh_stat("held_pages")) TH_LOG("pages held on DONE");
	EXPECT_EQ(0, bfd_counter("start_markers")) TH_LOG("a start marker");

	/* DONE again: read, and ignored. */
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	ASSERT_LE(reads + 2, bh_wait_stat_ge("cmd_id_reads", reads + 2,
					     BFD_WAIT_S))
		TH_LOG("the driver did not read the id again");
	EXPECT_EQ(1, bh_stat("done_seen")) TH_LOG("second DONE acted on");

	/* A real round, DONE, then DONE once more. */
	bfd_whole_round(_metadata);
	bfd_done_frees_all(_metadata, self->memfree0);
	returned = bh_stat("returned_done");
	reads = bh_stat("cmd_id_reads");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	ASSERT_LE(reads + 1, bh_wait_stat_ge("cmd_id_reads", reads + 1,
					     BFD_WAIT_S))
		TH_LOG("the driver did not read the id");
	EXPECT_EQ(2, bh_stat("done_seen")) TH_LOG("repeated DONE acted on");
	EXPECT_EQ(returned, bh_stat("returned_done"))
		TH_LOG("repeated DONE returned pages again");
	EXPECT_EQ(0, bh_stat("held_pages")) TH_LOG("pages held");
	bfd_check_clean(_metadata);
}

TEST_F_TIMEOUT(round, done_before_host_took_start, 120)
{
	long long held;

	/* The host looks at nothing: the start marker stays in the ring. */
	ASSERT_EQ(0, bfd_ctl("mode hint ignore")) TH_LOG("mode");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LT(0, bh_wait_stat_ge("held_pages", 1, BFD_WAIT_S))
		TH_LOG("the driver hinted nothing");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	ASSERT_LE(1, bh_wait_stat_ge("done_seen", 1, BFD_WAIT_S))
		TH_LOG("the driver did not see DONE");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
	/* Every block is still in the ring, so DONE frees none of them. */
	held = bh_stat("held_pages");
	EXPECT_EQ(bfd_hinted_pages(), held)
		TH_LOG("DONE freed blocks still queued for the host");
	EXPECT_EQ(held, bh_stat("inflight_pages"))
		TH_LOG("queued blocks not counted in flight");
	EXPECT_EQ(0, bh_stat("returned_done")) TH_LOG("DONE returned pages");
	EXPECT_EQ(0, bfd_counter("hint_seen"))
		TH_LOG("the host took buffers while ignoring the queue");

	/*
	 * The host wakes up: it finds a round for an id that is over, and
	 * returns every buffer; DONE's blocks go as their descriptors come.
	 */
	ASSERT_EQ(0, bfd_ctl("mode hint consume")) TH_LOG("mode");
	ASSERT_LE(1, bfd_wait_counter_ge("stop_markers", 1))
		TH_LOG("the host saw no stop marker");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BFD_WAIT_S))
		TH_LOG("pages still held once the host returned them");
	EXPECT_EQ(held, bh_stat("returned_done"))
		TH_LOG("DONE returned another number of pages than held");
	bh_log_stats("after late consumption");
	bfd_markers(self->markers, sizeof(self->markers));
	EXPECT_STREQ("start 2147483649|stop", self->markers);
	EXPECT_EQ(1, bfd_counter("stale_starts"))
		TH_LOG("the late start marker should carry the old id");
	EXPECT_EQ(0, bh_stat("held_pages")) TH_LOG("pages held again");
	EXPECT_EQ(1, bh_stat("rounds")) TH_LOG("not one round");
	bfd_check_clean(_metadata);
	EXPECT_LE(self->memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back after DONE");
}

TEST(control_rejects_bad_input)
{
	EXPECT_EQ(-ENODEV, bfd_ctl("cmd_id 5")) TH_LOG("no device yet");
	EXPECT_EQ(-ENODEV, bfd_ctl("remove")) TH_LOG("no device yet");
	EXPECT_EQ(-ENODEV, bfd_ctl("suspend")) TH_LOG("no device yet");
	EXPECT_EQ(-ENODEV, bfd_ctl("target 5")) TH_LOG("no device yet");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x40 64"))
		TH_LOG("feature bit 6 is not emulated");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x28 64 48"))
		TH_LOG("reporting qsize 48");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x28 64 32 1"))
		TH_LOG("extra word after the reporting qsize");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x8 48")) TH_LOG("qsize 48");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x8 2048")) TH_LOG("qsize 2048");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x8")) TH_LOG("missing qsize");
	EXPECT_EQ(-EINVAL, bfd_ctl("create 0x8 64 2")) TH_LOG("rqsize 2");
	EXPECT_EQ(-EINVAL, bfd_ctl("launch")) TH_LOG("unknown verb");
	EXPECT_EQ(0, bfd_counter("present")) TH_LOG("a bad create made one");

	ASSERT_EQ(0, bfd_ctl("create 0x8 64")) TH_LOG("create");
	EXPECT_EQ(-EEXIST, bfd_ctl("create 0x8 64")) TH_LOG("second device");
	EXPECT_EQ(-EINVAL, bfd_ctl("mode stats consume")) TH_LOG("stats mode");
	EXPECT_EQ(-EINVAL, bfd_ctl("mode hint eat")) TH_LOG("unknown mode");
	EXPECT_EQ(-EINVAL, bfd_ctl("trigger 0 5")) TH_LOG("trigger after 0");
	EXPECT_EQ(-EINVAL, bfd_ctl("trigger stop")) TH_LOG("trigger stop, no id");
	EXPECT_EQ(-EINVAL, bfd_ctl("trigger stops 5")) TH_LOG("trigger stops");
	EXPECT_EQ(-EINVAL, bfd_ctl("trigger 0 pause")) TH_LOG("pause after 0");
	EXPECT_EQ(-EINVAL, bfd_ctl("trigger stop pause")) TH_LOG("pause at stop");
	EXPECT_EQ(-EINVAL, bfd_ctl("trigger 2 pauses")) TH_LOG("trigger pauses");
	EXPECT_EQ(-EINVAL, bfd_ctl("resume now")) TH_LOG("resume with a word");
	EXPECT_EQ(0, bfd_counter("pause_left")) TH_LOG("a bad pause armed");
	EXPECT_EQ(-EINVAL, bfd_ctl("suspend now")) TH_LOG("suspend with a word");
	EXPECT_EQ(-EINVAL, bfd_ctl("target")) TH_LOG("target, no count");
	EXPECT_EQ(-EINVAL, bfd_ctl("target -1")) TH_LOG("negative target");
	EXPECT_EQ(-EINVAL, bfd_ctl("cmd_id 5x")) TH_LOG("junk number");
	EXPECT_EQ(-EINVAL, bfd_ctl("cmd_id  5")) TH_LOG("double space");
	EXPECT_EQ(0, bfd_counter("config_changes"))
		TH_LOG("a rejected command changed the device");
	EXPECT_EQ(0, bfd_ctl("remove")) TH_LOG("remove");
	EXPECT_EQ(0, bfd_counter("present")) TH_LOG("device still there");
}

TEST_HARNESS_MAIN
