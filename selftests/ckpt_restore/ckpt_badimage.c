// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bad images and bad arguments: every corruption must fail with its errno
 * and leave the process exactly as it was: /proc/self/maps byte-identical
 * and a canary region's contents unchanged.  A fuzz loop flips bytes and
 * truncates images, as root and as an unprivileged user.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ckpt_test.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/ckpt")

#define SRC_PAGES	32
#define CANARY_PAGES	4

/* Source layout, in pages from the base. */
#define ANON_OFF	0
#define ANON_PAGES	16
#define RO_OFF		17
#define FILE_OFF	20
#define SHM_OFF		23

static char maps_before[1 << 20], maps_after[1 << 20];

struct src {
	int dev;
	int orig;		/* the good image */
	char *base;
	char *canary;
	__u64 canary_sum;
	char path[64];
};

static __u64 canary_sum(const struct src *s)
{
	return ckpt_xxh64(s->canary, CANARY_PAGES * PG);
}

/* Build four VMAs of every kind, dump them, unmap them. */
static int src_setup(struct src *s)
{
	struct ckpt_dump d;
	char *p;
	int fd, i;

	memset(s, 0, sizeof(*s));
	s->dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	s->orig = ckpt_tmpfile();
	s->canary = mmap(NULL, CANARY_PAGES * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s->base = ckpt_free_range(SRC_PAGES * PG);
	if (s->dev < 0 || s->orig < 0 || s->canary == MAP_FAILED || !s->base)
		return -1;
	for (i = 0; i < CANARY_PAGES; i++)
		ckpt_fill_page(s->canary + i * PG, 100 + i);
	s->canary_sum = canary_sum(s);

	p = mmap(s->base + ANON_OFF * PG, ANON_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	for (i = 0; i < ANON_PAGES; i += 2)
		ckpt_fill_page(p + i * PG, i);
	p = mmap(s->base + RO_OFF * PG, 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	ckpt_fill_page(p, 17);
	mprotect(p, 2 * PG, PROT_READ);

	snprintf(s->path, sizeof(s->path), "/tmp/ckpt_bad_%d", getpid());
	fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 2 * PG))
		return -1;
	p = mmap(s->base + FILE_OFF * PG, 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	ckpt_fill_page(p + PG, 21);

	fd = memfd_create("ckpt_bad", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 2 * PG))
		return -1;
	p = mmap(s->base + SHM_OFF * PG, 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	ckpt_fill_page(p, 23);

	if (ckpt_dump_range(s->dev, s->orig, -1, s->base, SRC_PAGES * PG, &d) ||
	    d.nr_vmas != 4 || d.nr_pages != ANON_PAGES / 2 + 3)
		return -1;
	return munmap(s->base, SRC_PAGES * PG);
}

static void src_teardown(struct src *s)
{
	munmap(s->base, SRC_PAGES * PG);
	munmap(s->canary, CANARY_PAGES * PG);
	unlink(s->path);
	close(s->orig);
	close(s->dev);
}

/* A fresh copy of the good image to corrupt. */
static int copy_image(const struct src *s)
{
	static char buf[1 << 16];
	off_t pos = 0;
	ssize_t n;
	int fd = ckpt_tmpfile();

	if (fd < 0)
		return -1;
	while ((n = pread(s->orig, buf, sizeof(buf), pos)) > 0) {
		if (pwrite(fd, buf, n, pos) != n) {
			close(fd);
			return -1;
		}
		pos += n;
	}
	return fd;
}

/*
 * Restore @img and check the process did not change.  Returns the restore's
 * -errno (0 if it wrongly succeeded), or 1 if the process changed.
 */
static int restore_unchanged(const struct src *s, int img, unsigned int flags)
{
	struct ckpt_restore r;
	size_t a, b;
	int ret;

	a = ckpt_read_maps(maps_before, sizeof(maps_before));
	ret = ckpt_do_restore(s->dev, img, flags, &r);
	b = ckpt_read_maps(maps_after, sizeof(maps_after));
	if (!ret)
		munmap(s->base, SRC_PAGES * PG);
	if (a != b || memcmp(maps_before, maps_after, a) ||
	    canary_sum(s) != s->canary_sum)
		return 1;
	return ret;
}

enum mutation {
	TRUNC_ONE, TRUNC_HALF, TRUNC_HEADER, EXTEND, MAGIC, VERSION, PAGE_SZ,
	HDR_CSUM, HDR_PADDING, META_CSUM, VMA_OVERLAP, VMA_UNSORTED,
	VMA_KERNEL, VMA_UNALIGNED, VMA_KIND, VMA_RESERVED, VMA_PROT,
	RUN_WRONG_VMA, RUN_OVERLAP, RUN_EMPTY, HUGE_VMAS, HUGE_RUNS,
	HUGE_STRINGS, HUGE_RUN, PATH_LONG, DATA_FIRST, DATA_LAST, BAD_PATH,
	CLASH, CHUNK_PAGES, CHUNK_INDEX, CHUNK_COUNT, HUGE_CHUNKS, CHUNK_CSUM,
	OLD_VERSION, RUN_EARLIER_VMA, PATH_RELATIVE, PATH_FIFO, PATH_DIR,
	PATH_DEVNULL, PATH_PROC,
};

FIXTURE(bad) {
	struct src s;
	int img;
	void *clash;
};

FIXTURE_VARIANT(bad) {
	enum mutation m;
	int err;
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(bad, truncated_by_one) {
	.m = TRUNC_ONE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, truncated_half) {
	.m = TRUNC_HALF, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, truncated_header) {
	.m = TRUNC_HEADER, .err = EINVAL,
};

/* Lazy mode reads no checksum, but the file must hold all of them. */
FIXTURE_VARIANT_ADD(bad, truncated_by_one_lazy) {
	.m = TRUNC_ONE, .err = EINVAL, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(bad, extended) {
	.m = EXTEND, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, wrong_magic) {
	.m = MAGIC, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, wrong_version) {
	.m = VERSION, .err = EINVAL,
};

/* Version 2 kept the checksum table inside the metadata area. */
FIXTURE_VARIANT_ADD(bad, version_2) {
	.m = OLD_VERSION, .err = EINVAL, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(bad, wrong_page_size) {
	.m = PAGE_SZ, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, header_checksum) {
	.m = HDR_CSUM, .err = EBADMSG,
};

FIXTURE_VARIANT_ADD(bad, header_padding) {
	.m = HDR_PADDING, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, meta_checksum) {
	.m = META_CSUM, .err = EBADMSG,
};

FIXTURE_VARIANT_ADD(bad, overlapping_vmas) {
	.m = VMA_OVERLAP, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, unsorted_vmas) {
	.m = VMA_UNSORTED, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, kernel_address) {
	.m = VMA_KERNEL, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, unaligned_vma) {
	.m = VMA_UNALIGNED, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, unknown_kind) {
	.m = VMA_KIND, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, vma_reserved) {
	.m = VMA_RESERVED, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, unknown_prot) {
	.m = VMA_PROT, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, run_outside_vma) {
	.m = RUN_WRONG_VMA, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, overlapping_runs) {
	.m = RUN_OVERLAP, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, empty_run) {
	.m = RUN_EMPTY, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, huge_vma_count) {
	.m = HUGE_VMAS, .err = EFBIG,
};

FIXTURE_VARIANT_ADD(bad, huge_run_count) {
	.m = HUGE_RUNS, .err = EFBIG,
};

FIXTURE_VARIANT_ADD(bad, huge_strings) {
	.m = HUGE_STRINGS, .err = EFBIG,
};

/* Runs have no length limit but their VMA: this one overruns it. */
FIXTURE_VARIANT_ADD(bad, huge_run) {
	.m = HUGE_RUN, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, path_too_long) {
	.m = PATH_LONG, .err = EFBIG,
};

FIXTURE_VARIANT_ADD(bad, corrupt_first_run) {
	.m = DATA_FIRST, .err = EBADMSG,
};

FIXTURE_VARIANT_ADD(bad, corrupt_last_run) {
	.m = DATA_LAST, .err = EBADMSG,
};

FIXTURE_VARIANT_ADD(bad, unopenable_path) {
	.m = BAD_PATH, .err = ENOENT,
};

FIXTURE_VARIANT_ADD(bad, address_in_use) {
	.m = CLASH, .err = EEXIST,
};

FIXTURE_VARIANT_ADD(bad, corrupt_last_run_verify_first) {
	.m = DATA_LAST, .err = EBADMSG, .flags = CKPT_RESTORE_VERIFY_FIRST,
};

/* The last run is in the shared VMA, which lazy mode fills eagerly. */
FIXTURE_VARIANT_ADD(bad, corrupt_last_run_lazy) {
	.m = DATA_LAST, .err = EBADMSG, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(bad, corrupt_first_run_lazy_verify_first) {
	.m = DATA_FIRST, .err = EBADMSG,
	.flags = CKPT_RESTORE_LAZY | CKPT_RESTORE_VERIFY_FIRST,
};

FIXTURE_VARIANT_ADD(bad, wrong_chunk_size) {
	.m = CHUNK_PAGES, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, wrong_chunk_index) {
	.m = CHUNK_INDEX, .err = EINVAL, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(bad, wrong_chunk_count) {
	.m = CHUNK_COUNT, .err = EINVAL, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(bad, huge_chunk_count) {
	.m = HUGE_CHUNKS, .err = EINVAL, .flags = CKPT_RESTORE_LAZY,
};

FIXTURE_VARIANT_ADD(bad, chunk_checksum) {
	.m = CHUNK_CSUM, .err = EBADMSG,
};

/* The last run is in the last VMA but names the one before it. */
FIXTURE_VARIANT_ADD(bad, run_names_earlier_vma) {
	.m = RUN_EARLIER_VMA, .err = EINVAL,
};

/* File VMA paths: absolute, and a regular file, checked before mapping. */
FIXTURE_VARIANT_ADD(bad, path_relative) {
	.m = PATH_RELATIVE, .err = EINVAL,
};

FIXTURE_VARIANT_ADD(bad, path_fifo) {
	.m = PATH_FIFO, .err = ENODEV,
};

FIXTURE_VARIANT_ADD(bad, path_directory) {
	.m = PATH_DIR, .err = ENODEV,
};

FIXTURE_VARIANT_ADD(bad, path_dev_null) {
	.m = PATH_DEVNULL, .err = ENODEV,
};

FIXTURE_VARIANT_ADD(bad, path_proc_file) {
	.m = PATH_PROC, .err = ENODEV,
};

FIXTURE_SETUP(bad)
{
	ASSERT_EQ(0, src_setup(&self->s)) TH_LOG("source set-up: %s",
						 strerror(errno));
	self->img = copy_image(&self->s);
	ASSERT_LE(0, self->img);
	self->clash = MAP_FAILED;
}

FIXTURE_TEARDOWN(bad)
{
	if (self->clash != MAP_FAILED)
		munmap(self->clash, PG);
	close(self->img);
	src_teardown(&self->s);
}

/*
 * Point the file VMA's path at @alt, a path of the same length made by
 * @make (NULL: none), e.g. "/tmp/ckpt_fif_PID" for "/tmp/ckpt_bad_PID".
 */
static int repath(struct ckpt_uimage *u, const char *alt,
		  int (*make)(const char *alt))
{
	struct ckpt_image_vma *v = &u->vmas[2];

	if (v->kind != CKPT_VMA_FILE || strlen(alt) != v->path_len)
		return -1;
	memcpy(u->strings + v->path_offset, alt, v->path_len);
	return make ? make(alt) : 0;
}

static int make_fifo(const char *alt)
{
	return mkfifo(alt, 0644);
}

static int make_dir(const char *alt)
{
	return mkdir(alt, 0755);
}

static int make_devnull(const char *alt)
{
	return symlink("/dev/null", alt);
}

static int make_proc(const char *alt)
{
	return symlink("/proc/self/status", alt);
}

static void flip(int fd, off_t off)
{
	unsigned char c;

	if (pread(fd, &c, 1, off) == 1) {
		c ^= 0x40;
		if (pwrite(fd, &c, 1, off) != 1)
			abort();
	}
}

TEST_F(bad, refused_and_unchanged)
{
	struct ckpt_uimage u;
	char alt[64] = "";
	struct stat st;
	int reseal = 1, ret;

	ASSERT_EQ(0, fstat(self->img, &st));
	ASSERT_EQ(0, ckpt_uimage_read(self->img, &u));

	switch (variant->m) {
	case TRUNC_ONE:
		ASSERT_EQ(0, ftruncate(self->img, st.st_size - 1));
		reseal = -1;
		break;
	case TRUNC_HALF:
		ASSERT_EQ(0, ftruncate(self->img, st.st_size / 2));
		reseal = -1;
		break;
	case TRUNC_HEADER:
		ASSERT_EQ(0, ftruncate(self->img, 100));
		reseal = -1;
		break;
	case EXTEND:
		ASSERT_EQ(1, pwrite(self->img, "x", 1, st.st_size));
		reseal = -1;
		break;
	case MAGIC:
		u.hdr.magic ^= 1;
		reseal = 0;
		break;
	case VERSION:
		u.hdr.version = CKPT_IMAGE_VERSION + 1;
		break;
	case OLD_VERSION:
		u.hdr.version = 2;
		break;
	case PAGE_SZ:
		u.hdr.page_size = 65536;
		break;
	case HDR_CSUM:
		u.hdr.nr_pages++;
		reseal = 0;
		break;
	case HDR_PADDING:
		ASSERT_EQ(1, pwrite(self->img, "x", 1, 300));
		reseal = -1;
		break;
	case META_CSUM:
		u.vmas[0].prot ^= 1;
		u.hdr.header_csum = 0;
		u.hdr.header_csum = ckpt_xxh64(&u.hdr, sizeof(u.hdr));
		reseal = 0;
		break;
	case VMA_OVERLAP:
		u.vmas[1].start = u.vmas[0].end - PG;
		break;
	case VMA_UNSORTED: {
		struct ckpt_image_vma t = u.vmas[0];

		u.vmas[0] = u.vmas[1];
		u.vmas[1] = t;
		break;
	}
	case VMA_KERNEL:
		u.vmas[3].start = 0xffff888000000000ULL;
		u.vmas[3].end = u.vmas[3].start + 2 * PG;
		break;
	case VMA_UNALIGNED:
		u.vmas[0].end -= 1;
		break;
	case VMA_KIND:
		u.vmas[1].kind = 9;
		break;
	case VMA_RESERVED:
		u.vmas[2].reserved[1] = 1;
		break;
	case VMA_PROT:
		u.vmas[0].prot |= 0x10;
		break;
	case RUN_WRONG_VMA:
		u.runs[0].vma = 1;
		break;
	case RUN_OVERLAP:
		u.runs[1].start = u.runs[0].start;
		break;
	case RUN_EMPTY:
		u.runs[0].nr_pages = 0;
		break;
	case HUGE_VMAS:
		u.hdr.nr_vmas = 0xffffffffu;
		break;
	case HUGE_RUNS:
		u.hdr.nr_runs = 1ULL << 40;
		break;
	case HUGE_STRINGS:
		u.hdr.strings_size = 1ULL << 40;
		break;
	case HUGE_RUN:
		u.runs[0].nr_pages = 1ULL << 40;
		break;
	case PATH_LONG:
		u.vmas[2].path_len = CKPT_MAX_PATH;
		break;
	case DATA_FIRST:
		flip(self->img, u.hdr.data_offset + 5);
		reseal = -1;
		break;
	case DATA_LAST:
		flip(self->img, u.hdr.meta_offset - 7);
		reseal = -1;
		break;
	case BAD_PATH:
		ASSERT_EQ(CKPT_VMA_FILE, u.vmas[2].kind);
		u.strings[u.vmas[2].path_offset + u.vmas[2].path_len - 1] ^= 1;
		break;
	case CHUNK_PAGES:
		u.hdr.chunk_pages = 2 * CKPT_CHUNK_PAGES;
		break;
	case CHUNK_INDEX:
		u.runs[1].chunk++;
		break;
	case CHUNK_COUNT:
		/*
		 * Drop the last checksum: header, tables and file length
		 * agree, but the runs need one chunk more.
		 */
		u.hdr.nr_chunks--;
		ASSERT_EQ(0, ftruncate(self->img, st.st_size - sizeof(__u64)));
		break;
	case HUGE_CHUNKS:
		/* Only the header changes: there is no such checksum table. */
		u.hdr.nr_chunks = 1ULL << 40;
		ckpt_uimage_reseal(&u);
		ASSERT_EQ(sizeof(u.hdr),
			  pwrite(self->img, &u.hdr, sizeof(u.hdr), 0));
		reseal = -1;
		break;
	case CHUNK_CSUM:
		u.csums[0] ^= 1;
		break;
	case RUN_EARLIER_VMA:
		ASSERT_LT(0, u.runs[u.hdr.nr_runs - 1].vma);
		u.runs[u.hdr.nr_runs - 1].vma--;
		break;
	case PATH_RELATIVE:
		/* Relative to "/", it names the very file of the dump. */
		snprintf(alt, sizeof(alt), "tmp/%s", self->s.path + 4);
		ASSERT_EQ(0, repath(&u, alt, NULL));
		ASSERT_EQ(0, chdir("/"));
		alt[0] = 0;
		break;
	case PATH_FIFO:
	case PATH_DIR:
	case PATH_DEVNULL:
	case PATH_PROC: {
		static const struct {
			const char *tag;
			int (*make)(const char *alt);
		} how[] = {
			[PATH_FIFO - PATH_FIFO] = { "fif", make_fifo },
			[PATH_DIR - PATH_FIFO] = { "dir", make_dir },
			[PATH_DEVNULL - PATH_FIFO] = { "nul", make_devnull },
			[PATH_PROC - PATH_FIFO] = { "prc", make_proc },
		};

		/* "/tmp/ckpt_bad_PID" becomes "/tmp/ckpt_TAG_PID". */
		snprintf(alt, sizeof(alt), "%s", self->s.path);
		memcpy(alt + strlen("/tmp/ckpt_"),
		       how[variant->m - PATH_FIFO].tag, 3);
		ASSERT_EQ(0, repath(&u, alt, how[variant->m - PATH_FIFO].make))
			TH_LOG("%s: %s", alt, strerror(errno));
		break;
	}
	case CLASH:
		self->clash = mmap((void *)(uintptr_t)u.vmas[3].start, PG,
				   PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
				   MAP_FIXED_NOREPLACE, -1, 0);
		ASSERT_NE(MAP_FAILED, self->clash);
		reseal = -1;
		break;
	}
	if (reseal >= 0) {
		if (reseal)
			ckpt_uimage_reseal(&u);
		ASSERT_EQ(0, ckpt_uimage_write(self->img, &u));
	}
	ckpt_uimage_free(&u);

	/* A restore that blocks (opening a FIFO) fails here. */
	alarm(20);
	ret = restore_unchanged(&self->s, self->img, variant->flags);
	alarm(0);
	if (alt[0] && remove(alt))
		TH_LOG("cannot remove %s", alt);
	ASSERT_NE(1, ret) TH_LOG("the process changed although the restore failed");
	EXPECT_EQ(-variant->err, ret)
		TH_LOG("restore returned %d (%s), want -%s", ret,
		       ret ? strerror(-ret) : "success", strerror(variant->err));
}

/* The good image restores: the corruptions above are the only reason. */
TEST(good_image_restores)
{
	struct ckpt_restore r;
	struct src s;

	ASSERT_EQ(0, src_setup(&s)) TH_LOG("source set-up");
	ASSERT_EQ(0, ckpt_do_restore(s.dev, s.orig, 0, &r));
	EXPECT_EQ(4, r.nr_vmas);
	EXPECT_EQ(ANON_PAGES / 2 + 3, r.nr_pages);
	EXPECT_TRUE(ckpt_page_matches(s.base + 2 * PG, 2));
	EXPECT_TRUE(ckpt_page_matches(s.base + RO_OFF * PG, 17));
	EXPECT_TRUE(ckpt_page_matches(s.base + (FILE_OFF + 1) * PG, 21));
	EXPECT_TRUE(ckpt_page_matches(s.base + SHM_OFF * PG, 23));
	src_teardown(&s);
}

static int mapper_stop;

/*
 * Replace the PROT_NONE page at @arg with a new writable page and back,
 * again and again (each a munmap and an mmap); how many rounds, or -1.
 */
static void *mapper(void *arg)
{
	long rounds = 0;
	char *p;

	while (!__atomic_load_n(&mapper_stop, __ATOMIC_RELAXED)) {
		p = mmap(arg, PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != arg)
			return (void *)-1L;
		*p = 1;
		if (mmap(arg, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED, -1, 0) != arg)
			return (void *)-1L;
		rounds++;
	}
	return (void *)rounds;
}

static int mapped_in(void *start, size_t len)
{
	static char lines[4096];

	ckpt_maps_in(start, len, lines, sizeof(lines), 0);
	return lines[0] != 0;
}

/*
 * Undo unmaps by address: with a second thread mapping and unmapping,
 * a restore could destroy that thread's mapping.  It is refused with
 * EBUSY and maps nothing; once the thread is gone it succeeds.
 */
TEST(busy_while_another_thread_maps)
{
	struct ckpt_restore r;
	void *rounds, *park;
	pthread_t t;
	struct src s;
	int ret, i;

	/*
	 * The thread, its stack and its page first, so that the image goes
	 * where none of them is.
	 */
	park = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, park);
	__atomic_store_n(&mapper_stop, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&t, NULL, mapper, park));
	ASSERT_EQ(0, src_setup(&s)) TH_LOG("source set-up");
	for (i = 0; i < 8; i++) {
		ret = ckpt_do_restore(s.dev, s.orig, i % 2 ? CKPT_RESTORE_LAZY : 0,
				      &r);
		EXPECT_EQ(-EBUSY, ret) TH_LOG("restore %d: %s", i,
					      ret ? strerror(-ret) : "success");
		if (!ret)
			munmap(s.base, SRC_PAGES * PG);
		EXPECT_FALSE(mapped_in(s.base, SRC_PAGES * PG))
			TH_LOG("restore %d left something mapped", i);
	}
	__atomic_store_n(&mapper_stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(t, &rounds));
	EXPECT_LT(0, (long)rounds) TH_LOG("the mapping thread failed");

	/* The thread's mm reference goes a little after pthread_join(). */
	for (i = 0; i < 100; i++) {
		ret = ckpt_do_restore(s.dev, s.orig, 0, &r);
		if (ret != -EBUSY)
			break;
		usleep(10000);
	}
	EXPECT_EQ(0, ret) TH_LOG("single-threaded again: %s", strerror(-ret));
	EXPECT_TRUE(ckpt_page_matches(s.base + 2 * PG, 2));
	src_teardown(&s);
	munmap(park, PG);
}

/* File paths are opened with the caller's rights: nobody may not. */
TEST(path_opened_with_callers_rights)
{
	struct src s;
	int status, ret;
	pid_t pid;

	ASSERT_EQ(0, src_setup(&s)) TH_LOG("source set-up");
	ASSERT_EQ(0, chmod(s.path, 0600));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(100);
		ret = restore_unchanged(&s, s.orig, 0);
		_exit(ret == -EACCES ? 0 : ret == 1 ? 1 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("as nobody: %s", WEXITSTATUS(status) == 1 ?
		       "the process changed" : "not refused with EACCES");
	src_teardown(&s);
}

/* Malformed ioctl arguments, rejected before anything is read. */
TEST(bad_arguments)
{
	struct ckpt_restore r = { .size = sizeof(r) };
	struct ckpt_dump d = { .size = sizeof(d) };
	char big[sizeof(r) + 8] = { 0 };
	int dev = open("/dev/ckpt", O_RDWR | O_CLOEXEC);
	int img = ckpt_tmpfile(), dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	int wr = open("/dev/null", O_WRONLY);

	ASSERT_LE(0, dev);
	r.image_fd = img;
	r.size = 8;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EINVAL, errno) TH_LOG("short size");
	r.size = sizeof(r);
	r.flags = 1U << 7;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EINVAL, errno) TH_LOG("unknown flag");
	r.flags = 0;
	r.reserved = 1;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EINVAL, errno) TH_LOG("reserved field");
	r.reserved = 0;
	memcpy(big, &r, sizeof(r));
	((struct ckpt_restore *)big)->size = sizeof(big);
	big[sizeof(r) + 3] = 1;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, big));
	EXPECT_EQ(EINVAL, errno) TH_LOG("non-zero bytes past the known size");
	r.image_fd = -1;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EBADF, errno);
	r.image_fd = wr;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EBADF, errno) TH_LOG("image not open for reading");
	r.image_fd = dir;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EINVAL, errno) TH_LOG("image is a directory");
	r.image_fd = img;
	EXPECT_EQ(-1, ioctl(dev, CKPT_RESTORE, &r));
	EXPECT_EQ(EINVAL, errno) TH_LOG("empty image");

	d.out_fd = img;
	d.pidfd = 3;
	EXPECT_EQ(-1, ioctl(dev, CKPT_DUMP, &d));
	EXPECT_EQ(EINVAL, errno) TH_LOG("pidfd without CKPT_DUMP_PIDFD");
	d.pidfd = 0;
	d.nr_ranges = CKPT_MAX_RANGES + 1;
	EXPECT_EQ(-1, ioctl(dev, CKPT_DUMP, &d));
	EXPECT_EQ(EFBIG, errno) TH_LOG("too many ranges");
	d.nr_ranges = 1;
	d.ranges = 0;
	EXPECT_EQ(-1, ioctl(dev, CKPT_DUMP, &d));
	EXPECT_EQ(EFAULT, errno) TH_LOG("ranges pointer");
	d.nr_ranges = 0;
	d.out_fd = wr;
	EXPECT_EQ(-1, ioctl(dev, CKPT_DUMP, &d));
	EXPECT_EQ(EINVAL, errno) TH_LOG("output is not a regular file");
	ASSERT_EQ(1, write(img, "x", 1));
	d.out_fd = img;
	EXPECT_EQ(-1, ioctl(dev, CKPT_DUMP, &d));
	EXPECT_EQ(EINVAL, errno) TH_LOG("output file not empty");
	EXPECT_EQ(-1, ioctl(dev, _IO(CKPT_IOCTL_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	close(wr);
	close(dir);
	close(img);
	close(dev);
}

/*
 * Is file offset @off inside the contents of a run of an anonymous VMA, or
 * inside the checksum of one of its chunks?  A lazy restore reads neither.
 */
static int in_lazy_contents(const struct ckpt_uimage *u, off_t off)
{
	__u64 pos = u->hdr.data_offset, len, i, csum, nr;

	for (i = 0; i < u->hdr.nr_runs; i++) {
		len = (__u64)u->runs[i].nr_pages * PG;
		csum = u->hdr.meta_offset + u->hdr.meta_size +
		       u->runs[i].chunk * sizeof(__u64);
		nr = (u->runs[i].nr_pages + CKPT_CHUNK_PAGES - 1) /
		     CKPT_CHUNK_PAGES;
		if (((__u64)off >= pos && (__u64)off < pos + len) ||
		    ((__u64)off >= csum && (__u64)off < csum + nr * sizeof(__u64)))
			return u->vmas[u->runs[i].vma].kind == CKPT_VMA_ANON;
		pos += len;
	}
	return 0;
}

/* A lazy restore that must succeed; undo it.  Returns its -errno. */
static int lazy_restore_unmap(const struct src *s, int img)
{
	struct ckpt_restore r;
	int ret = ckpt_do_restore(s->dev, img, CKPT_RESTORE_LAZY, &r);

	if (!ret)
		munmap(s->base, SRC_PAGES * PG);
	return ret;
}

/*
 * Random single-byte flips anywhere and truncations at random lengths.
 * Every one must fail and leave the process unchanged, except that a lazy
 * restore succeeds when only an anonymous VMA's contents or their chunk
 * checksums changed (chunks are checked on first touch; ckpt_lazy tests
 * that).  Without CAP_CHECKPOINT_RESTORE (@unprivileged), an eager
 * restore of an image that passes every check before mapping fails with
 * EPERM: its read-only VMA would be filled through its protection.
 * Returns failures.
 */
static int fuzz(const struct src *s, unsigned int iterations, unsigned int seed,
		int unprivileged)
{
	int img, ret, failures = 0, lazy, truncated;
	struct ckpt_uimage u;
	unsigned int i;
	struct stat st;
	off_t off;

	if (ckpt_uimage_read(s->orig, &u))
		return 1;
	srand(seed);
	for (i = 0; i < iterations; i++) {
		img = copy_image(s);
		if (img < 0 || fstat(img, &st))
			return failures + 1;
		off = rand() % st.st_size;
		truncated = rand() % 8 == 0;
		if (truncated) {
			if (ftruncate(img, off))
				failures++;
		} else {
			flip(img, off);
		}
		lazy = i % 3 == 0;
		/* Lazy mode checks an anonymous VMA's contents on first touch. */
		if (lazy && !truncated && in_lazy_contents(&u, off)) {
			ret = lazy_restore_unmap(s, img);
			close(img);
			if (ret) {
				fprintf(stderr, "# iteration %u: offset %lld: lazy restore: %s\n",
					i, (long long)off, strerror(-ret));
				failures++;
			}
			continue;
		}
		ret = restore_unchanged(s, img, lazy ? CKPT_RESTORE_LAZY : 0);
		close(img);
		if (unprivileged && !lazy && ret == -EPERM)
			continue;
		if (ret == 1 || ret == 0 ||
		    (ret != -EINVAL && ret != -EBADMSG && ret != -EFBIG)) {
			fprintf(stderr, "# iteration %u: offset %lld: %s\n", i,
				(long long)off, ret == 1 ? "process changed" :
				ret ? strerror(-ret) : "restore succeeded");
			failures++;
		}
	}
	ckpt_uimage_free(&u);
	return failures;
}

FIXTURE(fuzz) {
	struct src s;
};

FIXTURE_VARIANT(fuzz) {
	int unprivileged;
};

FIXTURE_VARIANT_ADD(fuzz, root) { .unprivileged = 0 };
FIXTURE_VARIANT_ADD(fuzz, nobody) { .unprivileged = 1 };

FIXTURE_SETUP(fuzz)
{
	ASSERT_EQ(0, src_setup(&self->s)) TH_LOG("source set-up");
}

FIXTURE_TEARDOWN(fuzz)
{
	src_teardown(&self->s);
}

TEST_F_TIMEOUT(fuzz, flips_and_truncations, 120)
{
	int status;
	pid_t pid;

	if (!variant->unprivileged) {
		EXPECT_EQ(0, fuzz(&self->s, 200, 1, 0));
		return;
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(100);
		_exit(fuzz(&self->s, 200, 2, 1) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NE(100, WEXITSTATUS(status)) TH_LOG("cannot drop to nobody");
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("fuzz as nobody failed");
}

TEST_HARNESS_MAIN
