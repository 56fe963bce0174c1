// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lazy restore: time to first access (the CKPT_RESTORE_LAZY call plus the
 * first touch of one page) for images of several sizes.
 *
 * 64 KiB and 1 GiB images are real dumps of filled memory, the image in
 * tmpfs (the page cache).  Larger images would not fit in the guest twice
 * (region plus image), so they are built here: one anonymous VMA covered
 * by one run (as CKPT_DUMP writes a densely filled VMA), page contents a
 * hole of the tmpfs file (every page reads back as zeroes, as a page cache
 * read) and a checksum per chunk of zeroes.  Their metadata (run and
 * checksum tables) is exactly that of a dense dump of the same size, which
 * is what the restore call reads; only the first touch reads a hole
 * instead of data.
 *
 * Prints every run and each figure's median with its spread
 * (vmk_bench.h); three warm-up restores come first and are printed apart.
 * Target (issue: ckpt_restore performance): time to first access under
 * 1 ms at every size.  16g and 256g are the synthetic images above.
 */
#include "ckpt_test.h"
#include "vmk_bench.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define REPEAT		5
#define TOUCHES		8
#define CHUNK_BYTES	((size_t)CKPT_CHUNK_PAGES * PG)

static void die(const char *what)
{
	fprintf(stderr, "ckpt_lazy_bench: %s: %s\n", what, strerror(errno));
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

/* A real dump of @len bytes of filled memory at a free, 2 MiB aligned place. */
static char *dump_real(int dev, int img, size_t len)
{
	struct ckpt_dump d;
	char *base;

	base = ckpt_free_range(len + (2UL << 20));
	if (!base)
		die("address space");
	base = (char *)(((uintptr_t)base + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	if (mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != base)
		die("mmap");
	fill(base, len);
	if (ckpt_dump_range(dev, img, -1, base, len, &d))
		die("CKPT_DUMP");
	munmap(base, len);
	return base;
}

/*
 * An image of one anonymous VMA of @len bytes (a multiple of CHUNK_BYTES),
 * every page in its one run, contents a hole of the file: see the top
 * comment.
 */
static char *build_hole_image(int img, size_t len)
{
	__u64 nr_runs = 1, nr_chunks, i, zero_csum;
	struct ckpt_image_header *h;
	struct ckpt_image_vma *v;
	struct ckpt_image_run *r;
	struct ckpt_uimage u;
	void *zero;
	char *base;

	base = ckpt_free_range(len + (2UL << 20));
	if (!base)
		die("address space");
	base = (char *)(((uintptr_t)base + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	zero = calloc(1, CHUNK_BYTES);
	if (!zero)
		die("calloc");
	zero_csum = ckpt_xxh64(zero, CHUNK_BYTES);
	free(zero);

	memset(&u, 0, sizeof(u));
	nr_chunks = len / CHUNK_BYTES;
	h = &u.hdr;
	h->magic = CKPT_IMAGE_MAGIC;
	h->version = CKPT_IMAGE_VERSION;
	h->header_size = sizeof(*h);
	h->page_size = PG;
	h->nr_vmas = 1;
	h->chunk_pages = CKPT_CHUNK_PAGES;
	h->nr_runs = nr_runs;
	h->nr_pages = len / PG;
	h->nr_chunks = nr_chunks;
	h->data_offset = PG;
	h->data_size = len;
	h->meta_offset = PG + len;
	h->meta_size = sizeof(*v) + nr_runs * sizeof(*r);
	u.meta = calloc(1, h->meta_size);
	u.csums = calloc(nr_chunks, sizeof(*u.csums));
	if (!u.meta || !u.csums)
		die("calloc");
	v = (void *)u.meta;
	r = (void *)(v + 1);
	v->start = (uintptr_t)base;
	v->end = (uintptr_t)base + len;
	/* Read-only: a private writable VMA this big would fail overcommit. */
	v->prot = PROT_READ;
	v->kind = CKPT_VMA_ANON;
	r->start = (uintptr_t)base;
	r->nr_pages = len / PG;
	r->vma = 0;
	r->chunk = 0;
	for (i = 0; i < nr_chunks; i++)
		u.csums[i] = zero_csum;
	ckpt_uimage_reseal(&u);
	if (ftruncate(img, h->meta_offset + h->meta_size + nr_chunks * 8) ||
	    ckpt_uimage_write(img, &u))
		die("write image");
	ckpt_uimage_free(&u);
	return base;
}

/*
 * One lazy restore and first touch, printed but not counted: the first ones
 * in a fresh TCG guest also pay for translating the code they run (1-4 ms
 * for the first two or three, then 0.2 ms), which says nothing of the
 * module.  @base must hold the fill() pattern.
 */
static void lazy_warmup(int dev, int img, char *base, size_t len)
{
	struct ckpt_restore r;
	double t;
	int i;

	for (i = 0; i < 3; i++) {
		t = ckpt_now();
		if (ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r))
			die("lazy CKPT_RESTORE");
		if (*(const __u64 *)base != 0)
			die("lazy contents");
		printf("lazy warm-up %d (not counted): %.1f us\n", i,
		       (ckpt_now() - t) * 1e6);
		munmap(base, len);
	}
}

/*
 * Lazy restore of @img (an image of [base, base + len)) REPEAT times: the
 * call, then TOUCHES touches of random pages, the first of which is the
 * first access.  @zero: the contents are zeroes, else the fill() pattern.
 */
static void lazy_bench(int dev, int img, char *base, size_t len,
		       const char *size, int zero)
{
	double t_call[REPEAT], t_first[REPEAT], t_access[REPEAT], t;
	struct ckpt_restore r;
	char name[64];
	size_t off;
	int i, k;

	for (i = 0; i < REPEAT; i++) {
		t = ckpt_now();
		if (ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r))
			die("lazy CKPT_RESTORE");
		t_call[i] = ckpt_now() - t;
		for (k = 0; k < TOUCHES; k++) {
			off = ((size_t)rand() % (len / PG)) * PG;
			t = ckpt_now();
			if (*(const __u64 *)(base + off) != (zero ? 0 : off))
				die("lazy contents");
			t = ckpt_now() - t;
			if (!k)
				t_first[i] = t;
		}
		t_access[i] = t_call[i] + t_first[i];
		printf("lazy %s run %d: call %.1f us, first touch %.1f us, %s %.1f us\n",
		       size, i, t_call[i] * 1e6, t_first[i] * 1e6,
		       "time to first access", t_access[i] * 1e6);
		munmap(base, len);
	}
	for (i = 0; i < REPEAT; i++) {
		t_call[i] *= 1e6;
		t_first[i] *= 1e6;
		t_access[i] *= 1e6;
	}
	snprintf(name, sizeof(name), "ckpt.lazy_first_access.%s", size);
	vmk_bench_figure(name, "us", t_access, REPEAT, VMK_AT_MOST, 1000, NULL);
	snprintf(name, sizeof(name), "ckpt.lazy_call.%s", size);
	vmk_bench_figure(name, "us", t_call, REPEAT, VMK_INFO, 0, NULL);
	snprintf(name, sizeof(name), "ckpt.lazy_first_touch.%s", size);
	vmk_bench_figure(name, "us", t_first, REPEAT, VMK_INFO, 0, NULL);
}

int main(void)
{
	static const struct {
		const char *name;
		size_t len;
	} hole[] = {
		{ "16g", 16UL << 30 },
		{ "256g", 256UL << 30 },
	};
	char *base;
	int dev, img;
	unsigned int i;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("/dev/ckpt");

	img = ckpt_tmpfile();
	if (img < 0)
		die("image file");
	base = dump_real(dev, img, CHUNK_BYTES);
	lazy_warmup(dev, img, base, CHUNK_BYTES);
	lazy_bench(dev, img, base, CHUNK_BYTES, "64k", 0);
	close(img);

	img = ckpt_tmpfile();
	if (img < 0)
		die("image file");
	base = dump_real(dev, img, 1UL << 30);
	lazy_bench(dev, img, base, 1UL << 30, "1g", 0);
	close(img);

	for (i = 0; i < ARRAY_SIZE(hole); i++) {
		img = ckpt_tmpfile();
		if (img < 0)
			die("image file");
		base = build_hole_image(img, hole[i].len);
		lazy_bench(dev, img, base, hole[i].len, hole[i].name, 1);
		close(img);
	}
	close(dev);
	return 0;
}
