// SPDX-License-Identifier: GPL-2.0-only
/*
 * PAGE_POISON: the driver tells the host, in config poison_val, what the
 * guest's free pages contain: zeroes under init_on_free, the poison byte
 * 0xaa in every byte of the 32-bit value under page poisoning (virtio
 * spec 5.5.6.4; in-tree fills it with memset), and offers nothing
 * (feature not accepted) when free pages hold whatever was there.
 *
 * The test guests boot with init_on_free=1, where only the zero value can
 * be seen.  The collection balloon_hint_fakedev_poison boots with
 * page_poison=1 as well, which takes precedence over init_on_free in
 * kernels built with CONFIG_PAGE_POISONING (both Debian kernels); the
 * debug kernel has no page poisoning, and there the test skips in that
 * collection.
 */
#include "kselftest_harness.h"
#include "bfd_util.h"
#include "vmk_require.h"

VMK_REQUIRE(BFD_DEBUGFS_DIR)

#define BFD_QSIZE		32
#define BFD_POISON_VAL		0xaaaaaaaaLL
/* VIRTIO_BALLOON_F_PAGE_POISON */
#define BFD_F_PAGE_POISON_BIT	4

static bool bfd_cmdline_has(const char *word)
{
	char line[4096], *tok, *save;
	FILE *f = fopen("/proc/cmdline", "r");
	bool found = false;

	if (!f)
		return false;
	if (fgets(line, sizeof(line), f))
		for (tok = strtok_r(line, "\n ", &save); tok && !found;
		     tok = strtok_r(NULL, "\n ", &save))
			found = !strcmp(tok, word);
	fclose(f);
	return found;
}

FIXTURE(poison) {
	long long features;
};

FIXTURE_SETUP(poison)
{
	bfd_create_bound(_metadata, BFD_F_FREE_PAGE_HINT | BFD_F_PAGE_POISON,
			 BFD_QSIZE);
	self->features = bfd_counter("features");
}

FIXTURE_TEARDOWN(poison)
{
	bfd_ctl("remove");
}

TEST_F(poison, value_in_config)
{
	long long poisoning = bfd_counter("guest_page_poisoning");
	long long init_on_free = bfd_counter("guest_init_on_free");
	bool accepted = (self->features >> BFD_F_PAGE_POISON_BIT) & 1;

	TH_LOG("page poisoning %lld, init_on_free %lld, poison_val %#llx",
	       poisoning, init_on_free, bfd_counter("poison_val"));
	/* This boot is for the poison path: say why it cannot run. */
	if (bfd_cmdline_has("page_poison=1") && !poisoning)
		SKIP(return, "page_poison=1 had no effect: kernel without CONFIG_PAGE_POISONING");

	if (poisoning) {
		EXPECT_TRUE(accepted) TH_LOG("PAGE_POISON not accepted");
		EXPECT_EQ(BFD_POISON_VAL, bfd_counter("poison_val"))
			TH_LOG("poison_val is not the poison byte in all 4 bytes");
	} else if (init_on_free) {
		EXPECT_TRUE(accepted) TH_LOG("PAGE_POISON not accepted");
		EXPECT_EQ(0, bfd_counter("poison_val"))
			TH_LOG("init_on_free leaves zeroes: poison_val must be 0");
	} else {
		EXPECT_FALSE(accepted)
			TH_LOG("PAGE_POISON accepted with nothing to tell");
	}
}

TEST_HARNESS_MAIN
