// SPDX-License-Identifier: GPL-2.0-only
/*
 * A test program whose module is absent: it exits KSFT_SKIP (4) before any
 * test, and the runner must count a skip, not a failure.
 */
#include "kselftest_harness.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/vmk_runner_no_such_device")

TEST(never_runs)
{
	ASSERT_TRUE(0) TH_LOG("ran although its device node is absent");
}

TEST_HARNESS_MAIN
