/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest side of the host-action channel.
 *
 * The runner (scripts/vmtest) attaches a virtio-serial port named
 * "vmemkit.host" to every guest.  A test writes one JSON request per line
 * and reads one JSON answer per line; the host acts (QMP commands, a whole
 * migration, reading QEMU's RSS) while the guest waits.  Requests:
 *
 *   {"op":"ping"}                      -> {"ok":true}
 *   {"op":"qmp","cmd":C,"args":{...}}  -> {"ok":true,"return":...}
 *   {"op":"migrate"}                   -> {"ok":true,"status":"completed",
 *                                          "ram":{...},"total-time":ms}
 *      (migrates to "exec:cat > /dev/null", waits for completion, then
 *       resumes the guest with "cont" before answering; optional "uri",
 *       "timeout" seconds.  A migration started with a raw "qmp" "migrate"
 *       instead leaves the guest paused once it completes, and nothing in
 *       the guest can then send "cont": use "migrate")
 *   {"op":"migrate","dest":true}       -> as above, plus "source-pid" and
 *                                         "destination-pid"
 *      (migrates to a second QEMU started with the same command line and
 *       -incoming; the guest goes on there and the source quits.  If the
 *       destination fails to start or dies, the answer is a failure and
 *       the guest goes on in the source)
 *   {"op":"rss"}                       -> {"ok":true,"rss":bytes}
 *
 * On failure the answer is {"ok":false,"error":"..."}.
 */
#ifndef VMK_HOST_H
#define VMK_HOST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VMK_HOST_PORT_NAME "vmemkit.host"

/* Open the host channel; returns an fd or -errno. */
static inline int vmk_host_open(void)
{
	char path[300], name[64];
	struct dirent *de;
	int fd = -ENOENT;
	FILE *f;
	DIR *d;

	d = opendir("/sys/class/virtio-ports");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = 0;
		fclose(f);
		name[strcspn(name, "\n")] = 0;
		if (strcmp(name, VMK_HOST_PORT_NAME))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		break;
	}
	closedir(d);
	return fd;
}

/*
 * Send one request line and read one answer line into @resp (NUL
 * terminated, newline stripped).  Returns 0, or -errno.
 */
static inline int vmk_host_call(int fd, const char *req, char *resp,
				size_t len)
{
	size_t n = strlen(req), got = 0;
	ssize_t r;

	if (!len)
		return -EINVAL;
	while (n) {
		r = write(fd, req, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		req += r;
		n -= r;
	}
	if (write(fd, "\n", 1) != 1)
		return -EIO;
	while (got + 1 < len) {
		r = read(fd, resp + got, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			usleep(10000);	/* host not connected yet */
			continue;
		}
		if (resp[got] == '\n')
			break;
		got++;
	}
	resp[got] = 0;
	return got + 1 < len ? 0 : -E2BIG;
}

/*
 * Find "key": in a flat JSON answer and parse the number after it.
 * Returns 0 and stores it, or -ENOENT.  Good enough for the runner's
 * answers, whose keys are unique.
 */
static inline int vmk_json_u64(const char *json, const char *key,
			       unsigned long long *val)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return -ENOENT;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -ENOENT;
	*val = strtoull(p, NULL, 10);
	return 0;
}

#endif /* VMK_HOST_H */
