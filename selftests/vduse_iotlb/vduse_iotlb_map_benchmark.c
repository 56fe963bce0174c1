// SPDX-License-Identifier: GPL-2.0-only
/*
 * A DMA-API user the project did not write: the kernel's dma_map_benchmark
 * driver (CONFIG_DMA_MAP_BENCHMARK, kernel/dma/map_benchmark.c), bound to
 * the test client's forwarding device (VIT_TEST_FWD_DEVICE), whose DMA
 * ops are the domain's, maps and unmaps from several kernel threads at
 * once for a second: dma_map_single() of one or 16 pages, or dma_map_sg()
 * of 16 one-page entries, in each direction.  The ioctl is the one of
 * tools/dma/dma_map_benchmark.c.  Each run must succeed with non-zero
 * average map and unmap times, have gone through the domain (its copy
 * counters grew by whole mappings, no mapping is left) and leave the
 * DMA-API debug error count where it was (the runner also fails on any
 * report on the console).  Kernels without the driver (Debian's) skip.
 */
#include "kselftest_harness.h"
#include "vit_env.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(8UL << 20)
#define IOVA_LIMIT	((16UL << 20) - 1)

#define DRV		"/sys/bus/platform/drivers/dma_map_benchmark"
#define BENCH_FILE	"/sys/kernel/debug/dma_map_benchmark"
#define DMA_API_ERRORS	"/sys/kernel/debug/dma-api/error_count"
#define DMA_API_OFF	"/sys/kernel/debug/dma-api/disabled"

/*
 * include/uapi/linux/map_benchmark.h of Linux 7.3 (not in the build
 * host's headers); map_mode was part of expansion[] before the
 * scatterlist mode, so a kernel without it would run single maps.
 */
#define DMA_MAP_BENCHMARK	_IOWR('d', 1, struct map_benchmark)
#define DMA_MAP_BIDIRECTIONAL	0
#define DMA_MAP_TO_DEVICE	1
#define DMA_MAP_FROM_DEVICE	2
#define DMA_MAP_BENCH_SINGLE_MODE	0
#define DMA_MAP_BENCH_SG_MODE		1

struct map_benchmark {
	__u64 avg_map_100ns;
	__u64 map_stddev;
	__u64 avg_unmap_100ns;
	__u64 unmap_stddev;
	__u32 threads;
	__u32 seconds;
	__s32 node;
	__u32 dma_bits;
	__u32 dma_dir;
	__u32 dma_trans_ns;
	__u32 granule;
	__u8 map_mode;
	__u8 expansion[75];
};

FIXTURE(kbench) {
	struct vit_env e;
	char name[64];
	int bench;
	bool bound;
};

FIXTURE_VARIANT(kbench) {
	__u8 mode;
	__u32 dir;	/* DMA_MAP_* */
	__u32 granule;	/* pages per map, or one-page entries per list */
};

FIXTURE_VARIANT_ADD(kbench, single_to_device_4k) {
	.mode = DMA_MAP_BENCH_SINGLE_MODE, .dir = DMA_MAP_TO_DEVICE,
	.granule = 1 };
FIXTURE_VARIANT_ADD(kbench, single_from_device_64k) {
	.mode = DMA_MAP_BENCH_SINGLE_MODE, .dir = DMA_MAP_FROM_DEVICE,
	.granule = 16 };
FIXTURE_VARIANT_ADD(kbench, single_bidirectional_64k) {
	.mode = DMA_MAP_BENCH_SINGLE_MODE, .dir = DMA_MAP_BIDIRECTIONAL,
	.granule = 16 };
FIXTURE_VARIANT_ADD(kbench, sg_to_device_16) {
	.mode = DMA_MAP_BENCH_SG_MODE, .dir = DMA_MAP_TO_DEVICE,
	.granule = 16 };
FIXTURE_VARIANT_ADD(kbench, sg_from_device_16) {
	.mode = DMA_MAP_BENCH_SG_MODE, .dir = DMA_MAP_FROM_DEVICE,
	.granule = 16 };
FIXTURE_VARIANT_ADD(kbench, sg_bidirectional_16) {
	.mode = DMA_MAP_BENCH_SG_MODE, .dir = DMA_MAP_BIDIRECTIONAL,
	.granule = 16 };

FIXTURE_SETUP(kbench)
{
	struct vit_test_cmd c = { .op = VIT_TEST_FWD_DEVICE };
	char path[160];

	self->bench = -1;
	if (access(DRV, F_OK))
		SKIP(return,
		     "no dma_map_benchmark driver (CONFIG_DMA_MAP_BENCHMARK)");
	vit_env_setup(_metadata, &self->e, IOVA_LIMIT, BOUNCE);
	ASSERT_EQ(0, vit_op(self->e.cl, &c));
	snprintf(self->name, sizeof(self->name), "vduse_iotlb_fwd.%u.auto",
		 c.out_id);
	snprintf(path, sizeof(path), "/sys/bus/platform/devices/%s/driver_override",
		 self->name);
	ASSERT_EQ(0, vmk_write_file(path, "dma_map_benchmark"));
	ASSERT_EQ(0, vmk_write_file(DRV "/bind", self->name))
		TH_LOG("bind %s to dma_map_benchmark", self->name);
	self->bound = true;
	self->bench = open(BENCH_FILE, O_RDWR);
	ASSERT_LE(0, self->bench) TH_LOG("%s: %s", BENCH_FILE, strerror(errno));
}

FIXTURE_TEARDOWN(kbench)
{
	if (self->bench >= 0)
		close(self->bench);
	if (self->bound)
		EXPECT_EQ(0, vmk_write_file(DRV "/unbind", self->name));
	/* Closing the client unregisters the forwarding device. */
	vit_env_teardown(_metadata, &self->e);
}

/*
 * Four threads on two vCPUs for one second; 32-bit DMA mask (the tool's
 * default), no simulated transfer time.
 */
TEST_F(kbench, run)
{
	struct map_benchmark mb = {
		.threads = 4, .seconds = 1, .node = -1, .dma_bits = 32,
		.dma_dir = variant->dir, .granule = variant->granule,
		.map_mode = variant->mode,
	};
	bool to_dev = variant->dir != DMA_MAP_FROM_DEVICE;
	bool from_dev = variant->dir != DMA_MAP_TO_DEVICE;
	__u64 unit = variant->mode == DMA_MAP_BENCH_SG_MODE ?
		     VIT_PAGE : variant->granule * VIT_PAGE;
	struct vduse_iotlb_info before, after;
	long errors = vmk_read_long(DMA_API_ERRORS);
	__u64 to, from;

	if (!access(DMA_API_OFF, F_OK))
		ASSERT_EQ(0, vmk_read_long(DMA_API_OFF))
			TH_LOG("DMA-API debug has switched itself off");
	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &before));
	ASSERT_EQ(0, vit_ioctl(self->bench, DMA_MAP_BENCHMARK, &mb))
		TH_LOG("dma_map_benchmark failed (a map failed? see the console)");
	ASSERT_EQ(0, vit_info(self->e.ctl, self->e.id, &after));

	ksft_print_msg("%s: avg map %.1f us (stddev %.1f), unmap %.1f us (stddev %.1f)\n",
		       self->name, mb.avg_map_100ns / 10.0, mb.map_stddev / 10.0,
		       mb.avg_unmap_100ns / 10.0, mb.unmap_stddev / 10.0);
	EXPECT_LT(0, mb.avg_map_100ns);
	EXPECT_LT(0, mb.avg_unmap_100ns);
	/* Every map went through the domain, and every unmap. */
	EXPECT_EQ(0, after.out_mappings);
	to = after.out_bytes_to_dev - before.out_bytes_to_dev;
	from = after.out_bytes_from_dev - before.out_bytes_from_dev;
	ksft_print_msg("domain: %llu maps copied in, %llu copied back\n",
		       (unsigned long long)(to / unit),
		       (unsigned long long)(from / unit));
	EXPECT_EQ(0, to % unit);
	EXPECT_EQ(0, from % unit);
	EXPECT_EQ(to_dev, to > 0);
	EXPECT_EQ(from_dev, from > 0);
	if (to_dev && from_dev)
		EXPECT_EQ(to, from) TH_LOG("bidirectional: every map copied both ways");
	if (errors >= 0)
		EXPECT_EQ(errors, vmk_read_long(DMA_API_ERRORS))
			TH_LOG("DMA-API debug counted errors");
}

TEST_HARNESS_MAIN
