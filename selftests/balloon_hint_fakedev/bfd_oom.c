// SPDX-License-Identifier: GPL-2.0-only
/*
 * DEFLATE_ON_OOM and MUST_TELL_HOST, seen from the host.
 *
 * The device offers both; the balloon takes nearly all free memory, then a
 * program needs more than is left.  Before the OOM killer picks a victim,
 * the driver's OOM notifier gives pages back (256 a call, as in-tree):
 * the program gets its memory and is not killed, the driver counts the
 * pages in ``oom_deflated``, and the host heard of exactly those (deflate
 * messages, and ``actual`` in config).  With MUST_TELL_HOST every page of
 * every deflate message must still be the balloon's when the host reads
 * the message (the fake device checks each page's reference count then:
 * ``deflate_unowned``).
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_QSIZE		32
#define BFD_F_MUST_TELL_HOST	0x01ULL
#define BFD_F_DEFLATE_ON_OOM	0x04ULL
/* Left free once the balloon is inflated, and what the program wants. */
#define BFD_LEFT		(48 * BFD_MB)
#define BFD_WANT		(112 * BFD_MB)

FIXTURE(oom) {
	long long features;
};

FIXTURE_SETUP(oom)
{
	bfd_create_bound(_metadata, BFD_F_MUST_TELL_HOST | BFD_F_DEFLATE_ON_OOM,
			 BFD_QSIZE);
	self->features = bfd_counter("features");
}

FIXTURE_TEARDOWN(oom)
{
	bfd_ctl("remove");
}

/* A child that fills @bytes; its wait status. */
static int bfd_fill_in_child(size_t bytes)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(bh_fill(bytes) ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

TEST_F_TIMEOUT(oom, deflate_before_kill, 120)
{
	long long target, kills0, oom0, mig0, status, deflated, deflate0;

	ASSERT_TRUE(self->features & BFD_F_DEFLATE_ON_OOM)
		TH_LOG("DEFLATE_ON_OOM not negotiated (features %#llx)", self->features);
	ASSERT_TRUE(self->features & BFD_F_MUST_TELL_HOST)
		TH_LOG("MUST_TELL_HOST not negotiated (features %#llx)", self->features);

	target = (bh_memfree() - BFD_LEFT) / BFD_PAGE;
	ASSERT_LT(0, target) TH_LOG("not enough free memory to inflate");
	ASSERT_EQ(0, bfd_ctl("target %lld", target));
	ASSERT_EQ(target, bh_wait_stat_ge("balloon_pages", target, 90))
		TH_LOG("the balloon did not reach %lld pages", target);
	ASSERT_EQ(target, bfd_wait_counter_ge("actual", target));
	TH_LOG("balloon %lld MiB, %lld MiB free", target * BFD_PAGE / BFD_MB,
	       bh_memfree() / BFD_MB);

	kills0 = vmk_read_key("/proc/vmstat", "oom_kill");
	oom0 = bh_stat("oom_deflated");
	mig0 = bh_stat("migrated");
	deflate0 = bfd_counter("deflate_pfns");
	status = bfd_fill_in_child(BFD_WANT);
	deflated = bh_stat("oom_deflated") - oom0;
	TH_LOG("the OOM notifier deflated %lld MiB; balloon %lld MiB; %lld pages migrated",
	       deflated * BFD_PAGE / BFD_MB,
	       bh_stat("balloon_pages") * BFD_PAGE / BFD_MB,
	       bh_stat("migrated") - mig0);
	EXPECT_EQ(0, status) TH_LOG("the program did not get its memory (wait status %#llx)",
				    status);
	EXPECT_EQ(kills0, vmk_read_key("/proc/vmstat", "oom_kill"))
		TH_LOG("the OOM killer ran while the balloon held memory");
	EXPECT_LE((BFD_WANT - BFD_LEFT) / BFD_PAGE / 2, deflated)
		TH_LOG("the OOM notifier gave back too little");
	/*
	 * Compaction may move balloon pages meanwhile: each move tells the
	 * host of the old page with a deflate message too.
	 */
	EXPECT_EQ(deflated + bh_stat("migrated") - mig0,
		  bfd_counter("deflate_pfns") - deflate0)
		TH_LOG("the host was told of other pages than those deflated");
	EXPECT_EQ(bh_stat("balloon_pages"), bfd_counter("actual"))
		TH_LOG("actual in config is not the balloon's size");
	EXPECT_EQ(0, bfd_counter("deflate_unowned"))
		TH_LOG("pages freed before the host was told (MUST_TELL_HOST)");

	/* The host's target again: a deflate of the rest tells it too. */
	ASSERT_EQ(0, bfd_ctl("target 0"));
	EXPECT_EQ(0, bh_wait_stat_le("balloon_pages", 0, 60));
	EXPECT_EQ(0, bfd_counter("deflate_unowned"))
		TH_LOG("pages freed before the host was told (MUST_TELL_HOST)");
	EXPECT_EQ(bfd_counter("inflate_pfns"), bfd_counter("deflate_pfns"));
}

TEST_HARNESS_MAIN
