// SPDX-License-Identifier: GPL-2.0-only
/*
 * The balloon proper, driven by the host over QMP: inflate and deflate to a
 * target set with the "balloon" command, ballooned pages migrated by
 * compaction, and the stats virtqueue read back through QOM (guest-stats).
 */
#include "kselftest_harness.h"
#include "bh_util.h"

#include <linux/virtio_balloon.h>
#include "vmk_require.h"

VMK_REQUIRE(BALLOON_HINT_DEBUGFS_DIR)

#define BH_QOM	"/machine/peripheral/balloon0"
/* QOM arguments naming a property of the balloon device. */
#define BH_POLL_ARGS(secs) \
	BH_QOM_PROP("guest-stats-polling-interval") ",\"value\":" #secs
#define BH_QOM_PROP(prop) "\"path\":\"" BH_QOM "\",\"property\":\"" prop "\""

FIXTURE(balloon) {
	int fd;
	long long ram;		/* guest RAM as the host sees it */
};

FIXTURE_SETUP(balloon)
{
	self->fd = vmk_host_open();
	ASSERT_LE(0, self->fd) TH_LOG("host channel: %s", strerror(-self->fd));
	ASSERT_LE(0, bh_stat("balloon_pages"))
		TH_LOG("balloon_hint is not bound to the balloon device");
	self->ram = 2048LL * BH_MIB;
}

static int bh_balloon_to(int fd, long long bytes)
{
	char resp[BH_RESP_LEN];

	return bh_host(fd, resp, BH_QMP("balloon", "\"value\":%lld"), bytes);
}

/*
 * Wait until the host's "actual" (guest RAM minus the balloon, as the
 * driver last wrote it to config) is @bytes; returns the last value.  The
 * driver's balloon_pages moves first: the host hears of the last change
 * once the message carrying it has been answered, and a loaded host may
 * take a while to answer.
 */
static long long bh_wait_actual(int fd, long long bytes, double seconds)
{
	double end = bh_now() + seconds;
	long long v;

	for (;;) {
		v = bh_query_actual(fd);
		if (v == bytes || bh_now() > end)
			return v;
		usleep(100000);
	}
}

FIXTURE_TEARDOWN(balloon)
{
	if (self->fd < 0)
		return;
	/* The next test starts from an empty balloon the host knows of. */
	bh_balloon_to(self->fd, self->ram);
	if (bh_wait_actual(self->fd, self->ram, 120) != self->ram)
		TH_LOG("balloon not deflated after the test");
	close(self->fd);
}

/* Inflate by 256 MiB and deflate again; host, driver and MemTotal agree. */
TEST_F_TIMEOUT(balloon, inflate_deflate, 300)
{
	long long total0 = bh_meminfo("MemTotal");
	long long in0 = bh_stat("inflated"), out0 = bh_stat("deflated");
	long long pages = 256 * BH_MIB / 4096;

	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram - 256 * BH_MIB))
		TH_LOG("QMP balloon failed");
	ASSERT_EQ(pages, bh_wait_stat_ge("balloon_pages", pages, 60))
		TH_LOG("balloon did not reach the host's target");
	EXPECT_EQ(self->ram - 256 * (long long)BH_MIB,
		  bh_wait_actual(self->fd, self->ram - 256 * BH_MIB, 60))
		TH_LOG("host sees a different balloon size");
	/* No DEFLATE_ON_OOM here: ballooned pages leave MemTotal. */
	EXPECT_EQ(total0 - 256 * (long long)BH_MIB, bh_meminfo("MemTotal"))
		TH_LOG("MemTotal did not drop by the ballooned size");
	EXPECT_EQ(pages, bh_stat("inflated") - in0);

	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram));
	ASSERT_EQ(0, bh_wait_stat_le("balloon_pages", 0, 60))
		TH_LOG("balloon did not deflate");
	EXPECT_EQ(self->ram, bh_wait_actual(self->fd, self->ram, 60))
		TH_LOG("host still sees part of the balloon");
	EXPECT_EQ(total0, bh_meminfo("MemTotal"))
		TH_LOG("MemTotal did not come back");
	EXPECT_EQ(pages, bh_stat("deflated") - out0);
}

/*
 * A target far below what the guest can give: the driver inflates what it
 * can without killing anyone, and gives it all back.
 */
TEST_F_TIMEOUT(balloon, target_too_low, 300)
{
	char resp[BH_RESP_LEN];
	long long start;

	ASSERT_EQ(0, bh_balloon_to(self->fd, 64 * BH_MIB));
	start = bh_wait_stat_ge("balloon_pages", 1024 * BH_MIB / 4096, 90);
	TH_LOG("balloon reached %lld MiB", start * 4096 / (long long)BH_MIB);
	EXPECT_LE(1024 * (long long)BH_MIB / 4096, start)
		TH_LOG("balloon inflated less than 1 GiB of a 2 GiB guest");
	EXPECT_EQ(0, bh_host(self->fd, resp, "{\"op\":\"ping\"}"))
		TH_LOG("guest unresponsive with the balloon inflated");
	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram));
	EXPECT_EQ(0, bh_wait_stat_le("balloon_pages", 0, 90))
		TH_LOG("balloon did not deflate");
	EXPECT_EQ(self->ram, bh_wait_actual(self->fd, self->ram, 60))
		TH_LOG("host still sees part of the balloon");
}

/* VIRTIO_BALLOON_F_DEFLATE_ON_OOM, as the driver negotiated it. */
static int bh_deflate_on_oom(void)
{
	long long features = bh_stat("features");

	if (features < 0)
		return -1;
	return !!(features & (1LL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
}

/*
 * Memory in use with every other 4 KiB page free: an order-0 allocation
 * (a balloon page) takes one of the holes, so the balloon lies all over
 * the zone, below free memory that compaction moves pages into.
 */
static char *bh_fragment(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return NULL;
	/* 4 KiB pages, not THPs whose holes would stay inside them. */
	madvise(p, bytes, MADV_NOHUGEPAGE);
	for (i = 0; i < bytes; i += 4096)
		memset(p + i, 0x5a ^ (int)(i >> 12), 64);
	for (i = 4096; i < bytes; i += 2 * 4096)
		madvise(p + i, 4096, MADV_DONTNEED);
	return p;
}

/*
 * Compaction migrates ballooned pages through the driver, and the
 * balloon's books stay exact: with the balloon inflated among fragmented
 * memory that is then freed, compact_memory moves balloon pages (the
 * driver's "migrated" grows), MemTotal stays what the inflate made it,
 * and after a full deflate MemTotal is to the page what it was before,
 * with the host seeing the whole guest again.  Without DEFLATE_ON_OOM
 * (QEMU's default, this profile) ballooned pages leave MemTotal; with it
 * MemTotal would not move at all.
 */
/*
 * /proc/vmstat balloon_migrate, and the driver's "migrated" in *@mig, read
 * at one moment: kcompactd may migrate balloon pages at any time, so a
 * reading is taken only when "migrated" did not move across it.
 */
static long long bh_migrated_and_vmstat(long long *mig)
{
	long long before, vm;
	int tries = 1000;

	*mig = bh_stat("migrated");
	do {
		before = *mig;
		vm = vmk_read_key("/proc/vmstat", "balloon_migrate");
		*mig = bh_stat("migrated");
	} while (before != *mig && --tries);
	return vm;
}

TEST_F_TIMEOUT(balloon, compaction_migrates, 180)
{
	long long pages = 128 * BH_MIB / 4096, target = self->ram - 128 * BH_MIB;
	long long total0, inflated_total, mig0, mig = 0, left, vm0, vm;
	size_t frag = 512 * BH_MIB;
	int doo, runs;
	char *p;

	doo = bh_deflate_on_oom();
	ASSERT_LE(0, doo) TH_LOG("no features in the driver's stats");
	TH_LOG("DEFLATE_ON_OOM %s", doo ? "negotiated" : "not negotiated");
	total0 = bh_meminfo("MemTotal") / 4096;
	vm0 = bh_migrated_and_vmstat(&mig0);

	p = bh_fragment(frag);
	ASSERT_NE(NULL, p) TH_LOG("mmap %zu: %s", frag, strerror(errno));
	ASSERT_EQ(0, bh_balloon_to(self->fd, target)) TH_LOG("QMP balloon failed");
	left = bh_wait_stat_ge("balloon_pages", pages, 60);
	munmap(p, frag);
	ASSERT_EQ(pages, left) TH_LOG("balloon did not reach the host's target");
	ASSERT_EQ(target, bh_wait_actual(self->fd, target, 60))
		TH_LOG("host sees a different balloon size");
	inflated_total = total0 - (doo ? 0 : pages);
	EXPECT_EQ(inflated_total, bh_meminfo("MemTotal") / 4096)
		TH_LOG("MemTotal after inflate");

	for (runs = 0; runs < 5 && mig <= 0; runs++) {
		ASSERT_EQ(0, vmk_write_file("/proc/sys/vm/compact_memory", "1"));
		mig = bh_stat("migrated") - mig0;
	}
	vm = bh_migrated_and_vmstat(&mig) - vm0;
	mig -= mig0;
	TH_LOG("%lld balloon pages migrated in %d compaction(s), vmstat balloon_migrate +%lld",
	       mig, runs, vm);
	bh_log_stats("after compaction");
	EXPECT_LT(0, mig) TH_LOG("compaction migrated no balloon page");
	EXPECT_EQ(mig, vm) TH_LOG("/proc/vmstat balloon_migrate does not count them");
	EXPECT_EQ(pages, bh_stat("balloon_pages"));
	EXPECT_EQ(inflated_total, bh_meminfo("MemTotal") / 4096)
		TH_LOG("MemTotal moved while pages were migrated");

	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram));
	ASSERT_EQ(0, bh_wait_stat_le("balloon_pages", 0, 60))
		TH_LOG("balloon did not deflate");
	/*
	 * MemTotal only once the host sees the whole guest: balloon_pages
	 * drops before the deflate message goes out, and on 6.12 the driver
	 * gives the managed pages back after the host answered it (on 7.3
	 * the core does at dequeue), so right after balloon_pages reaches 0
	 * MemTotal may still lack up to one message's 256 pages.
	 */
	EXPECT_EQ(self->ram, bh_wait_actual(self->fd, self->ram, 60))
		TH_LOG("host still sees part of the balloon");
	EXPECT_EQ(total0, bh_meminfo("MemTotal") / 4096)
		TH_LOG("MemTotal after deflate, in pages (was %lld)", total0);
}

/* The statistics QEMU last received, from QOM; 0 or -errno. */
static int bh_host_stats(int fd, unsigned long long *total,
			 unsigned long long *free_mem)
{
	char resp[BH_RESP_LEN];
	int err;

	err = bh_host(fd, resp, BH_QMP("qom-get", BH_QOM_PROP("guest-stats")));
	if (err)
		return err;
	if (vmk_json_u64(resp, "stat-total-memory", total) ||
	    vmk_json_u64(resp, "stat-free-memory", free_mem))
		return -EPROTO;
	return 0;
}

/*
 * The host polls the stats virtqueue; its figures are the guest's.  The
 * host reads a buffer filled one poll earlier: once the driver has sent
 * two buffers since the test began, the host holds figures taken after
 * it.  Free memory moves while page reporting hands blocks to the host
 * (they leave MemFree meanwhile), so the comparison is retried on fresh
 * figures for a while: a driver sending wrong figures never matches.
 */
TEST_F_TIMEOUT(balloon, stats_vq, 120)
{
	unsigned long long total = 0, free_mem = 0;
	long long sent, guest_free = 0;
	char resp[BH_RESP_LEN];
	double end;

	ASSERT_EQ(0, bh_host(self->fd, resp, BH_QMP("qom-set", BH_POLL_ARGS(1))))
		TH_LOG("qom-set: %s", resp);
	for (end = bh_now() + 60; bh_now() < end;) {
		sent = bh_stat("stats_sent");
		ASSERT_LE(sent + 2, bh_wait_stat_ge("stats_sent", sent + 2, 30))
			TH_LOG("host did not poll the stats virtqueue");
		ASSERT_EQ(0, bh_host_stats(self->fd, &total, &free_mem))
			TH_LOG("no guest-stats from the host");
		guest_free = bh_memfree();
		if (llabs((long long)free_mem - guest_free) < 64 * (long long)BH_MIB)
			break;
	}
	EXPECT_EQ(bh_meminfo("MemTotal"), (long long)total);
	EXPECT_GT(64 * (long long)BH_MIB, llabs((long long)free_mem - guest_free))
		TH_LOG("host sees %llu free, guest %lld", free_mem, guest_free);
	bh_host(self->fd, resp, BH_QMP("qom-set", BH_POLL_ARGS(0)));
}

TEST_HARNESS_MAIN
