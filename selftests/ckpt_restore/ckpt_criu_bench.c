// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRIU 3.17 against ckpt_restore in the same guest: a process holding
 * 1 GiB of written anonymous memory is dumped and restored by each.
 *
 * CRIU: `criu dump` of the process, then `criu restore -d`, which creates
 * the process again and fills its memory with preadv.  ckpt_restore:
 * CKPT_DUMP of the traced process, then a fresh child that restores the
 * image with CKPT_RESTORE.  Both images live in tmpfs.
 *
 * Targets (issue: ckpt_restore performance), from the per-round ratios
 * (vmk_bench.h): restore at least 2x faster than criu restore, dump in at
 * most 0.5x criu dump's time.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "ckpt_test.h"
#include "vmk_bench.h"

#define REGION	(1024UL * 1024 * 1024)
#define REPEAT	3
#define CRIU_DIR "/tmp/criu"

static void die(const char *what)
{
	fprintf(stderr, "ckpt_criu_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Start the memory hog in its own session; return its pid and address. */
static pid_t start_hog(unsigned long *addr)
{
	int p[2];
	char buf[32] = "";
	pid_t pid;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		execl("./ckpt_memhog", "ckpt_memhog", NULL);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], buf, sizeof(buf) - 1) <= 0)
		die("hog did not start");
	close(p[0]);
	*addr = strtoul(buf, NULL, 16);
	return pid;
}

static __u64 dir_bytes(const char *dir, const char *prefix)
{
	char path[512];
	struct dirent *de;
	__u64 sum = 0;
	struct stat st;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!stat(path, &st))
			sum += st.st_size;
	}
	if (d)
		closedir(d);
	return sum;
}

static int run(const char *cmd)
{
	int ret = system(cmd);

	if (ret)
		fprintf(stderr, "ckpt_criu_bench: '%s' exited %d\n", cmd, ret);
	return ret;
}

/* Wait until @pid is gone for good, so CRIU can reuse it. */
static void wait_gone(pid_t pid)
{
	int i;

	for (i = 0; i < 1000 && !kill(pid, 0); i++)
		usleep(10000);
}

static int criu_round(double *t_dump, double *t_restore, __u64 *bytes)
{
	char cmd[256];
	unsigned long addr;
	pid_t hog, restored;
	FILE *f;
	double t;

	run("rm -rf " CRIU_DIR " && mkdir -p " CRIU_DIR);
	hog = start_hog(&addr);
	snprintf(cmd, sizeof(cmd), "criu dump -t %d -D " CRIU_DIR
		 " -o dump.log -v2", hog);
	t = ckpt_now();
	if (run(cmd))
		return -1;
	*t_dump = ckpt_now() - t;
	waitpid(hog, NULL, 0);
	wait_gone(hog);
	*bytes = dir_bytes(CRIU_DIR, "pages-");

	unlink("/tmp/criu.pid");
	t = ckpt_now();
	if (run("criu restore -d -o restore.log -v2 --pidfile /tmp/criu.pid -D "
		CRIU_DIR))
		return -1;
	*t_restore = ckpt_now() - t;
	f = fopen("/tmp/criu.pid", "r");
	if (!f || fscanf(f, "%d", &restored) != 1)
		return -1;
	fclose(f);
	kill(restored, SIGKILL);
	wait_gone(restored);
	run("rm -rf " CRIU_DIR);
	return 0;
}

static int ckpt_round(int dev, double *t_dump, double *t_restore,
		      __u64 *bytes, double *helper_share)
{
	long fill0, helper0;
	struct ckpt_dump d;
	unsigned long addr;
	int img, pidfd, status, p[2];
	pid_t hog, child;
	double t;
	char c;

	img = ckpt_tmpfile();
	hog = start_hog(&addr);
	pidfd = syscall(SYS_pidfd_open, hog, 0);
	if (img < 0 || pidfd < 0 || ptrace(PTRACE_SEIZE, hog, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, hog, 0, 0) ||
	    waitpid(hog, &status, __WALL) != hog)
		die("attach");
	/* Only the hog's 1 GiB: its code and stack would clash with ours. */
	t = ckpt_now();
	if (ckpt_dump_range(dev, img, pidfd, (void *)addr, REGION, &d))
		die("CKPT_DUMP");
	*t_dump = ckpt_now() - t;
	*bytes = d.image_size;
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
	close(pidfd);

	/* A fresh process restores the hog's region into itself. */
	if (pipe(p))
		die("pipe");
	fill0 = ckpt_stat("fill_pages");
	helper0 = ckpt_stat("fill_pages_helper");
	t = ckpt_now();
	child = fork();
	if (!child) {
		struct ckpt_restore r;

		c = !ckpt_do_restore(dev, img, 0, &r) &&
		    *(const __u64 *)(addr + 5 * PG) == 5 * PG;
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1 || !c)
		die("ckpt restore in child");
	*t_restore = ckpt_now() - t;
	close(p[0]);
	waitpid(child, NULL, 0);
	/* Share of the pages the helper work item filled, not the task. */
	*helper_share = (double)(ckpt_stat("fill_pages_helper") - helper0) /
			(ckpt_stat("fill_pages") - fill0);
	close(img);
	return 0;
}

int main(void)
{
	double cd[REPEAT], cr[REPEAT], kd[REPEAT], kr[REPEAT], share;
	double restore[REPEAT], dump[REPEAT], bytes;
	__u64 cbytes = 0, kbytes = 0;
	int dev, i;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("/dev/ckpt");
	if (run("criu check > /tmp/criu_check.log 2>&1")) {
		fprintf(stderr, "ckpt_criu_bench: criu check failed:\n");
		run("cat /tmp/criu_check.log >&2");
		return 1;
	}
	for (i = 0; i < REPEAT; i++) {
		if (criu_round(&cd[i], &cr[i], &cbytes))
			die("criu round");
		ckpt_round(dev, &kd[i], &kr[i], &kbytes, &share);
		printf("run %d: criu dump %.3f s restore %.3f s; ckpt dump %.3f s restore %.3f s",
		       i, cd[i], cr[i], kd[i], kr[i]);
		printf(" (helper filled %.0f%% of the pages)\n", 100 * share);
		restore[i] = cr[i] / kr[i];
		dump[i] = kd[i] / cd[i];
	}
	vmk_bench_figure("ckpt.criu_restore_1g", "x", restore, REPEAT,
			 VMK_AT_LEAST, 2.0, "criu restore in the same guest");
	vmk_bench_figure("ckpt.criu_dump_1g", "x", dump, REPEAT, VMK_AT_MOST,
			 0.5, "criu dump in the same guest (time ratio)");
	vmk_bench_figure("ckpt.criu_restore_1g_s", "s", cr, REPEAT, VMK_INFO, 0,
			 NULL);
	vmk_bench_figure("ckpt.restore_fresh_1g_s", "s", kr, REPEAT, VMK_INFO,
			 0, NULL);
	vmk_bench_figure("ckpt.criu_dump_1g_s", "s", cd, REPEAT, VMK_INFO, 0,
			 NULL);
	vmk_bench_figure("ckpt.dump_traced_1g_s", "s", kd, REPEAT, VMK_INFO, 0,
			 NULL);
	bytes = cbytes;
	vmk_bench_figure("ckpt.criu_pages_bytes_1g", "bytes", &bytes, 1,
			 VMK_INFO, 0, NULL);
	bytes = kbytes;
	vmk_bench_figure("ckpt.image_bytes_traced_1g", "bytes", &bytes, 1,
			 VMK_INFO, 0, NULL);
	close(dev);
	return 0;
}
