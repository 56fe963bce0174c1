// SPDX-License-Identifier: GPL-2.0-only
/*
 * Migration cost with balloon_hint, the in-tree virtio_balloon and no
 * driver, in one guest: the bench loads and unloads the drivers itself
 * and measures each case with each driver in every round (the order of
 * the drivers turns from round to round), as the host sees it
 * (query-migrate), then prints medians and balloon_hint's ratios against
 * the in-tree driver.  balloon_hint also runs with hint_rehint=0, to show
 * what hinting held blocks again in later rounds buys against the zeroing
 * init_on_alloc does; the collections boot with and without it.
 *
 * Cases, each at QEMU's default bandwidth:
 *   plain:       1.5 GiB filled with a non-zero pattern, then freed;
 *   fragmented:  the same 1.5 GiB in 2 MiB (THP) pieces, every other piece
 *                freed: free memory lies in 2 MiB pieces that cannot merge
 *                into MAX_PAGE_ORDER blocks, and the 768 MiB still in use
 *                keeps its pattern (every driver must send it);
 *   frag_zeroed: as fragmented, but the pieces kept in use are cleared
 *                before the migration (memory a program holds but has not
 *                written), so every driver sends them as zero pages and
 *                the difference is what happens to the freed pieces.
 *
 * Figures (vmk_bench.h) are medians over the rounds with their spread, and
 * targets (issue: balloon_hint performance) are on the per-round ratios of
 * balloon_hint to virtio_balloon: plain bytes sent at most 0.7x and
 * duplicate pages at most 0.5x, frag_zeroed bytes sent at most 0.5x.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include "bh_common_migrate.h"
#include "vmk_bench.h"

#define BB_FILL		(1536ULL * BH_MIB)
#define BB_CHUNK	(2ULL * BH_MIB)
#define BB_ROUNDS	3

enum { BB_NONE, BB_INTREE, BB_HINT, BB_HINT_NOREHINT, BB_NR_DRV };

#define BB_HINT_KO	"/lib/vmk/modules/balloon_hint.ko"

static const struct {
	const char *label;	/* in the figures */
	const char *name;	/* as in /sys/bus/virtio/drivers, or "none" */
	const char *ko;		/* NULL: nothing to load */
	const char *params;
} bb_drv[BB_NR_DRV] = {
	[BB_NONE] = { "none", "none", NULL, "" },
	[BB_INTREE] = { "virtio_balloon", "virtio_balloon",
			"/lib/vmk/kmods/virtio_balloon.ko", "" },
	[BB_HINT] = { "balloon_hint", "balloon_hint", BB_HINT_KO, "" },
	/* What re-hinting held blocks in later rounds buys. */
	[BB_HINT_NOREHINT] = { "balloon_hint,rehint=0", "balloon_hint",
			       BB_HINT_KO, "hint_rehint=0" },
};

enum { BB_PLAIN, BB_FRAG, BB_FRAG_ZEROED, BB_NR_CASE };

static const char *const bb_case[BB_NR_CASE] = {
	[BB_PLAIN] = "plain",
	[BB_FRAG] = "fragmented",
	[BB_FRAG_ZEROED] = "frag_zeroed",
};

static struct bh_mig bb_res[BB_NR_CASE][BB_NR_DRV][BB_ROUNDS];

/* Wait up to 30 s for @drv to be the driver of the balloon device. */
static int bb_wait_bound(int drv)
{
	double end = bh_now() + 30;

	while (strcmp(bh_driver_name(), bb_drv[drv].name)) {
		if (bh_now() > end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

/*
 * Take every CPU but CPU 0 offline (@on false) or bring it back.  The
 * drivers are loaded and unloaded with one CPU online: the first page
 * reporting registration enables a static key, and multi-threaded TCG can
 * run a vCPU on stale code while another patches kernel text (the int3
 * Oopses scripts/vmtest boots benchmark guests on one CPU for).
 */
static int bb_other_cpus(bool on)
{
	char path[64];
	int cpu, fd, err = 0;

	for (cpu = 1; ; cpu++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/online", cpu);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? err : -errno;
		if (write(fd, on ? "1" : "0", 1) != 1 && !err)
			err = -errno;
		close(fd);
	}
}

static int bb_load(int drv)
{
	int fd, err;

	if (!bb_drv[drv].ko)
		return bb_wait_bound(drv);
	err = bb_other_cpus(false);
	if (err)
		goto out;
	fd = open(bb_drv[drv].ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (syscall(SYS_finit_module, fd, bb_drv[drv].params, 0))
		err = -errno;
	close(fd);
	if (!err)
		err = bb_wait_bound(drv);
out:
	return bb_other_cpus(true) ?: err;
}

static int bb_unload(int drv)
{
	int err;

	if (!bb_drv[drv].ko)
		return 0;
	err = bb_other_cpus(false);
	if (err)
		goto out;
	if (syscall(SYS_delete_module, bb_drv[drv].name, O_NONBLOCK))
		err = -errno;
	else
		err = bb_wait_bound(BB_NONE);
out:
	return bb_other_cpus(true) ?: err;
}

/* Let DONE arrive and the hinted memory go back before the next case. */
static void bb_settle(void)
{
	sleep(3);
	if (bh_stat("held_pages") > 0)
		bh_wait_stat_le("held_pages", 0, 60);
}

/*
 * Dirty and free memory as case @c wants; returns the mapping still in
 * use (to unmap after the migration) in @raw/@len, or NULL/0.
 */
static int bb_prepare(int c, char **raw, size_t *len)
{
	long long thp0, thp;
	size_t off;
	char *p;

	*raw = NULL;
	*len = 0;
	if (c == BB_PLAIN) {
		p = bh_fill(BB_FILL);
		if (!p)
			return -ENOMEM;
		munmap(p, BB_FILL);
		return 0;
	}
	*len = BB_FILL + BB_CHUNK;
	*raw = mmap(NULL, *len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED) {
		*raw = NULL;
		return -ENOMEM;
	}
	p = (char *)(((unsigned long)*raw + BB_CHUNK - 1) & ~(BB_CHUNK - 1));
	thp0 = bh_meminfo("AnonHugePages");
	madvise(p, BB_FILL, MADV_HUGEPAGE);
	for (off = 0; off < BB_FILL; off += 4096)
		memset(p + off, 0x5a ^ (int)(off >> 12), 64);
	/*
	 * The case rests on the pieces being THPs: freeing every other 4 KiB
	 * run of small pages would leave no 2 MiB piece free.
	 */
	thp = bh_meminfo("AnonHugePages") - thp0;
	if (thp0 < 0 || thp < (long long)(BB_FILL * 9 / 10)) {
		printf("only %lld MiB of the %llu MiB fill are THPs: no 2 MiB pieces\n",
		       thp / (long long)BH_MIB, BB_FILL / BH_MIB);
		munmap(*raw, *len);
		*raw = NULL;
		return -EOPNOTSUPP;
	}
	for (off = 0; off < BB_FILL; off += 2 * BB_CHUNK) {
		munmap(p + off, BB_CHUNK);
		if (c == BB_FRAG_ZEROED)
			memset(p + off + BB_CHUNK, 0, BB_CHUNK);
	}
	return 0;
}

static int bb_measure(int fd, int c, int drv, int round)
{
	struct bh_mig *m = &bb_res[c][drv][round];
	long long hinted0;
	char when[96];
	size_t len;
	char *raw;
	int err;

	err = bb_prepare(c, &raw, &len);
	if (err)
		return err;
	sleep(1);
	hinted0 = bh_stat("bytes_hinted");
	err = bh_migrate(fd, m);
	if (raw)
		munmap(raw, len);
	if (err)
		return err;
	printf("round %d %-11s %-15s %5llu MiB sent %7llu normal %7llu duplicate %6llu ms",
	       round + 1, bb_case[c], bb_drv[drv].label, m->transferred / BH_MIB,
	       m->normal, m->duplicate, m->total_ms);
	if (hinted0 >= 0)
		printf(" (%lld MiB hinted)",
		       (bh_stat("bytes_hinted") - hinted0) / (long long)BH_MIB);
	printf("\n");
	fflush(stdout);
	snprintf(when, sizeof(when), "after round %d %s", round + 1, bb_case[c]);
	bh_log_stats(when);
	bb_settle();
	return 0;
}

static int bb_cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* Median over the rounds of the field at @off of struct bh_mig. */
static double bb_median(int c, int drv, size_t off)
{
	unsigned long long v[BB_ROUNDS];
	int r;

	for (r = 0; r < BB_ROUNDS; r++)
		v[r] = *(unsigned long long *)((char *)&bb_res[c][drv][r] + off);
	qsort(v, BB_ROUNDS, sizeof(v[0]), bb_cmp);
	return BB_ROUNDS % 2 ? v[BB_ROUNDS / 2] :
	       (v[BB_ROUNDS / 2 - 1] + v[BB_ROUNDS / 2]) / 2.0;
}

/* The field at @off of @drv's result in case @c, round @r. */
static double bb_field(int c, int drv, int r, size_t off)
{
	return *(unsigned long long *)((char *)&bb_res[c][drv][r] + off);
}

/*
 * Figure "balloon.@what.@case": per round, @drv's field at @off over
 * @base's, with a target unless @kind is VMK_INFO.
 */
static void bb_ratio(int c, const char *what, size_t off, int drv, int base,
		     enum vmk_target kind, double target)
{
	double v[BB_ROUNDS], b;
	char name[96];
	int r;

	for (r = 0; r < BB_ROUNDS; r++) {
		b = bb_field(c, base, r, off);
		v[r] = b ? bb_field(c, drv, r, off) / b : 0;
	}
	snprintf(name, sizeof(name), "balloon.%s.%s", what, bb_case[c]);
	vmk_bench_figure(name, "x", v, BB_ROUNDS, kind, target,
			 bb_drv[base].label);
}

/* "init_on_alloc=0" when the guest was booted so, else Debian's default. */
static const char *bb_boot(void)
{
	static char line[4096];
	FILE *f = fopen("/proc/cmdline", "r");
	bool off = false;

	if (f) {
		if (fgets(line, sizeof(line), f))
			off = strstr(line, "init_on_alloc=0");
		fclose(f);
	}
	return off ? "init_on_alloc=0" : "init_on_alloc=1";
}

static void bb_summary(void)
{
	const size_t sent = offsetof(struct bh_mig, transferred);
	const size_t dup = offsetof(struct bh_mig, duplicate);
	const size_t normal = offsetof(struct bh_mig, normal);
	const size_t ms = offsetof(struct bh_mig, total_ms);
	const char *boot = bb_boot();
	double v[BB_ROUNDS];
	char name[96];
	int c, d, r;

	printf("# medians of %d rounds, %s:\n", BB_ROUNDS, boot);
	for (c = 0; c < BB_NR_CASE; c++) {
		for (d = 0; d < BB_NR_DRV; d++) {
			printf("# %-11s %-22s sent %.0f MiB, %.0f normal pages, ",
			       bb_case[c], bb_drv[d].label,
			       bb_median(c, d, sent) / BH_MIB,
			       bb_median(c, d, normal));
			printf("%.0f duplicate pages, %.0f ms\n",
			       bb_median(c, d, dup), bb_median(c, d, ms));
			for (r = 0; r < BB_ROUNDS; r++)
				v[r] = bb_field(c, d, r, sent) / BH_MIB;
			snprintf(name, sizeof(name), "balloon.sent_mib.%s.%s",
				 bb_case[c], bb_drv[d].label);
			vmk_bench_figure(name, "MiB", v, BB_ROUNDS, VMK_INFO,
					 0, NULL);
		}
		bb_ratio(c, "sent_vs_intree", sent, BB_HINT, BB_INTREE,
			 c == BB_FRAG ? VMK_INFO : VMK_AT_MOST,
			 c == BB_PLAIN ? 0.7 : 0.5);
		bb_ratio(c, "duplicate_vs_intree", dup, BB_HINT, BB_INTREE,
			 c == BB_PLAIN ? VMK_AT_MOST : VMK_INFO, 0.5);
		bb_ratio(c, "time_vs_intree", ms, BB_HINT, BB_INTREE,
			 VMK_INFO, 0);
		bb_ratio(c, "sent_vs_no_driver", sent, BB_HINT, BB_NONE,
			 VMK_INFO, 0);
		bb_ratio(c, "sent_norehint_vs_rehint", sent, BB_HINT_NOREHINT,
			 BB_HINT, VMK_INFO, 0);
	}
	printf("# booted with %s\n", boot);
	fflush(stdout);
}

int main(void)
{
	/* Driver order per round, turned from round to round. */
	static const int order[BB_ROUNDS][BB_NR_DRV] = {
		{ BB_INTREE, BB_NONE, BB_HINT, BB_HINT_NOREHINT },
		{ BB_HINT, BB_HINT_NOREHINT, BB_INTREE, BB_NONE },
		{ BB_NONE, BB_HINT_NOREHINT, BB_HINT, BB_INTREE },
	};
	int fd, r, i, c, drv, err;

	fd = vmk_host_open();
	if (fd < 0) {
		printf("no host channel: %s\n", strerror(-fd));
		return 1;
	}
	/* The collection loads virtio_balloon at boot. */
	err = bb_unload(BB_INTREE);
	if (err) {
		printf("unloading virtio_balloon: %s\n", strerror(-err));
		return 1;
	}
	for (r = 0; r < BB_ROUNDS; r++) {
		for (i = 0; i < BB_NR_DRV; i++) {
			drv = order[r][i];
			err = bb_load(drv);
			if (err) {
				printf("loading %s: %s\n", bb_drv[drv].label,
				       strerror(-err));
				return 1;
			}
			for (c = 0; c < BB_NR_CASE && !err; c++)
				err = bb_measure(fd, c, drv, r);
			if (err) {
				printf("round %d, %s, %s: %s\n", r + 1,
				       bb_case[c - 1], bb_drv[drv].label,
				       strerror(-err));
				return 1;
			}
			err = bb_unload(drv);
			if (err) {
				printf("unloading %s: %s\n", bb_drv[drv].label,
				       strerror(-err));
				return 1;
			}
		}
	}
	bb_summary();
	close(fd);
	return 0;
}
