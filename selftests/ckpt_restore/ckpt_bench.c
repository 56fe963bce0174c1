// SPDX-License-Identifier: GPL-2.0-only
/*
 * Restore of a 1 GiB anonymous region whose image sits in the page cache
 * (tmpfs): CKPT_RESTORE against the userspace method CRIU uses (mmap the
 * region, then preadv the page runs into place), both in this guest; plus
 * dump time, image size, and the lazy mode's time to first access.
 *
 * Prints VMK-BENCH lines; ratios are against the preadv baseline measured
 * here, never absolute times.
 */
#include <sys/uio.h>

#include "ckpt_test.h"

#define REGION		(1024UL * 1024 * 1024)
#define REPEAT		5
#define TOUCHES		16

static void die(const char *what)
{
	fprintf(stderr, "ckpt_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Every page non-zero and different, as in a real working set. */
static void fill(char *base)
{
	size_t off;

	memset(base, 0x5a, REGION);
	for (off = 0; off < REGION; off += PG)
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

/* CRIU's way: map the VMA, then preadv every run into place. */
static double restore_preadv(int img, const struct ckpt_uimage *u, char *base)
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

static void report(const char *name, double value, const char *unit,
		   const char *extra)
{
	printf("VMK-BENCH {\"name\":\"%s\",\"value\":%.6f,\"unit\":\"%s\"%s}\n",
	       name, value, unit, extra ? extra : "");
}

int main(void)
{
	double t_ckpt[REPEAT], t_pre[REPEAT], t_lazy[REPEAT], first[TOUCHES];
	double t_dump, worst = 0, ratio;
	struct ckpt_restore r;
	struct ckpt_uimage u;
	struct ckpt_dump d;
	char extra[160];
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
	fill(base);

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
	report("ckpt_dump_1g_s", t_dump, "s", NULL);
	report("ckpt_image_bytes_1g", d.image_size, "bytes", NULL);

	for (i = 0; i < REPEAT; i++) {
		double t = ckpt_now();

		if (ckpt_do_restore(dev, img, 0, &r))
			die("CKPT_RESTORE");
		t_ckpt[i] = ckpt_now() - t;
		if (check(base))
			die("ckpt restore contents");
		munmap(base, REGION);

		t_pre[i] = restore_preadv(img, &u, base);
		if (check(base))
			die("preadv restore contents");
		munmap(base, REGION);
		printf("run %d: ckpt_restore %.3f s, mmap+preadv %.3f s\n", i,
		       t_ckpt[i], t_pre[i]);
	}
	ratio = ckpt_median(t_pre, REPEAT) / ckpt_median(t_ckpt, REPEAT);
	printf("restore 1 GiB: ckpt_restore %.3f s (%.0f MiB/s), %s %.3f s (%.0f MiB/s): %.2fx\n",
	       ckpt_median(t_ckpt, REPEAT), 1024 / ckpt_median(t_ckpt, REPEAT),
	       "mmap+preadv", ckpt_median(t_pre, REPEAT),
	       1024 / ckpt_median(t_pre, REPEAT), ratio);
	snprintf(extra, sizeof(extra), ",\"baseline_s\":%.6f,\"ratio_vs_preadv\":%.3f",
		 ckpt_median(t_pre, REPEAT), ratio);
	report("ckpt_restore_1g_s", ckpt_median(t_ckpt, REPEAT), "s", extra);
	report("preadv_restore_1g_s", ckpt_median(t_pre, REPEAT), "s", NULL);

	/* Lazy: the call verifies every checksum; first touch reads 1 page. */
	for (i = 0; i < REPEAT; i++) {
		double t = ckpt_now();
		int k;

		if (ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r))
			die("lazy CKPT_RESTORE");
		t_lazy[i] = ckpt_now() - t;
		for (k = 0; k < TOUCHES; k++) {
			size_t off = ((size_t)rand() % (REGION / PG)) * PG;
			const __u64 *p = (const __u64 *)(base + off);

			t = ckpt_now();
			if (*p != off)
				die("lazy contents");
			first[k] = ckpt_now() - t;
			if (first[k] > worst)
				worst = first[k];
		}
		munmap(base, REGION);
	}
	printf("lazy restore call %.3f s (checks every run first); %s %.1f us, worst %.1f us\n",
	       ckpt_median(t_lazy, REPEAT), "first touch median",
	       ckpt_median(first, TOUCHES) * 1e6,
	       worst * 1e6);
	report("ckpt_lazy_restore_call_1g_s", ckpt_median(t_lazy, REPEAT), "s", NULL);
	snprintf(extra, sizeof(extra), ",\"worst_us\":%.1f", worst * 1e6);
	report("ckpt_lazy_first_touch_us", ckpt_median(first, TOUCHES) * 1e6, "us",
	       extra);
	ckpt_uimage_free(&u);
	close(img);
	close(dev);
	return 0;
}
