// SPDX-License-Identifier: GPL-2.0-only
/*
 * Free page hinting in real QEMU migrations, driven over QMP through the
 * host-action channel: a complete migration (plain and fragmented free
 * memory), and the cases that happen while a round holds memory: the host
 * cancelling (DONE early) and repeating DONE, memory pressure, and module
 * unload.  Those cap the migration bandwidth so that it cannot complete
 * while the guest acts (QEMU would pause the guest), then cancel it.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "bh_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BALLOON_HINT_DEBUGFS_DIR)

/* Signed, so that comparisons with -1 ("absent") mean what they say. */
#define BH_MB		((long long)BH_MIB)
#define BH_SLOW_BW	(1ULL * BH_MIB)
#define BH_FILL		(1024 * BH_MB)
#define BH_PAGE		4096LL
/* MemFree wanders a little on its own (page cache, slabs, the tests). */
#define BH_SLACK	(48 * BH_MB)

/*
 * How far MemFree's drop may stray from the bytes the driver holds: the
 * two are sampled a moment apart while other allocations and free page
 * reports come and go, so allow BH_SLACK or 1/16 of what is held.
 */
static long long bh_held_slack(long long held_bytes)
{
	long long slack = held_bytes / 16;

	if (slack < BH_SLACK)
		slack = BH_SLACK;
	return slack;
}

/*
 * Giving back a whole guest's free memory takes a while under TCG: with
 * init_on_free every page is zeroed, and free page reporting has made the
 * host drop most of them, so each is faulted in again.
 */
#define BH_RELEASE_S	60
/* A round "holds memory" from this many pages on. */
#define BH_HELD_MIN	(64 * BH_MB / BH_PAGE)
/* Bounds on waits for the driver (generous: the host may be loaded). */
#define BH_DONE_S	30
#define BH_ROUND_S	90

FIXTURE(hint) {
	int fd;
};

FIXTURE_VARIANT(hint) {
	bool fragmented;
};

/* Free memory in large contiguous blocks. */
FIXTURE_VARIANT_ADD(hint, plain) {
	.fragmented = false,
};

/* Free memory scattered in 2 MiB pieces between pieces still in use. */
FIXTURE_VARIANT_ADD(hint, fragmented) {
	.fragmented = true,
};

FIXTURE_SETUP(hint)
{
	self->fd = vmk_host_open();
	ASSERT_LE(0, self->fd) TH_LOG("host channel: %s", strerror(-self->fd));
	ASSERT_LE(0, bh_stat("rounds"))
		TH_LOG("balloon_hint is not bound to the balloon device");
}

FIXTURE_TEARDOWN(hint)
{
	if (self->fd >= 0)
		close(self->fd);
}

struct bh_sample {
	int stop;		/* set by the test, read by the sampler */
	long long memfree, max_held, drop_at_max;
};

/* While the migration runs: the largest held_pages and MemFree then. */
static void *bh_sampler(void *arg)
{
	struct bh_sample *smp = arg;
	long long held, drop;

	while (!__atomic_load_n(&smp->stop, __ATOMIC_ACQUIRE)) {
		held = bh_stat("held_pages");
		drop = smp->memfree - bh_memfree();
		/* Trust the pair only if held did not move meanwhile. */
		if (held > smp->max_held && bh_stat("held_pages") == held) {
			smp->max_held = held;
			smp->drop_at_max = drop;
		}
		usleep(20000);
	}
	return NULL;
}

/*
 * A whole migration: the driver sees the ids QEMU issues after its dirty
 * syncs, hints, gets DONE once the guest resumes and gives every page
 * back; MemFree returns; what the statistics say matches what the guest
 * and the host saw.
 */
TEST_F_TIMEOUT(hint, migrate_round, 300)
{
	long long rounds0 = bh_stat("rounds"), done0 = bh_stat("done_seen");
	long long ids0 = bh_stat("cmd_ids"), hinted0 = bh_stat("bytes_hinted");
	long long o9 = bh_stat("blocks_order_9");
	long long helper0 = bh_stat("helper_blocks");
	long long ret0 = bh_stat("returned_done") + bh_stat("returned_shrinker");
	long long memfree, hinted, ids, returned;
	unsigned long long syncs;
	struct bh_sample smp = {};
	char resp[BH_RESP_LEN];
	pthread_t sampler;
	size_t kept;
	char *raw;
	int err;

	ASSERT_EQ(0, bh_make_free_memory(variant->fragmented, BH_FILL, &raw, &kept))
		TH_LOG("could not dirty and free memory");
	memfree = bh_memfree();
	TH_LOG("free before: MemFree %lld MiB, per-CPU lists %lld MiB",
	       bh_meminfo("MemFree") / BH_MB, bh_pcp_bytes() / BH_MB);

	smp.memfree = memfree;
	ASSERT_EQ(0, pthread_create(&sampler, NULL, bh_sampler, &smp));
	/*
	 * The host migrates, waits for completion and resumes the paused
	 * guest ("cont") before answering; DONE arrives after that.
	 */
	err = bh_host(self->fd, resp, "{\"op\":\"migrate\"}");
	__atomic_store_n(&smp.stop, 1, __ATOMIC_RELEASE);
	pthread_join(sampler, NULL);
	ASSERT_EQ(0, err) TH_LOG("migration: %s", resp);
	TH_LOG("migration: %s", resp);
	ASSERT_EQ(0, vmk_json_u64(resp, "dirty-sync-count", &syncs));

	EXPECT_LT(done0, bh_wait_stat_ge("done_seen", done0 + 1, BH_DONE_S))
		TH_LOG("no DONE seen after the migration completed");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BH_RELEASE_S))
		TH_LOG("pages still held after DONE");
	bh_log_stats("after DONE");

	/*
	 * QEMU issues a new id after every dirty sync but the last (made with
	 * the guest paused, it is followed by DONE).
	 */
	ids = bh_stat("cmd_ids") - ids0;
	EXPECT_LE(1, ids) TH_LOG("no command id seen");
	EXPECT_GE((long long)syncs - 1, ids)
		TH_LOG("%lld ids seen but QEMU synced only %llu times", ids,
		       syncs);
	EXPECT_LT(rounds0, bh_stat("rounds")) TH_LOG("no hint round ran");

	hinted = bh_stat("bytes_hinted") - hinted0;
	returned = bh_stat("returned_done") + bh_stat("returned_shrinker") -
		   ret0;
	TH_LOG("hinted %lld MiB, max held %lld MiB, MemFree drop then %lld MiB",
	       hinted / BH_MB, smp.max_held * BH_PAGE / BH_MB,
	       smp.drop_at_max / BH_MB);
	EXPECT_LT(BH_FILL / 2, hinted)
		TH_LOG("less than half of the freed memory was hinted");
	EXPECT_EQ(hinted / BH_PAGE, returned)
		TH_LOG("pages hinted and pages returned differ");
	/* What the guest lost from MemFree is what the driver says it held. */
	EXPECT_LE(BH_HELD_MIN, smp.max_held) TH_LOG("no memory held in the round");
	EXPECT_GT(bh_held_slack(smp.max_held * BH_PAGE),
		  llabs(smp.drop_at_max - smp.max_held * BH_PAGE))
		TH_LOG("MemFree drop %lld vs held %lld bytes", smp.drop_at_max,
		       smp.max_held * BH_PAGE);
	/* hint_helper (default on) allocates from the second CPU too. */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
	    bh_param_bool("hint_helper") == 1)
		EXPECT_LT(helper0, bh_stat("helper_blocks"))
			TH_LOG("the second CPU hinted no block");
	if (variant->fragmented)
		EXPECT_LT(o9 + 64, bh_stat("blocks_order_9"))
			TH_LOG("fragmented memory was not hinted at order 9");

	EXPECT_LE(memfree - BH_SLACK,
		  bh_wait_memfree_ge(memfree - BH_SLACK, BH_RELEASE_S))
		TH_LOG("MemFree did not return to its pre-migration level");
	if (raw)
		munmap(raw, kept);
}

/* The mid-round cases: one throttled migration each, cancelled at the end. */
FIXTURE(round) {
	int fd;
	long long memfree0;
};

FIXTURE_SETUP(round)
{
	self->fd = vmk_host_open();
	ASSERT_LE(0, self->fd) TH_LOG("host channel: %s", strerror(-self->fd));
	ASSERT_LE(0, bh_stat("rounds"))
		TH_LOG("balloon_hint is not bound to the balloon device");
	ASSERT_EQ(0, bh_wait_stat_le("held_pages", 0, BH_RELEASE_S))
		TH_LOG("pages held before the test");
	self->memfree0 = bh_memfree();
}

FIXTURE_TEARDOWN(round)
{
	if (self->fd < 0)
		return;
	if (bh_migrate_cancel(self->fd))
		TH_LOG("could not cancel the migration");
	bh_set_bandwidth(self->fd, BH_DEFAULT_BW);
	/* A test that unloaded the driver must leave it loaded again. */
	if (bh_stat("rounds") < 0 &&
	    system("insmod /lib/vmk/modules/balloon_hint.ko"))
		TH_LOG("could not reload balloon_hint");
	close(self->fd);
}

/*
 * Start a throttled migration and wait until the driver has ended its
 * round (stop marker sent: every free block it could take is held);
 * returns the pages held (or -1).  The migration is too slow to reach its
 * next dirty sync, so the round's id stays current until the test cancels.
 */
static long long bh_open_round(struct __test_metadata *_metadata, int fd)
{
	long long stops0 = bh_stat("stops_sent"), held;

	if (bh_set_bandwidth(fd, BH_SLOW_BW) || bh_migrate_start(fd)) {
		TH_LOG("could not start a throttled migration");
		return -1;
	}
	if (bh_wait_stat_ge("stops_sent", stops0 + 1, BH_ROUND_S) <= stops0)
		TH_LOG("the round did not end within %d s", BH_ROUND_S);
	held = bh_stat("held_pages");
	TH_LOG("round open: %lld MiB held", held * BH_PAGE / BH_MB);
	bh_log_stats("round open");
	return held;
}

/*
 * The host ends the round early (cancel writes DONE), then repeats DONE
 * (any config change makes the driver read it again): everything comes
 * back once, nothing is counted twice.
 */
TEST_F_TIMEOUT(round, cancel_and_done_twice, 300)
{
	long long done0 = bh_stat("done_seen"), held, memfree, done1, reads;
	long long ret0 = bh_stat("returned_done");
	long long shr0 = bh_stat("returned_shrinker");
	char resp[BH_RESP_LEN];
	unsigned long long actual;

	held = bh_open_round(_metadata, self->fd);
	ASSERT_LE(BH_HELD_MIN, held) TH_LOG("no round held memory");
	memfree = bh_memfree();
	EXPECT_GT(bh_held_slack(held * BH_PAGE),
		  llabs(self->memfree0 - memfree - held * BH_PAGE))
		TH_LOG("MemFree fell by %lld MiB, held %lld MiB",
		       (self->memfree0 - memfree) / BH_MB,
		       held * BH_PAGE / BH_MB);

	ASSERT_EQ(0, bh_migrate_cancel(self->fd)) TH_LOG("cancel failed");
	EXPECT_LT(done0, bh_wait_stat_ge("done_seen", done0 + 1, BH_DONE_S))
		TH_LOG("no DONE after cancel");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BH_RELEASE_S))
		TH_LOG("pages still held after DONE");
	/*
	 * kswapd may have had the shrinker give some back between the
	 * count and DONE (it did, 32 MiB, on the debug kernel).
	 */
	EXPECT_LE(held, bh_stat("returned_done") - ret0 +
		  bh_stat("returned_shrinker") - shr0)
		TH_LOG("DONE and the shrinker returned fewer pages than were held");
	EXPECT_LE(self->memfree0 - BH_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BH_SLACK, BH_RELEASE_S))
		TH_LOG("MemFree did not come back after DONE");

	/* An unchanged balloon target is a config change: DONE again. */
	done1 = bh_stat("done_seen");
	ret0 = bh_stat("returned_done");
	reads = bh_stat("cmd_id_reads");
	ASSERT_EQ(0, bh_host(self->fd, resp,
			     "{\"op\":\"qmp\",\"cmd\":\"query-balloon\"}"));
	ASSERT_EQ(0, vmk_json_u64(resp, "actual", &actual));
	ASSERT_EQ(0, bh_host(self->fd, resp,
			     BH_QMP("balloon", "\"value\":%llu"), actual))
		TH_LOG("balloon command: %s", resp);
	ASSERT_LT(reads, bh_wait_stat_ge("cmd_id_reads", reads + 1, BH_DONE_S))
		TH_LOG("the driver did not read the command id again");
	EXPECT_EQ(done1, bh_stat("done_seen")) TH_LOG("DONE handled twice");
	EXPECT_EQ(ret0, bh_stat("returned_done"))
		TH_LOG("pages returned twice");
	EXPECT_EQ(0, bh_stat("held_pages")) TH_LOG("pages held after DONE");
	EXPECT_EQ(0, bh_stat("balloon_pages")) TH_LOG("the balloon moved");
}

/*
 * A program allocating most of RAM while the round holds nearly all free
 * memory must not be OOM-killed: the shrinker hands held blocks back.
 */
TEST_F_TIMEOUT(round, pressure_mid_round, 300)
{
	long long shr0 = bh_stat("returned_shrinker");
	size_t want = self->memfree0 * 3 / 4;
	long long held;
	int status;
	pid_t pid;

	held = bh_open_round(_metadata, self->fd);
	ASSERT_LE(BH_HELD_MIN, held) TH_LOG("no round held memory");
	/* The program needs more than what the round left free. */
	ASSERT_LT(bh_meminfo("MemFree"), (long long)want)
		TH_LOG("the round left enough free memory: no pressure");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(bh_fill(want) ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	bh_log_stats("after pressure");
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("allocating program killed by signal %d",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("allocation failed");
	EXPECT_LT(shr0, bh_stat("returned_shrinker"))
		TH_LOG("the shrinker returned nothing under pressure");
	TH_LOG("shrinker returned %lld MiB",
	       (bh_stat("returned_shrinker") - shr0) * BH_PAGE / BH_MB);

	ASSERT_EQ(0, bh_migrate_cancel(self->fd));
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BH_RELEASE_S))
		TH_LOG("pages still held after DONE");
}

/*
 * Config changes while a round runs do not end it.  Once QEMU has taken
 * the start marker its config shows STOP for the rest of the round, so a
 * driver that re-reads config on any change (here: the host repeating an
 * unchanged balloon target) and takes STOP for the end of the round stops
 * after a few MiB.  Changes are sent until the round ends.  Whether one
 * reached the round is what the driver says (mid_round_reads: config read
 * by a round under way), not when it was sent: under TCG a round takes
 * about as long as a host round trip, so an attempt whose round read
 * nothing is repeated.
 */
#define BH_CHANGE_TRIES	8

TEST_F_TIMEOUT(round, config_change_mid_round, 300)
{
	long long changed0 = bh_stat("id_changed_mid_round");
	long long rounds0, stops0, reads0, held = 0, landed = 0;
	unsigned long long actual;
	char resp[BH_RESP_LEN];
	int attempt, sent;
	double end;

	ASSERT_EQ(0, bh_host(self->fd, resp,
			     "{\"op\":\"qmp\",\"cmd\":\"query-balloon\"}"));
	ASSERT_EQ(0, vmk_json_u64(resp, "actual", &actual));
	for (attempt = 0; attempt < BH_CHANGE_TRIES && !landed; attempt++) {
		ASSERT_EQ(0, bh_wait_stat_le("held_pages", 0, BH_RELEASE_S))
			TH_LOG("pages held before the round");
		rounds0 = bh_stat("rounds");
		stops0 = bh_stat("stops_sent");
		reads0 = bh_stat("mid_round_reads");
		ASSERT_EQ(0, bh_set_bandwidth(self->fd, BH_SLOW_BW));
		ASSERT_EQ(0, bh_migrate_start(self->fd));
		for (end = bh_now() + BH_ROUND_S, sent = 0;
		     bh_stat("stops_sent") == stops0 && bh_now() < end;
		     sent++)
			ASSERT_EQ(0, bh_host(self->fd, resp,
					     BH_QMP("balloon", "\"value\":%llu"),
					     actual))
				TH_LOG("balloon command: %s", resp);
		ASSERT_LT(stops0, bh_stat("stops_sent"))
			TH_LOG("the round did not end within %d s", BH_ROUND_S);
		held = bh_stat("held_pages");
		landed = bh_stat("mid_round_reads") - reads0;
		TH_LOG("attempt %d: %d config changes sent, %lld read mid-round, %lld MiB held",
		       attempt + 1, sent, landed, held * BH_PAGE / BH_MB);
		bh_log_stats("round ended");
		ASSERT_EQ(0, bh_migrate_cancel(self->fd));
		EXPECT_EQ(rounds0 + 1, bh_stat("rounds"))
			TH_LOG("not one round for the migration's id");
	}
	ASSERT_LT(0, landed)
		TH_LOG("no round read a config change in %d attempts",
		       BH_CHANGE_TRIES);
	EXPECT_LT(self->memfree0 / 2, held * BH_PAGE)
		TH_LOG("the round ended early: %lld MiB held of %lld MiB free",
		       held * BH_PAGE / BH_MB, self->memfree0 / BH_MB);
	EXPECT_EQ(changed0, bh_stat("id_changed_mid_round"))
		TH_LOG("an unchanged id was taken for a new one");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BH_RELEASE_S))
		TH_LOG("pages still held after DONE");
}

/* Unloading the module mid-round frees every held page. */
TEST_F_TIMEOUT(round, unload_mid_round, 300)
{
	long long held;

	held = bh_open_round(_metadata, self->fd);
	ASSERT_LE(BH_HELD_MIN, held) TH_LOG("no round held memory");

	ASSERT_EQ(0, system("rmmod balloon_hint")) TH_LOG("rmmod failed");
	/* Freed before rmmod returns; the wait covers the per-CPU lists. */
	EXPECT_LE(self->memfree0 - BH_SLACK,
		  bh_wait_memfree_ge(self->memfree0 - BH_SLACK, 10))
		TH_LOG("held pages not freed on unload");
	ASSERT_EQ(0, bh_migrate_cancel(self->fd));
	ASSERT_EQ(0, system("insmod /lib/vmk/modules/balloon_hint.ko"))
		TH_LOG("reload failed");
	ASSERT_LE(0, bh_stat("rounds")) TH_LOG("driver did not bind again");
}

TEST_HARNESS_MAIN
