/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Small helpers for reading and writing sysfs, debugfs and procfs files,
 * shared by every collection's test programs.
 */
#ifndef VMK_SYS_H
#define VMK_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>

/* Write @val to @path in one write(); returns 0 or -errno (-EIO: short). */
static inline int vmk_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = n < 0 ? -errno : n == (ssize_t)strlen(val) ? 0 : -EIO;
	close(fd);
	return err;
}

/* The number at the start of @path (any base strtol accepts), or -errno. */
static inline long vmk_read_long(const char *path)
{
	char buf[64] = "";
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	return strtol(buf, NULL, 0);
}

/*
 * The value of @key in @path, a file of "key value" lines (debugfs
 * statistics), or -1 when the file or the key is absent.
 */
static inline long long vmk_read_key(const char *path, const char *key)
{
	char name[64];
	long long val, ret = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &val) == 2) {
		if (!strcmp(name, key)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * @field of /proc/self/status ("VmLck", "VmPin", ...: a size in kB) in
 * 4 KiB pages, or -1.
 */
static inline long vmk_status_pages(const char *field)
{
	char line[256], fmt[64];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 4;
}

/* VmLck of this process in 4 KiB pages (the mm's locked_vm), or -1. */
static inline long vmk_vmlck_pages(void)
{
	return vmk_status_pages("VmLck");
}

#define VMK_CG_ROOT	"/sys/fs/cgroup"

/*
 * Mount cgroup v2 at VMK_CG_ROOT unless it is there, and give the root's
 * children the memory controller: 0, or -errno when there is none.
 */
static inline int vmk_cg_memory(void)
{
	if (access(VMK_CG_ROOT "/cgroup.controllers", F_OK))
		mount("none", VMK_CG_ROOT, "cgroup2", 0, NULL);
	return vmk_write_file(VMK_CG_ROOT "/cgroup.subtree_control", "+memory");
}

/* Move this process to the cgroup directory @dir: 0 or -errno. */
static inline int vmk_cg_enter(const char *dir)
{
	char path[256], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return vmk_write_file(path, pid);
}

#endif /* VMK_SYS_H */
