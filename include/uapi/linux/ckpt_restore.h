/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * ckpt_restore: checkpoint and restore of process memory through /dev/ckpt.
 */
#ifndef _UAPI_LINUX_CKPT_RESTORE_H
#define _UAPI_LINUX_CKPT_RESTORE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * DOC: Image format
 *
 * An image is one regular file, every integer in the native byte order of
 * the machine that wrote it (plain __u64/__u32 fields, no conversion).  An
 * image holds user addresses and page contents of one architecture and is
 * restored on the same kind of machine; one written with the other byte
 * order fails the magic check (EINVAL)::
 *
 *   [0, header_size)                       struct ckpt_image_header
 *   [header_size, data_offset)             zeroes
 *   [data_offset, data_offset + data_size) page contents of every run, in
 *                                          run order, PAGE_SIZE per page
 *   [meta_offset, meta_offset + meta_size) nr_vmas x struct ckpt_image_vma,
 *                                          then nr_runs x struct ckpt_image_run,
 *                                          then strings_size bytes of paths
 *   [meta_offset + meta_size, + nr_chunks * 8)
 *                                          nr_chunks x __u64 chunk checksums
 *
 * data_offset is one page (the header page) and meta_offset ==
 * data_offset + data_size;
 * the file ends exactly after the checksum table.  Keeping page contents
 * page aligned lets a restore read them straight into the target pages and
 * lets the lazy fault handler read one chunk with one aligned read.
 *
 * VMAs are sorted by address, do not overlap, are page aligned and lie in
 * the user address space.  Runs are sorted by address, do not overlap, and
 * each lies entirely inside the VMA it names.  The contents of run i start
 * at data_offset plus PAGE_SIZE times the pages of runs 0..i-1.  A run has
 * no length limit but its VMA: CKPT_DUMP writes each stretch of consecutive
 * kept pages of a VMA as one run, so a densely filled VMA is one run
 * however large, and the run table grows with the number of VMAs and
 * holes, not with the size of the contents.
 *
 * Pages that were never touched, that map the zero page, or that hold only
 * zeroes in an anonymous VMA are not in any run: they cost no bytes and read
 * back as zero.  In a private file VMA only pages modified since they were
 * mapped (private copies) are in runs; the rest come from the file again.
 *
 * Checksums are XXH64 with seed 0: @header_csum over the header with the
 * field itself zero, @meta_csum over the metadata area (VMA table, run
 * table, paths; not the checksum table), and one checksum per chunk of page
 * contents.  A run is cut into chunks of
 * CKPT_CHUNK_PAGES pages from its first page on (the last chunk may be
 * shorter); run i has DIV_ROUND_UP(nr_pages, CKPT_CHUNK_PAGES) chunks whose
 * checksums start at index @chunk of the checksum table, right after those
 * of run i - 1.  A chunk's checksum is read and checked together with the
 * chunk (a wrong checksum is a mismatch like wrong contents), so the
 * restore call need not read the checksum table: an eager restore checks
 * each chunk as it lands, and a lazy restore reads and checks a chunk and
 * its checksum the first time a fault needs one of its pages; its call
 * reads only the header, the VMA and run tables and the paths.
 *
 * Version 1 (one checksum per run), version 2 (checksum table inside the
 * metadata area) and version 3 (runs of at most 512 pages, 32-bit run
 * length) images are refused with EINVAL.
 */

/**
 * DOC: Errors
 *
 * Every argument and every image field is checked before anything changes.
 * This is every errno the two ioctls return.
 *
 * - ``EINVAL``: a malformed argument (size, flags, reserved field not zero,
 *   unaligned or empty range), or an inconsistent image: wrong magic,
 *   version, header or page size, offsets and sizes that do not add up,
 *   non-zero bytes after the header in the header page,
 *   a file whose length differs from what the header says (truncated or
 *   extended), the image not a regular file, unsorted or overlapping VMAs
 *   or runs, addresses outside the user address space, runs outside the
 *   VMA they name (before or after it), unknown VMA kind or prot bits, a
 *   private file VMA whose path is not absolute, header counts that
 *   disagree with the run table (pages, chunks) or that the file's length
 *   cannot hold.
 *   CKPT_DUMP: the output file is not empty or not seekable.
 * - ``EBADMSG``: a checksum does not match (header, metadata or a chunk of
 *   page contents).  The restore undoes every mapping it made.
 *   CKPT_DUMP: a chunk of a lazily restored VMA that a read would need
 *   does not match its checksum (a read of it would raise SIGBUS): the
 *   dump fails rather than write zeroes in its place.
 * - ``SIGBUS`` (not an errno): in a lazily restored VMA, a chunk whose
 *   contents do not match their checksum (either may be the corrupted one),
 *   or that cannot be read (a read error, or the image was truncated after
 *   the restore; short reads are continued), when a fault first needs it.
 *   Every access to a page of that chunk raises SIGBUS while the chunk is
 *   not installed, and is tried afresh each time; other chunks are
 *   unaffected.
 * - ``EFBIG``: a count or size beyond this module's limits (CKPT_MAX_VMAS,
 *   CKPT_MAX_RUNS, CKPT_MAX_PATH, CKPT_MAX_STRINGS, CKPT_MAX_RANGES).
 * - ``EEXIST``: CKPT_RESTORE: something is already mapped where the image
 *   wants a VMA.  Nothing is mapped.
 * - ``EBUSY``: CKPT_RESTORE: the caller's mm has another user: another
 *   thread, a process sharing it (CLONE_VM), or a passing reference (a
 *   /proc reader; retry).  Undo unmaps what the restore mapped by address,
 *   which another thread could have replaced meanwhile.  Nothing is
 *   mapped.  A thread just joined may hold its reference for a moment.
 * - ``EPERM``: CKPT_DUMP of another process whose tracer is not the
 *   calling thread.  CKPT_RESTORE: an image with contents for a private
 *   VMA without PROT_WRITE, to be filled eagerly (written through its
 *   protection with FOLL_FORCE, as ptrace pokes memory), and a caller
 *   without CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the initial user
 *   namespace; nothing is mapped.  Lazily filled VMAs need no capability.
 *   Also from mapping a VMA (an LSM, a noexec mount for an executable
 *   file VMA, a sealed file); the restore undoes what it mapped.
 * - ``ESRCH``: the pidfd's process has exited, or the caller has no mm.
 * - ``EBADF``: a file descriptor is not open, not a pidfd, or lacks the
 *   needed read or write mode.
 * - ``ENODEV``: CKPT_RESTORE: a private file VMA's path names no regular
 *   file (a directory, a FIFO, a device, a socket), found by looking the
 *   path up without opening it; nothing is mapped.  Or a regular file
 *   that cannot be mapped (a /proc file): found when mapping it, and the
 *   restore undoes what it mapped.
 * - ``ENOENT``, ``EACCES``, ``ENOTDIR``, ``ELOOP``, ``ENAMETOOLONG``,
 *   ``EMFILE``, ``ENFILE``, ...: looking up or opening a private file
 *   VMA's path with the caller's credentials failed (any errno of
 *   open(2)); returned before anything is mapped.
 * - ``EACCES``: also from mapping a VMA: MDWE or an LSM refusing the
 *   protection (an executable lazy VMA is refused exactly so, before it
 *   is mapped); the restore undoes what it mapped.
 * - ``EFAULT``: the argument or the ranges cannot be read, or the outputs
 *   cannot be written back (CKPT_DUMP: before the image is made valid, so
 *   no image is left; CKPT_RESTORE: before anything is mapped).
 *   CKPT_RESTORE also: a page of a private file VMA cannot be populated
 *   (the file is now shorter than the VMA); the restore undoes every
 *   mapping it made.
 * - ``EIO``: an I/O error, or CKPT_DUMP: a page of a private file VMA
 *   inside the file's length that cannot be read (a read of it would
 *   raise SIGBUS), or a lazily restored VMA's image ended early.
 * - ``ENOMEM``, ``EINTR``: resources (including the mapping count and
 *   the address space limits when mapping), a fatal signal; the restore
 *   undoes every mapping it made.
 *
 * On any CKPT_DUMP error the output file may hold a partial image without
 * a valid header, which every restore refuses.
 */

/**
 * DOC: Dumps of running processes
 *
 * CKPT_DUMP reads the target's pages while the target may run: it does
 * not stop the target's threads (the ``ckpt`` tool stops every one of
 * them before it dumps).  Every page is copied out of the target once,
 * and the checksums are taken of that copy, so the image always
 * verifies: its chunk checksums match its contents and it restores.  The
 * copy is the image's page cache when the image is in tmpfs or a memfd
 * (pages are written straight from the target and checksummed where they
 * landed), else a bounce page that is checksummed and written.  What it
 * holds of a running target is each page as it was at some moment
 * during the dump, not one instant: pages written meanwhile may be old
 * or new, independently of each other, and the VMA table is the one of
 * the dump's start (a VMA unmapped meanwhile dumps as a hole).
 * A dump of a target whose threads are all stopped (as by ptrace) is
 * exactly its memory at that moment.
 */

/* Limits a valid image stays within; bigger counts fail with -EFBIG. */
#define CKPT_MAX_VMAS		65536
#define CKPT_MAX_RUNS		(1U << 20)
#define CKPT_MAX_PATH		4096
#define CKPT_MAX_RANGES		1024
#define CKPT_MAX_STRINGS	(1U << 24)

/* Pages per checksummed chunk: what a lazy first touch reads and checks. */
#define CKPT_CHUNK_PAGES	16

#define CKPT_IMAGE_MAGIC	0x54504b434b4d56ULL	/* "VMKCKPT" */
#define CKPT_IMAGE_VERSION	4

/**
 * struct ckpt_image_header - first bytes of an image
 * @magic: CKPT_IMAGE_MAGIC
 * @version: CKPT_IMAGE_VERSION
 * @header_size: sizeof(struct ckpt_image_header)
 * @page_size: page size of the dumping machine; must equal the restorer's
 * @flags: none defined, must be zero
 * @nr_vmas: entries in the VMA table, at most CKPT_MAX_VMAS
 * @chunk_pages: pages per checksummed chunk: CKPT_CHUNK_PAGES
 * @nr_runs: entries in the run table, at most CKPT_MAX_RUNS
 * @nr_pages: pages over all runs, at least @nr_runs; data_size ==
 *	nr_pages * page_size
 * @nr_chunks: entries in the checksum table: the sum over all runs of
 *	DIV_ROUND_UP(run pages, CKPT_CHUNK_PAGES); at least @nr_runs, at
 *	most @nr_pages
 * @data_offset: file offset of the page contents: the page size
 * @data_size: bytes of page contents
 * @meta_offset: file offset of the metadata, == data_offset + data_size
 * @meta_size: bytes of metadata: the VMA and run tables plus @strings_size;
 *	the checksum table follows it
 * @strings_size: bytes of path strings at the end of the metadata
 * @meta_csum: XXH64 of the metadata area (without the checksum table)
 * @header_csum: XXH64 of this header with @header_csum zero
 */
struct ckpt_image_header {
	__u64 magic;
	__u32 version;
	__u32 header_size;
	__u32 page_size;
	__u32 flags;
	__u32 nr_vmas;
	__u32 chunk_pages;
	__u64 nr_runs;
	__u64 nr_pages;
	__u64 nr_chunks;
	__u64 data_offset;
	__u64 data_size;
	__u64 meta_offset;
	__u64 meta_size;
	__u64 strings_size;
	__u64 meta_csum;
	__u64 header_csum;
};

/**
 * enum ckpt_vma_kind - what backs a VMA
 * @CKPT_VMA_ANON: private anonymous memory
 * @CKPT_VMA_FILE: private mapping of a file, reopened by path on restore
 * @CKPT_VMA_SHARED: shared anonymous memory or a shared memfd/tmpfs mapping;
 *	restored as a new shared anonymous mapping with the dumped contents
 */
enum ckpt_vma_kind {
	CKPT_VMA_ANON = 1,
	CKPT_VMA_FILE = 2,
	CKPT_VMA_SHARED = 3,
};

/**
 * struct ckpt_image_vma - one VMA of the image
 * @start: first address, page aligned
 * @end: first address after the VMA, page aligned, > @start
 * @prot: PROT_READ | PROT_WRITE | PROT_EXEC bits, any combination
 * @kind: an enum ckpt_vma_kind
 * @flags: none defined, must be zero
 * @path_len: CKPT_VMA_FILE: length of the path without a NUL, 1 to
 *	CKPT_MAX_PATH - 1; zero for other kinds
 * @path_offset: CKPT_VMA_FILE: offset of the path in the strings area
 * @pgoff: CKPT_VMA_FILE: file offset of @start in pages; zero otherwise
 * @reserved: must be zero
 */
struct ckpt_image_vma {
	__u64 start;
	__u64 end;
	__u32 prot;
	__u32 kind;
	__u32 flags;
	__u32 path_len;
	__u64 path_offset;
	__u64 pgoff;
	__u64 reserved[2];
};

/**
 * struct ckpt_image_run - pages [start, start + nr_pages * page size)
 * @start: first address, page aligned
 * @nr_pages: at least 1; no other limit than the run's VMA
 * @chunk: index of the checksum of the run's first chunk in the checksum
 *	table: the number of chunks of all earlier runs
 * @vma: index of the VMA holding the whole run
 * @reserved: must be zero
 */
struct ckpt_image_run {
	__u64 start;
	__u64 nr_pages;
	__u64 chunk;
	__u32 vma;
	__u32 reserved;
};

/**
 * struct ckpt_range - an address range [start, end), page aligned, non-empty
 * @start: first address
 * @end: first address after the range
 */
struct ckpt_range {
	__u64 start;
	__u64 end;
};

/* CKPT_DUMP flags */
#define CKPT_DUMP_PIDFD		(1U << 0)	/* dump the process of @pidfd */

/**
 * struct ckpt_dump - argument of CKPT_DUMP
 * @size: sizeof(struct ckpt_dump); larger sizes are accepted when the
 *	unknown trailing bytes are zero
 * @flags: CKPT_DUMP_* flags
 * @pidfd: with CKPT_DUMP_PIDFD, a pidfd of the target process, which the
 *	calling thread must be ptrace-attached to (PTRACE_SEIZE or
 *	PTRACE_ATTACH: the kernel checked the caller's rights when it attached);
 *	must be zero otherwise
 * @out_fd: an empty regular file open for writing; the image is written at
 *	offsets [0, @image_size)
 * @nr_ranges: entries in @ranges, at most CKPT_MAX_RANGES; zero dumps every
 *	dumpable VMA
 * @reserved: must be zero
 * @ranges: user pointer to sorted, non-overlapping struct ckpt_range;
 *	VMAs are clipped to them
 * @nr_vmas: out: VMAs in the image
 * @nr_skipped: out: VMAs that cannot be dumped and were left out: special
 *	mappings (vdso, vvar), VM_IO/VM_PFNMAP, hugetlb, shared file mappings
 * @nr_runs: out: runs in the image
 * @nr_pages: out: pages of contents in the image
 * @image_size: out: bytes written
 */
struct ckpt_dump {
	__u32 size;
	__u32 flags;
	__s32 pidfd;
	__s32 out_fd;
	__u32 nr_ranges;
	__u32 reserved;
	__aligned_u64 ranges;
	__u32 nr_vmas;
	__u32 nr_skipped;
	__u64 nr_runs;
	__u64 nr_pages;
	__u64 image_size;
};

/* CKPT_RESTORE flags */
#define CKPT_RESTORE_LAZY	(1U << 0)	/* fill anonymous VMAs on first touch */
#define CKPT_RESTORE_VERIFY_FIRST (1U << 1)	/* check all checksums before mapping */

/**
 * struct ckpt_restore - argument of CKPT_RESTORE
 * @size: sizeof(struct ckpt_restore); larger sizes are accepted when the
 *	unknown trailing bytes are zero
 * @flags: CKPT_RESTORE_* flags.  By default every chunk's checksum is
 *	checked as it is read into place and any mismatch undoes the whole
 *	restore.  CKPT_RESTORE_VERIFY_FIRST checks them all before the first
 *	mapping (one more read of the image).  With CKPT_RESTORE_LAZY, private
 *	anonymous VMAs are mapped with a fault handler that, on the first
 *	touch of a chunk, reads the whole chunk from the image, checks its
 *	checksum and installs its pages (SIGBUS on a mismatch, see Errors);
 *	the call itself reads and checks only the header, the VMA and run
 *	tables and the paths (neither contents nor the checksum table), so
 *	its cost grows with the number of VMAs and runs, not with the size of
 *	the page contents.  Such VMAs show as "anon_inode:[ckpt_lazy]" in
 *	/proc/PID/maps; the image file stays referenced until every page of
 *	such a VMA was touched once or the VMA is unmapped.  An executable
 *	VMA is restored lazily, and executable, only where the caller may
 *	map executable anonymous memory with the VMA's protection, as an
 *	eager restore would (otherwise that mapping's errno, e.g. EACCES
 *	under MDWE, with nothing mapped).  Other VMAs are
 *	filled and checked as without the flag.
 * @image_fd: the image, open for reading, seekable
 * @reserved: must be zero
 * @nr_vmas: out: VMAs mapped
 * @nr_lazy_vmas: out: of which lazily filled
 * @nr_pages: out: pages filled before returning
 * @nr_lazy_pages: out: pages left to fill on first touch
 */
struct ckpt_restore {
	__u32 size;
	__u32 flags;
	__s32 image_fd;
	__u32 reserved;
	__u32 nr_vmas;
	__u32 nr_lazy_vmas;
	__u64 nr_pages;
	__u64 nr_lazy_pages;
};

/*
 * 0xD0 is free in Documentation/userspace-api/ioctl/ioctl-number.rst (7.3);
 * the series registers 0xD0 01-02.  (0xCE 01-02 belongs to cxl_mem.h.)
 */
#define CKPT_IOCTL_MAGIC	0xD0
/* Write a memory image of the caller or of a traced process. */
#define CKPT_DUMP		_IOWR(CKPT_IOCTL_MAGIC, 0x01, struct ckpt_dump)
/* Restore an image into the calling process. */
#define CKPT_RESTORE		_IOWR(CKPT_IOCTL_MAGIC, 0x02, struct ckpt_restore)

#endif /* _UAPI_LINUX_CKPT_RESTORE_H */
