// SPDX-License-Identifier: GPL-2.0-only
/*
 * ckpt: command-line front end of /dev/ckpt.
 *
 *   ckpt dump PID FILE [START-END ...]   image of process PID (or "self")
 *   ckpt restore [--lazy] FILE -- CMD [ARG...]
 *                                        restore FILE into a fresh process,
 *                                        run CMD with CKPT_PID set to it,
 *                                        then end that process
 *   ckpt info FILE                       check and describe an image
 *
 * dump attaches to every thread of PID with PTRACE_SEIZE and stops them all
 * for the dump, so the image is one instant of PID; being PID's tracer is
 * how the kernel checks the caller's right to read PID's memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_user.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_dev(void)
{
	int fd = open("/dev/ckpt", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "ckpt: /dev/ckpt: %s (is ckpt_restore loaded?)\n",
			strerror(errno));
	return fd;
}

static int parse_ranges(int argc, char **argv, struct ckpt_range *r)
{
	unsigned long long start, end;
	int i;

	for (i = 0; i < argc; i++) {
		if (i >= CKPT_MAX_RANGES ||
		    sscanf(argv[i], "%llx-%llx", &start, &end) != 2) {
			fprintf(stderr, "ckpt: bad range '%s' (want HEX-HEX)\n",
				argv[i]);
			return -1;
		}
		r[i].start = start;
		r[i].end = end;
	}
	return argc;
}

/* Is @tid in the first @n entries of @tids? */
static int known(const pid_t *tids, int n, pid_t tid)
{
	int i;

	for (i = 0; i < n; i++)
		if (tids[i] == tid)
			return 1;
	return 0;
}

/*
 * Seize and stop every thread of @pid: each tid in /proc/PID/task, again
 * until a pass finds none new (a thread not yet stopped may have made
 * one).  A thread that exits before it is seized is left out.  Returns the
 * number of stopped threads in *@tids (allocated), or -1.
 */
static int stop_threads(pid_t pid, pid_t **tids)
{
	int n = 0, max = 0, added, status;
	struct dirent *de;
	char path[64];
	pid_t tid, *t;
	DIR *dir;

	*tids = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	do {
		added = 0;
		dir = opendir(path);
		if (!dir)
			return -1;
		while ((de = readdir(dir))) {
			tid = atoi(de->d_name);
			if (tid <= 0 || known(*tids, n, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
				if (errno == ESRCH)
					continue;
				goto err;
			}
			if (n == max) {
				max = max ? 2 * max : 16;
				t = realloc(*tids, max * sizeof(*t));
				if (!t)
					goto err;
				*tids = t;
			}
			(*tids)[n++] = tid;
			added++;
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) ||
			    waitpid(tid, &status, __WALL) != tid)
				goto err;
		}
		closedir(dir);
	} while (added);
	return n;

err:
	closedir(dir);
	return -1;
}

static int cmd_dump(int argc, char **argv)
{
	static struct ckpt_range ranges[CKPT_MAX_RANGES];
	struct ckpt_dump d = { .size = sizeof(d) };
	int dev, out, pidfd = -1, nr, ret = 1, nr_tids = 0, i;
	pid_t pid = 0, *tids = NULL;
	double t;

	if (argc < 2) {
		fprintf(stderr, "usage: ckpt dump PID|self FILE [START-END...]\n");
		return 2;
	}
	nr = parse_ranges(argc - 2, argv + 2, ranges);
	if (nr < 0)
		return 2;
	dev = open_dev();
	if (dev < 0)
		return 1;
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		fprintf(stderr, "ckpt: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (strcmp(argv[0], "self")) {
		pid = atoi(argv[0]);
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			fprintf(stderr, "ckpt: pidfd_open %d: %s\n", pid,
				strerror(errno));
			return 1;
		}
		/* Every thread stops: the image is one instant of PID. */
		nr_tids = stop_threads(pid, &tids);
		if (nr_tids <= 0) {
			fprintf(stderr, "ckpt: cannot attach to %d: %s\n", pid,
				strerror(errno));
			return 1;
		}
		d.flags = CKPT_DUMP_PIDFD;
		d.pidfd = pidfd;
	}
	d.out_fd = out;
	d.nr_ranges = nr;
	d.ranges = (uintptr_t)ranges;
	t = now();
	if (ioctl(dev, CKPT_DUMP, &d)) {
		fprintf(stderr, "ckpt: CKPT_DUMP: %s\n", strerror(errno));
	} else {
		printf("dumped %u VMAs (%u skipped), %llu runs, %llu pages, %llu bytes in %.3f s\n",
		       d.nr_vmas, d.nr_skipped, (unsigned long long)d.nr_runs,
		       (unsigned long long)d.nr_pages,
		       (unsigned long long)d.image_size, now() - t);
		ret = 0;
	}
	for (i = 0; i < nr_tids; i++)
		ptrace(PTRACE_DETACH, tids[i], 0, 0);
	free(tids);
	return ret;
}

/* Child side of restore: restore, report, then wait to be killed. */
static void restore_child(const char *file, unsigned int flags, int report,
			  pid_t tool)
{
	struct ckpt_restore r = { .size = sizeof(r), .flags = flags };
	int dev, img, err = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * Let CMD (not our ancestor) attach, e.g. to dump us again: Yama
	 * lets the tool and its descendants, CMD among them, and no other.
	 */
	prctl(PR_SET_PTRACER, tool);
	dev = open_dev();
	img = open(file, O_RDONLY | O_CLOEXEC);
	if (dev < 0 || img < 0)
		err = errno;
	r.image_fd = img;
	if (!err && ioctl(dev, CKPT_RESTORE, &r))
		err = errno;
	if (img >= 0)
		close(img);
	if (write(report, &err, sizeof(err)) != sizeof(err) ||
	    write(report, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	close(report);
	if (err)
		_exit(1);
	for (;;)
		pause();
}

static int cmd_restore(int argc, char **argv)
{
	unsigned int flags = 0;
	struct ckpt_restore r;
	int p[2], err, status;
	char pidstr[32];
	pid_t child, cmd, tool;

	if (argc && !strcmp(argv[0], "--lazy")) {
		flags |= CKPT_RESTORE_LAZY;
		argc--;
		argv++;
	}
	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: ckpt restore [--lazy] FILE -- CMD [ARG...]\n");
		return 2;
	}
	if (pipe2(p, O_CLOEXEC))
		return 1;
	tool = getpid();
	child = fork();
	if (child < 0)
		return 1;
	if (!child) {
		close(p[0]);
		restore_child(argv[0], flags, p[1], tool);
	}
	close(p[1]);
	if (read(p[0], &err, sizeof(err)) != sizeof(err) ||
	    read(p[0], &r, sizeof(r)) != sizeof(r))
		err = EIO;
	close(p[0]);
	if (err) {
		fprintf(stderr, "ckpt: CKPT_RESTORE %s: %s\n", argv[0],
			strerror(err));
		waitpid(child, NULL, 0);
		return 1;
	}
	printf("restored %u VMAs (%u lazy), %llu pages filled, %llu on first touch, into pid %d\n",
	       r.nr_vmas, r.nr_lazy_vmas, (unsigned long long)r.nr_pages,
	       (unsigned long long)r.nr_lazy_pages, child);
	fflush(stdout);
	snprintf(pidstr, sizeof(pidstr), "%d", child);
	setenv("CKPT_PID", pidstr, 1);
	cmd = fork();
	if (!cmd) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "ckpt: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	status = 0;
	if (cmd > 0)
		waitpid(cmd, &status, 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return cmd < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static const char *kind_name(__u32 kind)
{
	switch (kind) {
	case CKPT_VMA_ANON:
		return "anon";
	case CKPT_VMA_FILE:
		return "file";
	case CKPT_VMA_SHARED:
		return "shared";
	}
	return "?";
}

/* Check every chunk of @r, whose contents start at *@pos; count the bad. */
static __u64 bad_chunks(int fd, const struct ckpt_uimage *u,
			const struct ckpt_image_run *r, char *buf, __u64 *pos)
{
	__u64 bad = 0, k, n, chunks;
	size_t len;

	/* A run may be long, but its chunks must be in the table read. */
	chunks = r->nr_pages / CKPT_CHUNK_PAGES + !!(r->nr_pages % CKPT_CHUNK_PAGES);
	if (r->chunk > u->hdr.nr_chunks || u->hdr.nr_chunks - r->chunk < chunks)
		return 1;
	for (k = 0; k * CKPT_CHUNK_PAGES < r->nr_pages; k++) {
		n = r->nr_pages - k * CKPT_CHUNK_PAGES;
		if (n > CKPT_CHUNK_PAGES)
			n = CKPT_CHUNK_PAGES;
		len = n * u->hdr.page_size;
		if (pread(fd, buf, len, *pos) != (ssize_t)len ||
		    ckpt_xxh64(buf, len) != u->csums[r->chunk + k])
			bad++;
		*pos += len;
	}
	return bad;
}

static int cmd_info(int argc, char **argv)
{
	struct ckpt_image_header h;
	struct ckpt_uimage u;
	__u64 i, pos, bad = 0;
	char *buf;
	int fd, ret;

	if (argc != 1) {
		fprintf(stderr, "usage: ckpt info FILE\n");
		return 2;
	}
	fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ckpt: %s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	ret = ckpt_uimage_read(fd, &u);
	if (ret) {
		fprintf(stderr, "ckpt: %s: not a readable image: %s\n",
			argv[0], strerror(-ret));
		return 1;
	}
	h = u.hdr;
	h.header_csum = 0;
	if (u.hdr.version != CKPT_IMAGE_VERSION ||
	    u.hdr.chunk_pages != CKPT_CHUNK_PAGES) {
		fprintf(stderr,
			"ckpt: %s: image version %u with %u-page chunks; this tool reads version %u with %u-page chunks\n",
			argv[0], u.hdr.version, u.hdr.chunk_pages,
			CKPT_IMAGE_VERSION, CKPT_CHUNK_PAGES);
		ckpt_uimage_free(&u);
		return 1;
	}
	printf("image v%u, page size %u, %u VMAs, %llu runs, %llu pages, ",
	       u.hdr.version, u.hdr.page_size, u.hdr.nr_vmas,
	       (unsigned long long)u.hdr.nr_runs,
	       (unsigned long long)u.hdr.nr_pages);
	printf("%llu chunks of up to %u pages\n",
	       (unsigned long long)u.hdr.nr_chunks, u.hdr.chunk_pages);
	printf("header checksum %s, metadata checksum %s\n",
	       ckpt_xxh64(&h, sizeof(h)) == u.hdr.header_csum ? "ok" : "BAD",
	       ckpt_xxh64(u.meta, u.hdr.meta_size) == u.hdr.meta_csum ?
	       "ok" : "BAD");
	for (i = 0; i < u.hdr.nr_vmas; i++) {
		struct ckpt_image_vma *v = &u.vmas[i];

		printf("  %012llx-%012llx %c%c%c %-6s",
		       (unsigned long long)v->start, (unsigned long long)v->end,
		       v->prot & 1 ? 'r' : '-', v->prot & 2 ? 'w' : '-',
		       v->prot & 4 ? 'x' : '-', kind_name(v->kind));
		if (v->kind == CKPT_VMA_FILE &&
		    v->path_offset + v->path_len <= u.hdr.strings_size)
			printf(" %.*s +%llx", (int)v->path_len,
			       u.strings + v->path_offset,
			       (unsigned long long)v->pgoff * u.hdr.page_size);
		printf("\n");
	}
	buf = malloc((size_t)CKPT_CHUNK_PAGES * u.hdr.page_size);
	pos = u.hdr.data_offset;
	for (i = 0; buf && i < u.hdr.nr_runs; i++)
		bad += bad_chunks(fd, &u, &u.runs[i], buf, &pos);
	printf("chunks with a bad checksum: %llu\n", (unsigned long long)bad);
	free(buf);
	ckpt_uimage_free(&u);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "dump"))
		return cmd_dump(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "restore"))
		return cmd_restore(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "info"))
		return cmd_info(argc - 2, argv + 2);
	fprintf(stderr,
		"usage: ckpt dump PID|self FILE [START-END...]\n"
		"       ckpt restore [--lazy] FILE -- CMD [ARG...]\n"
		"       ckpt info FILE\n");
	return 2;
}
