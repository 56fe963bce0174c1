// SPDX-License-Identifier: GPL-2.0-only
/*
 * Streaming and coherent DMA through a domain, with this program playing
 * the device through the domain file: data integrity in every direction,
 * zeroed bounce pages, sync semantics, DMA_ATTR_SKIP_CPU_SYNC, coherent
 * sharing, SIGBUS outside mappings, IOVA exhaustion, bad unmaps and
 * refused MMIO mappings.
 */
#include "kselftest_harness.h"
#include "vit_env.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(256 * VIT_PAGE)	/* 1 MiB */
#define IOVA_LIMIT	((4UL << 20) - 1)

FIXTURE(dma) {
	struct vit_env e;
};

FIXTURE_SETUP(dma)
{
	vit_env_setup(_metadata, &self->e, IOVA_LIMIT, BOUNCE);
}

FIXTURE_TEARDOWN(dma)
{
	vit_env_teardown(_metadata, &self->e);
}

FIXTURE_VARIANT(dma) {
	__u32 dir;
};

FIXTURE_VARIANT_ADD(dma, to_device) { .dir = VIT_DIR_TO_DEVICE };
FIXTURE_VARIANT_ADD(dma, from_device) { .dir = VIT_DIR_FROM_DEVICE };
FIXTURE_VARIANT_ADD(dma, bidirectional) { .dir = VIT_DIR_BIDIRECTIONAL };

static const __u64 sizes[] = { 1, 7, 100, 4095, 4096, 4097, 65539, 262144 };
static const __u64 offsets[] = { 0, 1, 2049, 4095 };

/* Every size at every odd offset arrives intact in the variant's direction. */
TEST_F_TIMEOUT(dma, integrity, 120)
{
	__u32 dir = variant->dir;
	int buf, map;
	__u64 iova = 0;
	unsigned int s, o;
	long bad;

	buf = vit_buf(self->e.cl, 512 << 10, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf) TH_LOG("alloc kernel buffer");
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (o = 0; o < ARRAY_SIZE(offsets); o++) {
			__u64 len = sizes[s], off = offsets[o];
			__u64 seed = s * 16 + o;

			ASSERT_EQ(0, vit_fill(self->e.cl, buf, off, len, seed));
			map = vit_map(self->e.cl, buf, off, len, dir, 0, &iova);
			ASSERT_LE(0, map) TH_LOG("map %llu@%llu", len, off);
			ASSERT_EQ(off % VIT_PAGE, iova % VIT_PAGE)
				TH_LOG("IOVA keeps the offset in the page");
			ASSERT_GT(BOUNCE, iova + len - 1) TH_LOG("streaming IOVA");
			if (dir != VIT_DIR_FROM_DEVICE) {
				bad = vit_check(self->e.dev + iova, len, seed);
				ASSERT_EQ(-1, bad)
					TH_LOG("device sees wrong byte %ld of %llu@%llu",
					       bad, len, off);
			}
			if (dir != VIT_DIR_TO_DEVICE)
				vit_put_pattern(self->e.dev + iova, len, seed + 1000);
			ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
			ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, off,
					    len, self->e.tmp));
			bad = vit_check(self->e.tmp, len,
					dir == VIT_DIR_TO_DEVICE ? seed : seed + 1000);
			ASSERT_EQ(-1, bad)
				TH_LOG("kernel buffer wrong at byte %ld of %llu@%llu",
				       bad, len, off);
		}
	}
}

/*
 * First wrong byte of a kernel buffer filled with seed @a, of which the
 * device's bytes (seed @b, indexed from the start of the mapping's first
 * bounce page) should have come back into [@off, @off + @len) if @copied;
 * -1 if none.
 */
static long vit_copy_back_wrong(const __u8 *k, __u64 buflen, __u64 off,
				__u64 len, __u64 a, __u64 b, int copied)
{
	__u64 i;
	__u8 want;

	for (i = 0; i < buflen; i++) {
		if (copied && i >= off && i < off + len)
			want = vit_pattern(b, i - off + off % VIT_PAGE);
		else
			want = vit_pattern(a, i);
		if (k[i] != want)
			return (long)i;
	}
	return -1;
}

/*
 * The copy back moves exactly the mapped bytes: the device scribbles over
 * every byte of the bounce pages, the kernel buffer gets the mapped range
 * and nothing around it.  Every length from 1 to 17 bytes (each tail a
 * copy routine may handle apart) plus page-crossing ones, at offsets that
 * start a page, sit just after its start and cross into the next one; at
 * unmap and at sync_for_cpu.
 */
TEST_F(dma, copy_back_in_bounds)
{
	static const __u64 lens[] = { 4095, 4096, 4097, 8191 };
	static const __u64 offs[] = { 0, 1, VIT_PAGE - 3 };
	__u64 buflen = 4 * VIT_PAGE, len, off, iova = 0, span, base;
	__u32 dir = variant->dir;
	int buf, map, copied, at_sync;
	unsigned int l, o;
	long bad;

	copied = dir != VIT_DIR_TO_DEVICE;
	buf = vit_buf(self->e.cl, buflen, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	for (at_sync = 0; at_sync < 2; at_sync++) {
		for (l = 1; l < 18 + ARRAY_SIZE(lens); l++) {
			for (o = 0; o < ARRAY_SIZE(offs); o++) {
				len = l < 18 ? l : lens[l - 18];
				off = offs[o];
				ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, buflen, 40 + l));
				map = vit_map(self->e.cl, buf, off, len, dir, 0, &iova);
				ASSERT_LE(0, map) TH_LOG("map %llu@%llu", len, off);
				base = iova & ~(VIT_PAGE - 1);
				span = (iova + len + VIT_PAGE - 1) / VIT_PAGE * VIT_PAGE - base;
				vit_put_pattern(self->e.dev + base, span, 90 + l);
				if (at_sync) {
					ASSERT_EQ(0, vit_sync(self->e.cl, map, 0, len, dir,
							      VIT_TEST_F_FOR_CPU));
					ASSERT_EQ(0, vit_unmap(self->e.cl, map,
							       VIT_TEST_F_SKIP_SYNC));
				} else {
					ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
				}
				ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0,
						    buflen, self->e.tmp));
				bad = vit_copy_back_wrong(self->e.tmp, buflen, off, len,
							  40 + l, 90 + l, copied);
				ASSERT_EQ(-1, bad)
					TH_LOG("%s: kernel byte %ld wrong after %llu@%llu",
					       at_sync ? "sync_for_cpu" : "unmap",
					       bad, len, off);
			}
		}
	}
}

/* A fresh bounce page shows zeroes around a partial mapping. */
TEST_F(dma, fresh_page_zero_outside)
{
	__u8 *page;
	__u64 iova = 0;
	int buf, map, i;

	buf = vit_buf(self->e.cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	/* Kernel memory around the data is not zero: it must not leak. */
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, VIT_PAGE, 77));
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 50, 100, 3));
	map = vit_map(self->e.cl, buf, 50, 100, variant->dir, 0, &iova);
	ASSERT_LE(0, map);
	page = self->e.dev + (iova & ~(VIT_PAGE - 1));
	for (i = 0; i < (int)VIT_PAGE; i++) {
		if (i >= 50 && i < 150 && variant->dir != VIT_DIR_FROM_DEVICE)
			continue;
		ASSERT_EQ(0, page[i]) TH_LOG("byte %d of a fresh bounce page", i);
	}
	if (variant->dir != VIT_DIR_FROM_DEVICE)
		ASSERT_EQ(-1, vit_check(page + 50, 100, 3));
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
}

/* sync_for_cpu / sync_for_device copy exactly when the direction says. */
TEST_F(dma, sync)
{
	__u32 dir = variant->dir;
	__u64 iova = 0, len = 3 * VIT_PAGE + 5;
	int buf, map;

	buf = vit_buf(self->e.cl, 4 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, len, 1));
	map = vit_map(self->e.cl, buf, 0, len, dir, 0, &iova);
	ASSERT_LE(0, map);

	/* CPU writes reach the device only on sync_for_device. */
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, len, 2));
	ASSERT_EQ(0, vit_sync(self->e.cl, map, 0, len, dir, 0));
	if (dir == VIT_DIR_FROM_DEVICE) {
		ASSERT_EQ(0, self->e.dev[iova]) TH_LOG("FROM_DEVICE never copies in");
	} else {
		ASSERT_EQ(-1, vit_check(self->e.dev + iova, len, 2))
			TH_LOG("sync_for_device did not copy the new data");
	}

	/* Device writes reach the CPU only on sync_for_cpu, and only the range. */
	vit_put_pattern(self->e.dev + iova, len, 3);
	ASSERT_EQ(0, vit_sync(self->e.cl, map, VIT_PAGE, VIT_PAGE, dir,
			      VIT_TEST_F_FOR_CPU));
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0, len, self->e.tmp));
	ASSERT_EQ(-1, vit_check(self->e.tmp, VIT_PAGE, 2))
		TH_LOG("bytes outside the synced range changed");
	if (dir == VIT_DIR_TO_DEVICE) {
		ASSERT_EQ(-1, vit_check(self->e.tmp, len, 2))
			TH_LOG("TO_DEVICE sync_for_cpu must not copy back");
	} else {
		ASSERT_EQ(0, memcmp(self->e.tmp + VIT_PAGE,
				    self->e.dev + iova + VIT_PAGE, VIT_PAGE))
			TH_LOG("synced page lacks device data");
	}
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, VIT_TEST_F_SKIP_SYNC));
}

/* DMA_ATTR_SKIP_CPU_SYNC skips the copy at map and at unmap. */
TEST_F(dma, skip_cpu_sync)
{
	__u64 iova = 0;
	int buf, map;

	buf = vit_buf(self->e.cl, 2 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, 2 * VIT_PAGE, 9));
	map = vit_map(self->e.cl, buf, 0, 2 * VIT_PAGE, variant->dir,
		      VIT_TEST_F_SKIP_SYNC, &iova);
	ASSERT_LE(0, map);
	ASSERT_EQ(0, self->e.dev[iova + 100]) TH_LOG("map copied despite SKIP_CPU_SYNC");
	vit_put_pattern(self->e.dev + iova, 2 * VIT_PAGE, 10);
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, VIT_TEST_F_SKIP_SYNC));
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 0, 2 * VIT_PAGE,
			    self->e.tmp));
	ASSERT_EQ(-1, vit_check(self->e.tmp, 2 * VIT_PAGE, 9))
		TH_LOG("unmap copied back despite SKIP_CPU_SYNC");
}

/* Coherent memory is the same bytes for the kernel and the device. */
TEST_F(dma, coherent_shared)
{
	struct vit_test_cmd c = { .op = VIT_TEST_COH_ALLOC, .length = 3 * VIT_PAGE };
	__u8 *p;
	int buf;

	ASSERT_EQ(0, vit_op(self->e.cl, &c));
	buf = c.out_id;
	ASSERT_LE(BOUNCE, c.out_iova) TH_LOG("coherent IOVA above the bounce region");
	ASSERT_GE(IOVA_LIMIT, c.out_iova + 3 * VIT_PAGE - 1);
	p = self->e.dev + c.out_iova;
	ASSERT_EQ(0, p[0]) TH_LOG("coherent memory starts zeroed");
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, 3 * VIT_PAGE, 5));
	ASSERT_EQ(-1, vit_check(p, 3 * VIT_PAGE, 5)) TH_LOG("device misses kernel writes");
	vit_put_pattern(p + 10, 2 * VIT_PAGE, 6);
	ASSERT_EQ(0, vit_rw(self->e.cl, VIT_TEST_BUF_READ, buf, 10, 2 * VIT_PAGE,
			    self->e.tmp));
	ASSERT_EQ(-1, vit_check(self->e.tmp, 2 * VIT_PAGE, 6))
		TH_LOG("kernel misses device writes");

	/* Freed coherent memory is gone from the device at once. */
	c.op = VIT_TEST_BUF_FREE;
	c.id = buf;
	ASSERT_EQ(0, vit_op(self->e.cl, &c));
	ASSERT_EQ(-1, vit_probe(p)) TH_LOG("freed coherent page still mapped");
}

/* Only live mappings and allocations are visible; the rest is SIGBUS. */
TEST_F(dma, sigbus_outside_mappings)
{
	__u64 iova = 0;
	int buf, map;

	ASSERT_EQ(-1, vit_probe(self->e.dev + VIT_PAGE)) TH_LOG("unmapped streaming IOVA");
	ASSERT_EQ(-1, vit_probe(self->e.dev + BOUNCE + 5 * VIT_PAGE))
		TH_LOG("unallocated coherent IOVA");
	buf = vit_buf(self->e.cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	map = vit_map(self->e.cl, buf, 0, VIT_PAGE, variant->dir, 0, &iova);
	ASSERT_LE(0, map);
	ASSERT_LE(0, vit_probe(self->e.dev + iova)) TH_LOG("mapped IOVA must be readable");
	ASSERT_EQ(-1, vit_probe(self->e.dev + iova + VIT_PAGE))
		TH_LOG("page after a one-page mapping");
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
	/* Beyond the IOVA limit the domain file cannot even be mapped. */
	ASSERT_EQ(MAP_FAILED, mmap(NULL, VIT_PAGE, PROT_READ, MAP_SHARED,
				   self->e.dfd, IOVA_LIMIT + 1));
	ASSERT_EQ(MAP_FAILED, mmap(NULL, VIT_PAGE, PROT_READ, MAP_PRIVATE,
				   self->e.dfd, 0)) TH_LOG("private mappings refused");
}

/* Running out of IOVA fails the map cleanly and recovers after unmaps. */
TEST_F(dma, iova_exhaustion)
{
	__u64 iova = 0;
	int buf, maps[16], n, m, i;

	/*
	 * Each mapping has a 64 KiB slice of its own: the DMA API debug code
	 * warns when more than seven live mappings the device may write
	 * share a cacheline.
	 */
	buf = vit_buf(self->e.cl, VIT_TEST_MAX_BUF, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	for (n = 0; n < 16; n++) {
		maps[n] = vit_map(self->e.cl, buf, n << 16, 64 << 10, variant->dir,
				  0, &iova);
		if (maps[n] < 0)
			break;
	}
	/* 1 MiB minus IOVA page 0 holds fewer than sixteen 64 KiB mappings. */
	ASSERT_GT(16, n) TH_LOG("%d mappings of 64 KiB fit in 1 MiB", n);
	ASSERT_LE(8, n) TH_LOG("only %d mappings before exhaustion", n);
	ASSERT_EQ(-ENOSPC, maps[n]) TH_LOG("exhausted map must fail");
	m = vit_map(self->e.cl, buf, n << 16, 64 << 10, variant->dir, 0, &iova);
	ASSERT_GT(0, m) TH_LOG("still exhausted");
	ASSERT_EQ(0, vit_unmap(self->e.cl, maps[n - 1], 0));
	maps[n - 1] = vit_map(self->e.cl, buf, (n - 1) << 16, 64 << 10,
			      variant->dir, 0, &iova);
	ASSERT_LE(0, maps[n - 1]) TH_LOG("map after unmap must succeed again");
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, vit_unmap(self->e.cl, maps[i], 0));
	m = vit_map(self->e.cl, buf, 0, 64 << 10, variant->dir, 0, &iova);
	ASSERT_LE(0, m) TH_LOG("map after full recovery");
	ASSERT_EQ(0, vit_unmap(self->e.cl, m, 0));
}

/* The kernel API refuses unmaps of what is not mapped, changing nothing. */
TEST_F(dma, bad_unmap)
{
	struct vit_test_cmd c = { .op = VIT_TEST_RAW_UNMAP, .dir = variant->dir };
	__u64 iova = 0;
	int buf, map;

	c.offset = 16 * VIT_PAGE;
	c.length = 100;
	ASSERT_EQ(-ENOENT, vit_op(self->e.cl, &c)) TH_LOG("never mapped IOVA");
	c.offset = BOUNCE - 10;
	ASSERT_EQ(-ERANGE, vit_op(self->e.cl, &c)) TH_LOG("range leaves the region");
	buf = vit_buf(self->e.cl, 2 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 8, 2 * VIT_PAGE - 8, 4));
	map = vit_map(self->e.cl, buf, 8, 2 * VIT_PAGE - 8, variant->dir, 0, &iova);
	ASSERT_LE(0, map);
	c.offset = iova;
	c.length = VIT_PAGE;
	ASSERT_EQ(-ENOENT, vit_op(self->e.cl, &c)) TH_LOG("wrong size");
	c.offset = iova + VIT_PAGE;
	c.length = 100;
	ASSERT_EQ(-ENOENT, vit_op(self->e.cl, &c)) TH_LOG("middle of a mapping");
	c.offset = iova - 8;
	c.length = 2 * VIT_PAGE - 8;
	ASSERT_EQ(-ENOENT, vit_op(self->e.cl, &c)) TH_LOG("wrong offset");
	if (variant->dir != VIT_DIR_FROM_DEVICE)
		ASSERT_EQ(-1, vit_check(self->e.dev + iova, 2 * VIT_PAGE - 8, 4))
			TH_LOG("mapping damaged by refused unmaps");
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0)) TH_LOG("the real unmap works");
}

/*
 * MMIO has no page to bounce from: dma_map_resource() (DMA_ATTR_MMIO on
 * 7.x, no .map_resource op on 6.12) gets DMA_MAPPING_ERROR, and the domain
 * is left as it was: no mapping, no bounce page, no byte copied, a live
 * mapping still intact, and ordinary maps still work.
 */
TEST_F(dma, map_resource_refused)
{
	struct vit_test_cmd c = { .op = VIT_TEST_MAP_RESOURCE,
				  .dir = variant->dir };
	struct vduse_iotlb_info before, after;
	__u32 dir = variant->dir;
	__u64 iova = 0, iova2 = 0;
	int buf, map, map2;

	buf = vit_buf(self->e.cl, 4 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, 0, VIT_PAGE, 11));
	ASSERT_EQ(0, vit_fill(self->e.cl, buf, VIT_PAGE, 3 * VIT_PAGE, 12));
	map = vit_map(self->e.cl, buf, 0, VIT_PAGE, dir, 0, &iova);
	ASSERT_LE(0, map) TH_LOG("a live mapping before the refused ones");
	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &before));
	ASSERT_EQ(1, before.out_mappings);

	c.id = buf;
	c.offset = VIT_PAGE;
	c.length = VIT_PAGE;
	ASSERT_EQ(-ENOSPC, vit_op(self->e.cl, &c))
		TH_LOG("dma_map_resource() of a page got IOVA 0x%llx", c.out_iova);
	c.offset = 2 * VIT_PAGE - 100;
	c.length = 200;
	ASSERT_EQ(-ENOSPC, vit_op(self->e.cl, &c))
		TH_LOG("dma_map_resource() across pages got IOVA 0x%llx",
		       c.out_iova);

	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &after));
	ASSERT_EQ(before.out_mappings, after.out_mappings)
		TH_LOG("refused MMIO maps changed the mapping count");
	ASSERT_EQ(before.out_kernel_pages + before.out_reclaimed,
		  after.out_kernel_pages + after.out_reclaimed)
		TH_LOG("refused MMIO maps allocated bounce pages");
	ASSERT_EQ(before.out_user_pages, after.out_user_pages);
	ASSERT_EQ(before.out_coherent_pages, after.out_coherent_pages);
	ASSERT_EQ(before.out_bytes_to_dev, after.out_bytes_to_dev)
		TH_LOG("refused MMIO maps copied to the device");
	ASSERT_EQ(before.out_bytes_from_dev, after.out_bytes_from_dev)
		TH_LOG("refused MMIO maps copied from the device");
	if (dir != VIT_DIR_FROM_DEVICE)
		ASSERT_EQ(-1, vit_check(self->e.dev + iova, VIT_PAGE, 11))
			TH_LOG("live mapping damaged by refused MMIO maps");

	/* The same bytes map normally through the page API. */
	map2 = vit_map(self->e.cl, buf, VIT_PAGE, VIT_PAGE, dir, 0, &iova2);
	ASSERT_LE(0, map2) TH_LOG("ordinary map after refused MMIO maps");
	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &after));
	ASSERT_EQ(2, after.out_mappings);
	if (dir != VIT_DIR_FROM_DEVICE)
		ASSERT_EQ(-1, vit_check(self->e.dev + iova2, VIT_PAGE, 12))
			TH_LOG("device misses the ordinary mapping's data");
	ASSERT_EQ(0, vit_unmap(self->e.cl, map2, 0));
	ASSERT_EQ(0, vit_unmap(self->e.cl, map, 0));
}

/*
 * The benchmark op: VIT_TEST_F_SPLIT gives the map half apart within the
 * total, leaves no mapping behind, and bad flags are refused.
 */
TEST_F(dma, bench_op)
{
	struct vit_test_cmd c = { .op = VIT_TEST_BENCH, .length = 2 * VIT_PAGE + 3,
				  .dir = variant->dir, .count = 8,
				  .flags = VIT_TEST_F_SPLIT };
	struct vduse_iotlb_info info;

	ASSERT_EQ(0, vit_op(self->e.cl, &c)) TH_LOG("split benchmark");
	ASSERT_LT(0, c.out_map_ns) TH_LOG("map half not timed");
	ASSERT_LT(c.out_map_ns, c.out_ns) TH_LOG("map half exceeds the total");
	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &info));
	ASSERT_EQ(0, info.out_mappings) TH_LOG("benchmark left mappings");

	c.flags = VIT_TEST_F_SPLIT | VIT_TEST_F_MEMCPY;
	ASSERT_EQ(-EINVAL, vit_op(self->e.cl, &c)) TH_LOG("memcpy has no halves");
	c.flags = VIT_TEST_F_MEMSET;
	ASSERT_EQ(0, vit_op(self->e.cl, &c)) TH_LOG("memset reference");
	ASSERT_LT(0, c.out_ns);
	c.flags = VIT_TEST_F_MEMSET | VIT_TEST_F_MEMCPY;
	ASSERT_EQ(-EINVAL, vit_op(self->e.cl, &c)) TH_LOG("memset and memcpy");
	c.flags = VIT_TEST_F_SKIP_SYNC;
	ASSERT_EQ(-EINVAL, vit_op(self->e.cl, &c)) TH_LOG("flag foreign to the op");
	c.flags = 0;
	c.count = 0;
	ASSERT_EQ(-EINVAL, vit_op(self->e.cl, &c)) TH_LOG("zero iterations");
}

/* Is swiotlb forced on every dma-direct device of this guest? */
static int swiotlb_forced(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	return !!strstr(line, "swiotlb=force");
}

/*
 * VIT_TEST_F_DIRECT runs the benchmark loop on the client's own dma-direct
 * device, needs no domain and leaves nothing mapped on the domain; its maps
 * bounce (through swiotlb) exactly when swiotlb is forced.  The flag is
 * refused with memcpy and by every other op.
 */
TEST_F(dma, bench_direct)
{
	struct vit_test_cmd c = { .op = VIT_TEST_BENCH, .length = 2 * VIT_PAGE + 3,
				  .dir = variant->dir, .count = 8,
				  .flags = VIT_TEST_F_DIRECT };
	struct vduse_iotlb_info info;
	int cl, forced, buf;
	__u64 iova;

	forced = swiotlb_forced();
	ASSERT_LE(0, forced) TH_LOG("read /proc/cmdline");
	cl = open(VIT_CLIENT, O_RDWR);
	ASSERT_LE(0, cl);

	ASSERT_EQ(0, vit_op(cl, &c)) TH_LOG("dma-direct benchmark, no domain");
	ASSERT_LT(0, c.out_ns);
	ASSERT_EQ(forced ? c.count : 0, c.out_bounced)
		TH_LOG("%llu of %llu dma-direct maps bounced, swiotlb %sforced",
		       c.out_bounced, c.count, forced ? "" : "not ");
	ASSERT_EQ(forced, c.out_in_swiotlb) TH_LOG("last map in swiotlb?");
	c.flags = VIT_TEST_F_DIRECT | VIT_TEST_F_SPLIT;
	c.out_bounced = ~0ULL;
	c.out_in_swiotlb = 2;
	ASSERT_EQ(0, vit_op(cl, &c)) TH_LOG("split dma-direct benchmark");
	ASSERT_LT(0, c.out_map_ns) TH_LOG("map half not timed");
	ASSERT_LT(c.out_map_ns, c.out_ns) TH_LOG("map half exceeds the total");
	ASSERT_EQ(forced ? c.count : 0, c.out_bounced);
	ASSERT_EQ(forced, c.out_in_swiotlb);

	c.flags = VIT_TEST_F_DIRECT | VIT_TEST_F_MEMCPY;
	ASSERT_EQ(-EINVAL, vit_op(cl, &c)) TH_LOG("memcpy has no device");
	c.flags = VIT_TEST_F_DIRECT;
	c.length = VIT_TEST_MAX_BUF + 1;
	ASSERT_EQ(-EINVAL, vit_op(cl, &c)) TH_LOG("over-long dma-direct loop");
	c.length = VIT_PAGE;
	c.dir = VIT_DIR_FROM_DEVICE + 1;
	ASSERT_EQ(-EINVAL, vit_op(cl, &c)) TH_LOG("bad direction");
	c.dir = variant->dir;
	c.flags = 0;
	ASSERT_EQ(-ENODEV, vit_op(cl, &c)) TH_LOG("domain benchmark, no domain");
	close(cl);

	/* Only the benchmark takes the flag. */
	buf = vit_buf(self->e.cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(-EINVAL, vit_map(self->e.cl, buf, 0, VIT_PAGE, variant->dir,
				   VIT_TEST_F_DIRECT, &iova))
		TH_LOG("map with VIT_TEST_F_DIRECT");
	c = (struct vit_test_cmd){ .op = VIT_TEST_DEV_INFO,
				   .flags = VIT_TEST_F_DIRECT };
	ASSERT_EQ(-EINVAL, vit_op(self->e.cl, &c)) TH_LOG("DEV_INFO with the flag");
	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &info));
	ASSERT_EQ(0, info.out_mappings) TH_LOG("dma-direct loop touched the domain");
	ASSERT_EQ(0, info.out_bytes_to_dev + info.out_bytes_from_dev);
}

TEST_HARNESS_MAIN
