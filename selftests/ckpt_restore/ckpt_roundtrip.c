// SPDX-License-Identifier: GPL-2.0-only
/*
 * Round trips through /dev/ckpt: build a memory shape, dump it, unmap it,
 * restore it, and compare /proc/self/maps and every readable byte.  The
 * image's page count and size prove that untouched and zero pages cost
 * nothing.
 */
#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/ckpt")

enum shape {
	SPARSE_1G,
	MANY_SMALL,
	GUARD_PAGES,
	READ_ONLY,
	EXEC,
	PRIVATE_FILE,
	MEMFD_SHARED,
	ZERO_PAGES,
};

#define NR_SMALL	64
#define FILE_PAGES	8

FIXTURE(rt) {
	int dev;
	int img;
	char *base;
	size_t len;
	unsigned long want_pages;	/* pages the image must hold */
	unsigned int want_vmas;
	char *saved;			/* copy of every readable page */
	char maps_before[16384];
	char maps_after[16384];
	char file_path[64];
};

FIXTURE_VARIANT(rt) {
	enum shape shape;
	unsigned int flags;		/* CKPT_RESTORE_* */
};

FIXTURE_VARIANT_ADD(rt, sparse_1g) { .shape = SPARSE_1G };
FIXTURE_VARIANT_ADD(rt, many_small) { .shape = MANY_SMALL };
FIXTURE_VARIANT_ADD(rt, guard_pages) { .shape = GUARD_PAGES };
FIXTURE_VARIANT_ADD(rt, read_only) { .shape = READ_ONLY };
FIXTURE_VARIANT_ADD(rt, exec) { .shape = EXEC };
FIXTURE_VARIANT_ADD(rt, private_file) { .shape = PRIVATE_FILE };
FIXTURE_VARIANT_ADD(rt, memfd_shared) { .shape = MEMFD_SHARED };
FIXTURE_VARIANT_ADD(rt, zero_pages) { .shape = ZERO_PAGES };
FIXTURE_VARIANT_ADD(rt, many_small_verify_first) {
	.shape = MANY_SMALL, .flags = CKPT_RESTORE_VERIFY_FIRST,
};

FIXTURE_VARIANT_ADD(rt, private_file_lazy) {
	.shape = PRIVATE_FILE, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(rt, sparse_1g_lazy) {
	.shape = SPARSE_1G, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(rt, guard_pages_lazy) {
	.shape = GUARD_PAGES, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(rt, exec_lazy) {
	.shape = EXEC, .flags = CKPT_RESTORE_LAZY,
};

/* x86-64: mov eax, 42; ret */
static const unsigned char ret42[] = { 0xb8, 0x2a, 0, 0, 0, 0xc3 };

static char *map_at(char *addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags | (addr ? MAP_FIXED_NOREPLACE : 0),
		       fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE_SETUP(rt)
{
	char *p;
	int i, fd;

	self->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("/dev/ckpt: %s", strerror(errno));
	self->img = ckpt_tmpfile();
	ASSERT_LE(0, self->img) TH_LOG("O_TMPFILE in /tmp: %s", strerror(errno));

	switch (variant->shape) {
	case SPARSE_1G:
		self->len = 1UL << 30;
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1);
		ASSERT_NE(NULL, self->base);
		/* 8 written pages spread over the GiB ... */
		for (i = 0; i < 8; i++)
			ckpt_fill_page(self->base + i * (self->len / 8) +
				       17 * PG, i);
		/* ... 2 written with zeroes and 4 only read: no bytes. */
		memset(self->base + 5 * PG, 0, PG);
		memset(self->base + (self->len / 2) + 3 * PG, 0, PG);
		for (i = 0; i < 4; i++)
			ASSERT_EQ(0, self->base[self->len - (i + 1) * PG]);
		self->want_pages = 8;
		self->want_vmas = 1;
		break;
	case MANY_SMALL:
		self->len = NR_SMALL * 2 * PG;
		self->base = ckpt_free_range(self->len);
		ASSERT_NE(NULL, self->base);
		for (i = 0; i < NR_SMALL; i++) {
			p = map_at(self->base + i * 2 * PG, 2 * PG,
				   PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1);
			ASSERT_NE(NULL, p);
			ckpt_fill_page(p, i);
			ckpt_fill_page(p + PG, ~i);
			/* Alternate protections so the VMAs stay apart. */
			if (i & 1)
				ASSERT_EQ(0, mprotect(p, 2 * PG, PROT_READ));
		}
		self->want_pages = 2 * NR_SMALL;
		self->want_vmas = NR_SMALL;
		break;
	case GUARD_PAGES:
		/* [guard][4 rw][guard][4 rw][guard] */
		self->len = 11 * PG;
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1);
		ASSERT_NE(NULL, self->base);
		for (i = 0; i < 11; i++)
			if (i % 5)
				ckpt_fill_page(self->base + i * PG, i);
		/* The middle guard held data once: still dumped, restored. */
		ckpt_fill_page(self->base + 5 * PG, 5);
		for (i = 0; i < 11; i += 5)
			ASSERT_EQ(0, mprotect(self->base + i * PG, PG,
					      PROT_NONE));
		self->want_pages = 9;
		self->want_vmas = 5;
		break;
	case READ_ONLY:
		self->len = 4 * PG;
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1);
		ASSERT_NE(NULL, self->base);
		for (i = 0; i < 4; i++)
			ckpt_fill_page(self->base + i * PG, i);
		ASSERT_EQ(0, mprotect(self->base, self->len, PROT_READ));
		self->want_pages = 4;
		self->want_vmas = 1;
		break;
	case EXEC:
		self->len = 2 * PG;
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1);
		ASSERT_NE(NULL, self->base);
		memcpy(self->base, ret42, sizeof(ret42));
		ckpt_fill_page(self->base + PG, 7);
		ASSERT_EQ(0, mprotect(self->base, self->len,
				      PROT_READ | PROT_EXEC));
		self->want_pages = 2;
		self->want_vmas = 1;
		break;
	case PRIVATE_FILE:
		snprintf(self->file_path, sizeof(self->file_path),
			 "/tmp/ckpt_rt_%d", getpid());
		fd = open(self->file_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, fd);
		self->len = FILE_PAGES * PG;
		p = malloc(self->len);
		ASSERT_NE(NULL, p);
		for (i = 0; i < FILE_PAGES; i++)
			memset(p + i * PG, 'A' + i, PG);
		ASSERT_EQ((ssize_t)self->len, write(fd, p, self->len));
		free(p);
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE, fd);
		close(fd);
		ASSERT_NE(NULL, self->base);
		/* Page 1 modified, page 5 modified to zeroes, others read. */
		ckpt_fill_page(self->base + PG, 1);
		memset(self->base + 5 * PG, 0, PG);
		for (i = 0; i < FILE_PAGES; i++)
			if (i != 1 && i != 5)
				ASSERT_EQ('A' + i, self->base[i * PG]);
		self->want_pages = 2;
		self->want_vmas = 1;
		break;
	case MEMFD_SHARED:
		fd = memfd_create("ckpt_rt", MFD_CLOEXEC);
		ASSERT_LE(0, fd);
		self->len = 8 * PG;
		ASSERT_EQ(0, ftruncate(fd, self->len));
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd);
		close(fd);
		ASSERT_NE(NULL, self->base);
		ckpt_fill_page(self->base, 0);
		ckpt_fill_page(self->base + 3 * PG, 3);
		ckpt_fill_page(self->base + 7 * PG, 7);
		self->want_pages = 3;
		self->want_vmas = 1;
		break;
	case ZERO_PAGES:
		self->len = 16 * PG;
		self->base = map_at(NULL, self->len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1);
		ASSERT_NE(NULL, self->base);
		memset(self->base, 0, self->len);
		ckpt_fill_page(self->base + 9 * PG, 9);
		self->want_pages = 1;
		self->want_vmas = 1;
		break;
	}
}

FIXTURE_TEARDOWN(rt)
{
	if (self->base)
		munmap(self->base, self->len);
	if (self->file_path[0])
		unlink(self->file_path);
	free(self->saved);
	close(self->img);
	close(self->dev);
}

/* PROT_NONE pages cannot be read; everything else is compared. */
static int page_readable(const char *maps, char *addr)
{
	unsigned long s, e;
	char perms[8];
	const char *l;

	for (l = maps; *l; l = strchr(l, '\n') + 1) {
		if (sscanf(l, "%lx-%lx %7s", &s, &e, perms) == 3 &&
		    (uintptr_t)addr >= s && (uintptr_t)addr < e)
			return perms[0] == 'r';
	}
	return 0;
}

/* Pages that differ from the copy taken before the dump. */
static long compare_region(const char *maps, const char *saved, char *base,
			   size_t len)
{
	long diffs = 0;
	size_t off;

	for (off = 0; off < len; off += PG) {
		if (!page_readable(maps, base + off))
			continue;
		if (memcmp(saved + off, base + off, PG))
			diffs++;
	}
	return diffs;
}

TEST_F_TIMEOUT(rt, dump_unmap_restore, 120)
{
	struct ckpt_image_header h;
	struct ckpt_restore r;
	struct ckpt_dump d;
	int sparse = variant->shape == SPARSE_1G, i;
	/* Lazy VMAs and new shared memory show a different backing file. */
	int with_path = variant->shape != MEMFD_SHARED &&
			!(variant->flags & CKPT_RESTORE_LAZY);
	size_t off, meta;

	ckpt_maps_in(self->base, self->len, self->maps_before,
		     sizeof(self->maps_before), with_path);
	if (!sparse) {
		self->saved = malloc(self->len);
		ASSERT_NE(NULL, self->saved);
		for (off = 0; off < self->len; off += PG)
			if (page_readable(self->maps_before, self->base + off))
				memcpy(self->saved + off, self->base + off, PG);
	}

	ASSERT_EQ(0, ckpt_dump_range(self->dev, self->img, -1, self->base,
				     self->len, &d))
		TH_LOG("CKPT_DUMP failed");
	EXPECT_EQ(self->want_vmas, d.nr_vmas) TH_LOG("VMAs in the image");
	EXPECT_EQ(self->want_pages, d.nr_pages)
		TH_LOG("image holds %llu pages, want %lu: %s",
		       (unsigned long long)d.nr_pages, self->want_pages,
		       "untouched or zero pages must cost nothing");
	ASSERT_EQ(0, pread(self->img, &h, sizeof(h), 0) != sizeof(h));
	/* One checksum per chunk: at most one partial chunk per run. */
	EXPECT_LE(h.nr_chunks, d.nr_runs + d.nr_pages / CKPT_CHUNK_PAGES)
		TH_LOG("%llu chunks for %llu runs of %llu pages",
		       (unsigned long long)h.nr_chunks,
		       (unsigned long long)d.nr_runs,
		       (unsigned long long)d.nr_pages);
	meta = d.nr_vmas * sizeof(struct ckpt_image_vma) +
	       d.nr_runs * sizeof(struct ckpt_image_run) +
	       h.nr_chunks * sizeof(__u64);
	EXPECT_EQ(PG + self->want_pages * PG + meta + h.strings_size,
		  d.image_size) TH_LOG("image size is header + pages + tables");
	EXPECT_EQ(d.image_size, (__u64)lseek(self->img, 0, SEEK_END));

	ASSERT_EQ(0, munmap(self->base, self->len));
	ASSERT_EQ(0, ckpt_do_restore(self->dev, self->img, variant->flags, &r))
		TH_LOG("CKPT_RESTORE failed: %s", strerror(errno));
	EXPECT_EQ(self->want_vmas, r.nr_vmas);
	EXPECT_EQ(self->want_pages, r.nr_pages + r.nr_lazy_pages);

	ckpt_maps_in(self->base, self->len, self->maps_after,
		     sizeof(self->maps_after), with_path);
	EXPECT_STREQ(self->maps_before, self->maps_after)
		TH_LOG("VMAs differ after restore");
	if (!sparse) {
		long diffs = compare_region(self->maps_before, self->saved,
					    self->base, self->len);

		EXPECT_EQ(0, diffs) TH_LOG("pages differ after restore");
	}

	switch (variant->shape) {
	case SPARSE_1G:
		for (i = 0; i < 8; i++)
			EXPECT_TRUE(ckpt_page_matches(self->base +
						      i * (self->len / 8) +
						      17 * PG, i))
				TH_LOG("written page %d lost", i);
		EXPECT_TRUE(ckpt_page_zero(self->base + 5 * PG));
		break;
	case GUARD_PAGES:
		ASSERT_EQ(0, mprotect(self->base + 5 * PG, PG, PROT_READ));
		EXPECT_TRUE(ckpt_page_matches(self->base + 5 * PG, 5))
			TH_LOG("data under PROT_NONE must survive");
		break;
	case EXEC:
		EXPECT_EQ(42, ((int (*)(void))self->base)())
			TH_LOG("restored code does not run");
		break;
	case PRIVATE_FILE:
		EXPECT_TRUE(ckpt_page_matches(self->base + PG, 1));
		EXPECT_TRUE(ckpt_page_zero(self->base + 5 * PG))
			TH_LOG("a page modified to zeroes must come back as zeroes");
		EXPECT_EQ('A' + 6, self->base[6 * PG])
			TH_LOG("unmodified pages come from the file");
		break;
	case MEMFD_SHARED:
		EXPECT_NE(NULL, strstr(self->maps_after, "rw-s"))
			TH_LOG("shared mapping restored as shared: %s",
			       self->maps_after);
		break;
	default:
		break;
	}
}

/* Restoring over what is already there must change nothing at all. */
TEST(restore_over_existing_is_eexist)
{
	static char before[16384], after[16384];
	size_t len = NR_SMALL * 2 * PG;
	struct ckpt_restore r;
	struct ckpt_dump d;
	char *base, *p;
	int dev, img, i;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	base = ckpt_free_range(len);
	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	ASSERT_NE(NULL, base);
	for (i = 0; i < NR_SMALL; i++) {
		p = map_at(base + i * 2 * PG, 2 * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1);
		ASSERT_NE(NULL, p);
		ckpt_fill_page(p, i);
		if (i & 1)
			ASSERT_EQ(0, mprotect(p, 2 * PG, PROT_READ));
	}
	ASSERT_EQ(0, ckpt_dump_range(dev, img, -1, base, len, &d));
	/* Free all but the last VMA: the first 63 would fit. */
	ASSERT_EQ(0, munmap(base, len - 2 * PG));
	ckpt_maps_in(base, len, before, sizeof(before), 1);
	EXPECT_EQ(-EEXIST, ckpt_do_restore(dev, img, 0, &r));
	ckpt_maps_in(base, len, after, sizeof(after), 1);
	EXPECT_STREQ(before, after) TH_LOG("a refused restore must map nothing");
	EXPECT_TRUE(ckpt_page_matches(base + len - 2 * PG, NR_SMALL - 1))
		TH_LOG("the VMA in the way must keep its contents");
	munmap(base, len);
	close(img);
	close(dev);
}

/*
 * Dump @len bytes from @base of the caller, with its time and in *@rounds
 * the mmap_lock round trips it took, printed.  The alarm only stops a
 * dump that makes no progress (minutes, page by page, before holes were
 * skipped by range).
 */
static int dump_counted(int dev, int img, char *base, size_t len,
			struct ckpt_dump *d, long *rounds)
{
	double t0 = ckpt_now();
	long r0 = ckpt_stat("dump_lock_rounds");
	int ret;

	alarm(120);
	ret = ckpt_dump_range(dev, img, -1, base, len, d);
	alarm(0);
	*rounds = ckpt_stat("dump_lock_rounds") - r0;
	ksft_print_msg("dump of %zu MiB, %llu pages saved: %.3f s, %ld lock rounds\n",
		       len >> 20, ret ? 0ULL : (unsigned long long)d->nr_pages,
		       ckpt_now() - t0, *rounds);
	return ret;
}

/*
 * A large PROT_NONE reservation with a few pages in use at its start, as
 * ASan's shadow or a Go or Java heap leaves it: the dump must skip the
 * untouched VMA by range, not page by page (one GUP call and mmap_lock
 * round trip per page took minutes for 64 GiB).  The module counts its
 * mmap_lock round trips; the alarm only bounds a dump that makes no
 * progress, and the dump time is printed.
 */
#define RESV_LEN	(64UL << 30)
#define RESV_USED	4

TEST(dump_skips_reservation)
{
	char before[512], after[512];
	struct ckpt_restore r;
	struct ckpt_dump d;
	long rounds;
	char *base;
	int dev, img, i;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	base = mmap(NULL, RESV_LEN, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	ASSERT_EQ(0, mprotect(base, RESV_USED * PG, PROT_READ | PROT_WRITE));
	for (i = 0; i < RESV_USED; i++)
		ckpt_fill_page(base + i * PG, i);

	ASSERT_EQ(0, dump_counted(dev, img, base, RESV_LEN, &d, &rounds));
	EXPECT_EQ(RESV_USED, d.nr_pages);
	EXPECT_EQ(2, d.nr_vmas);
	EXPECT_GE(16, rounds) TH_LOG("the untouched VMA was walked page by page");

	ckpt_maps_in(base, RESV_LEN, before, sizeof(before), 0);
	ASSERT_EQ(0, munmap(base, RESV_LEN));
	ASSERT_EQ(0, ckpt_do_restore(dev, img, 0, &r));
	ckpt_maps_in(base, RESV_LEN, after, sizeof(after), 0);
	EXPECT_STREQ(before, after);
	for (i = 0; i < RESV_USED; i++)
		EXPECT_TRUE(ckpt_page_matches(base + i * PG, i));
	munmap(base, RESV_LEN);
	close(img);
	close(dev);
}

/*
 * One 4 GiB VMA with a few pages written here and there (a heap that grew
 * and shrank, a sparse array): the holes between them are skipped by
 * range, not with a GUP call and an mmap_lock round trip per page (about
 * a million for 4 GiB before).  The VMA is made read-only after the writes
 * so that the restore, which maps it as the image says, accounts no
 * 4 GiB of commit in the small guest; it is restored through FOLL_FORCE.
 */
#define HOLEY_LEN	(4UL << 30)
#define HOLEY_PAGES	(HOLEY_LEN / PG)

static const unsigned long holey_pages[] = {
	0, 1,			/* a run of two at the start */
	511, 512,		/* a run across a page table boundary */
	300001, HOLEY_PAGES / 2 + 7,
	HOLEY_PAGES - 513, HOLEY_PAGES - 1,	/* and the very last page */
};

#define HOLEY_USED	ARRAY_SIZE(holey_pages)

static bool holey_used(unsigned long pg)
{
	unsigned int i;

	for (i = 0; i < HOLEY_USED; i++)
		if (holey_pages[i] == pg)
			return true;
	return false;
}

TEST(dump_skips_holes_in_vma)
{
	char before[512], after[512];
	struct ckpt_restore r;
	unsigned long pg, bad = 0;
	struct ckpt_dump d;
	long rounds;
	char *base;
	int dev, img;
	unsigned int i;

	dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	img = ckpt_tmpfile();
	ASSERT_LE(0, dev);
	ASSERT_LE(0, img);
	base = mmap(NULL, HOLEY_LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	for (i = 0; i < HOLEY_USED; i++)
		ckpt_fill_page(base + holey_pages[i] * PG, i);
	ASSERT_EQ(0, mprotect(base, HOLEY_LEN, PROT_READ));

	ASSERT_EQ(0, dump_counted(dev, img, base, HOLEY_LEN, &d, &rounds));
	EXPECT_EQ(HOLEY_USED, d.nr_pages);
	EXPECT_EQ(1, d.nr_vmas);
	EXPECT_EQ(HOLEY_USED - 2, d.nr_runs);
	/* A few per used page and per 1 GiB of holes, not one per hole. */
	EXPECT_GE(64, rounds) TH_LOG("the holes were skipped page by page");

	ckpt_maps_in(base, HOLEY_LEN, before, sizeof(before), 0);
	ASSERT_EQ(0, munmap(base, HOLEY_LEN));
	ASSERT_EQ(0, ckpt_do_restore(dev, img, 0, &r))
		TH_LOG("CKPT_RESTORE: %s", strerror(errno));
	ckpt_maps_in(base, HOLEY_LEN, after, sizeof(after), 0);
	EXPECT_STREQ(before, after);
	for (i = 0; i < HOLEY_USED; i++)
		EXPECT_TRUE(ckpt_page_matches(base + holey_pages[i] * PG, i))
			TH_LOG("page %lu differs", holey_pages[i]);
	/* Every other page reads zero: its neighbours and one per 2 MiB. */
	for (i = 0; i < HOLEY_USED; i++) {
		pg = holey_pages[i] ? holey_pages[i] - 1 : 0;
		for (; pg <= holey_pages[i] + 1; pg++)
			if (pg < HOLEY_PAGES && !holey_used(pg) &&
			    !ckpt_page_zero(base + pg * PG))
				bad++;
	}
	for (pg = 3; pg < HOLEY_PAGES; pg += 512)
		if (!holey_used(pg) && !ckpt_page_zero(base + pg * PG))
			bad++;
	EXPECT_EQ(0, bad) TH_LOG("%lu pages not zero", bad);
	munmap(base, HOLEY_LEN);
	close(img);
	close(dev);
}

TEST_HARNESS_MAIN
