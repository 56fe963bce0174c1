// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of include/vmemkit/{gfn_range,iova,page_array}.h, run in the kernel
 * through vmk_helpers_test.ko.  Expected values are computed here with
 * unsigned __int128 arithmetic, independently of the helpers' own overflow
 * reasoning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmk_helpers_test.h"
#include "vmk_sys.h"
#include "vmk_require.h"

#define PG 4096ULL
#define U64_MAX ((__u64)~0ULL)
#define DEV "/dev/vmk_helpers_test"

VMK_REQUIRE(DEV)

static int dev_open(void)
{
	return open(DEV, O_RDWR | O_CLOEXEC);
}

static struct vmk_ht_gfn from_bytes(int fd, __u64 addr, __u64 size,
				    __u64 nr_gfns)
{
	struct vmk_ht_gfn g = { .op = VMK_HT_GFN_FROM_BYTES, .addr = addr,
				.size = size, .nr_gfns = nr_gfns };

	if (ioctl(fd, VMK_HT_GFN, &g))
		g.ret = -1000 - errno;
	return g;
}

/* What vmk_gfn_range_from_bytes() must answer, from first principles. */
static int expect_from_bytes(__u64 addr, __u64 size, __u64 nr_gfns)
{
	unsigned __int128 end = (unsigned __int128)addr + size;

	if (!size || addr % PG || size % PG)
		return -EINVAL;
	if (end > ((unsigned __int128)1 << 64))
		return -EINVAL;
	if ((end - 1) / PG >= nr_gfns)
		return -EINVAL;
	return 0;
}

FIXTURE(helpers) {
	int fd;
};

FIXTURE_SETUP(helpers)
{
	self->fd = dev_open();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s (module not loaded?)",
				      DEV, strerror(errno));
}

FIXTURE_TEARDOWN(helpers)
{
	close(self->fd);
}

TEST_F(helpers, gfn_from_bytes_edges)
{
	static const __u64 vals[] = {
		0, 1, PG - 1, PG, PG + 1, 2 * PG, 1ULL << 32, (1ULL << 52),
		U64_MAX - 2 * PG + 1, U64_MAX - PG + 1, U64_MAX - PG,
		U64_MAX,
	};
	static const __u64 limits[] = {
		0, 1, 2, 1ULL << 20, 1ULL << 52, U64_MAX,
	};
	unsigned int i, j, k, n = 0;

	for (i = 0; i < ARRAY_SIZE(vals); i++)
		for (j = 0; j < ARRAY_SIZE(vals); j++)
			for (k = 0; k < ARRAY_SIZE(limits); k++) {
				struct vmk_ht_gfn g;
				int want;

				g = from_bytes(self->fd, vals[i], vals[j], limits[k]);
				want = expect_from_bytes(vals[i], vals[j], limits[k]);
				ASSERT_EQ(want, g.ret)
					TH_LOG("addr %#llx size %#llx limit %#llx",
					       (unsigned long long)vals[i],
					       (unsigned long long)vals[j],
					       (unsigned long long)limits[k]);
				if (!want) {
					ASSERT_EQ(vals[i] / PG, g.out_start);
					ASSERT_EQ((vals[i] + vals[j] - 1) / PG + 1,
						  g.out_end);
					n++;
				}
			}
	/* Some combinations must succeed, or the table tests nothing. */
	ASSERT_LT(10, n);
}

TEST_F(helpers, gfn_top_of_space)
{
	/* The very last page of a 64-bit space converts without wrapping. */
	struct vmk_ht_gfn g = from_bytes(self->fd, U64_MAX - PG + 1, PG,
					 U64_MAX);

	ASSERT_EQ(0, g.ret);
	ASSERT_EQ(U64_MAX / PG, g.out_start);
	ASSERT_EQ(U64_MAX / PG + 1, g.out_end);
}

TEST_F(helpers, gfn_intersect_split)
{
	struct vmk_ht_gfn g = { .op = VMK_HT_GFN_INTERSECT,
				.a_start = 10, .a_end = 20,
				.b_start = 15, .b_end = 30 };

	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_GFN, &g));
	ASSERT_EQ(1, g.ret);
	ASSERT_EQ(15, g.out_start);
	ASSERT_EQ(20, g.out_end);

	/* Touching ranges do not overlap: [10,20) and [20,30). */
	g.b_start = 20;
	g.out_start = 0;
	g.out_end = 0;
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_GFN, &g));
	ASSERT_EQ(0, g.ret);

	g.op = VMK_HT_GFN_SPLIT;
	g.at = 13;
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_GFN, &g));
	ASSERT_EQ(0, g.ret);
	ASSERT_EQ(10, g.out_start);
	ASSERT_EQ(13, g.out_end);
	ASSERT_EQ(13, g.out2_start);
	ASSERT_EQ(20, g.out2_end);

	/* Splitting at either end would leave an empty part. */
	g.at = 10;
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_GFN, &g));
	ASSERT_EQ(-EINVAL, g.ret);
	g.at = 20;
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_GFN, &g));
	ASSERT_EQ(-EINVAL, g.ret);
}

TEST_F(helpers, gfn_chunks)
{
	static const __u64 sizes[] = { 1, 7, 512, 513, 1000003 };
	static const __u64 maxes[] = { 1, 2, 512, 1 << 20 };
	unsigned int i, j;

	for (i = 0; i < 5; i++)
		for (j = 0; j < 4; j++) {
			struct vmk_ht_gfn g = { .op = VMK_HT_GFN_CHUNKS,
						.a_start = 1ULL << 40,
						.a_end = (1ULL << 40) + sizes[i],
						.max = maxes[j] };
			__u64 want = (sizes[i] + maxes[j] - 1) / maxes[j];
			__u64 last = sizes[i] % maxes[j] ?: maxes[j];

			if (last > sizes[i])
				last = sizes[i];
			ASSERT_EQ(0, ioctl(self->fd, VMK_HT_GFN, &g));
			ASSERT_EQ(want, g.nr_chunks)
				TH_LOG("size %llu max %llu",
				       (unsigned long long)sizes[i],
				       (unsigned long long)maxes[j]);
			ASSERT_EQ(sizes[i], g.sum);
			ASSERT_EQ(last, g.last);
		}
}

static int iova_call(int fd, __u32 op, __u64 start, __u64 size,
		     __u64 iova, __u64 len, __u64 pgsize)
{
	struct vmk_ht_iova v = { .op = op, .start = start, .size = size,
				 .iova = iova, .len = len, .pgsize = pgsize };

	if (ioctl(fd, VMK_HT_IOVA, &v))
		return -1000 - errno;
	return v.ret;
}

/*
 * Every window (VMK_HT_IOVA_CONTAINS: [start, start + size)) or range
 * (VMK_HT_IOVA_RANGE_CONTAINS: [start, last]) made of the edge values
 * below, against every request made of them, compared with 128-bit
 * arithmetic.  *@n counts the requests contained.
 */
static void sweep_contains(struct __test_metadata *_metadata, int fd,
			   __u32 op, unsigned int *n)
{
	static const __u64 v[] = {
		0, 1, PG, 1ULL << 31, (1ULL << 32) - 1, 1ULL << 32,
		U64_MAX - PG, U64_MAX - 1, U64_MAX,
	};
	unsigned int a, b, c, d;

	*n = 0;
	for (a = 0; a < 9; a++)
		for (b = 0; b < 9; b++) {
			unsigned __int128 end;

			if (op == VMK_HT_IOVA_CONTAINS) {
				end = (unsigned __int128)v[a] + v[b];
				/* Windows must not wrap past 2^64. */
				if (!v[b] || end > ((unsigned __int128)1 << 64))
					continue;
			} else {
				if (v[a] > v[b])
					continue;
				end = (unsigned __int128)v[b] + 1;
			}
			for (c = 0; c < 9; c++)
				for (d = 0; d < 9; d++) {
					int got = iova_call(fd, op, v[a], v[b],
							    v[c], v[d], PG);
					int want = v[d] && v[c] >= v[a] &&
						   (unsigned __int128)v[c] + v[d] <= end;

					ASSERT_EQ(want, got)
						TH_LOG("op %u [%#llx, %#llx] req [%#llx +%#llx)",
						       op, (unsigned long long)v[a],
						       (unsigned long long)v[b],
						       (unsigned long long)v[c],
						       (unsigned long long)v[d]);
					*n += want;
				}
		}
}

TEST_F(helpers, iova_contains_no_overflow)
{
	unsigned int n;

	sweep_contains(_metadata, self->fd, VMK_HT_IOVA_CONTAINS, &n);
	ASSERT_LT(20, n);
}

TEST_F(helpers, iova_window_valid_and_overlap)
{
	struct vmk_ht_iova v = { .op = VMK_HT_IOVA_OVERLAPS,
				 .start = 0, .size = 1ULL << 32,
				 .start2 = (1ULL << 32) - PG, .size2 = PG };

	/* A window may end exactly at 2^64, but not beyond. */
	ASSERT_EQ(1, iova_call(self->fd, VMK_HT_IOVA_VALID, U64_MAX - PG + 1,
			       PG, 0, 0, 0));
	ASSERT_EQ(0, iova_call(self->fd, VMK_HT_IOVA_VALID, U64_MAX - PG + 2,
			       PG, 0, 0, 0));
	ASSERT_EQ(0, iova_call(self->fd, VMK_HT_IOVA_VALID, 0, 0, 0, 0, 0));

	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_IOVA, &v));
	ASSERT_EQ(1, v.ret);
	v.start2 = 1ULL << 32;	/* adjacent: no overlap */
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_IOVA, &v));
	ASSERT_EQ(0, v.ret);
	v.start2 = U64_MAX - PG + 1;
	v.start = U64_MAX - 2 * PG + 1;
	v.size = 2 * PG;
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_IOVA, &v));
	ASSERT_EQ(1, v.ret);
}

/*
 * Apertures are inclusive ranges: [0, ~0] (AMD v1, virtio-iommu) holds
 * every request that does not wrap, and a window of 2^64 - 1 bytes fits.
 */
TEST_F(helpers, iova_range_full_aperture)
{
	unsigned int n;

	sweep_contains(_metadata, self->fd, VMK_HT_IOVA_RANGE_CONTAINS, &n);
	ASSERT_LT(20, n);
	ASSERT_EQ(1, iova_call(self->fd, VMK_HT_IOVA_RANGE_FITS, 0, U64_MAX,
			       0, U64_MAX, 0));
	ASSERT_EQ(1, iova_call(self->fd, VMK_HT_IOVA_RANGE_FITS, 0, U64_MAX,
			       0, 1ULL << 63, 0));
	ASSERT_EQ(0, iova_call(self->fd, VMK_HT_IOVA_RANGE_FITS, 0, U64_MAX,
			       0, 0, 0));
	ASSERT_EQ(1, iova_call(self->fd, VMK_HT_IOVA_RANGE_FITS, 0,
			       (1ULL << 39) - 1, 0, 1ULL << 39, 0));
	ASSERT_EQ(0, iova_call(self->fd, VMK_HT_IOVA_RANGE_FITS, 1,
			       (1ULL << 39) - 1, 0, 1ULL << 39, 0));
}

TEST_F(helpers, iova_check_errnos)
{
	__u64 w = 1ULL << 30, sz = 1ULL << 28;

	ASSERT_EQ(0, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w, PG, PG));
	ASSERT_EQ(0, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w, sz, PG));
	ASSERT_EQ(-EINVAL, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w, 0, PG));
	ASSERT_EQ(-EINVAL, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w + 1, PG, PG));
	ASSERT_EQ(-EINVAL, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w, PG + 1, PG));
	ASSERT_EQ(-EINVAL, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w, PG, 3000));
	/* 2 MiB pages: 4 KiB-aligned requests are refused. */
	ASSERT_EQ(-EINVAL, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w + PG,
				     1 << 21, 1 << 21));
	ASSERT_EQ(-ERANGE, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w - PG, PG, PG));
	ASSERT_EQ(-ERANGE, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w + sz, PG, PG));
	ASSERT_EQ(-ERANGE, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz, w, sz + PG, PG));
	/* A request whose end wraps must not look like it fits. */
	ASSERT_EQ(-ERANGE, iova_call(self->fd, VMK_HT_IOVA_CHECK, w, sz,
				     U64_MAX - PG + 1, 2 * PG, PG));
}

static int pin(int fd, void *addr, __u64 nr, __u32 flags)
{
	struct vmk_ht_pin p = { .uaddr = (uintptr_t)addr, .nr_pages = nr,
				.flags = flags };

	if (ioctl(fd, VMK_HT_PIN, &p))
		return -1000 - errno;
	return p.ret;
}

static struct vmk_ht_state state(int fd)
{
	struct vmk_ht_state st = {};

	ioctl(fd, VMK_HT_STATE, &st);
	return st;
}

static int copy(int fd, __u64 off, void *buf, __u64 len, int to_pages)
{
	struct vmk_ht_copy c = { .offset = off, .len = len,
				 .buf = (uintptr_t)buf, .to_pages = to_pages };

	if (ioctl(fd, VMK_HT_COPY, &c))
		return -1000 - errno;
	return c.ret;
}

FIXTURE(pages) {
	int fd;
	size_t npages;
	unsigned char *buf;
	struct vmk_ht_state st;
};

FIXTURE_SETUP(pages)
{
	size_t i;

	self->fd = dev_open();
	ASSERT_LE(0, self->fd);
	self->st = state(self->fd);
	ASSERT_LT(100, self->st.chunk_pages);
	/* Three full chunks and a bit: every chunk boundary is crossed. */
	self->npages = 3 * self->st.chunk_pages + 5;
	self->buf = mmap(NULL, self->npages * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	for (i = 0; i < self->npages * PG; i++)
		self->buf[i] = (unsigned char)(i * 7 + i / PG);
}

FIXTURE_TEARDOWN(pages)
{
	close(self->fd);
	munmap(self->buf, self->npages * PG);
}

TEST_F(pages, pin_copy_charge_release)
{
	long base = vmk_vmlck_pages();
	unsigned char *tmp = malloc(3 * PG);
	__u64 offs[] = { 0, 1, PG - 3, self->st.chunk_pages * PG - 17,
			    (self->npages - 3) * PG + 5 };
	struct vmk_ht_state st;
	unsigned int i;

	ASSERT_NE(NULL, tmp);
	ASSERT_LE(0, base);
	ASSERT_EQ(0, pin(self->fd, self->buf, self->npages,
			 VMK_HT_PIN_WRITE | VMK_HT_PIN_CHARGE));
	st = state(self->fd);
	ASSERT_EQ(self->npages, st.nr_pages);
	ASSERT_EQ(self->npages, st.nr_charged);
	ASSERT_EQ(4, st.nr_chunks);
	ASSERT_EQ(base + (long)self->npages, vmk_vmlck_pages());

	/* Reads through kmap see exactly what userspace wrote. */
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, copy(self->fd, offs[i], tmp, 2 * PG + 9, 0));
		ASSERT_EQ(0, memcmp(tmp, self->buf + offs[i], 2 * PG + 9))
			TH_LOG("offset %llu", (unsigned long long)offs[i]);
	}
	/* Writes through kmap land in the user's pages. */
	memset(tmp, 0xa5, 3 * PG);
	ASSERT_EQ(0, copy(self->fd, self->st.chunk_pages * PG - 100, tmp, 300, 1));
	for (i = 0; i < 300; i++)
		ASSERT_EQ(0xa5, self->buf[self->st.chunk_pages * PG - 100 + i]);
	ASSERT_NE(0xa5, self->buf[self->st.chunk_pages * PG - 101]);

	/* Past the end: refused, nothing copied. */
	ASSERT_EQ(-ERANGE, copy(self->fd, self->npages * PG - 10, tmp, 11, 0));
	ASSERT_EQ(-ERANGE, copy(self->fd, U64_MAX - 5, tmp, 10, 0));

	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_RELEASE));
	st = state(self->fd);
	ASSERT_EQ(0, st.nr_pages);
	ASSERT_EQ(0, st.nr_charged);
	ASSERT_EQ(0, st.nr_chunks);
	ASSERT_EQ(base, vmk_vmlck_pages());
	free(tmp);
}

TEST_F(pages, appends_keep_order)
{
	unsigned char b[64];
	size_t half = self->npages / 2;

	ASSERT_EQ(0, pin(self->fd, self->buf + half * PG, self->npages - half, 0));
	ASSERT_EQ(0, pin(self->fd, self->buf, half, 0));
	ASSERT_EQ(self->npages, state(self->fd).nr_pages);
	ASSERT_EQ(0, state(self->fd).nr_charged);
	/* Index 0 of the array is the first page of the first call. */
	ASSERT_EQ(0, copy(self->fd, 0, b, sizeof(b), 0));
	ASSERT_EQ(0, memcmp(b, self->buf + half * PG, sizeof(b)));
	ASSERT_EQ(0, copy(self->fd, (self->npages - half) * PG, b, sizeof(b), 0));
	ASSERT_EQ(0, memcmp(b, self->buf, sizeof(b)));
}

TEST_F(pages, partial_fault_pins_nothing)
{
	long base = vmk_vmlck_pages();

	/* Punch a hole: the pin must fail there and undo the pages before. */
	ASSERT_EQ(0, munmap(self->buf + 600 * PG, PG));
	ASSERT_EQ(0, pin(self->fd, self->buf, 100, VMK_HT_PIN_CHARGE));
	ASSERT_GT(0, pin(self->fd, self->buf + 100 * PG, self->npages - 100,
			 VMK_HT_PIN_WRITE | VMK_HT_PIN_CHARGE));
	ASSERT_EQ(100, state(self->fd).nr_pages);
	ASSERT_EQ(100, state(self->fd).nr_charged);
	ASSERT_EQ(base + 100, vmk_vmlck_pages());
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_RELEASE));
	ASSERT_EQ(base, vmk_vmlck_pages());
}

TEST_F(pages, bad_arguments)
{
	ASSERT_EQ(-EINVAL, pin(self->fd, self->buf + 1, 1, 0));
	ASSERT_EQ(-EINVAL, pin(self->fd, self->buf, 0, 0));
	ASSERT_EQ(-EINVAL, pin(self->fd, (void *)(uintptr_t)(U64_MAX - PG + 1), 2, 0));
	ASSERT_EQ(-EINVAL, pin(self->fd, self->buf, U64_MAX / 2, 0));
	ASSERT_EQ(-1000 - EINVAL, pin(self->fd, self->buf, 1, 1U << 7));
	ASSERT_EQ(0, state(self->fd).nr_pages);
}

TEST_F(pages, rlimit_memlock_enforced)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl = { 16 * PG, 16 * PG };
		long base;

		/* Lose CAP_IPC_LOCK, which would bypass the limit. */
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) ||
		    setuid(65534))
			_exit(10);
		base = vmk_vmlck_pages();
		if (pin(self->fd, self->buf, 17, VMK_HT_PIN_CHARGE) != -ENOMEM)
			_exit(11);
		if (state(self->fd).nr_pages || vmk_vmlck_pages() != base)
			_exit(12);
		if (pin(self->fd, self->buf, 16, VMK_HT_PIN_CHARGE))
			_exit(13);
		if (vmk_vmlck_pages() != base + 16)
			_exit(14);
		/* Uncharged pins are not limited. */
		if (pin(self->fd, self->buf + 16 * PG, 64, 0))
			_exit(15);
		if (ioctl(self->fd, VMK_HT_RELEASE) || vmk_vmlck_pages() != base)
			_exit(16);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child step %d failed", WEXITSTATUS(status));
}

TEST_F(pages, charge_dropped_on_close_after_exit)
{
	int status;
	pid_t pid = fork();
	struct vmk_ht_state st;

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(pin(self->fd, self->buf, 50, VMK_HT_PIN_CHARGE) ? 1 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The child's mm is gone; the array still holds its pins and charge. */
	st = state(self->fd);
	ASSERT_EQ(50, st.nr_pages);
	ASSERT_EQ(50, st.nr_charged);
	ASSERT_EQ(0, ioctl(self->fd, VMK_HT_RELEASE));
	ASSERT_EQ(0, state(self->fd).nr_charged);
}

TEST_HARNESS_MAIN
