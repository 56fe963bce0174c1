// SPDX-License-Identifier: GPL-2.0-only
/*
 * Free page reporting: memory the guest frees is reported and discarded by
 * the host, whose RSS (measured on the host) falls.
 */
#include "kselftest_harness.h"
#include "bh_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BALLOON_HINT_DEBUGFS_DIR)

#define BH_REPORT_FILL	(768ULL * BH_MIB)

static long long bh_rss(int fd)
{
	return bh_host_u64(fd, "{\"op\":\"rss\"}", "rss");
}

FIXTURE(report) {
	int fd;
};

FIXTURE_SETUP(report)
{
	self->fd = vmk_host_open();
	ASSERT_LE(0, self->fd) TH_LOG("host channel: %s", strerror(-self->fd));
	ASSERT_EQ(1, bh_stat("reporting"))
		TH_LOG("balloon_hint did not register free page reporting");
}

FIXTURE_TEARDOWN(report)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(report, rss_falls, 150)
{
	long long rep0 = bh_stat("reported_bytes"), full, rss = 0;
	double end;
	char *p;

	p = bh_fill(BH_REPORT_FILL);
	ASSERT_NE(NULL, p) TH_LOG("could not fill memory");
	full = bh_rss(self->fd);
	ASSERT_LT(0, full) TH_LOG("no RSS from the host");
	munmap(p, BH_REPORT_FILL);

	/* The core reports about 1/16 of the free lists every 2 s. */
	end = bh_now() + 90;
	while (bh_now() < end) {
		rss = bh_rss(self->fd);
		if (rss > 0 && full - rss > (long long)BH_REPORT_FILL / 2)
			break;
		sleep(1);
	}
	TH_LOG("QEMU RSS %lld MiB filled, %lld MiB after free; reported %lld MiB",
	       full / (long long)BH_MIB, rss / (long long)BH_MIB,
	       (bh_stat("reported_bytes") - rep0) / (long long)BH_MIB);
	EXPECT_LT((long long)BH_REPORT_FILL / 2, full - rss)
		TH_LOG("QEMU RSS did not fall by half the freed memory");
	EXPECT_LT((long long)BH_REPORT_FILL / 2, bh_stat("reported_bytes") - rep0)
		TH_LOG("driver reported less than half the freed memory");
}

TEST_HARNESS_MAIN
