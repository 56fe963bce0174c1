/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the tests of balloon_hint against the fake balloon device:
 * its control and counter files (bh_fakedev.h), and the driver's own
 * statistics and /proc/meminfo through ../balloon_hint/bh_util.h.
 */
#ifndef BFD_UTIL_H
#define BFD_UTIL_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include "../balloon_hint/bh_util.h"
#include "bh_fakedev.h"

#define BFD_MB		(1024LL * 1024)
#define BFD_PAGE	4096LL
/* First command id of a round, as QEMU numbers them. */
#define BFD_ID		0x80000001U
#define BFD_DONE	1U
/*
 * The driver is loaded with hint_stall_ms=BFD_STALL_MS (collection.conf,
 * and bfd_load_driver()): how long it waits for a host that took nothing;
 * and with debug_triggers=1, for bfd_failnth.
 */
#define BFD_STALL_MS	300
#define BFD_DRIVER_KO	"/lib/vmk/modules/balloon_hint.ko"
#define BFD_DRIVER_ARGS	"hint_stall_ms=300 debug_triggers=1"
/*
 * MemFree wanders a little on its own (slabs, the test's own pages, the
 * page tables and rings of a new device): how far it may stay below its
 * level before a round once the driver gave everything back.
 */
#define BFD_SLACK	(24 * BFD_MB)
/* Bound on every wait for the driver or the device (the host is shared). */
#define BFD_WAIT_S	30

/* Run one control command (printf-style); 0 or -errno. */
static inline int bfd_ctl(const char *fmt, ...) __printf(1, 2);
static inline int bfd_ctl(const char *fmt, ...)
{
	char cmd[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return vmk_write_file(BFD_CONTROL_FILE, cmd);
}

/* Device counter @name, or -1 when absent. */
static inline long long bfd_counter(const char *name)
{
	return vmk_read_key(BFD_COUNTERS_FILE, name);
}

static inline long long bfd_wait_counter_ge(const char *name, long long min)
{
	double end = bh_now() + BFD_WAIT_S;
	long long v;

	for (;;) {
		v = bfd_counter(name);
		if (v >= min || bh_now() > end)
			return v;
		usleep(10000);
	}
}

/* The marker log, one "start ID" or "stop" per line, joined by '|'. */
static inline void bfd_markers(char *out, size_t len)
{
	char line[64];
	size_t n = 0;
	FILE *f = fopen(BFD_MARKERS_FILE, "r");

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n < len) {
		line[strcspn(line, "\n")] = 0;
		n += snprintf(out + n, len - n, "%s%s", n ? "|" : "", line);
	}
	fclose(f);
}

/* Pages the driver allocated for hinting, ever (from bytes_hinted). */
static inline long long bfd_hinted_pages(void)
{
	return bh_stat("bytes_hinted") / BFD_PAGE;
}

static inline long long bfd_returned_pages(void)
{
	return bh_stat("returned_done") + bh_stat("returned_shrinker") +
	       bh_stat("returned_remove");
}

/*
 * held + returned by DONE, shrinker and removal: every page allocated.
 * The driver moves a block from one to the other at once, but they are
 * read one after the other, and kswapd may still be taking blocks after
 * the pressure that woke it ended: count only a reading that no release
 * overtook (returned the same before and after held).
 */
static inline long long bfd_accounted_pages(void)
{
	long long before, held, after = bfd_returned_pages();
	int tries = 1000;

	do {
		before = after;
		held = bh_stat("held_pages");
		after = bfd_returned_pages();
	} while (before != after && --tries);
	return held + after;
}

/* Free page blocks hinted: first hints (per order) plus hints again. */
static inline long long bfd_driver_blocks(void)
{
	char name[32];
	long long n = 0, v;
	int order;

	for (order = 0; order < 16; order++) {
		snprintf(name, sizeof(name), "blocks_order_%d", order);
		v = bh_stat(name);
		if (v < 0)
			break;
		n += v;
	}
	return n + bh_stat("rehinted_blocks");
}

/* Wait until the driver stopped touching the free page virtqueue. */
static inline bool bfd_wait_quiet(void)
{
	double end = bh_now() + BFD_WAIT_S;
	long long kicks = -2, v;

	while (bh_now() < end) {
		usleep(4 * BFD_STALL_MS * 1000);
		v = bh_stat("kicks");
		if (v == kicks)
			return true;
		kicks = v;
	}
	return false;
}

/* Load balloon_hint with parameters @args; 0 or -errno. */
static inline int bfd_load_driver_args(const char *args)
{
	int fd = open(BFD_DRIVER_KO, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, args, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* Load balloon_hint as the collection does. */
static inline int bfd_load_driver(void)
{
	return bfd_load_driver_args(BFD_DRIVER_ARGS);
}

/*
 * The driver as one worker that kicks every 4 blocks: no helper allocating
 * beside a round the host holds in a kick, and a kick early enough in the
 * round to hold it there even with the debug guest's little free memory.
 */
#define BFD_ONE_WORKER_ARGS	BFD_DRIVER_ARGS " hint_helper=0 hint_batch=4"

/*
 * Reload balloon_hint with @args; it binds a fake device that exists
 * again.  0 or -errno.
 */
static inline int bfd_reload_driver(const char *args)
{
	if (system("rmmod balloon_hint"))
		return -EBUSY;
	return bfd_load_driver_args(args);
}

/* A numeric parameter of balloon_hint.ko, or -errno. */
static inline long bfd_driver_param(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/balloon_hint/parameters/%s",
		 name);
	return vmk_read_long(path);
}

static inline bool bfd_driver_loaded(void)
{
	return access("/sys/module/balloon_hint", F_OK) == 0;
}

#define BFD_MIN_FREE_PATH	"/proc/sys/vm/min_free_kbytes"

/* Set vm.min_free_kbytes to @kb; returns the value read back, or -errno. */
static inline long bfd_set_min_free_kbytes(long kb)
{
	char buf[32];
	int err;

	snprintf(buf, sizeof(buf), "%ld", kb);
	err = vmk_write_file(BFD_MIN_FREE_PATH, buf);
	return err ?: vmk_read_long(BFD_MIN_FREE_PATH);
}

/* Shrink every slab cache and shrinker, balloon_hint's included. */
static inline int bfd_drop_slab(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "2", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Checks shared by the test programs (which include kselftest_harness.h
 * first).
 */
/*
 * A fresh fake device offering @features with a free page virtqueue of
 * @qsize entries, bound by balloon_hint (a device a failed setup left
 * behind, its teardown skipped, is removed first).
 */
static inline void bfd_create_bound(struct __test_metadata *_metadata,
				    unsigned long long features,
				    unsigned int qsize)
{
	bfd_ctl("remove");
	ASSERT_EQ(0, bfd_ctl("create 0x%llx %u", features, qsize))
		TH_LOG("could not create the fake balloon device");
	ASSERT_EQ(1, bfd_counter("bound"))
		TH_LOG("balloon_hint did not bind the fake device");
}

/* The host saw what the driver says it hinted, and nothing odd. */
static inline void bfd_check_clean(struct __test_metadata *_metadata)
{
	EXPECT_EQ(bfd_driver_blocks(), bfd_counter("hint_blocks"))
		TH_LOG("the host saw another number of blocks than the driver hinted");
	EXPECT_EQ(0, bfd_counter("dup_blocks"))
		TH_LOG("a block was hinted twice in one round");
	EXPECT_EQ(0, bfd_counter("outside_round"))
		TH_LOG("a block came outside start/stop markers");
	EXPECT_EQ(0, bfd_counter("bad_buffers"))
		TH_LOG("malformed buffer on the free page virtqueue");
	EXPECT_EQ(0, bfd_counter("ring_errors")) TH_LOG("malformed ring");
	/* Every block is at least hint_min_order (-1: no block yet). */
	if (bfd_counter("hint_min_order") >= 0)
		EXPECT_LE(bfd_driver_param("hint_min_order"),
			  bfd_counter("hint_min_order"))
			TH_LOG("a block smaller than hint_min_order was hinted");
	EXPECT_EQ(bfd_hinted_pages(), bfd_accounted_pages())
		TH_LOG("held + returned pages differ from pages allocated");
}

/*
 * A whole round for BFD_ID on a host that answers: the driver ends it
 * with its stop marker and leaves the queue alone afterwards.
 */
static inline void bfd_whole_round(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_LE(1, bh_wait_stat_ge("stops_sent", 1, BFD_WAIT_S))
		TH_LOG("the round did not end");
	ASSERT_TRUE(bfd_wait_quiet()) TH_LOG("the driver kept kicking");
}

/*
 * Start a round for BFD_ID that the host pauses in the kick bringing its
 * @blocks-th block: the driver is then in the middle of its round for as
 * long as the test likes (until "resume"), with blocks held and more free
 * memory to allocate.
 */
static inline void bfd_pause_round(struct __test_metadata *_metadata,
				   unsigned int blocks)
{
	ASSERT_EQ(0, bfd_ctl("trigger %u pause", blocks))
		TH_LOG("trigger pause");
	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_ID)) TH_LOG("cmd_id");
	ASSERT_EQ(1, bfd_wait_counter_ge("pauses", 1))
		TH_LOG("the host never paused the round");
	ASSERT_EQ(1, bfd_counter("paused")) TH_LOG("the pause ended early");
	ASSERT_LT(0, bh_stat("held_pages")) TH_LOG("nothing held mid-round");
	ASSERT_EQ(0, bh_stat("stops_sent")) TH_LOG("the round ended already");
}

/*
 * Once the driver saw DONE: it gives back every held page and MemFree
 * comes back.
 */
static inline void bfd_all_back(struct __test_metadata *_metadata,
				long long memfree0)
{
	EXPECT_EQ(0, bh_wait_stat_le("held_pages", 0, BFD_WAIT_S))
		TH_LOG("pages still held after DONE");
	/* returned_remove: what a freeze (bfd_suspend) gave back. */
	EXPECT_EQ(bfd_hinted_pages(), bh_stat("returned_done") +
		  bh_stat("returned_shrinker") + bh_stat("returned_remove"))
		TH_LOG("not every hinted page came back by DONE, shrinker or freeze");
	EXPECT_LE(memfree0 - BFD_SLACK,
		  bh_wait_memfree_ge(memfree0 - BFD_SLACK, BFD_WAIT_S))
		TH_LOG("MemFree did not come back after DONE");
}

/* DONE: the driver gives back every held page and MemFree comes back. */
static inline void bfd_done_frees_all(struct __test_metadata *_metadata,
				      long long memfree0)
{
	long long done = bh_stat("done_seen");

	ASSERT_EQ(0, bfd_ctl("cmd_id %u", BFD_DONE)) TH_LOG("cmd_id DONE");
	EXPECT_LE(done + 1, bh_wait_stat_ge("done_seen", done + 1, BFD_WAIT_S))
		TH_LOG("the driver did not see DONE");
	bfd_all_back(_metadata, memfree0);
}

#endif /* BFD_UTIL_H */
