// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest environment every collection relies on: the debug options are
 * really active in the running kernel, the project module was loaded, and
 * the host-action channel answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmk_host.h"
#include "vmk_require.h"

VMK_REQUIRE("/sys/module/vmk_runner_test")

static int read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

TEST(debug_options_active)
{
	static const char opts[][32] = {
		"slub_debug=FZPU", "kfence.sample_interval=10", "init_on_free=1",
		"panic_on_warn=1", "oops=panic", "softlockup_panic=1", "panic=-1",
	};
	char buf[4096];
	unsigned int i;

	ASSERT_EQ(0, read_file("/proc/cmdline", buf, sizeof(buf)));
	for (i = 0; i < ARRAY_SIZE(opts); i++)
		EXPECT_NE(NULL, strstr(buf, opts[i])) TH_LOG("missing %s", opts[i]);
	/* The options took effect, not just appear on the command line. */
	ASSERT_EQ(0, read_file("/proc/sys/kernel/panic_on_warn", buf, sizeof(buf)));
	EXPECT_STREQ("1", buf);
	ASSERT_EQ(0, read_file("/sys/module/kfence/parameters/sample_interval",
			       buf, sizeof(buf)));
	EXPECT_STREQ("10", buf);
	ASSERT_EQ(0, read_file("/sys/kernel/slab/kmalloc-64/red_zone", buf,
			       sizeof(buf)));
	EXPECT_STREQ("1", buf);
	ASSERT_EQ(0, read_file("/sys/kernel/slab/kmalloc-64/poison", buf,
			       sizeof(buf)));
	EXPECT_STREQ("1", buf);
}

TEST(project_module_loaded)
{
	char buf[64];

	ASSERT_EQ(0, read_file("/sys/module/vmk_runner_test/parameters/mode",
			       buf, sizeof(buf)));
	EXPECT_STREQ("none", buf);
}

TEST(host_channel)
{
	unsigned long long rss;
	char resp[512];
	int fd = vmk_host_open();

	ASSERT_LE(0, fd) TH_LOG("no vmemkit.host port: %s", strerror(-fd));
	ASSERT_EQ(0, vmk_host_call(fd, "{\"op\":\"ping\"}", resp, sizeof(resp)));
	EXPECT_STREQ("{\"ok\":true}", resp);
	ASSERT_EQ(0, vmk_host_call(fd, "{\"op\":\"rss\"}", resp, sizeof(resp)));
	ASSERT_EQ(0, vmk_json_u64(resp, "rss", &rss)) TH_LOG("answer %s", resp);
	/* QEMU holds at least the kernel and this initramfs. */
	EXPECT_LT(16ULL << 20, rss);
	ASSERT_EQ(0, vmk_host_call(fd, "{\"op\":\"qmp\",\"cmd\":\"query-status\"}",
				   resp, sizeof(resp)));
	EXPECT_NE(NULL, strstr(resp, "\"running\":true")) TH_LOG("answer %s", resp);
	ASSERT_EQ(0, vmk_host_call(fd, "{\"op\":\"nonsense\"}", resp, sizeof(resp)));
	EXPECT_NE(NULL, strstr(resp, "\"ok\":false")) TH_LOG("answer %s", resp);
	close(fd);
}

TEST_HARNESS_MAIN
