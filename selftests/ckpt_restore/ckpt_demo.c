// SPDX-License-Identifier: GPL-2.0-only
/*
 * What ckpt_restore does, in a few lines: dump a sparse 64 MiB region,
 * restore it eagerly and lazily, and refuse a corrupted image.
 */
#include "ckpt_test.h"

#define LEN	(64UL << 20)

int main(void)
{
	struct ckpt_restore r;
	struct ckpt_dump d;
	int dev, img, i, ok = 1;
	char *base, c;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	base = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dev < 0 || img < 0 || base == MAP_FAILED) {
		perror("ckpt_demo");
		return 1;
	}
	for (i = 0; i < 100; i++)
		ckpt_fill_page(base + i * (LEN / 100 & ~(PG - 1)), i);
	memset(base + PG, 0, 16 * PG);
	if (ckpt_dump_range(dev, img, -1, base, LEN, &d))
		return 1;
	printf("dumped 64 MiB with 100 written and 16 zeroed pages: %llu pages, %llu-byte image\n",
	       (unsigned long long)d.nr_pages,
	       (unsigned long long)d.image_size);
	munmap(base, LEN);

	if (ckpt_do_restore(dev, img, 0, &r))
		return 1;
	for (i = 0; i < 100; i++)
		ok &= ckpt_page_matches(base + i * (LEN / 100 & ~(PG - 1)), i);
	printf("restored eagerly: %u VMA, %llu pages filled, contents %s\n",
	       r.nr_vmas, (unsigned long long)r.nr_pages,
	       ok ? "identical" : "DIFFERENT");
	munmap(base, LEN);

	if (ckpt_do_restore(dev, img, CKPT_RESTORE_LAZY, &r))
		return 1;
	printf("restored lazily: %llu pages left for first touch; image held: %ld\n",
	       (unsigned long long)r.nr_lazy_pages, ckpt_stat("lazy_images"));
	for (i = 0; i < 100; i++)
		ok &= ckpt_page_matches(base + i * (LEN / 100 & ~(PG - 1)), i);
	printf("after touching every page: contents %s, image held: %ld\n",
	       ok ? "identical" : "DIFFERENT", ckpt_stat("lazy_images"));

	if (pread(img, &c, 1, PG + 10) != 1)
		return 1;
	c ^= 1;
	if (pwrite(img, &c, 1, PG + 10) != 1)
		return 1;
	printf("flipped one byte of the image; restoring while the region is still mapped: %s\n",
	       strerror(-ckpt_do_restore(dev, img, 0, &r)));
	munmap(base, LEN);
	printf("restoring it into the free region: %s, and nothing is left mapped\n",
	       strerror(-ckpt_do_restore(dev, img, 0, &r)));
	return ok ? 0 : 1;
}
