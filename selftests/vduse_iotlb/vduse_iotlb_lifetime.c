// SPDX-License-Identifier: GPL-2.0-only
/*
 * Domain lifetime: the domain fd, its mmap, the control file's id and the
 * client module's reference may go in any order; the domain dies with the
 * last one and the module-wide counters return to zero (no leak).  The
 * runner unloads both modules afterwards, which fails if anything is left.
 */
#include "kselftest_harness.h"
#include "vit_util.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(256 * VIT_PAGE)	/* 1 MiB */
#define IOVA_LIMIT	((2UL << 20) - 1)

enum holder { CTL, CLIENT, DFD, MAP, NR_HOLDERS };

static const char holder_names[][8] = { "ctl", "client", "dfd", "mmap" };

FIXTURE(life) {
	int ctl, cl, dfd;
	__u32 id;
	__u8 *dev;
	__u8 *mem;
	__u64 coh_iova;
};

FIXTURE_VARIANT(life) {
	enum holder order[NR_HOLDERS];
};

FIXTURE_VARIANT_ADD(life, ctl_client_dfd_map) { .order = { CTL, CLIENT, DFD, MAP } };
FIXTURE_VARIANT_ADD(life, map_dfd_client_ctl) { .order = { MAP, DFD, CLIENT, CTL } };
FIXTURE_VARIANT_ADD(life, dfd_ctl_map_client) { .order = { DFD, CTL, MAP, CLIENT } };
FIXTURE_VARIANT_ADD(life, client_map_ctl_dfd) { .order = { CLIENT, MAP, CTL, DFD } };
FIXTURE_VARIANT_ADD(life, dfd_map_ctl_client) { .order = { DFD, MAP, CTL, CLIENT } };
FIXTURE_VARIANT_ADD(life, client_ctl_dfd_map) { .order = { CLIENT, CTL, DFD, MAP } };

FIXTURE_SETUP(life)
{
	struct vit_test_cmd c = { .op = VIT_TEST_COH_ALLOC, .length = 2 * VIT_PAGE };
	__u64 iova = 0;
	int buf;

	ASSERT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"))
		TH_LOG("a domain is left over from an earlier test");
	self->ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, vit_create(self->ctl, IOVA_LIMIT, BOUNCE, &self->id,
				&self->dfd));
	self->cl = open(VIT_CLIENT, O_RDWR);
	ASSERT_LE(0, self->cl);
	ASSERT_EQ(0, vit_attach(self->cl, self->dfd));
	self->dev = mmap(NULL, IOVA_LIMIT + 1, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->dfd, 0);
	ASSERT_NE(MAP_FAILED, self->dev);

	/* Leave live state behind: mappings, a coherent buffer, user memory. */
	buf = vit_buf(self->cl, 64 << 10, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(self->cl, buf, 0, 64 << 10, 1));
	ASSERT_LE(0, vit_map(self->cl, buf, 0, 64 << 10, VIT_DIR_TO_DEVICE, 0, &iova));
	ASSERT_EQ(-1, vit_check(self->dev + iova, 64 << 10, 1));
	ASSERT_EQ(0, vit_op(self->cl, &c));
	self->coh_iova = c.out_iova;
	self->dev[c.out_iova] = 0x5a;
	self->mem = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	/* Pinned until the domain dies, even after this munmap. */
	ASSERT_EQ(0, vit_umem(self->ctl, VDUSE_IOTLB_UMEM_REG, self->id,
			      256 << 10, 64 << 10, self->mem));
	munmap(self->mem, 64 << 10);
}

FIXTURE_TEARDOWN(life)
{
}

TEST_F(life, release_in_any_order)
{
	static const char live[][16] = {
		"mappings", "kernel_pages", "user_pages", "coherent_pages",
	};
	bool map_alive = true, client_alive = true;
	unsigned int i, k;

	for (i = 0; i < NR_HOLDERS; i++) {
		ASSERT_EQ(1, vmk_read_key(VIT_GLOBAL_STATS, "domains"))
			TH_LOG("domain died before its last holder (%s next)",
			       holder_names[variant->order[i]]);
		/* The client's coherent buffer lives as long as the client. */
		if (map_alive && client_alive)
			ASSERT_EQ(0x5a, self->dev[self->coh_iova])
				TH_LOG("coherent page lost before %s",
				       holder_names[variant->order[i]]);
		switch (variant->order[i]) {
		case CTL:
			close(self->ctl);
			break;
		case CLIENT:
			close(self->cl);
			client_alive = false;
			if (map_alive)
				ASSERT_EQ(-1, vit_probe(self->dev + self->coh_iova))
					TH_LOG("coherent page still mapped after its free");
			break;
		case DFD:
			close(self->dfd);
			break;
		default:
			munmap(self->dev, IOVA_LIMIT + 1);
			map_alive = false;
			break;
		}
	}
	ASSERT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, "domains"))
		TH_LOG("domain outlived every holder");
	for (k = 0; k < ARRAY_SIZE(live); k++)
		EXPECT_EQ(0, vmk_read_key(VIT_GLOBAL_STATS, live[k]))
			TH_LOG("%s leaked", live[k]);
}

TEST_HARNESS_MAIN
