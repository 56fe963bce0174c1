// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault-injection sweep (fail-nth, KERNEL=debug) of an inflate against
 * QEMU's virtio-balloon: a failed inflate leaves the balloon as it was in
 * the driver's, the kernel's and QEMU's count (query-balloon), and the
 * next one inflates normally.  The inflate is driven through the driver's
 * debug trigger (see bh_failnth.h); the free page hint round is swept
 * against the fake device (balloon_hint_fakedev/bfd_failnth), since QEMU
 * gives a command id only during a migration.
 */
#include "kselftest_harness.h"
#include "bh_failnth.h"
#include "vmk_require.h"

VMK_REQUIRE(BALLOON_HINT_DEBUGFS_DIR)

/* The host channel, and QEMU's actual with an empty balloon. */
struct bh_qemu {
	int fd;
	long long ram;
};

FIXTURE(failnth) {
	struct bh_qemu q;
};

FIXTURE_SETUP(failnth)
{
	self->q.fd = vmk_host_open();
	ASSERT_LE(0, self->q.fd)
		TH_LOG("host channel: %s", strerror(-self->q.fd));
	ASSERT_EQ(0, bh_stat("balloon_pages"))
		TH_LOG("balloon_hint is not bound, or its balloon is not empty");
	self->q.ram = bh_query_actual(self->q.fd);
	ASSERT_LT(0, self->q.ram) TH_LOG("query-balloon failed");
}

FIXTURE_TEARDOWN(failnth)
{
	if (self->q.fd >= 0)
		close(self->q.fd);
}

/* Pages QEMU counts in the balloon (from the actual the driver wrote). */
static long long bh_qemu_pages(void *ctx)
{
	const struct bh_qemu *q = ctx;
	long long actual = bh_query_actual(q->fd);

	return actual < 0 ? -1 : (q->ram - actual) / 4096;
}

TEST_F_TIMEOUT(failnth, inflate, 300)
{
	struct bh_host_view host = { bh_qemu_pages, &self->q };
	struct vmk_failnth fn;

	if (vmk_failnth_open(&fn))
		SKIP(return, "%s", fn.why);
	bh_sweep_inflate(_metadata, &fn, &host, "bh inflate");
	vmk_failnth_close(&fn);
	EXPECT_EQ(0, bh_stat("balloon_pages")) TH_LOG("balloon not empty");
	EXPECT_EQ(self->q.ram, bh_query_actual(self->q.fd))
		TH_LOG("QEMU still counts pages in the balloon");
}

TEST_HARNESS_MAIN
