// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the host receives on the statistics virtqueue, and the wakeup
 * source that keeps the guest awake while the driver answers the host:
 * both as in-tree virtio_balloon has them.
 *
 * stats: the fake device keeps a copy of every statistics buffer it takes
 * and gives the held one back on "stats", as QEMU does when it polls.
 * Each of the 16 tags of the virtio spec (the huge page ones where the
 * kernel has huge pages) must come exactly once, each from the counter
 * in-tree reads, /proc/vmstat's value read before the request and after
 * the buffer arrived bounding it.
 *
 * wakeup: the driver makes its device wakeup capable (power/wakeup), and
 * once user space enabled it, every host request (a new balloon target,
 * a statistics request) activates the device's wakeup source until the
 * work answering it is done.
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_QSIZE	32
#define BFD_NTAGS	16	/* VIRTIO_BALLOON_S_NR of the spec */
#define BFD_VMSTAT	"/proc/vmstat"
#define BFD_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* How each tag is checked against the guest's own figures. */
enum bfd_src {
	BFD_EVENT,		/* a /proc/vmstat count */
	BFD_EVENT_BYTES,	/* a /proc/vmstat count of pages, in bytes */
	BFD_STALLS,		/* the sum of every allocstall_<zone> */
	BFD_MEMTOTAL,		/* /proc/meminfo MemTotal */
	BFD_PRESENT,		/* a gauge: only its presence is checked */
};

static const struct {
	const char *name;
	enum bfd_src src;
	const char *vmstat;
} bfd_tags[BFD_NTAGS] = {
	{ "SWAP_IN", BFD_EVENT_BYTES, "pswpin" },
	{ "SWAP_OUT", BFD_EVENT_BYTES, "pswpout" },
	{ "MAJFLT", BFD_EVENT, "pgmajfault" },
	{ "MINFLT", BFD_EVENT, "pgfault" },
	{ "MEMFREE", BFD_PRESENT, NULL },
	{ "MEMTOT", BFD_MEMTOTAL, NULL },
	{ "AVAIL", BFD_PRESENT, NULL },
	{ "CACHES", BFD_PRESENT, NULL },
	{ "HTLB_PGALLOC", BFD_EVENT, "htlb_buddy_alloc_success" },
	{ "HTLB_PGFAIL", BFD_EVENT, "htlb_buddy_alloc_fail" },
	{ "OOM_KILL", BFD_EVENT, "oom_kill" },
	{ "ALLOC_STALL", BFD_STALLS, NULL },
	{ "ASYNC_SCAN", BFD_EVENT_BYTES, "pgscan_kswapd" },
	{ "DIRECT_SCAN", BFD_EVENT_BYTES, "pgscan_direct" },
	{ "ASYNC_RECLAIM", BFD_EVENT_BYTES, "pgsteal_kswapd" },
	{ "DIRECT_RECLAIM", BFD_EVENT_BYTES, "pgsteal_direct" },
};

/* The sum of every /proc/vmstat line starting with @prefix, or -1. */
static long long bfd_vmstat_sum(const char *prefix)
{
	long long val, sum = -1;
	char name[64];
	FILE *f = fopen(BFD_VMSTAT, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &val) == 2)
		if (!strncmp(name, prefix, strlen(prefix)))
			sum = (sum < 0 ? 0 : sum) + val;
	fclose(f);
	return sum;
}

/* What tag @t must be near, now; -1 when the kernel has no such count. */
static long long bfd_expected(int t)
{
	long long v;

	switch (bfd_tags[t].src) {
	case BFD_EVENT:
		return vmk_read_key(BFD_VMSTAT, bfd_tags[t].vmstat);
	case BFD_EVENT_BYTES:
		v = vmk_read_key(BFD_VMSTAT, bfd_tags[t].vmstat);
		return v < 0 ? v : v * BFD_PAGE;
	case BFD_STALLS:
		return bfd_vmstat_sum("allocstall_");
	case BFD_MEMTOTAL:
		return bh_meminfo("MemTotal");
	default:
		return 0;
	}
}

/*
 * Read BFD_STATS_FILE into @val (indexed by tag, -1 when absent); the
 * number of entries, and in *@dups / *@unknown those whose tag came
 * again or is beyond the spec's.
 */
static int bfd_read_stats(long long *val, int *dups, int *unknown)
{
	unsigned long long v;
	unsigned int tag;
	int n = 0, t;
	FILE *f = fopen(BFD_STATS_FILE, "r");

	for (t = 0; t < BFD_NTAGS; t++)
		val[t] = -1;
	*dups = *unknown = 0;
	if (!f)
		return -1;
	while (fscanf(f, "%u %llu", &tag, &v) == 2) {
		n++;
		if (tag >= BFD_NTAGS)
			(*unknown)++;
		else if (val[tag] >= 0)
			(*dups)++;
		else
			val[tag] = v;
	}
	fclose(f);
	return n;
}

/* The balloon's virtio device name (virtioN), from its debugfs folder. */
static int bfd_vdev_name(char *name, size_t len)
{
	char path[512], *p, *e;
	int err = bh_stats_path(path, sizeof(path));

	if (err)
		return err;
	p = path + strlen(BALLOON_HINT_DEBUGFS_DIR) + 1;
	e = strchr(p, '/');
	if (!e)
		return -ENOENT;
	snprintf(name, len, "%.*s", (int)(e - p), p);
	return 0;
}

FIXTURE(stats) {
	char power[256];	/* the device's power/ folder in sysfs */
};

FIXTURE_SETUP(stats)
{
	char vdev[64];

	bfd_create_bound(_metadata, BFD_F_STATS_VQ, BFD_QSIZE);
	ASSERT_EQ(0, bfd_vdev_name(vdev, sizeof(vdev)));
	snprintf(self->power, sizeof(self->power),
		 "/sys/bus/virtio/devices/%s/power", vdev);
	/* The buffer primed at probe, taken once the driver is ready. */
	ASSERT_LE(1, bfd_wait_counter_ge("stats_bufs", 1))
		TH_LOG("no statistics buffer after probe");
}

FIXTURE_TEARDOWN(stats)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/wakeup", self->power);
	vmk_write_file(path, "disabled");
	bfd_ctl("remove");
}

TEST_F(stats, every_tag_from_its_counter)
{
	long long before[BFD_NTAGS], after[BFD_NTAGS], val[BFD_NTAGS];
	long long bufs, htlb0 = vmk_read_key(BFD_VMSTAT, "htlb_buddy_alloc_success");
	int t, n, dups, unknown;

	/* A pool huge page allocated and freed: HTLB_PGALLOC is not 0. */
	if (htlb0 >= 0 && !access(BFD_HUGEPAGES, W_OK)) {
		ASSERT_EQ(0, vmk_write_file(BFD_HUGEPAGES, "1"));
		EXPECT_EQ(1, vmk_read_long(BFD_HUGEPAGES))
			TH_LOG("no huge page for the pool");
		ASSERT_EQ(0, vmk_write_file(BFD_HUGEPAGES, "0"));
	}
	for (t = 0; t < BFD_NTAGS; t++)
		before[t] = bfd_expected(t);
	bufs = bfd_counter("stats_bufs");
	ASSERT_EQ(0, bfd_ctl("stats")) TH_LOG("the device held no buffer");
	ASSERT_LE(bufs + 1, bfd_wait_counter_ge("stats_bufs", bufs + 1))
		TH_LOG("the driver sent no new statistics");
	for (t = 0; t < BFD_NTAGS; t++)
		after[t] = bfd_expected(t);
	n = bfd_read_stats(val, &dups, &unknown);
	EXPECT_EQ(0, bfd_counter("stats_bad")) TH_LOG("malformed statistics buffer");
	EXPECT_EQ(0, dups) TH_LOG("a tag came twice");
	EXPECT_EQ(0, unknown) TH_LOG("a tag beyond the spec's");
	TH_LOG("%d entries", n);

	for (t = 0; t < BFD_NTAGS; t++) {
		if (bfd_tags[t].src == BFD_PRESENT)
			TH_LOG("tag %2d %-14s %lld", t, bfd_tags[t].name, val[t]);
		else
			TH_LOG("tag %2d %-14s %lld (guest: %lld .. %lld)", t,
			       bfd_tags[t].name, val[t], before[t], after[t]);
		if (before[t] < 0) {
			/* The kernel has no such count (no huge pages). */
			EXPECT_EQ(-1, val[t])
				TH_LOG("%s sent without its counter", bfd_tags[t].name);
			continue;
		}
		EXPECT_LE(0, val[t]) TH_LOG("%s missing", bfd_tags[t].name);
		if (val[t] < 0 || bfd_tags[t].src == BFD_PRESENT)
			continue;
		EXPECT_LE(before[t], val[t])
			TH_LOG("%s below the guest's count", bfd_tags[t].name);
		EXPECT_GE(after[t], val[t])
			TH_LOG("%s above the guest's count", bfd_tags[t].name);
	}
	if (htlb0 >= 0 && before[8] > 0)
		EXPECT_LT(0, val[8]) TH_LOG("HTLB_PGALLOC is 0 after a pool page");
}

/* Wait until @file under @power reads @want (a number); the last value. */
static long bfd_wait_power(const char *power, const char *file, long want)
{
	double end = bh_now() + BFD_WAIT_S;
	char path[300];
	long v;

	snprintf(path, sizeof(path), "%s/%s", power, file);
	for (;;) {
		v = vmk_read_long(path);
		if (v == want || bh_now() > end)
			return v;
		usleep(10000);
	}
}

static long bfd_power(const char *power, const char *file)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", power, file);
	return vmk_read_long(path);
}

TEST_F(stats, wakeup_source_held_while_answering)
{
	long a0, a1, a2, a3;
	char path[300];
	long long bufs;

	if (access("/sys/power/wakeup_count", F_OK))
		SKIP(return, "kernel without CONFIG_PM_SLEEP: no wakeup sources");
	snprintf(path, sizeof(path), "%s/wakeup", self->power);
	ASSERT_EQ(0, access(path, F_OK))
		TH_LOG("%s: the driver did not make its device wakeup capable", path);
	ASSERT_EQ(0, vmk_write_file(path, "enabled"));

	a0 = bfd_power(self->power, "wakeup_active_count");
	ASSERT_LE(0, a0) TH_LOG("no wakeup source once enabled");
	ASSERT_EQ(0, bfd_ctl("target 256"));
	ASSERT_EQ(256, bfd_wait_counter_ge("actual", 256))
		TH_LOG("the balloon did not inflate");
	EXPECT_EQ(0, bfd_wait_power(self->power, "wakeup_active", 0))
		TH_LOG("still held once the balloon reached its target");
	a1 = bfd_power(self->power, "wakeup_active_count");
	EXPECT_LT(a0, a1) TH_LOG("a new target did not hold the wakeup source");

	bufs = bfd_counter("stats_bufs");
	ASSERT_EQ(0, bfd_ctl("stats"));
	ASSERT_LE(bufs + 1, bfd_wait_counter_ge("stats_bufs", bufs + 1));
	EXPECT_EQ(0, bfd_wait_power(self->power, "wakeup_active", 0))
		TH_LOG("still held once the statistics were sent");
	a2 = bfd_power(self->power, "wakeup_active_count");
	EXPECT_LT(a1, a2) TH_LOG("a statistics request did not hold it");

	ASSERT_EQ(0, bfd_ctl("target 0"));
	EXPECT_EQ(0, bh_wait_stat_le("balloon_pages", 0, BFD_WAIT_S));
	EXPECT_EQ(0, bfd_wait_power(self->power, "wakeup_active", 0))
		TH_LOG("still held once the balloon deflated");
	a3 = bfd_power(self->power, "wakeup_active_count");
	EXPECT_LT(a2, a3) TH_LOG("a deflate did not hold it");
	TH_LOG("wakeup_active_count %ld -> %ld -> %ld -> %ld", a0, a1, a2, a3);
}

TEST_HARNESS_MAIN
