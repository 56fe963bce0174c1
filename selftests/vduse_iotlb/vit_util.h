/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the vduse_iotlb test programs: the control device, the
 * test client module and the domain mapping.
 */
#ifndef VIT_UTIL_H
#define VIT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/types.h>
#include <linux/vduse_iotlb.h>
#include "kselftest.h"
#include "vduse_iotlb_test.h"
#include "vmk_sys.h"

#define VIT_CTL "/dev/vduse_iotlb"
#define VIT_CLIENT "/dev/vduse_iotlb_test"
#define VIT_GLOBAL_STATS "/sys/kernel/debug/vduse_iotlb/stats"
#define VIT_PAGE 4096UL

/* ioctl() returning 0 or -errno. */
static inline int vit_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/* Create a domain; returns 0 or -errno, fills *id and *dfd. */
static inline int vit_create(int ctl, __u64 iova_limit,
			     __u64 bounce_size, __u32 *id, int *dfd)
{
	struct vduse_iotlb_create c = {
		.size = sizeof(c),
		.iova_limit = iova_limit,
		.bounce_size = bounce_size,
	};
	int ret = vit_ioctl(ctl, VDUSE_IOTLB_CREATE, &c);

	if (!ret) {
		*id = c.out_domain_id;
		*dfd = c.out_fd;
	}
	return ret;
}

static inline int vit_info(int ctl, __u32 id, struct vduse_iotlb_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->domain_id = id;
	return vit_ioctl(ctl, VDUSE_IOTLB_INFO, info);
}

static inline int vit_umem(int ctl, unsigned long req, __u32 id,
			   __u64 iova, __u64 length, void *uaddr)
{
	struct vduse_iotlb_umem u = {
		.size = sizeof(u),
		.domain_id = id,
		.iova = iova,
		.length = length,
		.uaddr = (uintptr_t)uaddr,
	};

	return vit_ioctl(ctl, req, &u);
}

static inline int vit_destroy(int ctl, __u32 id)
{
	struct vduse_iotlb_destroy d = { .size = sizeof(d), .domain_id = id };

	return vit_ioctl(ctl, VDUSE_IOTLB_DESTROY, &d);
}

/* One client operation; *cmd carries the results back. */
static inline int vit_op(int cl, struct vit_test_cmd *cmd)
{
	return vit_ioctl(cl, VIT_TEST_IOCTL, cmd);
}

static inline int vit_attach(int cl, int dfd)
{
	struct vit_test_cmd c = { .op = VIT_TEST_ATTACH, .fd = dfd };

	return vit_op(cl, &c);
}

/* Allocate a kernel buffer; returns its id or -errno. */
static inline int vit_buf(int cl, __u64 len, __u32 op)
{
	struct vit_test_cmd c = { .op = op, .length = len };
	int ret = vit_op(cl, &c);

	return ret ? ret : (int)c.out_id;
}

static inline int vit_fill(int cl, __u32 buf, __u64 off, __u64 len,
			   __u64 seed)
{
	struct vit_test_cmd c = { .op = VIT_TEST_BUF_FILL, .id = buf,
				  .offset = off, .length = len, .seed = seed };

	return vit_op(cl, &c);
}

static inline int vit_rw(int cl, __u32 op, __u32 buf, __u64 off,
			 __u64 len, void *p)
{
	struct vit_test_cmd c = { .op = op, .id = buf, .offset = off,
				  .length = len, .uptr = (uintptr_t)p };

	return vit_op(cl, &c);
}

/* Map; returns the mapping id or -errno, fills *iova. */
static inline int vit_map(int cl, __u32 buf, __u64 off, __u64 len,
			  __u32 dir, __u32 flags, __u64 *iova)
{
	struct vit_test_cmd c = { .op = VIT_TEST_MAP, .id = buf, .offset = off,
				  .length = len, .dir = dir, .flags = flags };
	int ret = vit_op(cl, &c);

	if (ret)
		return ret;
	*iova = c.out_iova;
	return c.out_id;
}

static inline int vit_unmap(int cl, __u32 map, __u32 flags)
{
	struct vit_test_cmd c = { .op = VIT_TEST_UNMAP, .id = map,
				  .flags = flags };

	return vit_op(cl, &c);
}

static inline int vit_sync(int cl, __u32 map, __u64 off, __u64 len,
			   __u32 dir, __u32 flags)
{
	struct vit_test_cmd c = { .op = VIT_TEST_SYNC, .id = map, .offset = off,
				  .length = len, .dir = dir, .flags = flags };

	return vit_op(cl, &c);
}

/* Index of the first byte of p[0..len) that is not vit_pattern(seed), or -1. */
static inline long vit_check(const __u8 *p, __u64 len, __u64 seed)
{
	__u64 i;

	for (i = 0; i < len; i++)
		if (p[i] != vit_pattern(seed, i))
			return (long)i;
	return -1;
}

static inline void vit_put_pattern(__u8 *p, __u64 len, __u64 seed)
{
	__u64 i;

	for (i = 0; i < len; i++)
		p[i] = vit_pattern(seed, i);
}

/* Touching a page of the domain mapping: SIGBUS becomes a return value. */
static sigjmp_buf vit_jmp;

static void vit_sigbus(int sig)
{
	siglongjmp(vit_jmp, 1);
}

/*
 * Read one byte at p: 0..255, or -1 on SIGBUS.  The load is atomic so that
 * the compiler must issue it, exactly once, between sigsetjmp() and the
 * restore of the old handler.
 */
static inline int vit_probe(const __u8 *p)
{
	struct sigaction sa = { .sa_handler = vit_sigbus }, old;
	int v;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(vit_jmp, 1))
		v = -1;
	else
		v = __atomic_load_n(p, __ATOMIC_RELAXED);
	sigaction(SIGBUS, &old, NULL);
	return v;
}

#endif /* VIT_UTIL_H */
