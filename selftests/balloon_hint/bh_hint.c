// SPDX-License-Identifier: GPL-2.0-only
/*
 * Free page hinting in real QEMU migrations (host driven over QMP through
 * the host-action channel): a complete migration, a migration cancelled
 * mid-round (DONE early), memory pressure mid-round and module unload
 * mid-round.  The slow cases cap the migration bandwidth so that the round
 * stays open while the guest acts.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "bh_util.h"

#define BH_SLOW_BW	(1ULL * BH_MIB)
#define BH_FILL		(1024ULL * BH_MIB)
#define BH_CHUNK	(2ULL * BH_MIB)
/* MemFree wanders a little on its own (page cache, slabs, the tests). */
#define BH_SLACK	(48LL * BH_MIB)

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

/*
 * Dirty then free memory: contiguous, or (fragmented) keep every other
 * 2 MiB huge page so the freed ones cannot merge into larger blocks.
 * *rawp and *kept say what is still mapped (to unmap later).
 */
static int bh_make_free_memory(bool fragmented, char **rawp, size_t *kept)
{
	size_t len = BH_FILL + BH_CHUNK, off;
	char *raw, *p;

	*rawp = NULL;
	*kept = 0;
	if (!fragmented) {
		p = bh_fill(BH_FILL);
		if (!p)
			return -1;
		munmap(p, BH_FILL);
		return 0;
	}
	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return -1;
	p = (char *)(((unsigned long)raw + BH_CHUNK - 1) & ~(BH_CHUNK - 1));
	madvise(p, BH_FILL, MADV_HUGEPAGE);
	for (off = 0; off < BH_FILL; off += 4096)
		memset(p + off, 0x5a, 64);
	for (off = 0; off < BH_FILL; off += 2 * BH_CHUNK)
		munmap(p + off, BH_CHUNK);
	*rawp = raw;
	*kept = len;
	return 0;
}

static void bh_unmap_kept(char *raw, size_t kept)
{
	size_t off;

	/* munmap of holes is fine: the kernel skips unmapped ranges. */
	for (off = 0; raw && off < kept; off += BH_CHUNK)
		munmap(raw + off, BH_CHUNK);
}

struct bh_sample {
	volatile int stop;
	long long memfree, max_held, drop_at_max;
};

/* While the migration runs: the largest held_pages and MemFree then. */
static void *bh_sampler(void *arg)
{
	struct bh_sample *smp = arg;
	long long held;

	while (!smp->stop) {
		held = bh_stat("held_pages");
		if (held > smp->max_held) {
			smp->max_held = held;
			smp->drop_at_max = smp->memfree - bh_meminfo("MemFree");
		}
		usleep(20000);
	}
	return NULL;
}

/*
 * A whole migration: the driver sees an id, hints, gets DONE after the
 * guest resumes and gives every page back; MemFree returns; the MemFree
 * drop seen during the round matches held_pages.
 */
TEST_F_TIMEOUT(hint, migrate_round, 150)
{
	long long rounds0 = bh_stat("rounds"), done0 = bh_stat("done_seen");
	long long hinted0 = bh_stat("bytes_hinted"), o9 = bh_stat("blocks_order_9");
	long long ret0 = bh_stat("returned_done") + bh_stat("returned_shrinker");
	long long max_held, drop_at_max, memfree, hinted;
	struct bh_sample smp = {};
	char resp[BH_RESP_LEN];
	pthread_t sampler;
	size_t kept;
	char *raw;
	int err;

	ASSERT_EQ(0, bh_make_free_memory(variant->fragmented, &raw, &kept))
		TH_LOG("could not dirty and free memory");
	usleep(200000);
	memfree = bh_meminfo("MemFree");

	smp.memfree = memfree;
	ASSERT_EQ(0, pthread_create(&sampler, NULL, bh_sampler, &smp));
	/*
	 * The host migrates, waits for completion and resumes the paused
	 * guest ("cont") before answering; DONE arrives after that.
	 */
	err = bh_host(self->fd, resp, "{\"op\":\"migrate\"}");
	smp.stop = 1;
	pthread_join(sampler, NULL);
	ASSERT_EQ(0, err) TH_LOG("migration: %s", resp);
	TH_LOG("migration: %s", resp);
	max_held = smp.max_held;
	drop_at_max = smp.drop_at_max;

	EXPECT_LT(done0, bh_wait_stat_ge("done_seen", done0 + 1, 10))
		TH_LOG("no DONE seen after the migration completed");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, 10))
		TH_LOG("pages still held after DONE");
	EXPECT_LT(rounds0, bh_stat("rounds")) TH_LOG("no hint round ran");

	hinted = bh_stat("bytes_hinted") - hinted0;
	TH_LOG("hinted %lld MiB, max held %lld MiB, MemFree drop then %lld MiB",
	       hinted / (long long)BH_MIB, max_held * 4096 / (long long)BH_MIB,
	       drop_at_max / (long long)BH_MIB);
	EXPECT_LT((long long)(BH_FILL / 2), hinted)
		TH_LOG("less than half of the freed memory was hinted");
	EXPECT_EQ(hinted / 4096, bh_stat("returned_done") +
		  bh_stat("returned_shrinker") - ret0)
		TH_LOG("pages hinted and pages returned differ");
	/* What the guest lost from MemFree is what the driver says it held. */
	EXPECT_GT(BH_SLACK, llabs(drop_at_max - max_held * 4096))
		TH_LOG("MemFree drop %lld vs held %lld bytes", drop_at_max,
		       max_held * 4096);
	if (variant->fragmented)
		EXPECT_LT(o9 + 64, bh_stat("blocks_order_9"))
			TH_LOG("fragmented memory was not hinted at order 9");

	EXPECT_LE(memfree - BH_SLACK, bh_meminfo("MemFree"))
		TH_LOG("MemFree did not return to its pre-migration level");
	bh_unmap_kept(raw, kept);
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
	self->memfree0 = bh_meminfo("MemFree");
}

FIXTURE_TEARDOWN(round)
{
	if (self->fd < 0)
		return;
	bh_migrate_cancel(self->fd);
	bh_set_bandwidth(self->fd, BH_DEFAULT_BW);
	/* A test that unloaded the driver must leave it loaded again. */
	if (bh_stat("rounds") < 0 &&
	    system("insmod /lib/vmk/modules/balloon_hint.ko"))
		TH_LOG("could not reload balloon_hint");
	close(self->fd);
}

/* Start a throttled migration and wait until the round holds memory. */
static long long bh_open_round(struct __test_metadata *_metadata, int fd)
{
	long long held;

	if (bh_set_bandwidth(fd, BH_SLOW_BW) || bh_migrate_start(fd))
		return -1;
	held = bh_wait_stat_ge("held_pages", 64 * BH_MIB / 4096, 30);
	TH_LOG("round open: %lld MiB held", held * 4096 / (long long)BH_MIB);
	return held;
}

/* The host ends the round early (DONE on cancel): everything comes back. */
TEST_F_TIMEOUT(round, cancel_mid_round, 90)
{
	long long done0 = bh_stat("done_seen"), held;

	held = bh_open_round(_metadata, self->fd);
	ASSERT_LE(64 * BH_MIB / 4096, held) TH_LOG("no round held memory");
	ASSERT_GT(self->memfree0 - BH_SLACK, bh_meminfo("MemFree"))
		TH_LOG("held memory does not show in MemFree");

	ASSERT_EQ(0, bh_migrate_cancel(self->fd)) TH_LOG("cancel failed");
	EXPECT_LT(done0, bh_wait_stat_ge("done_seen", done0 + 1, 10))
		TH_LOG("no DONE after cancel");
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, 10))
		TH_LOG("pages still held after DONE");
	EXPECT_LE(self->memfree0 - BH_SLACK, bh_meminfo("MemFree"))
		TH_LOG("MemFree did not come back after DONE");
}

/*
 * A program allocating most of RAM mid-round must not be OOM-killed: the
 * shrinker hands held blocks back and stops the round.
 */
TEST_F_TIMEOUT(round, pressure_mid_round, 120)
{
	long long shr0 = bh_stat("returned_shrinker");
	size_t want = bh_meminfo("MemTotal") * 3 / 4;
	int status;
	pid_t pid;

	ASSERT_LE(64 * BH_MIB / 4096, bh_open_round(_metadata, self->fd))
		TH_LOG("no round held memory");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(bh_fill(want) ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("allocating program killed by signal %d",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("allocation failed");
	EXPECT_LT(shr0, bh_stat("returned_shrinker"))
		TH_LOG("the shrinker returned nothing under pressure");
	TH_LOG("shrinker returned %lld MiB, pressure stops %lld",
	       (bh_stat("returned_shrinker") - shr0) * 4096 / (long long)BH_MIB,
	       bh_stat("pressure_stops"));

	ASSERT_EQ(0, bh_migrate_cancel(self->fd));
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, 10))
		TH_LOG("pages still held after DONE");
}

/* Unloading the module mid-round frees every held page. */
TEST_F_TIMEOUT(round, unload_mid_round, 90)
{
	long long held;

	held = bh_open_round(_metadata, self->fd);
	ASSERT_LE(64 * BH_MIB / 4096, held) TH_LOG("no round held memory");

	ASSERT_EQ(0, system("rmmod balloon_hint")) TH_LOG("rmmod failed");
	EXPECT_LE(self->memfree0 - BH_SLACK, bh_meminfo("MemFree"))
		TH_LOG("held pages not freed on unload");
	ASSERT_EQ(0, bh_migrate_cancel(self->fd));
	ASSERT_EQ(0, system("insmod /lib/vmk/modules/balloon_hint.ko"))
		TH_LOG("reload failed");
	ASSERT_LE(0, bh_stat("rounds")) TH_LOG("driver did not bind again");
}

TEST_HARNESS_MAIN
