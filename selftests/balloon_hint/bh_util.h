/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest-side helpers for the balloon_hint tests: the driver's debugfs
 * statistics, /proc/meminfo, memory fill, and host requests.
 */
#ifndef BH_UTIL_H
#define BH_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/balloon_hint.h>

#include "vmk_host.h"

#define BH_MIB		(1024ULL * 1024)
#define BH_RESP_LEN	4096

/* Path of the stats file of the (single) bound device, or "" if none. */
static inline int bh_stats_path(char *path, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(BALLOON_HINT_DEBUGFS_DIR);
	int ret = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, len, "%s/%s/%s", BALLOON_HINT_DEBUGFS_DIR,
			 de->d_name, BALLOON_HINT_STATS_FILE);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

/* Value of counter @name, or -1 when the driver or the counter is absent. */
static inline long long bh_stat(const char *name)
{
	char path[512], key[64];
	long long val, ret = -1;
	FILE *f;

	if (bh_stats_path(path, sizeof(path)))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* A /proc/meminfo field in bytes, or -1. */
static inline long long bh_meminfo(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':') {
			kb = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static inline double bh_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Map @bytes of anonymous memory and write a non-zero pattern in every
 * page, so that each page is a "normal" page for migration.
 */
static inline char *bh_fill(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return NULL;
	for (i = 0; i < bytes; i += 4096)
		memset(p + i, 0x5a ^ (int)(i >> 12), 64);
	return p;
}

/* A host request with printf-style arguments; answer in @resp. */
static inline int bh_host(int fd, char *resp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int bh_host(int fd, char *resp, const char *fmt, ...)
{
	char req[1024];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	err = vmk_host_call(fd, req, resp, BH_RESP_LEN);
	if (err)
		return err;
	return strstr(resp, "\"ok\":true") ? 0 : -EIO;
}

/* QEMU's default migration bandwidth, bytes per second. */
#define BH_DEFAULT_BW	(128ULL * BH_MIB)

static inline int bh_set_bandwidth(int fd, unsigned long long bw)
{
	char resp[BH_RESP_LEN];

	return bh_host(fd, resp,
		       "{\"op\":\"qmp\",\"cmd\":\"migrate_set_parameters\","
		       "\"args\":{\"max-bandwidth\":%llu}}", bw);
}

/* Start a migration over QMP without waiting for it. */
static inline int bh_migrate_start(int fd)
{
	char resp[BH_RESP_LEN];

	return bh_host(fd, resp,
		       "{\"op\":\"qmp\",\"cmd\":\"migrate\","
		       "\"args\":{\"uri\":\"exec:cat > /dev/null\"}}");
}

/* Cancel a running migration; the host then writes DONE. */
static inline int bh_migrate_cancel(int fd)
{
	char resp[BH_RESP_LEN];
	double end = bh_now() + 30;
	int err;

	err = bh_host(fd, resp, "{\"op\":\"qmp\",\"cmd\":\"migrate_cancel\"}");
	if (err)
		return err;
	while (bh_now() < end) {
		err = bh_host(fd, resp, "{\"op\":\"qmp\",\"cmd\":\"query-migrate\"}");
		if (err)
			return err;
		if (strstr(resp, "\"cancelled\"") || strstr(resp, "\"failed\""))
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* Wait until counter @name satisfies val >= @min; returns the value. */
static inline long long bh_wait_stat_ge(const char *name, long long min,
					double seconds)
{
	double end = bh_now() + seconds;
	long long v;

	for (;;) {
		v = bh_stat(name);
		if (v >= min || bh_now() > end)
			return v;
		usleep(20000);
	}
}

/* Wait until counter @name is at most @max; returns the value. */
static inline long long bh_wait_stat_le(const char *name, long long max,
					double seconds)
{
	double end = bh_now() + seconds;
	long long v;

	for (;;) {
		v = bh_stat(name);
		if ((v >= 0 && v <= max) || bh_now() > end)
			return v;
		usleep(20000);
	}
}

#endif /* BH_UTIL_H */
