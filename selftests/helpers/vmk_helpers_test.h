/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * Test-only interface of vmk_helpers_test.ko: lets the helpers kselftest
 * drive include/vmemkit/{gfn_range,iova,page_array}.h in the kernel and
 * compare what they do with what userspace computes independently.
 *
 * /dev/vmk_helpers_test; each open file holds one page array.
 */
#ifndef _VMK_HELPERS_TEST_H
#define _VMK_HELPERS_TEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

enum vmk_ht_gfn_op {
	VMK_HT_GFN_FROM_BYTES,	/* addr, size, nr_gfns -> ret, out */
	VMK_HT_GFN_INTERSECT,	/* a, b -> ret (1 if overlap), out */
	VMK_HT_GFN_SPLIT,	/* a, at -> ret, out (lo), out2 (hi) */
	VMK_HT_GFN_CHUNKS,	/* a, max -> nr_chunks, sum, last */
};

struct vmk_ht_gfn {
	__u32 op;
	__s32 ret;
	__u64 addr, size, nr_gfns;
	__u64 a_start, a_end, b_start, b_end;
	__u64 at, max;
	__u64 out_start, out_end, out2_start, out2_end;
	__u64 nr_chunks, sum, last;
};

enum vmk_ht_iova_op {
	VMK_HT_IOVA_CONTAINS,	/* w, iova, len -> ret (bool) */
	VMK_HT_IOVA_CHECK,	/* w, iova, len, pgsize -> ret (errno) */
	VMK_HT_IOVA_VALID,	/* w -> ret (bool) */
	VMK_HT_IOVA_OVERLAPS,	/* w, w2 -> ret (bool) */
	VMK_HT_IOVA_RANGE_CONTAINS,	/* [start, last = size], iova, len -> ret */
	VMK_HT_IOVA_RANGE_FITS,	/* [start, last = size], len -> ret (bool) */
};

struct vmk_ht_iova {
	__u32 op;
	__s32 ret;
	__u64 start, size;
	__u64 start2, size2;
	__u64 iova, len, pgsize;
};

#define VMK_HT_PIN_WRITE	0x1
#define VMK_HT_PIN_CHARGE	0x2

/* Pin into the file's array; the array keeps what earlier calls pinned. */
struct vmk_ht_pin {
	__u64 uaddr;
	__u64 nr_pages;
	__u32 flags;
	__s32 ret;
};

/* State of the file's array. */
struct vmk_ht_state {
	__u64 nr_pages;
	__u64 nr_charged;
	__u64 nr_chunks;
	__u64 chunk_pages;	/* VMK_PA_CHUNK_PAGES */
};

/* Copy between the array (as one byte range) and a user buffer. */
struct vmk_ht_copy {
	__u64 offset;
	__u64 len;
	__u64 buf;
	__u32 to_pages;
	__s32 ret;
};

#define VMK_HT_TYPE		'V'
#define VMK_HT_GFN		_IOWR(VMK_HT_TYPE, 0x00, struct vmk_ht_gfn)
#define VMK_HT_IOVA		_IOWR(VMK_HT_TYPE, 0x01, struct vmk_ht_iova)
#define VMK_HT_PIN		_IOWR(VMK_HT_TYPE, 0x02, struct vmk_ht_pin)
#define VMK_HT_STATE		_IOR(VMK_HT_TYPE, 0x03, struct vmk_ht_state)
#define VMK_HT_COPY		_IOWR(VMK_HT_TYPE, 0x04, struct vmk_ht_copy)
#define VMK_HT_RELEASE		_IO(VMK_HT_TYPE, 0x05)

#endif /* _VMK_HELPERS_TEST_H */
