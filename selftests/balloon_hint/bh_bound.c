// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint and the in-tree virtio_balloon bind the same device.  With
 * virtio_balloon loaded first (collection balloon_hint_bound), loading
 * balloon_hint must fail with EBUSY and leave the device where it was;
 * once virtio_balloon is gone, balloon_hint binds.
 */
#include <fcntl.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "bh_util.h"
#include "vmk_require.h"

#define BH_KO		"/lib/vmk/modules/balloon_hint.ko"
#define BH_INTREE_KO	"/lib/vmk/kmods/virtio_balloon.ko"

VMK_REQUIRE(BH_KO, "/sys/bus/virtio/drivers/virtio_balloon")

/* finit_module() of @path; 0 or -errno. */
static int bh_load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* Does driver @drv hold a virtio device? */
static bool bh_bound_to(const char *drv)
{
	char path[256];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/virtio/drivers/%s", drv);
	d = opendir(path);
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "virtio", 6))
			found = true;
	closedir(d);
	return found;
}

static bool bh_module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

TEST(refused_while_bound)
{
	ASSERT_TRUE(bh_bound_to("virtio_balloon"))
		TH_LOG("virtio_balloon does not hold the balloon device");
	EXPECT_EQ(-EBUSY, bh_load(BH_KO))
		TH_LOG("loading balloon_hint over virtio_balloon did not fail with EBUSY");
	EXPECT_FALSE(bh_module_loaded("balloon_hint"))
		TH_LOG("balloon_hint stayed loaded");
	EXPECT_TRUE(bh_bound_to("virtio_balloon"))
		TH_LOG("the device left virtio_balloon");
}

TEST(binds_after_intree_unload)
{
	ASSERT_EQ(0, system("rmmod virtio_balloon"))
		TH_LOG("could not unload virtio_balloon");
	ASSERT_EQ(0, bh_load(BH_KO)) TH_LOG("balloon_hint did not load");
	EXPECT_TRUE(bh_bound_to("balloon_hint"))
		TH_LOG("balloon_hint loaded but holds no device");
	EXPECT_LE(0, bh_stat("rounds")) TH_LOG("no statistics for the device");
	EXPECT_EQ(0, system("rmmod balloon_hint")) TH_LOG("rmmod failed");
	/* Leave the guest as the collection set it up. */
	EXPECT_EQ(0, bh_load(BH_INTREE_KO)) TH_LOG("virtio_balloon reload failed");
	EXPECT_TRUE(bh_bound_to("virtio_balloon"))
		TH_LOG("virtio_balloon did not bind again");
}

TEST_HARNESS_MAIN
