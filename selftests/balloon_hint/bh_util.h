/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest-side helpers for the balloon_hint tests: the driver's debugfs
 * statistics, /proc/meminfo, memory fill, and host requests.
 */
#ifndef BH_UTIL_H
#define BH_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/balloon_hint.h>

#include "kselftest.h"

#include "vmk_host.h"
#include "vmk_require.h"
#include "vmk_sys.h"

#define BH_MIB		(1024ULL * 1024)
#define BH_RESP_LEN	4096

/*
 * Path of debugfs file @file (stats, or a debug trigger) of the (single)
 * bound device: 0, or -errno when there is no device.
 */
static inline int bh_dev_path(const char *file, char *path, size_t len)
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
			 de->d_name, file);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

/* Path of the stats file of the (single) bound device. */
static inline int bh_stats_path(char *path, size_t len)
{
	return bh_dev_path(BALLOON_HINT_STATS_FILE, path, len);
}

/*
 * Open debug trigger @file of the bound device for writing (the module
 * loaded with debug_triggers=1); the fd, or -errno.
 */
static inline int bh_trigger_open(const char *file)
{
	char path[512];
	int fd, err = bh_dev_path(file, path, sizeof(path));

	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Write @val to debug trigger @file once; 0 or -errno. */
static inline int bh_trigger(const char *file, const char *val)
{
	char path[512];
	int err = bh_dev_path(file, path, sizeof(path));

	return err ?: vmk_write_file(path, val);
}

/* Value of counter @name, or -1 when the driver or the counter is absent. */
static inline long long bh_stat(const char *name)
{
	char path[512];

	if (bh_stats_path(path, sizeof(path)))
		return -1;
	return vmk_read_key(path, name);
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
 * Bytes of free pages on the per-CPU free lists (the "count" of every
 * pageset in /proc/zoneinfo, in pages of 4 KiB), or 0 if unreadable.  MemFree leaves
 * them out, and since 6.7 the lists may grow to an eighth of a zone per
 * CPU: tens of MiB after a large free, given back over seconds or at the
 * next allocation that drains them.
 */
static inline long long bh_pcp_bytes(void)
{
	char line[256];
	long long pages = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");
	int n;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %d", &n) == 1)
			pages += n;
	fclose(f);
	return pages * 4096;
}

/*
 * Free memory in bytes: MemFree, plus the free pages on per-CPU lists,
 * plus the free blocks free page reporting has taken off the free lists
 * for the host right now (64-128 MiB while a report is under way, for tens
 * of seconds after a large free; longer when the host is slow to answer).
 * Sampled when no report started or ended meanwhile; with the driver
 * absent, without the reports.
 */
static inline long long bh_memfree(void)
{
	long long rep, inflight, mem;
	int tries;

	for (tries = 0; tries < 500; tries++) {
		rep = bh_stat("reports");
		inflight = bh_stat("report_inflight_bytes");
		mem = bh_meminfo("MemFree") + bh_pcp_bytes();
		if (rep < 0 || inflight < 0)
			return mem;
		if (rep == bh_stat("reports") &&
		    inflight == bh_stat("report_inflight_bytes"))
			return mem + inflight;
		usleep(2000);
	}
	return mem;
}

/* Wait until bh_memfree() is at least @min bytes; returns the last value. */
static inline long long bh_wait_memfree_ge(long long min, double seconds)
{
	double end = bh_now() + seconds;
	long long v;

	for (;;) {
		v = bh_memfree();
		if (v >= min || bh_now() > end)
			return v;
		usleep(50000);
	}
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

#define BH_HUGE		(2 * BH_MIB)

/*
 * Dirty then free @bytes of memory: contiguous, or (fragmented) every
 * other 2 MiB huge page, so the freed ones cannot merge into larger blocks.
 * *rawp and *kept say what is still mapped (to unmap later).
 */
static inline int bh_make_free_memory(bool fragmented, size_t bytes,
				      char **rawp, size_t *kept)
{
	size_t len = bytes + BH_HUGE, off;
	char *raw, *p;

	*rawp = NULL;
	*kept = 0;
	if (!fragmented) {
		p = bh_fill(bytes);
		if (!p)
			return -1;
		munmap(p, bytes);
		return 0;
	}
	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return -1;
	p = (char *)(((unsigned long)raw + BH_HUGE - 1) & ~(BH_HUGE - 1));
	madvise(p, bytes, MADV_HUGEPAGE);
	for (off = 0; off < bytes; off += 4096)
		memset(p + off, 0x5a, 64);
	for (off = 0; off < bytes; off += 2 * BH_HUGE)
		munmap(p + off, BH_HUGE);
	*rawp = raw;
	*kept = len;
	return 0;
}

/*
 * Skip the whole program, the kselftest way, outside a vmemkit guest: for
 * the constructor of a program whose every test needs the runner's host
 * channel (migrations to a real destination).
 */
static inline void bh_require_host(void)
{
	int fd;

	if (vmk_require_listing())
		return;
	fd = vmk_host_open();
	if (fd < 0) {
		ksft_print_header();
		ksft_exit_skip("host channel vmemkit.host: %s (not in a vmemkit guest?)\n",
			       strerror(-fd));
	}
	close(fd);
}

/* A QMP request for the host channel: command and arguments as literals. */
#define BH_QMP(cmd, args) \
	"{\"op\":\"qmp\",\"cmd\":\"" cmd "\",\"args\":{" args "}}"

/* A host request with printf-style arguments; answer in @resp. */
static inline int bh_host(int fd, char *resp, const char *fmt, ...)
	__printf(3, 4);
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

/* Number @key of the answer to host request @req, or -1. */
static inline long long bh_host_u64(int fd, const char *req, const char *key)
{
	char resp[BH_RESP_LEN];
	unsigned long long v;

	if (bh_host(fd, resp, "%s", req) || vmk_json_u64(resp, key, &v))
		return -1;
	return v;
}

/* The host's "actual": guest RAM less the balloon, in bytes; or -1. */
static inline long long bh_query_actual(int fd)
{
	return bh_host_u64(fd, "{\"op\":\"qmp\",\"cmd\":\"query-balloon\"}",
			   "actual");
}

/* QEMU's default migration bandwidth, bytes per second. */
#define BH_DEFAULT_BW	(128ULL * BH_MIB)

static inline int bh_set_bandwidth(int fd, unsigned long long bw)
{
	char resp[BH_RESP_LEN];

	return bh_host(fd, resp,
		       BH_QMP("migrate-set-parameters", "\"max-bandwidth\":%llu"),
		       bw);
}

/* Start a migration over QMP without waiting for it. */
static inline int bh_migrate_start(int fd)
{
	char resp[BH_RESP_LEN];

	return bh_host(fd, resp,
		       BH_QMP("migrate", "\"uri\":\"exec:cat > /dev/null\""));
}

/* QEMU's migration status ("active", "completed", ...) into @status. */
static inline int bh_migrate_status(int fd, char *status, size_t len)
{
	char resp[BH_RESP_LEN], *p, *end;
	int err;

	err = bh_host(fd, resp, "{\"op\":\"qmp\",\"cmd\":\"query-migrate\"}");
	if (err)
		return err;
	p = strstr(resp, "\"status\":\"");
	if (!p) {
		snprintf(status, len, "none");
		return 0;
	}
	p += strlen("\"status\":\"");
	end = strchr(p, '"');
	if (!end)
		return -EPROTO;
	snprintf(status, len, "%.*s", (int)(end - p), p);
	return 0;
}

/*
 * Cancel the running migration, if any, and wait until QEMU says so; the
 * host writes DONE on the way.  0 when no migration runs any more.
 */
static inline int bh_migrate_cancel(int fd)
{
	char resp[BH_RESP_LEN], status[32];
	double end = bh_now() + 30;
	int err;

	err = bh_migrate_status(fd, status, sizeof(status));
	if (err)
		return err;
	if (strcmp(status, "setup") && strcmp(status, "active") &&
	    strcmp(status, "cancelling"))
		return 0;
	err = bh_host(fd, resp, "{\"op\":\"qmp\",\"cmd\":\"migrate_cancel\"}");
	if (err)
		return err;
	while (bh_now() < end) {
		err = bh_migrate_status(fd, status, sizeof(status));
		if (err)
			return err;
		if (!strcmp(status, "cancelled") || !strcmp(status, "failed"))
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* Print every non-zero counter on one log line (to explain a failure). */
static inline void bh_log_stats(const char *when)
{
	char path[512], key[64], line[4096];
	long long val;
	size_t n = 0;
	FILE *f;

	if (bh_stats_path(path, sizeof(path)))
		return;
	f = fopen(path, "r");
	if (!f)
		return;
	line[0] = 0;
	while (fscanf(f, "%63s %lld", key, &val) == 2 && n < sizeof(line) - 80)
		if (val)
			n += snprintf(line + n, sizeof(line) - n, " %s=%lld",
				      key, val);
	fclose(f);
	fprintf(stderr, "# stats %s:%s\n", when, line);
}

/* A bool parameter of balloon_hint.ko: 1 (Y), 0 (N), or -1. */
static inline int bh_param_bool(const char *name)
{
	char path[256], c = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/balloon_hint/parameters/%s",
		 name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, " %c", &c) != 1)
		c = 0;
	fclose(f);
	return c == 'Y' ? 1 : c == 'N' ? 0 : -1;
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
