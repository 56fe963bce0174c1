// SPDX-License-Identifier: GPL-2.0-only
/*
 * The balloon proper, driven by the host over QMP: inflate and deflate to a
 * target set with the "balloon" command, and the stats virtqueue read back
 * through QOM (guest-stats).
 */
#include "kselftest_harness.h"
#include "bh_util.h"

#define BH_QOM	"/machine/peripheral/balloon0"

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

FIXTURE_TEARDOWN(balloon)
{
	char resp[BH_RESP_LEN];

	if (self->fd < 0)
		return;
	bh_host(self->fd, resp,
		"{\"op\":\"qmp\",\"cmd\":\"balloon\",\"args\":{\"value\":%lld}}",
		self->ram);
	bh_wait_stat_le("balloon_pages", 0, 30);
	close(self->fd);
}

static int bh_balloon_to(int fd, long long bytes)
{
	char resp[BH_RESP_LEN];

	return bh_host(fd, resp,
		       "{\"op\":\"qmp\",\"cmd\":\"balloon\",\"args\":{\"value\":%lld}}",
		       bytes);
}

static long long bh_query_actual(int fd)
{
	char resp[BH_RESP_LEN];
	unsigned long long v;

	if (bh_host(fd, resp, "{\"op\":\"qmp\",\"cmd\":\"query-balloon\"}") ||
	    vmk_json_u64(resp, "actual", &v))
		return -1;
	return v;
}

/* Inflate by 256 MiB and deflate again; host, driver and MemTotal agree. */
TEST_F_TIMEOUT(balloon, inflate_deflate, 90)
{
	long long total0 = bh_meminfo("MemTotal");
	long long in0 = bh_stat("inflated"), out0 = bh_stat("deflated");
	long long pages = 256 * BH_MIB / 4096;

	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram - 256 * BH_MIB))
		TH_LOG("QMP balloon failed");
	ASSERT_EQ(pages, bh_wait_stat_ge("balloon_pages", pages, 40))
		TH_LOG("balloon did not reach the host's target");
	EXPECT_EQ(self->ram - 256 * (long long)BH_MIB, bh_query_actual(self->fd))
		TH_LOG("host sees a different balloon size");
	/* No DEFLATE_ON_OOM here: ballooned pages leave MemTotal. */
	EXPECT_EQ(total0 - 256 * (long long)BH_MIB, bh_meminfo("MemTotal"))
		TH_LOG("MemTotal did not drop by the ballooned size");
	EXPECT_EQ(pages, bh_stat("inflated") - in0);

	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram));
	ASSERT_EQ(0, bh_wait_stat_le("balloon_pages", 0, 40))
		TH_LOG("balloon did not deflate");
	EXPECT_EQ(self->ram, bh_query_actual(self->fd));
	EXPECT_EQ(total0, bh_meminfo("MemTotal"))
		TH_LOG("MemTotal did not come back");
	EXPECT_EQ(pages, bh_stat("deflated") - out0);
}

/*
 * A target far below what the guest can give: the driver inflates what it
 * can without killing anyone, and gives it all back.
 */
TEST_F_TIMEOUT(balloon, target_too_low, 120)
{
	char resp[BH_RESP_LEN];
	long long start;

	ASSERT_EQ(0, bh_balloon_to(self->fd, 64 * BH_MIB));
	start = bh_wait_stat_ge("balloon_pages", 1024 * BH_MIB / 4096, 60);
	TH_LOG("balloon reached %lld MiB", start * 4096 / (long long)BH_MIB);
	EXPECT_LE(1024 * (long long)BH_MIB / 4096, start)
		TH_LOG("balloon inflated less than 1 GiB of a 2 GiB guest");
	EXPECT_EQ(0, bh_host(self->fd, resp, "{\"op\":\"ping\"}"))
		TH_LOG("guest unresponsive with the balloon inflated");
	ASSERT_EQ(0, bh_balloon_to(self->fd, self->ram));
	EXPECT_EQ(0, bh_wait_stat_le("balloon_pages", 0, 60))
		TH_LOG("balloon did not deflate");
}

/* The host polls the stats virtqueue; its figures are the guest's. */
TEST_F_TIMEOUT(balloon, stats_vq, 30)
{
	unsigned long long total, free_mem;
	char resp[BH_RESP_LEN];
	long long sent0 = bh_stat("stats_sent");

	ASSERT_EQ(0, bh_host(self->fd, resp,
			     "{\"op\":\"qmp\",\"cmd\":\"qom-set\",\"args\":{"
			     "\"path\":\"" BH_QOM "\",\"property\":"
			     "\"guest-stats-polling-interval\",\"value\":1}}"))
		TH_LOG("qom-set: %s", resp);
	EXPECT_LT(sent0 + 1, bh_wait_stat_ge("stats_sent", sent0 + 2, 10))
		TH_LOG("host did not poll the stats virtqueue");
	ASSERT_EQ(0, bh_host(self->fd, resp,
			     "{\"op\":\"qmp\",\"cmd\":\"qom-get\",\"args\":{"
			     "\"path\":\"" BH_QOM "\",\"property\":\"guest-stats\"}}"))
		TH_LOG("qom-get: %s", resp);
	ASSERT_EQ(0, vmk_json_u64(resp, "stat-total-memory", &total))
		TH_LOG("no total memory in %s", resp);
	ASSERT_EQ(0, vmk_json_u64(resp, "stat-free-memory", &free_mem))
		TH_LOG("no free memory in %s", resp);
	EXPECT_EQ(bh_meminfo("MemTotal"), (long long)total);
	EXPECT_GT(64 * (long long)BH_MIB,
		  llabs((long long)free_mem - bh_meminfo("MemFree")))
		TH_LOG("host sees %llu free, guest %lld", free_mem,
		       bh_meminfo("MemFree"));
	bh_host(self->fd, resp,
		"{\"op\":\"qmp\",\"cmd\":\"qom-set\",\"args\":{"
		"\"path\":\"" BH_QOM "\",\"property\":"
		"\"guest-stats-polling-interval\",\"value\":0}}");
}

TEST_HARNESS_MAIN
