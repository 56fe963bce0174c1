// SPDX-License-Identifier: GPL-2.0-only
/*
 * The domain in front of an untrusted device: what one mapping leaves in a
 * bounce page never reaches another kernel buffer, an unmapped IOVA is
 * SIGBUS for the device at once, syncs stay inside their mapping, and the
 * device's DMA limits (mapping size, masks, segment size) are the truth.
 * Softirq callers map (pages and scatterlists), unmap and allocate too,
 * under lockdep on the debug kernel.
 */
#include <sched.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vit_env.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(256 * VIT_PAGE)	/* 1 MiB */
#define IOVA_LIMIT	((4UL << 20) - 1)

FIXTURE(safety) {
	struct vit_env e;
};

FIXTURE_SETUP(safety)
{
	cpu_set_t set;

	/*
	 * One CPU: the IOVA allocator's per-CPU caches then hand a freed
	 * IOVA to the next mapping of the same size, so tests can map a
	 * second buffer over the slot a first one used.
	 */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	vit_env_setup(_metadata, &self->e, IOVA_LIMIT, BOUNCE);
}

FIXTURE_TEARDOWN(safety)
{
	vit_env_teardown(_metadata, &self->e);
}

FIXTURE_VARIANT(safety) {
	__u32 dir;		/* of the first mapping of a slot */
};

FIXTURE_VARIANT_ADD(safety, to_device) { .dir = VIT_DIR_TO_DEVICE };
FIXTURE_VARIANT_ADD(safety, from_device) { .dir = VIT_DIR_FROM_DEVICE };
FIXTURE_VARIANT_ADD(safety, bidirectional) { .dir = VIT_DIR_BIDIRECTIONAL };

/* First byte of p[0..len) that is not zero, or -1. */
static long first_nonzero(const __u8 *p, __u64 len)
{
	__u64 i;

	for (i = 0; i < len; i++)
		if (p[i])
			return (long)i;
	return -1;
}

/*
 * Map one page of a fresh buffer filled with @seed in direction @dir at
 * *@iova, let the device fill the bounce page with @seed too, and unmap:
 * the slot's bounce page holds @seed's bytes, whatever the direction.
 */
static void dirty_slot(struct __test_metadata *_metadata, int cl, __u8 *dev,
		       __u32 dir, __u64 seed, __u64 *iova)
{
	int buf, map;

	buf = vit_buf(cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(cl, buf, 0, VIT_PAGE, seed));
	map = vit_map(cl, buf, 0, VIT_PAGE, dir, 0, iova);
	ASSERT_LE(0, map);
	if (dir != VIT_DIR_TO_DEVICE)
		vit_put_pattern(dev + *iova, VIT_PAGE, seed);
	ASSERT_EQ(-1, vit_check(dev + *iova, VIT_PAGE, seed));
	ASSERT_EQ(0, vit_unmap(cl, map, 0));
}

/*
 * A FROM_DEVICE mapping over a slot that an earlier mapping A used: the
 * device sees zeroes, not A's bytes nor the new buffer B's, and after it
 * writes 16 bytes B holds them followed by zeroes.  A TO_DEVICE mapping
 * made with DMA_ATTR_SKIP_CPU_SYNC shows zeroes too.
 */
TEST_F(safety, from_device_map_sanitised)
{
	__u64 iova_a = 0, iova_b = 0;
	int buf, map;
	long bad;

	dirty_slot(_metadata, self->e.cl, self->e.dev, variant->dir, 11, &iova_a);

	buf = vit_buf(self->e.cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, VIT_PAGE, 22));
	map = vit_map(self->e.cl, buf, 0, VIT_PAGE, VIT_DIR_FROM_DEVICE, 0, &iova_b);
	ASSERT_LE(0, map);
	ASSERT_EQ(iova_a, iova_b) TH_LOG("the second mapping did not reuse the slot");
	bad = first_nonzero(self->e.dev + iova_b, VIT_PAGE);
	ASSERT_EQ(-1, bad)
		TH_LOG("FROM_DEVICE map shows byte %ld = 0x%02x (A's 0x%02x, B's 0x%02x)",
		       bad, self->e.dev[iova_b + bad], vit_pattern(11, bad),
		       vit_pattern(22, bad));
	vit_put_pattern(self->e.dev + iova_b, 16, 33);
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0, VIT_PAGE,
			    self->e.tmp));
	ASSERT_EQ(-1, vit_check(self->e.tmp, 16, 33)) TH_LOG("the device's 16 bytes");
	bad = first_nonzero(self->e.tmp + 16, VIT_PAGE - 16);
	ASSERT_EQ(-1, bad)
		TH_LOG("B's byte %ld after the device's 16 is 0x%02x (A's 0x%02x)",
		       bad + 16, self->e.tmp[16 + bad], vit_pattern(11, bad + 16));

	dirty_slot(_metadata, self->e.cl, self->e.dev, variant->dir, 44, &iova_a);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, VIT_PAGE, 55));
	map = vit_map(self->e.cl, buf, 0, VIT_PAGE, VIT_DIR_TO_DEVICE,
		      VIT_TEST_F_SKIP_SYNC, &iova_b);
	ASSERT_LE(0, map);
	ASSERT_EQ(iova_a, iova_b);
	bad = first_nonzero(self->e.dev + iova_b, VIT_PAGE);
	ASSERT_EQ(-1, bad)
		TH_LOG("SKIP_CPU_SYNC mapping shows byte %ld = 0x%02x of the last one",
		       bad, self->e.dev[iova_b + bad]);
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, VIT_TEST_F_SKIP_SYNC));
}

/*
 * Unmap takes the bounce pages away from the device at once: its next
 * access to the IOVAs is SIGBUS, and a new mapping of the slots shows the
 * new data, not what the old PTEs reached.
 */
TEST_F(safety, unmap_revokes)
{
	__u64 iova = 0, iova2 = 0, len = 2 * VIT_PAGE;
	int buf, map;

	buf = vit_buf(self->e.cl, len, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, len, 3));
	map = vit_map(self->e.cl, buf, 0, len, variant->dir, 0, &iova);
	ASSERT_LE(0, map);
	ASSERT_LE(0, vit_probe(self->e.dev + iova));
	ASSERT_LE(0, vit_probe(self->e.dev + iova + VIT_PAGE));
	self->e.dev[iova + 5] = 0x77;
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
	ASSERT_EQ(-1, vit_probe(self->e.dev + iova))
		TH_LOG("the device still reads the first page after unmap");
	ASSERT_EQ(-1, vit_probe(self->e.dev + iova + VIT_PAGE))
		TH_LOG("the device still reads the second page after unmap");

	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, len, 4));
	map = vit_map(self->e.cl, buf, 0, len, VIT_DIR_TO_DEVICE, 0, &iova2);
	ASSERT_LE(0, map);
	ASSERT_EQ(-1, vit_check(self->e.dev + iova2, len, 4))
		TH_LOG("a new mapping shows stale data");
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
	ASSERT_EQ(-1, vit_probe(self->e.dev + iova2));
}

/* Poll until the device's access at @p is SIGBUS; false after 5 s. */
static int wait_revoked(const __u8 *p)
{
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500; i++) {
		if (vit_probe(p) < 0)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/*
 * Map, unmap and allocate from softirq context (a timer): the data moves
 * as in process context, an unmap there revokes the device's access from
 * a work item soon after, and coherent allocations work beside a device
 * faulting on coherent pages (lockdep on the debug kernel checks the
 * locks' softirq safety).
 */
TEST_F(safety, softirq_callers)
{
	struct vit_test_cmd c = { .op = VIT_TEST_COH_ALLOC, .length = VIT_PAGE };
	__u64 iova = 0, len = 3 * VIT_PAGE + 9;
	int buf, map, coh, coh2;

	/* A coherent page the device faults in first: the fault path's locks. */
	ASSERT_EQ(0, vit_op(self->e.cl, &c));
	coh = c.out_id;
	self->e.dev[c.out_iova] = 0x42;

	buf = vit_buf(self->e.cl, 4 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, len, 6));
	map = vit_map(self->e.cl, buf, 0, len, variant->dir, VIT_TEST_F_SOFTIRQ,
		      &iova);
	ASSERT_LE(0, map) TH_LOG("map from softirq");
	/* FROM_DEVICE: zeroes, never the buffer's bytes. */
	ASSERT_EQ(-1, variant->dir == VIT_DIR_FROM_DEVICE ?
		  first_nonzero(self->e.dev + iova, len) :
		  vit_check(self->e.dev + iova, len, 6));
	vit_put_pattern(self->e.dev + iova, len, 7);
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, VIT_TEST_F_SOFTIRQ));
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0, len, self->e.tmp));
	ASSERT_EQ(-1, vit_check(self->e.tmp, len,
				variant->dir == VIT_DIR_TO_DEVICE ? 6 : 7))
		TH_LOG("data after a softirq unmap");
	ASSERT_EQ(1, wait_revoked(self->e.dev + iova))
		TH_LOG("softirq unmap: the device still reaches the page after 5 s");
	ASSERT_EQ(1, wait_revoked(self->e.dev + iova + 3 * VIT_PAGE));

	c.flags = VIT_TEST_F_SOFTIRQ;
	c.length = 2 * VIT_PAGE;
	ASSERT_EQ(0, vit_op(self->e.cl, &c)) TH_LOG("coherent allocation from softirq");
	coh2 = c.out_id;
	ASSERT_LE(BOUNCE, c.out_iova);
	ASSERT_EQ(0, self->e.dev[c.out_iova + VIT_PAGE]) TH_LOG("zeroed");
	ASSERT_EQ(0, vit_fill(self->e.cl, coh2, 0, 2 * VIT_PAGE, 8));
	ASSERT_EQ(-1, vit_check(self->e.dev + c.out_iova, 2 * VIT_PAGE, 8));
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_FREE, coh2, 0, 0, NULL));
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_FREE, coh, 0, 0, NULL));
}

/* Byte i of p[0..len) is vit_pattern(@seed, @from + i)? -1 or the first miss. */
static long check_from(const __u8 *p, __u64 len, __u64 seed, __u64 from)
{
	__u64 i;

	for (i = 0; i < len; i++)
		if (p[i] != vit_pattern(seed, from + i))
			return (long)i;
	return -1;
}

/*
 * dma_map_sg() and dma_unmap_sg() of three entries that split an unaligned
 * range (each entry its own IOVA range), from process context and then
 * from softirq context (a timer): the device sees each entry's bytes
 * (zeroes for FROM_DEVICE) at the entry's IOVA, what it writes there comes
 * back at unmap (but for TO_DEVICE) and nothing else of the buffer
 * changes, and every entry is revoked after unmap.
 */
TEST_F(safety, sg_callers)
{
	const __u64 off = 100, len = 3 * VIT_PAGE + 777;
	struct vit_test_cmd c = { .op = VIT_TEST_MAP_SG, .offset = off,
				  .length = len, .dir = variant->dir,
				  .count = 3 };
	__u64 iova[3], start[3], elen[3], chunk = len / 3, i, j;
	struct vduse_iotlb_info info;
	__u8 *dev = self->e.dev;
	int buf, round;

	for (i = 0; i < 3; i++) {
		start[i] = i * chunk;
		elen[i] = i == 2 ? len - 2 * chunk : chunk;
	}
	buf = vit_buf(self->e.cl, 5 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, vit_fill(self->e.cl, buf, off, len, 21));
		c.id = buf;
		c.flags = round ? VIT_TEST_F_SOFTIRQ : 0;
		c.uptr = (uintptr_t)iova;
		ASSERT_EQ(0, vit_op(self->e.cl, &c))
			TH_LOG("map_sg %s", round ? "from softirq" : "");
		ASSERT_EQ(iova[0], c.out_iova);
		ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &info));
		ASSERT_EQ(3, info.out_mappings);
		for (i = 0; i < 3; i++) {
			ASSERT_EQ(-1, variant->dir == VIT_DIR_FROM_DEVICE ?
				  first_nonzero(dev + iova[i], elen[i]) :
				  check_from(dev + iova[i], elen[i], 21,
					     start[i]))
				TH_LOG("entry %llu as the device sees it",
				       (unsigned long long)i);
			for (j = 0; j < elen[i]; j++)
				dev[iova[i] + j] = vit_pattern(22, start[i] + j);
		}
		ASSERT_EQ(0, vit_unmap(self->e.cl, c.out_id, c.flags));
		ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0,
				    5 * VIT_PAGE, self->e.tmp));
		ASSERT_EQ(-1, check_from(self->e.tmp + off, len,
					 variant->dir == VIT_DIR_TO_DEVICE ?
					 21 : 22, 0))
			TH_LOG("buffer after unmap_sg");
		ASSERT_EQ(-1, first_nonzero(self->e.tmp, off));
		ASSERT_EQ(-1, first_nonzero(self->e.tmp + off + len,
					    5 * VIT_PAGE - off - len));
		for (i = 0; i < 3; i++)
			ASSERT_EQ(1, wait_revoked(dev + iova[i]))
				TH_LOG("entry %llu still reachable after unmap_sg",
				       (unsigned long long)i);
		ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &info));
		ASSERT_EQ(0, info.out_mappings);
	}
}

static int raw_sync(int cl, __u32 map, __u64 off, __u64 len, __u32 dir,
		    __u32 flags)
{
	struct vit_test_cmd c = { .op = VIT_TEST_RAW_SYNC, .id = map,
				  .offset = off, .length = len, .dir = dir,
				  .flags = flags };

	return vit_op(cl, &c);
}

/*
 * A sync longer than its mapping is clamped to it: the device's bytes past
 * the mapping's end do not reach the kernel memory after the buffer, and
 * the kernel memory there does not reach the device; whether the range
 * ends in the mapping's last page or runs on past it.
 */
TEST_F(safety, sync_clamped)
{
	static const __u64 extra[] = { 3000, 2 * VIT_PAGE };
	__u64 iova = 0, off = 100, len = 300, blen = 3 * VIT_PAGE, i;
	unsigned int x;
	__u8 *page;
	int buf, map;

	buf = vit_buf(self->e.cl, blen, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	map = vit_map(self->e.cl, buf, off, len, VIT_DIR_BIDIRECTIONAL, 0, &iova);
	ASSERT_LE(0, map);
	page = self->e.dev + iova - off;

	for (x = 0; x < ARRAY_SIZE(extra); x++) {
		/* The device writes its whole bounce page. */
		ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, blen, 1));
		vit_put_pattern(page, VIT_PAGE, 2);
		ASSERT_EQ(-ERANGE, raw_sync(self->e.cl, map, 0, len + extra[x],
					    VIT_DIR_BIDIRECTIONAL,
					    VIT_TEST_F_FOR_CPU))
			TH_LOG("sync_for_cpu %llu bytes too long", extra[x]);
		ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0, blen,
				    self->e.tmp));
		for (i = 0; i < blen; i++) {
			__u8 want = i >= off && i < off + len ?
				    vit_pattern(2, i) : vit_pattern(1, i);

			ASSERT_EQ(want, self->e.tmp[i])
				TH_LOG("kernel byte %llu after a sync_for_cpu %llu bytes too long",
				       i, extra[x]);
		}

		/* The kernel's neighbouring bytes stay away from the device. */
		memset(page, 0xee, VIT_PAGE);
		ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, blen, 3));
		ASSERT_EQ(-ERANGE, raw_sync(self->e.cl, map, 0, len + extra[x],
					    VIT_DIR_BIDIRECTIONAL, 0))
			TH_LOG("sync_for_device %llu bytes too long", extra[x]);
		for (i = 0; i < VIT_PAGE; i++) {
			__u8 want = i >= off && i < off + len ?
				    vit_pattern(3, i) : 0xee;

			ASSERT_EQ(want, page[i])
				TH_LOG("device byte %llu, sync_for_device %llu bytes too long",
				       i, extra[x]);
		}
	}
	ASSERT_EQ(-ERANGE, raw_sync(self->e.cl, map, len - 1, 2,
				    VIT_DIR_BIDIRECTIONAL, VIT_TEST_F_FOR_CPU))
		TH_LOG("sync crossing the mapping's end by one byte");

	/* In range: still fine. */
	ASSERT_EQ(0, raw_sync(self->e.cl, map, 10, len - 10, VIT_DIR_BIDIRECTIONAL,
			      VIT_TEST_F_FOR_CPU));
	ASSERT_EQ(-ENOENT, raw_sync(self->e.cl, map, -(__s64)(off + VIT_PAGE), 1,
				    VIT_DIR_BIDIRECTIONAL, VIT_TEST_F_FOR_CPU))
		TH_LOG("sync of an IOVA outside any mapping");
	ASSERT_EQ(-ENOENT, raw_sync(self->e.cl, map, -50, 60, VIT_DIR_BIDIRECTIONAL,
				    VIT_TEST_F_FOR_CPU))
		TH_LOG("sync starting before the mapping in its page");
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0, blen, self->e.tmp));
	ASSERT_EQ(-1, vit_check(self->e.tmp, off, 3)) TH_LOG("refused syncs copied");
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, VIT_TEST_F_SKIP_SYNC));
}

static int dev_info(int cl, struct vit_test_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->op = VIT_TEST_DEV_INFO;
	return vit_op(cl, c);
}

static int raw_map(int cl, __u32 buf, __u64 off, __u64 len, __u32 dir,
		   __u64 *iova)
{
	struct vit_test_cmd c = { .op = VIT_TEST_RAW_MAP, .id = buf,
				  .offset = off, .length = len, .dir = dir };
	int ret = vit_op(cl, &c);

	*iova = c.out_iova;
	return ret ? ret : (int)c.out_id;
}

/*
 * dma_max_mapping_size() is what maps: in an empty domain a mapping of
 * exactly that size maps at any offset in its first page, one byte more
 * is refused.  Scatterlist segments are limited to it too.
 */
TEST_F(safety, max_mapping_size)
{
	__u64 max, iova = 0, offs[] = { 0, 1, VIT_PAGE - 1 };
	struct vit_test_cmd c;
	unsigned int i;
	int buf, map;

	ASSERT_EQ(0, dev_info(self->e.cl, &c));
	max = c.out_max_map;
	TH_LOG("dma_max_mapping_size() %llu of a %lu byte streaming region",
	       max, BOUNCE);
	ASSERT_LT(0, max);
	ASSERT_GE(BOUNCE, max);
	ASSERT_EQ(max, c.out_max_seg) TH_LOG("dma_get_max_seg_size()");
	buf = vit_buf(self->e.cl, VIT_TEST_MAX_BUF, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		__u64 off = offs[i];

		if (off + max > VIT_TEST_MAX_BUF)
			off = VIT_TEST_MAX_BUF - max;
		map = vit_map(self->e.cl, buf, off, max, variant->dir, 0, &iova);
		ASSERT_LE(0, map) TH_LOG("map of max_mapping_size at offset %llu", off);
		ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
		map = raw_map(self->e.cl, buf, off, max, variant->dir, &iova);
		ASSERT_LE(0, map) TH_LOG("raw map of max_mapping_size at offset %llu", off);
		ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
	}
	if (max < VIT_TEST_MAX_BUF) {
		ASSERT_EQ(-EINVAL, raw_map(self->e.cl, buf, 0, max + 1,
					   variant->dir, &iova))
			TH_LOG("one byte more than max_mapping_size");
		ASSERT_GT(0, vit_map(self->e.cl, buf, 0, max + 1, variant->dir, 0,
				     &iova));
	}
}

/*
 * The streaming and coherent masks are two: narrowing the coherent one to
 * 32 bits leaves the streaming one, and coherent IOVAs then lie under
 * 4 GiB even in a domain that reaches beyond.  Masks that do not cover
 * the streaming region and a coherent page are refused.
 */
TEST(dma_masks)
{
	__u64 limit = (8ULL << 30) - 1, iova = 0;
	struct vit_test_cmd c;
	int ctl, cl, dfd, i, buf, map;
	__u32 id;

	ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, ctl);
	ASSERT_EQ(0, vit_create(ctl, limit, BOUNCE, &id, &dfd));
	cl = open(VIT_CLIENT, O_RDWR);
	ASSERT_LE(0, cl);
	ASSERT_EQ(0, vit_attach(cl, dfd));
	ASSERT_EQ(0, dev_info(cl, &c));
	EXPECT_EQ(limit, c.out_dma_mask) TH_LOG("default mask: the IOVA limit's bits");
	EXPECT_EQ(limit, c.out_coherent_mask);

	memset(&c, 0, sizeof(c));
	c.op = VIT_TEST_SET_MASK;
	c.offset = ~0ULL;
	c.length = 0xffffffffULL;
	ASSERT_EQ(0, vit_op(cl, &c)) TH_LOG("64-bit streaming, 32-bit coherent");
	ASSERT_EQ(0, dev_info(cl, &c));
	EXPECT_EQ(~0ULL, c.out_dma_mask) TH_LOG("the streaming mask is its own");
	EXPECT_EQ(0xffffffffULL, c.out_coherent_mask);

	for (i = 0; i < 4; i++) {
		memset(&c, 0, sizeof(c));
		c.op = VIT_TEST_COH_ALLOC;
		c.length = 3 * VIT_PAGE;
		ASSERT_EQ(0, vit_op(cl, &c));
		EXPECT_GE(0xffffffffULL, c.out_iova + 3 * VIT_PAGE - 1)
			TH_LOG("coherent IOVA 0x%llx above a 32-bit mask", c.out_iova);
		EXPECT_LE(BOUNCE, c.out_iova);
	}

	memset(&c, 0, sizeof(c));
	c.op = VIT_TEST_SET_MASK;
	c.length = BOUNCE - 1;
	EXPECT_EQ(-EIO, vit_op(cl, &c)) TH_LOG("coherent mask without a coherent page");
	c.length = 0;
	c.offset = 0xffff;
	EXPECT_EQ(-EIO, vit_op(cl, &c)) TH_LOG("mask short of the streaming region");
	ASSERT_EQ(0, dev_info(cl, &c));
	EXPECT_EQ(~0ULL, c.out_dma_mask) TH_LOG("a refused mask changed nothing");
	EXPECT_EQ(0xffffffffULL, c.out_coherent_mask);

	buf = vit_buf(cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	map = vit_map(cl, buf, 0, VIT_PAGE, VIT_DIR_TO_DEVICE, 0, &iova);
	ASSERT_LE(0, map) TH_LOG("streaming maps still work");
	EXPECT_GT(BOUNCE, iova);
	close(cl);
	close(dfd);
	close(ctl);
}

/*
 * The device has DMA parameters: dma_set_max_seg_size() works (without
 * them it WARNs) and is what dma_get_max_seg_size() reports.
 */
TEST_F(safety, dma_parms)
{
	struct vit_test_cmd c = { .op = VIT_TEST_SET_SEG, .length = 16 * VIT_PAGE };

	ASSERT_EQ(0, vit_op(self->e.cl, &c));
	ASSERT_EQ(0, dev_info(self->e.cl, &c));
	ASSERT_EQ(16 * VIT_PAGE, c.out_max_seg);
}

TEST_HARNESS_MAIN
