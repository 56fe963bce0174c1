// SPDX-License-Identifier: GPL-2.0-only
/*
 * Changing what backs the bounce table while DMA is in flight: user bounce
 * memory registered and deregistered mid-stream, shrinker reclaim of idle
 * kernel bounce pages, and two mappers on two vCPUs at once.
 */
#include <pthread.h>
#include <sched.h>

#include "kselftest_harness.h"
#include "vit_util.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(256 * VIT_PAGE)	/* 1 MiB */
#define IOVA_LIMIT	((2UL << 20) - 1)

FIXTURE(umem) {
	int ctl, dfd, cl;
	__u32 id;
	__u8 *dev;
	__u8 *mem;		/* user bounce memory for the whole region */
	__u8 *tmp;
};

FIXTURE_SETUP(umem)
{
	self->ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", VIT_CTL, strerror(errno));
	ASSERT_EQ(0, vit_create(self->ctl, IOVA_LIMIT, BOUNCE, &self->id,
				&self->dfd));
	self->cl = open(VIT_CLIENT, O_RDWR);
	ASSERT_LE(0, self->cl);
	ASSERT_EQ(0, vit_attach(self->cl, self->dfd));
	self->dev = mmap(NULL, IOVA_LIMIT + 1, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->dfd, 0);
	ASSERT_NE(MAP_FAILED, self->dev);
	self->mem = mmap(NULL, BOUNCE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 0xee, BOUNCE);
	self->tmp = malloc(VIT_TEST_MAX_BUF);
	ASSERT_NE(NULL, self->tmp);
}

FIXTURE_TEARDOWN(umem)
{
	close(self->cl);
	munmap(self->dev, IOVA_LIMIT + 1);
	close(self->dfd);
	close(self->ctl);
	munmap(self->mem, BOUNCE);
	free(self->tmp);
}

/* Registration and deregistration keep the data of live mappings. */
TEST_F(umem, switch_keeps_inflight_data)
{
	struct vduse_iotlb_info info;
	__u64 iova_out = 0, iova_in = 0, len = 3 * VIT_PAGE + 333;
	int buf_out, buf_in, m_out, m_in;

	buf_out = vit_buf(self->cl, 4 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	buf_in = vit_buf(self->cl, 4 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf_out);
	ASSERT_LE(0, buf_in);
	ASSERT_EQ(0, vit_fill(self->cl, buf_out, 17, len, 1));
	m_out = vit_map(self->cl, buf_out, 17, len, VIT_DIR_TO_DEVICE, 0, &iova_out);
	ASSERT_LE(0, m_out);
	m_in = vit_map(self->cl, buf_in, 5, len, VIT_DIR_FROM_DEVICE, 0, &iova_in);
	ASSERT_LE(0, m_in);
	/* The device has already written half of its input. */
	vit_put_pattern(self->dev + iova_in, len, 2);

	ASSERT_EQ(0, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, self->id, 0,
			      BOUNCE, self->mem));
	ASSERT_EQ(0, vit_info(self->ctl, self->id, &info));
	EXPECT_EQ(BOUNCE / VIT_PAGE, info.out_user_pages);
	EXPECT_EQ(0, info.out_kernel_pages) TH_LOG("kernel bounce pages freed");
	ASSERT_EQ(-1, vit_check(self->mem + iova_out, len, 1))
		TH_LOG("outgoing data lost by the switch to user memory");
	ASSERT_EQ(-1, vit_check(self->mem + iova_in, len, 2))
		TH_LOG("device-written data lost by the switch");
	EXPECT_EQ(-1, vit_probe(self->dev + iova_out))
		TH_LOG("user-backed IOVAs are not mapped through the domain file");

	/* The device works in its own memory now. */
	vit_put_pattern(self->mem + iova_in, len, 3);
	ASSERT_EQ(0, vit_unmap(self->cl, m_in, 0));
	ASSERT_EQ(0, vit_rw(self->cl, VIT_TEST_BUF_READ, buf_in, 5, len, self->tmp));
	ASSERT_EQ(-1, vit_check(self->tmp, len, 3)) TH_LOG("unmap from user memory");

	/* New mappings bounce through user memory. */
	m_in = vit_map(self->cl, buf_in, 0, VIT_PAGE, VIT_DIR_FROM_DEVICE, 0, &iova_in);
	ASSERT_LE(0, m_in);
	vit_put_pattern(self->mem + iova_in, VIT_PAGE, 4);

	ASSERT_EQ(0, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_DEREG, self->id, 0,
			      BOUNCE, NULL));
	ASSERT_EQ(-1, vit_check(self->dev + iova_out, len, 1))
		TH_LOG("outgoing data lost by the switch back");
	ASSERT_EQ(0, vit_unmap(self->cl, m_in, 0));
	ASSERT_EQ(0, vit_rw(self->cl, VIT_TEST_BUF_READ, buf_in, 0, VIT_PAGE,
			    self->tmp));
	ASSERT_EQ(-1, vit_check(self->tmp, VIT_PAGE, 4))
		TH_LOG("device data lost by deregistration");
	ASSERT_EQ(0, vit_unmap(self->cl, m_out, 0));
	ASSERT_EQ(0, vit_info(self->ctl, self->id, &info));
	EXPECT_EQ(0, info.out_user_pages);
	EXPECT_EQ(0, info.out_mappings);
}

static void shrink_slabs(struct __test_metadata *_metadata)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "2\n", 2));
	close(fd);
}

/* The shrinker frees idle bounce pages and leaves live ones alone. */
TEST_F(umem, shrinker_reclaims_idle_pages)
{
	struct vduse_iotlb_info before, after;
	__u64 iova = 0, live_iova = 0;
	int buf, map, live, i;

	buf = vit_buf(self->cl, 256 << 10, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->cl, buf, 0, 256 << 10, 8));
	live = vit_map(self->cl, buf, 0, 64 << 10, VIT_DIR_BIDIRECTIONAL, 0,
		       &live_iova);
	ASSERT_LE(0, live);
	for (i = 0; i < 8; i++) {
		map = vit_map(self->cl, buf, 0, 256 << 10, VIT_DIR_TO_DEVICE, 0, &iova);
		ASSERT_LE(0, map);
		ASSERT_EQ(0, self->dev[iova + 4096] ^ vit_pattern(8, 4096));
		ASSERT_EQ(0, vit_unmap(self->cl, map, 0));
	}
	ASSERT_EQ(0, vit_info(self->ctl, self->id, &before));
	ASSERT_LE(64 + 16, before.out_kernel_pages) TH_LOG("bounce pages in use");

	shrink_slabs(_metadata);
	ASSERT_EQ(0, vit_info(self->ctl, self->id, &after));
	EXPECT_LT(0, after.out_reclaimed) TH_LOG("nothing reclaimed");
	EXPECT_EQ(16, after.out_kernel_pages)
		TH_LOG("%llu pages left; only the live mapping's 16 should stay",
		       (unsigned long long)after.out_kernel_pages);
	EXPECT_EQ(before.out_kernel_pages - 16, after.out_reclaimed);

	/* The live mapping kept its data both ways. */
	ASSERT_EQ(-1, vit_check(self->dev + live_iova, 64 << 10, 8));
	vit_put_pattern(self->dev + live_iova, 64 << 10, 9);
	ASSERT_EQ(0, vit_unmap(self->cl, live, 0));
	ASSERT_EQ(0, vit_rw(self->cl, VIT_TEST_BUF_READ, buf, 0, 64 << 10, self->tmp));
	ASSERT_EQ(-1, vit_check(self->tmp, 64 << 10, 9));

	/* Reclaimed slots come back zeroed and work again. */
	ASSERT_EQ(0, vit_fill(self->cl, buf, 100, 200, 10));
	map = vit_map(self->cl, buf, 100, 200, VIT_DIR_TO_DEVICE, 0, &iova);
	ASSERT_LE(0, map);
	EXPECT_EQ(0, self->dev[iova - 100]) TH_LOG("recycled page not zeroed");
	ASSERT_EQ(-1, vit_check(self->dev + iova, 200, 10));
	ASSERT_EQ(0, vit_unmap(self->cl, map, 0));
}

struct mapper {
	int cl, cpu, ok;
	__u8 *dev;
	unsigned int rounds;
};

/* One vCPU's worth of map / device access / unmap with checks. */
static void *mapper_run(void *arg)
{
	struct mapper *m = arg;
	__u8 out[8192];
	cpu_set_t set;
	__u64 iova = 0;
	unsigned int r;
	int buf, map;

	CPU_ZERO(&set);
	CPU_SET(m->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	buf = vit_buf(m->cl, 3 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	if (buf < 0)
		return NULL;
	for (r = 0; r < m->rounds; r++) {
		__u64 seed = m->cpu * 100000 + r, off = r % 1000;

		if (vit_fill(m->cl, buf, off, 8000, seed))
			return NULL;
		map = vit_map(m->cl, buf, off, 8000, VIT_DIR_BIDIRECTIONAL, 0, &iova);
		if (map < 0 || vit_check(m->dev + iova, 8000, seed) != -1)
			return NULL;
		vit_put_pattern(m->dev + iova, 8000, seed + 7);
		if (vit_unmap(m->cl, map, 0) ||
		    vit_rw(m->cl, VIT_TEST_BUF_READ, buf, off, 8000, out) ||
		    vit_check(out, 8000, seed + 7) != -1)
			return NULL;
	}
	m->ok = 1;
	return NULL;
}

TEST_F_TIMEOUT(umem, concurrent_mappers, 120)
{
	struct mapper m[2];
	struct vduse_iotlb_info info;
	pthread_t t[2];
	int i;

	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN)) TH_LOG("needs 2 vCPUs");
	for (i = 0; i < 2; i++) {
		m[i] = (struct mapper){ .cpu = i, .dev = self->dev, .rounds = 1500 };
		m[i].cl = open(VIT_CLIENT, O_RDWR);
		ASSERT_LE(0, m[i].cl);
		ASSERT_EQ(0, vit_attach(m[i].cl, self->dfd));
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, mapper_run, &m[i]));
	/* Reclaim runs against the mappers meanwhile. */
	for (i = 0; i < 5; i++)
		shrink_slabs(_metadata);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_TRUE(m[i].ok) TH_LOG("mapper on CPU %d saw wrong data", i);
		close(m[i].cl);
	}
	ASSERT_EQ(0, vit_info(self->ctl, self->id, &info));
	EXPECT_EQ(0, info.out_mappings);
	EXPECT_EQ(2 * 1500 * 8000ULL, info.out_bytes_to_dev);
	EXPECT_EQ(2 * 1500 * 8000ULL, info.out_bytes_from_dev);
}

TEST_HARNESS_MAIN
