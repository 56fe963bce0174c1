// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr mappings: shared pages fault in, private pages raise SIGBUS,
 * conversion to private zaps every mapping, private -> shared zeroes, and
 * an object outlives its fd while mapped.  Each test runs against the range
 * store and the per-GFN baseline.
 */
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

#define OBJ_PAGES 32

FIXTURE(fault) {
	int fd;
	__u64 pg;
	char *map;
};

FIXTURE_VARIANT(fault) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(fault, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(fault, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

FIXTURE_SETUP(fault)
{
	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	self->pg = ma_page();
	self->fd = ma_create(OBJ_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
	self->map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
}

FIXTURE_TEARDOWN(fault)
{
	munmap(self->map, OBJ_PAGES * self->pg);
	close(self->fd);
}

static __u64 *word(char *map, __u64 pg, unsigned int page, unsigned int idx)
{
	return (__u64 *)(map + page * pg) + idx;
}

TEST_F(fault, shared_pages_read_write)
{
	long long faults = ma_stat("faults");
	unsigned int i;
	__u64 v;

	for (i = 0; i < OBJ_PAGES; i++) {
		ASSERT_EQ(0, ma_probe_read(word(self->map, self->pg, i, 0), &v))
			TH_LOG("SIGBUS reading shared page %u", i);
		EXPECT_EQ(0, v) TH_LOG("new page %u not zero", i);
		ASSERT_EQ(0, ma_probe_write(word(self->map, self->pg, i, 1),
					    0xabc0000 + i));
	}
	for (i = 0; i < OBJ_PAGES; i++)
		EXPECT_EQ(0xabc0000 + i, *word(self->map, self->pg, i, 1));
	EXPECT_LE(faults + OBJ_PAGES, ma_stat("faults"));
}

TEST_F(fault, private_page_sigbus)
{
	__u64 v;

	ASSERT_EQ(0, ma_set_pages(self->fd, 3, 2, MA_PRIVATE));
	EXPECT_EQ(-1, ma_probe_read(word(self->map, self->pg, 3, 0), &v))
		TH_LOG("read of a private page did not raise SIGBUS");
	EXPECT_EQ(-1, ma_probe_write(word(self->map, self->pg, 4, 7), 1))
		TH_LOG("write to a private page did not raise SIGBUS");
	EXPECT_EQ(0, ma_probe_read(word(self->map, self->pg, 2, 0), &v))
		TH_LOG("shared neighbour below raised SIGBUS");
	EXPECT_EQ(0, ma_probe_read(word(self->map, self->pg, 5, 0), &v))
		TH_LOG("shared neighbour above raised SIGBUS");
	ASSERT_EQ(0, ma_set_pages(self->fd, 3, 2, 0));
	EXPECT_EQ(0, ma_probe_read(word(self->map, self->pg, 3, 0), &v))
		TH_LOG("page shared again still raises SIGBUS");
}

TEST_F(fault, conversion_zaps_every_mapping)
{
	char *map2 = mmap(NULL, 4 * self->pg, PROT_READ, MAP_SHARED, self->fd,
			  8 * self->pg);
	unsigned char vec[4];
	__u64 v;

	ASSERT_NE(MAP_FAILED, map2);
	/* Mapped in both views. */
	ASSERT_EQ(0, ma_probe_write(word(self->map, self->pg, 9, 0), 42));
	ASSERT_EQ(0, ma_probe_read(word(map2, self->pg, 1, 0), &v));
	ASSERT_EQ(42, v) TH_LOG("second mapping does not share the page");
	ASSERT_EQ(0, mincore(map2, 4 * self->pg, vec));
	ASSERT_EQ(1, vec[1] & 1) TH_LOG("page not resident");

	ASSERT_EQ(0, ma_set_pages(self->fd, 9, 1, MA_PRIVATE));
	EXPECT_EQ(-1, ma_probe_read(word(self->map, self->pg, 9, 0), &v))
		TH_LOG("first mapping still reads a private page");
	EXPECT_EQ(-1, ma_probe_read(word(map2, self->pg, 1, 0), &v))
		TH_LOG("second mapping still reads a private page");
	ASSERT_EQ(0, ma_set_pages(self->fd, 9, 1, 0));
	munmap(map2, 4 * self->pg);
}

static __u64 pattern(unsigned int page, unsigned int idx)
{
	return 0x5a5a000000000000ULL | (page << 16) | idx;
}

TEST_F(fault, private_to_shared_zeroes)
{
	unsigned int i, j;
	__u64 v;

	for (i = 0; i < 8; i++)
		for (j = 0; j < self->pg / 8; j++)
			*word(self->map, self->pg, i, j) = pattern(i, j);
	ASSERT_EQ(0, ma_set_pages(self->fd, 2, 4, MA_PRIVATE));
	ASSERT_EQ(0, ma_set_pages(self->fd, 2, 4, 0));
	for (i = 0; i < 8; i++) {
		bool converted = i >= 2 && i < 6;

		for (j = 0; j < self->pg / 8; j++) {
			ASSERT_EQ(0, ma_probe_read(word(self->map, self->pg, i, j), &v));
			ASSERT_EQ(converted ? 0 : pattern(i, j), v)
				TH_LOG("page %u word %u: %#llx", i, j, v);
		}
	}
}

TEST_F(fault, untouched_pages_cost_nothing)
{
	long long faults = ma_stat("faults");
	unsigned char vec[OBJ_PAGES];
	unsigned int i;

	ASSERT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, MA_PRIVATE));
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, OBJ_PAGES, 0));
	ASSERT_EQ(0, mincore(self->map, OBJ_PAGES * self->pg, vec));
	for (i = 0; i < OBJ_PAGES; i++)
		EXPECT_EQ(0, vec[i] & 1) TH_LOG("conversion allocated page %u", i);
	EXPECT_EQ(faults, ma_stat("faults"));
}

TEST_F(fault, bad_mmap)
{
	void *p;

	p = mmap(NULL, self->pg, PROT_READ, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("MAP_PRIVATE accepted");
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * self->pg, PROT_READ, MAP_SHARED, self->fd,
		 (OBJ_PAGES - 1) * self->pg);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("mapping past the end accepted");
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->pg, PROT_READ, MAP_SHARED, self->fd,
		 OBJ_PAGES * self->pg);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("mapping at the end accepted");
	p = mremap(self->map, OBJ_PAGES * self->pg, 2 * OBJ_PAGES * self->pg,
		   MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("mapping grown past the end");
}

TEST(close_with_live_mapping)
{
	long long objects = ma_stat("objects");
	__u64 pg = ma_page(), v;
	char *map;
	int fd;

	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	fd = ma_create(4 * pg, 0);
	ASSERT_LE(0, fd);
	map = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, ma_set_pages(fd, 3, 1, MA_PRIVATE));
	*word(map, pg, 0, 0) = 7;
	close(fd);

	EXPECT_EQ(objects + 1, ma_stat("objects")) TH_LOG("mapping does not keep the object");
	EXPECT_EQ(0, ma_probe_read(word(map, pg, 0, 0), &v));
	EXPECT_EQ(7, v);
	EXPECT_EQ(0, ma_probe_read(word(map, pg, 1, 0), &v))
		TH_LOG("fresh shared page after close");
	EXPECT_EQ(-1, ma_probe_read(word(map, pg, 3, 0), &v))
		TH_LOG("private page readable after close");
	ASSERT_EQ(0, munmap(map, 4 * pg));
	EXPECT_EQ(objects, ma_stat("objects")) TH_LOG("object leaked after munmap");
}

TEST_HARNESS_MAIN
