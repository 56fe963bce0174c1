/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only client of vduse_iotlb (vduse_iotlb_test.ko): /dev/vduse_iotlb_test
 * lets a test make the kernel allocate buffers, map them through the DMA
 * API on a domain's device, sync and unmap them, so that userspace can play
 * the device through the domain file.  Not a stable interface.
 */
#ifndef _VDUSE_IOTLB_TEST_H
#define _VDUSE_IOTLB_TEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * enum vit_test_op - what one VIT_TEST_IOCTL does
 * @VIT_TEST_ATTACH: use the domain behind @fd (once per open file)
 * @VIT_TEST_BUF_ALLOC: allocate @length zeroed, physically contiguous
 *                      bytes; @out_id names the buffer
 * @VIT_TEST_BUF_FREE: free buffer @id (-EBUSY while mapped)
 * @VIT_TEST_BUF_FILL: write vit_pattern(@seed, i) to bytes [@offset,
 *                     @offset + @length) of buffer @id
 * @VIT_TEST_BUF_READ: copy bytes of buffer @id to user @uptr
 * @VIT_TEST_BUF_WRITE: copy user @uptr into buffer @id
 * @VIT_TEST_MAP: dma_map_page() of buffer @id bytes [@offset, @offset +
 *                @length) with direction @dir (VIT_TEST_F_SKIP_SYNC:
 *                DMA_ATTR_SKIP_CPU_SYNC); @out_id names the mapping and
 *                @out_iova is its IOVA
 * @VIT_TEST_UNMAP: unmap mapping @id the way it was mapped
 *                  (VIT_TEST_F_SKIP_SYNC)
 * @VIT_TEST_SYNC: dma_sync_single_for_cpu() (VIT_TEST_F_FOR_CPU) or
 *                 _for_device() of VIT_TEST_MAP mapping @id, bytes
 *                 [@offset, @offset + @length) relative to the mapping,
 *                 with direction @dir
 * @VIT_TEST_COH_ALLOC: dma_alloc_coherent() of @length bytes; a buffer
 *                      @out_id at @out_iova
 * @VIT_TEST_RAW_UNMAP: vduse_iotlb_unmap_page(@offset as IOVA, @length,
 *                      @dir) straight through the kernel API; returns its
 *                      error
 * @VIT_TEST_BENCH: @count times either memcpy() of @length bytes
 *                  (VIT_TEST_F_MEMCPY), memset() of @length bytes to zero
 *                  (VIT_TEST_F_MEMSET) or dma_map_page() + dma_unmap_page()
 *                  of @length bytes with @dir; @out_ns is the time taken.
 *                  VIT_TEST_F_SPLIT times each map and each unmap apart:
 *                  @out_ns is then the sum of those times and @out_map_ns
 *                  the part spent in dma_map_page().  VIT_TEST_F_DIRECT
 *                  runs the loop on the client module's own platform
 *                  device (64-bit DMA mask, no DMA ops: dma-direct, which
 *                  bounces through swiotlb under swiotlb=force) instead of
 *                  the domain's, and needs no VIT_TEST_ATTACH.
 *                  @out_bounced is the number of maps whose DMA address
 *                  was not the buffer's own physical one (as dma-direct
 *                  would give it without bouncing); with VIT_TEST_F_DIRECT,
 *                  @out_in_swiotlb is 1 when the last map's DMA address
 *                  was in swiotlb's buffer, else 0
 * @VIT_TEST_MAP_RESOURCE: dma_map_resource() of the physical address of
 *                         buffer @id bytes [@offset, @offset + @length)
 *                         with direction @dir, as if it were MMIO: the
 *                         domain must refuse it.  -ENOSPC when
 *                         dma_mapping_error() says it was refused; 0 when
 *                         it was mapped, with @out_iova the IOVA it got
 *                         (already unmapped with dma_unmap_resource())
 * @VIT_TEST_MAP_SG: as VIT_TEST_MAP, with dma_map_sgtable() of @count
 *                   entries (at most VIT_TEST_MAX_SG) that split the bytes
 *                   evenly, the last one taking the rest; @out_iova is the
 *                   first entry's IOVA and, when @uptr is not 0, the IOVA
 *                   of each entry is written to the __u64 array at @uptr.
 *                   Returns dma_map_sgtable()'s error
 * @VIT_TEST_RAW_MAP: as VIT_TEST_MAP, with vduse_iotlb_map_page() straight
 *                    through the kernel API; returns its error
 * @VIT_TEST_RAW_SYNC: vduse_iotlb_sync_for_cpu() (VIT_TEST_F_FOR_CPU) or
 *                     _for_device() of IOVAs [@offset, @offset + @length)
 *                     relative to VIT_TEST_MAP mapping @id, with direction
 *                     @dir, the range unchecked: returns the kernel API's
 *                     error (the DMA API would hide it, and its debug code
 *                     would report the over-long sync this is for)
 * @VIT_TEST_DEV_INFO: the domain device as the DMA API sees it: @out_max_map
 *                     (dma_max_mapping_size()), @out_dma_mask,
 *                     @out_coherent_mask and @out_max_seg
 *                     (dma_get_max_seg_size())
 * @VIT_TEST_SET_MASK: dma_set_mask(@offset) unless @offset is 0, then
 *                     dma_set_coherent_mask(@length) unless @length is 0;
 *                     returns the first error
 * @VIT_TEST_SET_SEG: dma_set_max_seg_size(@length)
 * @VIT_TEST_FWD_DEVICE: register a platform device "vduse_iotlb_fwd.@out_id.auto"
 *                       (once per file, unregistered at close) whose DMA
 *                       ops are the domain device's (each calls the domain
 *                       device's op), for a kernel driver to be bound to it
 *                       (driver_override)
 *
 * VIT_TEST_F_DIRECT is refused by every op but VIT_TEST_BENCH.
 *
 * VIT_TEST_F_SOFTIRQ makes VIT_TEST_MAP, VIT_TEST_MAP_SG, VIT_TEST_UNMAP (of
 * such a mapping) and VIT_TEST_COH_ALLOC (with GFP_ATOMIC) call the DMA API
 * from a timer callback, in softirq context, while the ioctl waits (a
 * scatterlist's table is allocated before, in process context).
 *
 * VIT_TEST_F_GLOBAL_LOCK makes VIT_TEST_BENCH hold one spinlock of the test
 * module (IRQs off) around each dma_map_page() and each dma_unmap_page(),
 * as the seed's single domain lock did: two mappers then measure what
 * per-slot locking gained.  Benchmark only.
 *
 * An op that fails has changed nothing.  MAP fails with -ENOSPC whenever
 * dma_mapping_error() says so: the DMA API gives no reason.  The ops that
 * return results (ALLOCs, MAPs, BENCH, MAP_RESOURCE) fail with -EFAULT
 * when the results cannot be copied back, after undoing what they made
 * (a mapping undone that way keeps its bounce pages, as any unmap does).
 */
enum vit_test_op {
	VIT_TEST_ATTACH = 1,
	VIT_TEST_BUF_ALLOC,
	VIT_TEST_BUF_FREE,
	VIT_TEST_BUF_FILL,
	VIT_TEST_BUF_READ,
	VIT_TEST_BUF_WRITE,
	VIT_TEST_MAP,
	VIT_TEST_UNMAP,
	VIT_TEST_SYNC,
	VIT_TEST_COH_ALLOC,
	VIT_TEST_RAW_UNMAP,
	VIT_TEST_BENCH,
	VIT_TEST_MAP_RESOURCE,
	VIT_TEST_MAP_SG,
	VIT_TEST_RAW_MAP,
	VIT_TEST_RAW_SYNC,
	VIT_TEST_DEV_INFO,
	VIT_TEST_SET_MASK,
	VIT_TEST_SET_SEG,
	VIT_TEST_FWD_DEVICE,
};

#define VIT_TEST_F_SKIP_SYNC	0x1U
#define VIT_TEST_F_FOR_CPU	0x2U
#define VIT_TEST_F_MEMCPY	0x4U
#define VIT_TEST_F_SPLIT	0x8U
#define VIT_TEST_F_SOFTIRQ	0x10U
#define VIT_TEST_F_DIRECT	0x20U
#define VIT_TEST_F_GLOBAL_LOCK	0x40U
#define VIT_TEST_F_MEMSET	0x80U

/* enum dma_data_direction values */
#define VIT_DIR_BIDIRECTIONAL	0
#define VIT_DIR_TO_DEVICE	1
#define VIT_DIR_FROM_DEVICE	2

/* Largest buffer VIT_TEST_BUF_ALLOC accepts. */
#define VIT_TEST_MAX_BUF	0x100000U
/* Most entries VIT_TEST_MAP_SG maps. */
#define VIT_TEST_MAX_SG		16U

/**
 * struct vit_test_cmd - argument of VIT_TEST_IOCTL (see &enum vit_test_op)
 * @op: &enum vit_test_op
 * @id: buffer or mapping id
 * @dir: DMA direction, VIT_DIR_*
 * @flags: VIT_TEST_F_*
 * @fd: domain fd for VIT_TEST_ATTACH
 * @__pad: must be 0
 * @offset: byte offset (or IOVA for VIT_TEST_RAW_UNMAP)
 * @length: bytes
 * @seed: pattern seed
 * @uptr: user buffer (VIT_TEST_MAP_SG: the entries' IOVAs, or 0)
 * @count: iterations for VIT_TEST_BENCH, entries for VIT_TEST_MAP_SG
 * @out_iova: IOVA of a new mapping or coherent buffer
 * @out_ns: nanoseconds a benchmark took
 * @out_id: id of a new buffer or mapping
 * @__pad2: must be 0
 * @out_map_ns: nanoseconds of a VIT_TEST_F_SPLIT benchmark spent mapping
 * @out_max_map: VIT_TEST_DEV_INFO: dma_max_mapping_size()
 * @out_dma_mask: VIT_TEST_DEV_INFO: dma_get_mask()
 * @out_coherent_mask: VIT_TEST_DEV_INFO: the coherent DMA mask
 * @out_max_seg: VIT_TEST_DEV_INFO: dma_get_max_seg_size()
 * @out_bounced: VIT_TEST_BENCH: maps that did not get the buffer's physical
 *               address as their DMA address
 * @out_in_swiotlb: VIT_TEST_BENCH with VIT_TEST_F_DIRECT: the last map was
 *                  in swiotlb's buffer
 */
struct vit_test_cmd {
	__u32 op;
	__u32 id;
	__u32 dir;
	__u32 flags;
	__s32 fd;
	__u32 __pad;
	__u64 offset;
	__u64 length;
	__u64 seed;
	__u64 uptr;
	__u64 count;
	__u64 out_iova;
	__u64 out_ns;
	__u32 out_id;
	__u32 __pad2;
	__u64 out_map_ns;
	__u64 out_max_map;
	__u64 out_dma_mask;
	__u64 out_coherent_mask;
	__u64 out_max_seg;
	__u64 out_bounced;
	__u64 out_in_swiotlb;
};

#define VIT_TEST_IOCTL _IOWR(0xC1, 0xF0, struct vit_test_cmd)

/* The byte VIT_TEST_BUF_FILL writes at index @i for @seed. */
static inline __u8 vit_pattern(__u64 seed, __u64 i)
{
	return (__u8)(seed * 151 + i * 7 + (i >> 9) + 1);
}

#endif /* _VDUSE_IOTLB_TEST_H */
