/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * memattr: range-based shared/private memory attributes for guest memory.
 */
#ifndef _UAPI_LINUX_MEMATTR_H
#define _UAPI_LINUX_MEMATTR_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * DOC: memattr uAPI
 *
 * ``/dev/memattr`` (mode 0600, root only) creates guest-memory objects.
 * Opening it also requires ``CAP_SYS_ADMIN``, whatever the node's mode.
 * %MEMATTR_CREATE on the device returns a new file descriptor (always
 * close-on-exec) for an object of a given size whose pages back a GFN space
 * starting at GFN 0; byte address A of the object is GFN A / PAGE_SIZE.
 *
 * Every page of a new object is shared.  %MEMATTR_SET_ATTRIBUTES on the object
 * fd converts a range of pages between shared and private;
 * %MEMATTR_GET_ATTRIBUTES reports the attributes of a range as maximal runs of
 * equal attributes.
 *
 * mmap() of the object fd (MAP_SHARED only) gives access to the shared pages.
 * Pages are allocated on first fault, so untouched pages cost no memory and
 * converting them allocates none.  Touching a private page raises SIGBUS.
 * An object's pages are unmovable, unevictable memory charged to the memory
 * cgroup of the task that faulted them in: compaction, migration and reclaim
 * leave every page, shared or private, on its physical frame until the
 * object is released, and the platform backend is told about each private
 * page before it is freed.
 * Converting pages to private removes them from every user mapping before the
 * ioctl returns.  Converting private pages back to shared zeroes them: data
 * they held before is never visible again.
 *
 * A page that a user pinned through a mapping (pin_user_pages(): io_uring
 * fixed buffers, O_DIRECT I/O in progress, VFIO DMA mappings) stays
 * reachable through the pin when its mappings go, so it cannot become
 * private: a conversion to private of a range holding such a page fails with
 * ``EBUSY`` and changes nothing.  The kernel does not wait for the pin to go,
 * even a short one such as O_DIRECT's: finish or cancel the I/O, unregister
 * the buffer or remove the DMA mapping, then retry.  Private pages cannot be
 * pinned (they are not mapped), so converting to shared never fails this way.
 *
 * Every ioctl checks all of its input before it changes anything; a failing
 * call leaves the object as it was: attributes, page contents and the
 * platform backend's state.  A %MEMATTR_SET_ATTRIBUTES to private that
 * fails once past its checks (``ENOMEM`` for the attribute store,
 * ``EBUSY``, a backend's error) may have removed the range's user mappings:
 * the pages fault back in on the next access, their data intact.  Errors:
 *
 * - ``EINVAL``: size not a multiple of the page size or zero, address not
 *   page aligned, address + size overflows or runs past the end of the
 *   object, unknown attribute bits, non-zero flags or reserved fields, a
 *   struct size smaller than the first version of the struct, mmap() without
 *   MAP_SHARED or past the end of the object.
 * - ``E2BIG``: an object larger than %MEMATTR_MAX_OBJECT_SIZE, a struct
 *   larger than the kernel knows whose extra bytes are not zero, or a struct
 *   size above the page size, whatever the extra bytes hold (as openat2()
 *   and clone3()).
 * - ``ENOMEM``: out of memory for the object, for the attribute store or for
 *   the list of runs a conversion changes (charged to the caller's memory
 *   cgroup: a conversion over its limit fails this way, nothing changed,
 *   and nothing is OOM-killed for it).
 * - ``EFAULT``: a user pointer could not be read or written.
 * - ``EBUSY``: %MEMATTR_SET_ATTRIBUTES to private over a page pinned through a
 *   mapping of the object (see above); nothing was changed but the range's
 *   user mappings (see above).  A pin being dropped at that very moment can
 *   also cause it: retry.
 * - ``EINTR``: a fatal signal arrived while waiting for an overlapping
 *   conversion to finish; nothing was changed.
 * - ``EPERM``: open() of ``/dev/memattr`` by a caller without
 *   ``CAP_SYS_ADMIN``.
 * - ``ENODEV``: the platform backend selected for new objects (module
 *   parameter ``backend``, ``none`` by default) is not registered.
 * - ``ENOTTY``: unknown ioctl.
 * - Any other error from %MEMATTR_SET_ATTRIBUTES was returned by the
 *   platform backend refusing the conversion (the selftests' test backend
 *   returns ``EIO``); nothing was changed.
 */

/*
 * ioctl type 0xB9, numbers 0x00-0x0F (free in 7.3's ioctl-number.rst; the
 * series registers them).  Each command encodes its direction and the size
 * of the first version of its struct, as KVM's do; the extensible structs
 * carry the size the caller knows in their @size field, which is what the
 * kernel reads.
 */
#define MEMATTR_TYPE 0xB9

/* The largest object, in bytes: 64 GiB. */
#define MEMATTR_MAX_OBJECT_SIZE (1ULL << 36)

/**
 * enum memattr_create_flags - flags for &struct memattr_create
 * @MEMATTR_CREATE_PER_GFN: keep one attribute entry per GFN in an xarray
 *	(KVM's layout) instead of one entry per run.  Same behaviour, different
 *	cost; meant as a benchmark baseline.
 */
enum memattr_create_flags {
	MEMATTR_CREATE_PER_GFN = 1 << 0,
};

/**
 * struct memattr_create - argument of %MEMATTR_CREATE
 * @size: sizeof(struct memattr_create); lets the struct grow; at most the
 *	page size
 * @flags: &enum memattr_create_flags; other bits must be zero
 * @object_size: size of the object in bytes: a non-zero multiple of the
 *	page size, at most %MEMATTR_MAX_OBJECT_SIZE
 *
 * Return: the new object fd.
 */
struct memattr_create {
	__u32 size;
	__u32 flags;
	__u64 object_size;
};

#define MEMATTR_CREATE _IOW(MEMATTR_TYPE, 0x00, struct memattr_create)

/* Attribute bits; the same values as KVM_MEMORY_ATTRIBUTE_*. */
#define MEMATTR_ATTRIBUTE_PRIVATE (1ULL << 3)

/**
 * struct memattr_attributes - argument of %MEMATTR_SET_ATTRIBUTES
 * @address: byte address of the first page; page aligned
 * @size: length in bytes; a non-zero multiple of the page size
 * @attributes: the new attributes of every page of the range: 0 (shared) or
 *	%MEMATTR_ATTRIBUTE_PRIVATE
 * @flags: must be zero
 *
 * The layout, and the meaning of the PRIVATE bit, are those of KVM's
 * &struct kvm_memory_attributes.  The conversion is all or nothing: on any
 * error no page changed attributes.  Converting to private fails with
 * ``EBUSY`` while a page of the range is pinned (pin_user_pages()).
 */
struct memattr_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};

#define MEMATTR_SET_ATTRIBUTES _IOW(MEMATTR_TYPE, 0x01, struct memattr_attributes)

/**
 * struct memattr_run - one run of pages with equal attributes
 * @address: byte address of the first page of the run
 * @size: length of the run in bytes
 * @attributes: attributes of every page of the run
 */
struct memattr_run {
	__u64 address;
	__u64 size;
	__u64 attributes;
};

/**
 * enum memattr_get_out_flags - output flags of %MEMATTR_GET_ATTRIBUTES
 * @MEMATTR_GET_MORE: the runs array filled up before the end of the queried
 *	range; query again from the end of the last run returned
 */
enum memattr_get_out_flags {
	MEMATTR_GET_MORE = 1 << 0,
};

/**
 * struct memattr_get_attributes - argument of %MEMATTR_GET_ATTRIBUTES
 * @size: sizeof(struct memattr_get_attributes); lets the struct grow; at
 *	most the page size
 * @flags: must be zero
 * @address: byte address of the first page queried; page aligned
 * @length: bytes queried; a non-zero multiple of the page size
 * @runs_ptr: user pointer to an array of @nr_runs &struct memattr_run
 * @nr_runs: in: capacity of the array; out: number of runs written
 * @out_flags: out: &enum memattr_get_out_flags
 *
 * The runs written are maximal runs of equal attributes clipped to the
 * queried range, in address order, with no gaps: the first starts at
 * @address and, unless %MEMATTR_GET_MORE is set, the last ends at @address +
 * @length.  A conversion running at the same time may show in part.
 */
struct memattr_get_attributes {
	__u32 size;
	__u32 flags;
	__u64 address;
	__u64 length;
	__u64 runs_ptr;
	__u32 nr_runs;
	__u32 out_flags;
};

#define MEMATTR_GET_ATTRIBUTES _IOWR(MEMATTR_TYPE, 0x02, struct memattr_get_attributes)

#endif /* _UAPI_LINUX_MEMATTR_H */
