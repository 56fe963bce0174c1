/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vduse_iotlb: an MMU-based software IOTLB with bounce buffering.
 *
 * A domain is an IO virtual address space [0, iova_limit] split in two:
 *
 *   [0, bounce_size)           streaming region: every IOVA page has one
 *                              bounce page that the kernel copies DMA data
 *                              into and out of;
 *   [bounce_size, iova_limit]  coherent region: pages shared as they are.
 *
 * The domain file returned by VDUSE_IOTLB_CREATE is mmap()ed MAP_SHARED with
 * the IOVA as file offset; the userspace "device" then reads and writes DMA
 * data through that mapping and never sees the original kernel buffers.
 * It sees a streaming IOVA only while a mapping holds it: the kernel's
 * unmap takes the page away again (the next access is SIGBUS; from an
 * unmap in atomic context, shortly after).  A FROM_DEVICE mapping shows
 * zeroes, and whatever the device leaves unwritten of it reaches the
 * kernel buffer as zeroes.
 */
#ifndef _UAPI_LINUX_VDUSE_IOTLB_H
#define _UAPI_LINUX_VDUSE_IOTLB_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * ioctl type 0xC1 is unused in Documentation/userspace-api/ioctl/
 * ioctl-number.rst (7.3); the series registers 0xC1 80-8F.  (0xB7 belongs
 * to nsfs and remoteproc; 0xB9 is memattr's.)  The names avoid those of
 * <linux/vduse.h>, whose VDUSE_IOTLB_REG_UMEM/DEREG_UMEM are VDUSE's own
 * ioctls, so that one program may include both headers.
 */
#define VDUSE_IOTLB_TYPE 0xC1
#define VDUSE_IOTLB_CMD_BASE 0x80

/**
 * DOC: General ioctl format
 *
 * Every ioctl of /dev/vduse_iotlb takes a pointer to a struct whose first
 * __u32 @size is the size userspace knows.  A larger @size, up to the page
 * size, is accepted if every byte the kernel does not know is zero (else
 * -E2BIG); a smaller one than the first version of the struct is -EINVAL.
 * All input fields are checked before any state changes, so a failed ioctl
 * has changed nothing.
 *
 * Errors:
 *
 * - EINVAL: a size, alignment, flag or reserved field is wrong, or the
 *   bounce size or IOVA limit is out of range or inconsistent.
 * - E2BIG: @size is larger than the page size, or larger than the
 *   kernel's struct with extra bytes that are not zero.
 * - ENOSPC: CREATE: this open file already holds
 *   %VDUSE_IOTLB_MAX_DOMAINS_PER_FD domains (DESTROY one first).
 * - ENOENT: no domain with that id in this file, or no user memory
 *   registered at exactly that range.
 * - ERANGE: the range leaves the streaming region.
 * - EEXIST: the user memory range overlaps one already registered.
 * - ENOMEM: out of memory, or pinning would exceed RLIMIT_MEMLOCK.
 * - EFAULT: a user pointer is bad or user pages cannot be pinned.
 * - ENOTTY: unknown ioctl.
 */

enum {
	VDUSE_IOTLB_CMD_CREATE = VDUSE_IOTLB_CMD_BASE,
	VDUSE_IOTLB_CMD_INFO,
	VDUSE_IOTLB_CMD_UMEM_REG,
	VDUSE_IOTLB_CMD_UMEM_DEREG,
	VDUSE_IOTLB_CMD_DESTROY,
};

/* Bounds of the streaming region (bytes, page multiples). */
#define VDUSE_IOTLB_MIN_BOUNCE_SIZE	(64ULL << 10)
#define VDUSE_IOTLB_MAX_BOUNCE_SIZE	(1ULL << 30)
/* Highest IOVA limit accepted. */
#define VDUSE_IOTLB_MAX_IOVA_LIMIT	((1ULL << 48) - 1)
/* Domains one open /dev/vduse_iotlb may hold at once. */
#define VDUSE_IOTLB_MAX_DOMAINS_PER_FD	64

/**
 * struct vduse_iotlb_create - ioctl(VDUSE_IOTLB_CREATE)
 * @size: sizeof(struct vduse_iotlb_create)
 * @flags: must be 0
 * @iova_limit: last valid IOVA (inclusive); @iova_limit + 1 must be a page
 *              multiple, at most %VDUSE_IOTLB_MAX_IOVA_LIMIT, and leave at
 *              least one page of coherent region above @bounce_size
 * @bounce_size: size of the streaming region in bytes: a page multiple in
 *               [%VDUSE_IOTLB_MIN_BOUNCE_SIZE, %VDUSE_IOTLB_MAX_BOUNCE_SIZE]
 * @out_domain_id: id naming the domain in later ioctls on this file
 * @out_fd: the domain file (O_RDWR | O_CLOEXEC), for mmap()
 *
 * The domain lives while the domain fd, a mapping of it, this file's id
 * (until VDUSE_IOTLB_DESTROY or close) or an in-kernel user holds it.
 */
struct vduse_iotlb_create {
	__u32 size;
	__u32 flags;
	__aligned_u64 iova_limit;
	__aligned_u64 bounce_size;
	__u32 out_domain_id;
	__s32 out_fd;
};

#define VDUSE_IOTLB_CREATE _IO(VDUSE_IOTLB_TYPE, VDUSE_IOTLB_CMD_CREATE)

/**
 * struct vduse_iotlb_info - ioctl(VDUSE_IOTLB_INFO)
 * @size: sizeof(struct vduse_iotlb_info)
 * @domain_id: the domain
 * @out_bounce_size: size of the streaming region, which starts at IOVA 0
 * @out_iova_limit: last valid IOVA; the coherent region is
 *                  [@out_bounce_size, @out_iova_limit]
 * @out_page_size: IOVA granule (PAGE_SIZE)
 * @out_mappings: live streaming mappings
 * @out_kernel_pages: kernel bounce pages currently allocated
 * @out_user_pages: bounce pages currently backed by registered user memory
 * @out_coherent_pages: pages of live coherent allocations
 * @out_reclaimed: kernel bounce pages the shrinker has freed so far
 * @out_bytes_to_dev: bytes copied into bounce pages so far
 * @out_bytes_from_dev: bytes copied out of bounce pages so far
 */
struct vduse_iotlb_info {
	__u32 size;
	__u32 domain_id;
	__aligned_u64 out_bounce_size;
	__aligned_u64 out_iova_limit;
	__aligned_u64 out_page_size;
	__aligned_u64 out_mappings;
	__aligned_u64 out_kernel_pages;
	__aligned_u64 out_user_pages;
	__aligned_u64 out_coherent_pages;
	__aligned_u64 out_reclaimed;
	__aligned_u64 out_bytes_to_dev;
	__aligned_u64 out_bytes_from_dev;
};

#define VDUSE_IOTLB_INFO _IO(VDUSE_IOTLB_TYPE, VDUSE_IOTLB_CMD_INFO)

/**
 * struct vduse_iotlb_umem - ioctl(VDUSE_IOTLB_UMEM_REG/UMEM_DEREG)
 * @size: sizeof(struct vduse_iotlb_umem)
 * @domain_id: the domain
 * @flags: must be 0
 * @__reserved: must be 0
 * @iova: first IOVA of the range, page aligned, inside the streaming region
 * @length: bytes, a non-zero page multiple; [@iova, @iova + @length) must
 *          stay inside the streaming region
 * @uaddr: REG: page-aligned address of @length bytes of writable memory,
 *         pinned and charged to RLIMIT_MEMLOCK until deregistered or the
 *         domain dies; DEREG: must be 0
 *
 * REG makes the user pages the bounce pages of the range; DEREG gives the
 * range fresh kernel bounce pages.  Either way the bounce data of live
 * mappings is copied across, so DMA in flight is not disturbed.  DEREG
 * must name exactly one registered range.  While a range is backed by user
 * memory, the domain file does not map it (SIGBUS): the device uses its
 * own mapping of @uaddr.  A device write through the domain file that races
 * with REG is kept: it lands before the copy, or it faults and gets SIGBUS
 * once REG is done.  A device write to its own memory that races with DEREG
 * may be lost.
 */
struct vduse_iotlb_umem {
	__u32 size;
	__u32 domain_id;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 uaddr;
};

#define VDUSE_IOTLB_UMEM_REG _IO(VDUSE_IOTLB_TYPE, VDUSE_IOTLB_CMD_UMEM_REG)
#define VDUSE_IOTLB_UMEM_DEREG _IO(VDUSE_IOTLB_TYPE, VDUSE_IOTLB_CMD_UMEM_DEREG)

/**
 * struct vduse_iotlb_destroy - ioctl(VDUSE_IOTLB_DESTROY)
 * @size: sizeof(struct vduse_iotlb_destroy)
 * @domain_id: the domain; its id is released and this file's hold on the
 *             domain dropped (the domain fd keeps it alive if still open)
 */
struct vduse_iotlb_destroy {
	__u32 size;
	__u32 domain_id;
};

#define VDUSE_IOTLB_DESTROY _IO(VDUSE_IOTLB_TYPE, VDUSE_IOTLB_CMD_DESTROY)

#endif /* _UAPI_LINUX_VDUSE_IOTLB_H */
