/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The set-up that the vduse_iotlb test fixtures share: a domain, the test
 * client attached to it and the device's view of it.  Include after
 * kselftest_harness.h.
 */
#ifndef VIT_ENV_H
#define VIT_ENV_H

#include "vit_util.h"

/**
 * struct vit_env - what a fixture's tests work on
 * @ctl: /dev/vduse_iotlb
 * @dfd: the domain file
 * @cl: the test client, attached to the domain
 * @id: the domain's id in @ctl
 * @dev: the device's view: the domain file mapped at IOVA 0
 * @view: bytes of @dev, the IOVA limit + 1
 * @tmp: VIT_TEST_MAX_BUF bytes of scratch
 */
struct vit_env {
	int ctl, dfd, cl;
	__u32 id;
	__u8 *dev;
	__u64 view;
	__u8 *tmp;
};

static inline void vit_env_setup(struct __test_metadata *_metadata,
				 struct vit_env *e, __u64 iova_limit,
				 __u64 bounce)
{
	e->ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, e->ctl) TH_LOG("open %s: %s", VIT_CTL, strerror(errno));
	ASSERT_EQ(0, vit_create(e->ctl, iova_limit, bounce, &e->id, &e->dfd))
		TH_LOG("create a domain of %llu bounce bytes",
		       (unsigned long long)bounce);
	e->cl = open(VIT_CLIENT, O_RDWR);
	ASSERT_LE(0, e->cl) TH_LOG("open %s: %s", VIT_CLIENT, strerror(errno));
	ASSERT_EQ(0, vit_attach(e->cl, e->dfd)) TH_LOG("attach client");
	e->view = iova_limit + 1;
	e->dev = mmap(NULL, e->view, PROT_READ | PROT_WRITE, MAP_SHARED,
		      e->dfd, 0);
	ASSERT_NE(MAP_FAILED, e->dev) TH_LOG("mmap domain: %s", strerror(errno));
	e->tmp = malloc(VIT_TEST_MAX_BUF);
	ASSERT_NE(NULL, e->tmp);
}

/* Close the client, which must unmap and free all it had, then the rest. */
static inline void vit_env_teardown(struct __test_metadata *_metadata,
				    struct vit_env *e)
{
	struct vduse_iotlb_info info;

	close(e->cl);
	EXPECT_EQ(0, vit_info(e->ctl, e->id, &info));
	EXPECT_EQ(0, info.out_mappings) TH_LOG("mappings left after close");
	EXPECT_EQ(0, info.out_coherent_pages) TH_LOG("coherent pages left");
	munmap(e->dev, e->view);
	close(e->dfd);
	close(e->ctl);
	free(e->tmp);
}

#endif /* VIT_ENV_H */
