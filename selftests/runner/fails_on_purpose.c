// SPDX-License-Identifier: GPL-2.0-only
/* One passing and one failing test: the runner must count both. */
#include "kselftest_harness.h"

TEST(passes)
{
	ASSERT_EQ(4, 2 + 2);
}

TEST(fails)
{
	ASSERT_EQ(5, 2 + 2) TH_LOG("failing on purpose");
}

TEST_HARNESS_MAIN
