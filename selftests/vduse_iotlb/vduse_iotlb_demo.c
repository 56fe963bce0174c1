// SPDX-License-Identifier: GPL-2.0-only
/*
 * Demo: a kernel buffer travels to a userspace "device" and back through a
 * vduse_iotlb domain, and the device never sees the kernel buffer itself.
 */
#include "vit_util.h"

int main(void)
{
	char msg[] = "hello from the kernel", back[64] = "";
	struct vduse_iotlb_info info;
	int ctl, dfd, cl, buf, map;
	uint64_t iova = 0;
	uint32_t id;
	char *dev;

	ctl = open(VIT_CTL, O_RDWR);
	cl = open(VIT_CLIENT, O_RDWR);
	if (ctl < 0 || cl < 0 || vit_create(ctl, (2UL << 20) - 1, 1UL << 20, &id, &dfd) ||
	    vit_attach(cl, dfd))
		return perror("vduse_iotlb_demo: setup"), 1;
	dev = mmap(NULL, 2UL << 20, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	buf = vit_buf(cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	if (dev == MAP_FAILED || buf < 0 ||
	    vit_rw(cl, VIT_TEST_BUF_WRITE, buf, 100, sizeof(msg), msg))
		return perror("vduse_iotlb_demo: buffer"), 1;
	printf("domain %u: streaming IOVAs [0, 1 MiB), coherent up to 2 MiB\n", id);

	map = vit_map(cl, buf, 100, sizeof(msg), VIT_DIR_BIDIRECTIONAL, 0, &iova);
	if (map < 0)
		return perror("vduse_iotlb_demo: map"), 1;
	printf("kernel mapped \"%s\" at IOVA %#llx (a bounce page)\n", msg,
	       (unsigned long long)iova);
	printf("device reads through the domain mmap: \"%s\"\n", dev + iova);
	memcpy(dev + iova, "HELLO FROM THE DEVICE", sizeof(msg));
	vit_unmap(cl, map, 0);
	vit_rw(cl, VIT_TEST_BUF_READ, buf, 100, sizeof(msg), back);
	printf("device wrote, kernel unmapped and got back: \"%s\"\n", back);
	vit_info(ctl, id, &info);
	printf("stats: %llu bytes to device, %llu from device, %llu kernel bounce page(s)\n",
	       (unsigned long long)info.out_bytes_to_dev,
	       (unsigned long long)info.out_bytes_from_dev,
	       (unsigned long long)info.out_kernel_pages);
	return 0;
}
