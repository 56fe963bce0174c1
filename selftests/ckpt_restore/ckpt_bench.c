// SPDX-License-Identifier: GPL-2.0-only
/*
 * Restore of a 1 GiB anonymous region whose image sits in the page cache
 * (tmpfs): CKPT_RESTORE against the userspace method CRIU uses (mmap the
 * region, then preadv the page runs into place), both in this guest; plus
 * dump time and image size.  ckpt_lazy_bench measures lazy restores.
 *
 * Figures (vmk_bench.h) are medians of REPEAT runs with their spread;
 * the target (issue: ckpt_restore performance) is a ratio to the preadv
 * baseline measured here: restore at least 1.5x mmap+preadv.  Absolute
 * times are shown without a target.
 */
#include <sys/uio.h>

#include "ckpt_test.h"
#include "vmk_bench.h"

#define REGION		(1024UL * 1024 * 1024)
#define REPEAT		3

static void die(const char *what)
{
	fprintf(stderr, "ckpt_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Every page non-zero and different, as in a real working set. */
static void fill(char *base, size_t len)
{
	size_t off;

	memset(base, 0x5a, len);
	for (off = 0; off < len; off += PG)
		*(__u64 *)(base + off) = off;
}

static int check(const char *base)
{
	size_t off;

	for (off = 0; off < REGION; off += 97 * PG)
		if (*(const __u64 *)(base + off) != off ||
		    base[off + 100] != 0x5a)
			return -1;
	return 0;
}

/*
 * CRIU's way: map the VMA, then preadv every run into place.  With
 * @t_populate, the VMA is first populated with MADV_POPULATE_WRITE (fault,
 * allocate and zero every page) and that time is returned there, so the
 * baseline's two costs show apart.
 */
static double restore_preadv(int img, const struct ckpt_uimage *u, char *base,
			     double *t_populate)
{
	static struct iovec iov[1024];
	__u64 i, pos = u->hdr.data_offset;
	double t = ckpt_now();
	unsigned int n = 0;
	off_t start = pos;
	void *p;

	p = mmap(base, REGION, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != base)
		die("mmap");
	if (t_populate) {
		if (madvise(base, REGION, MADV_POPULATE_WRITE))
			die("MADV_POPULATE_WRITE");
		*t_populate = ckpt_now() - t;
		t = ckpt_now();
	}
	for (i = 0; i < u->hdr.nr_runs; i++) {
		iov[n].iov_base = (void *)(uintptr_t)u->runs[i].start;
		iov[n].iov_len = (size_t)u->runs[i].nr_pages * PG;
		pos += iov[n].iov_len;
		if (++n == 1024 || i + 1 == u->hdr.nr_runs) {
			ssize_t want = pos - start;

			if (preadv(img, iov, n, start) != want)
				die("preadv");
			start = pos;
			n = 0;
		}
	}
	return ckpt_now() - t;
}

/* AnonHugePages of this process, in KiB: are the restored pages THPs? */
static long thp_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* A figure measured once, shown without a target. */
static void report(const char *name, double value, const char *unit)
{
	vmk_bench_figure(name, unit, &value, 1, VMK_INFO, 0, NULL);
}

int main(void)
{
	double t_ckpt[REPEAT], t_pre[REPEAT], t_pop[REPEAT], t_copy[REPEAT];
	double ratio[REPEAT], t_dump;
	long thp_ckpt = 0, thp_pre = 0;
	struct ckpt_restore r;
	struct ckpt_uimage u;
	struct ckpt_dump d;
	int dev, img, i;
	char *base;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	if (dev < 0 || img < 0)
		die("open");
	base = ckpt_free_range(REGION + (2UL << 20));
	if (!base)
		die("address space");
	/* 2 MiB aligned, like a real heap arena, for both methods alike. */
	base = (char *)(((uintptr_t)base + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	if (mmap(base, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != base)
		die("mmap");
	fill(base, REGION);

	t_dump = ckpt_now();
	if (ckpt_dump_range(dev, img, -1, base, REGION, &d))
		die("CKPT_DUMP");
	t_dump = ckpt_now() - t_dump;
	munmap(base, REGION);
	if (ckpt_uimage_read(img, &u))
		die("image");
	printf("dump: %.3f s, image %llu bytes (%llu pages, %llu runs)\n",
	       t_dump, (unsigned long long)d.image_size,
	       (unsigned long long)d.nr_pages, (unsigned long long)d.nr_runs);
	report("ckpt.dump_1g_s", t_dump, "s");
	report("ckpt.image_bytes_1g", d.image_size, "bytes");

	for (i = 0; i < REPEAT; i++) {
		double t = ckpt_now();

		if (ckpt_do_restore(dev, img, 0, &r))
			die("CKPT_RESTORE");
		t_ckpt[i] = ckpt_now() - t;
		thp_ckpt = thp_kib();
		if (check(base))
			die("ckpt restore contents");
		munmap(base, REGION);

		t_pre[i] = restore_preadv(img, &u, base, NULL);
		thp_pre = thp_kib();
		if (check(base))
			die("preadv restore contents");
		munmap(base, REGION);

		t_copy[i] = restore_preadv(img, &u, base, &t_pop[i]);
		munmap(base, REGION);
		ratio[i] = t_pre[i] / t_ckpt[i];
		printf("run %d: ckpt_restore %.3f s, mmap+preadv %.3f s %s %.3f %s %.3f s)\n",
		       i, t_ckpt[i], t_pre[i], "(populate", t_pop[i],
		       "s, then preadv", t_copy[i]);
	}
	vmk_bench_figure("ckpt.restore_1g", "x", ratio, REPEAT, VMK_AT_LEAST,
			 1.5, "mmap+preadv in the same guest");
	vmk_bench_figure("ckpt.restore_1g_s", "s", t_ckpt, REPEAT, VMK_INFO, 0,
			 NULL);
	vmk_bench_figure("ckpt.preadv_restore_1g_s", "s", t_pre, REPEAT,
			 VMK_INFO, 0, NULL);
	/* The baseline's two costs apart. */
	vmk_bench_figure("ckpt.populate_1g_s", "s", t_pop, REPEAT, VMK_INFO, 0,
			 NULL);
	vmk_bench_figure("ckpt.preadv_populated_1g_s", "s", t_copy, REPEAT,
			 VMK_INFO, 0, NULL);
	printf("# THP after restore: ckpt %ld KiB, preadv %ld KiB\n", thp_ckpt,
	       thp_pre);
	report("ckpt.restore_thp_kib", thp_ckpt, "KiB");
	report("ckpt.preadv_thp_kib", thp_pre, "KiB");

	ckpt_uimage_free(&u);
	close(img);
	close(dev);
	return 0;
}
