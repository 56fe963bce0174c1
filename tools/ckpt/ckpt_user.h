/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace side of ckpt_restore images, shared by the ckpt tool and the
 * selftests: XXH64 and loading an image's header and tables.
 */
#ifndef CKPT_USER_H
#define CKPT_USER_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/ckpt_restore.h>

#define CKPT_XXH_P1 0x9E3779B185EBCA87ULL
#define CKPT_XXH_P2 0xC2B2AE3D27D4EB4FULL
#define CKPT_XXH_P3 0x165667B19E3779F9ULL
#define CKPT_XXH_P4 0x85EBCA77C2B2AE63ULL
#define CKPT_XXH_P5 0x27D4EB2F165667C5ULL

static inline __u64 ckpt_rotl64(__u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline __u64 ckpt_xxh_round(__u64 acc, __u64 in)
{
	acc += in * CKPT_XXH_P2;
	return ckpt_rotl64(acc, 31) * CKPT_XXH_P1;
}

static inline __u64 ckpt_xxh_merge(__u64 acc, __u64 v)
{
	acc ^= ckpt_xxh_round(0, v);
	return acc * CKPT_XXH_P1 + CKPT_XXH_P4;
}

static inline __u64 ckpt_rd64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, 8);
	return v;
}

static inline __u32 ckpt_rd32(const unsigned char *p)
{
	__u32 v;

	memcpy(&v, p, 4);
	return v;
}

/* XXH64 of @len bytes with seed 0, as the kernel's xxh64() computes it. */
static inline __u64 ckpt_xxh64(const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len;
	__u64 h, v1, v2, v3, v4;

	if (len >= 32) {
		v1 = CKPT_XXH_P1 + CKPT_XXH_P2;
		v2 = CKPT_XXH_P2;
		v3 = 0;
		v4 = -CKPT_XXH_P1;
		do {
			v1 = ckpt_xxh_round(v1, ckpt_rd64(p));
			v2 = ckpt_xxh_round(v2, ckpt_rd64(p + 8));
			v3 = ckpt_xxh_round(v3, ckpt_rd64(p + 16));
			v4 = ckpt_xxh_round(v4, ckpt_rd64(p + 24));
			p += 32;
		} while (p + 32 <= end);
		h = ckpt_rotl64(v1, 1) + ckpt_rotl64(v2, 7) +
		    ckpt_rotl64(v3, 12) + ckpt_rotl64(v4, 18);
		h = ckpt_xxh_merge(h, v1);
		h = ckpt_xxh_merge(h, v2);
		h = ckpt_xxh_merge(h, v3);
		h = ckpt_xxh_merge(h, v4);
	} else {
		h = CKPT_XXH_P5;
	}
	h += len;
	for (; p + 8 <= end; p += 8) {
		h ^= ckpt_xxh_round(0, ckpt_rd64(p));
		h = ckpt_rotl64(h, 27) * CKPT_XXH_P1 + CKPT_XXH_P4;
	}
	if (p + 4 <= end) {
		h ^= (__u64)ckpt_rd32(p) * CKPT_XXH_P1;
		h = ckpt_rotl64(h, 23) * CKPT_XXH_P2 + CKPT_XXH_P3;
		p += 4;
	}
	for (; p < end; p++) {
		h ^= *p * CKPT_XXH_P5;
		h = ckpt_rotl64(h, 11) * CKPT_XXH_P1;
	}
	h ^= h >> 33;
	h *= CKPT_XXH_P2;
	h ^= h >> 29;
	h *= CKPT_XXH_P3;
	h ^= h >> 32;
	return h;
}

/**
 * struct ckpt_uimage - an image's header and tables, read into memory
 * @hdr: the header
 * @meta: the metadata area (@hdr.meta_size bytes)
 * @vmas: VMA table inside @meta
 * @runs: run table inside @meta
 * @strings: paths inside @meta
 * @csums: chunk checksum table (@hdr.nr_chunks entries), which follows the
 *	metadata area in the file and is not covered by @hdr.meta_csum
 */
struct ckpt_uimage {
	struct ckpt_image_header hdr;
	unsigned char *meta;
	struct ckpt_image_vma *vmas;
	struct ckpt_image_run *runs;
	char *strings;
	__u64 *csums;
};

/* Recompute both metadata checksums after a test edited the tables. */
static inline void ckpt_uimage_reseal(struct ckpt_uimage *u)
{
	u->hdr.meta_csum = ckpt_xxh64(u->meta, u->hdr.meta_size);
	u->hdr.header_csum = 0;
	u->hdr.header_csum = ckpt_xxh64(&u->hdr, sizeof(u->hdr));
}

static inline void ckpt_uimage_free(struct ckpt_uimage *u)
{
	free(u->meta);
	free(u->csums);
	u->meta = NULL;
	u->csums = NULL;
}

/*
 * Read header, metadata and checksum table of the image in @fd; sizes are sanity checked
 * only as far as needed to read them.  Returns 0 or -errno.
 */
static inline int ckpt_uimage_read(int fd, struct ckpt_uimage *u)
{
	struct stat st;
	__u64 sz, csz;

	memset(u, 0, sizeof(*u));
	if (fstat(fd, &st))
		return -errno;
	if (pread(fd, &u->hdr, sizeof(u->hdr), 0) != sizeof(u->hdr))
		return -EINVAL;
	if (u->hdr.magic != CKPT_IMAGE_MAGIC ||
	    u->hdr.nr_vmas > CKPT_MAX_VMAS || u->hdr.nr_runs > CKPT_MAX_RUNS ||
	    u->hdr.nr_chunks > (__u64)st.st_size / sizeof(*u->csums) ||
	    u->hdr.meta_offset > (__u64)st.st_size ||
	    u->hdr.meta_size > (__u64)st.st_size - u->hdr.meta_offset)
		return -EINVAL;
	sz = u->hdr.nr_vmas * sizeof(*u->vmas) +
	     u->hdr.nr_runs * sizeof(*u->runs);
	csz = u->hdr.nr_chunks * sizeof(*u->csums);
	if (sz > u->hdr.meta_size ||
	    csz > (__u64)st.st_size - u->hdr.meta_offset - u->hdr.meta_size)
		return -EINVAL;
	u->meta = malloc(u->hdr.meta_size + 1);
	u->csums = malloc(csz + 1);
	if (!u->meta || !u->csums) {
		ckpt_uimage_free(u);
		return -ENOMEM;
	}
	if (pread(fd, u->meta, u->hdr.meta_size, u->hdr.meta_offset) !=
	    (ssize_t)u->hdr.meta_size ||
	    pread(fd, u->csums, csz, u->hdr.meta_offset + u->hdr.meta_size) !=
	    (ssize_t)csz) {
		ckpt_uimage_free(u);
		return -EINVAL;
	}
	u->vmas = (void *)u->meta;
	u->runs = (void *)(u->vmas + u->hdr.nr_vmas);
	u->strings = (void *)(u->runs + u->hdr.nr_runs);
	return 0;
}

/*
 * Write header, metadata and checksum table back to @fd at the offsets the
 * header gives; 0 or -errno.
 */
static inline int ckpt_uimage_write(int fd, const struct ckpt_uimage *u)
{
	ssize_t csz = u->hdr.nr_chunks * sizeof(*u->csums);

	if (pwrite(fd, &u->hdr, sizeof(u->hdr), 0) != sizeof(u->hdr) ||
	    pwrite(fd, u->meta, u->hdr.meta_size, u->hdr.meta_offset) !=
	    (ssize_t)u->hdr.meta_size ||
	    pwrite(fd, u->csums, csz, u->hdr.meta_offset + u->hdr.meta_size) !=
	    csz)
		return -EIO;
	return 0;
}

#endif /* CKPT_USER_H */
