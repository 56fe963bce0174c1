/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * vfio_spapr_tce: the sPAPR TCE IOMMU model of VFIO on any IOMMU.
 *
 * The structs and ioctl numbers are those of <linux/vfio.h>; this header
 * only documents how this backend implements them and where it differs
 * from the POWER driver (drivers/vfio/vfio_iommu_spapr_tce.c).
 */
#ifndef _UAPI_LINUX_VFIO_SPAPR_TCE_H
#define _UAPI_LINUX_VFIO_SPAPR_TCE_H

#include <linux/vfio.h>

/**
 * DOC: model
 *
 * VFIO_SET_IOMMU with VFIO_SPAPR_TCE_IOMMU (v1) or VFIO_SPAPR_TCE_v2_IOMMU
 * (v2) selects this backend.  Each attached IOMMU group gets its own IOMMU
 * paging domain.  The container keeps, per DMA window, a TCE table with one
 * entry per IOMMU page (physical address + READ/WRITE), and every in-use
 * entry is mapped in every group's domain.  Each TCE is exactly one IOMMU
 * page of the window's page size in every domain, so any TCE-aligned range
 * can be unmapped alone.
 *
 * Windows: the default window starts at IOVA 0; its size is the module
 * parameter dma32_window_mb (default 1024, reported by GET_INFO as
 * dma32_window_start/size) with 4 KiB TCEs.  v2 adds at most one dynamic
 * window (TCE_CREATE) of 4 KiB or 2 MiB TCEs (never smaller than the
 * system page), placed at the lowest naturally aligned IOVA that overlaps
 * neither another window nor an IOMMU reserved region (MSI doorbells,
 * RMRR; relaxable direct regions excepted, as in type1) and lies inside
 * every domain's aperture.  An aperture may span all 2^64 IOVAs (AMD,
 * virtio-iommu).  Any window, the default one included, can be removed
 * (TCE_REMOVE) and a new one created in the free slot.
 *
 * MSI: a group whose IOMMU translates MSI doorbells in software (arm64
 * SMMU, virtio-iommu without an MSI bypass region) gets an MSI cookie, as
 * with type1.  It lies at the IOMMU driver's suggested IOVA unless a
 * window covers that, else at the top of the aperture; windows created
 * later keep clear of it.
 */

/**
 * DOC: differences from POWER
 *
 * - v1 charges locked_vm for the pages MAP_DMA actually pins, when it pins
 *   them, and returns the charge on UNMAP_DMA, DISABLE or detach.  POWER
 *   charges the whole window at ENABLE.  ENABLE here only claims the
 *   container for the calling mm and fails with -ENOMEM if RLIMIT_MEMLOCK
 *   leaves no room for a single page (without CAP_IPC_LOCK).
 * - DISABLE and detaching the last group (also by closing the group fd
 *   while enabled or with live mappings) unmap, unpin and un-charge every
 *   mapping.  Registered memory (v2) stays until UNREGISTER or release.
 * - MAP_DMA or UNMAP_DMA of a range that starts in a window but runs past
 *   its end fails with -EINVAL and changes nothing.
 * - MAP_DMA over TCEs in use replaces them, as on POWER (the old pages
 *   are unpinned and un-charged, or lose their v2 mapping count), but only
 *   once every new page is pinned or found registered: a refused MAP
 *   leaves the old TCEs in place.  If the IOMMU then fails to map the new
 *   entries, the whole range is left clear.
 * - v2 needs no ENABLE: MAP_DMA works once memory is registered.
 * - A 2 MiB TCE needs the registered memory behind it to be one physically
 *   contiguous, 2 MiB aligned page (a THP or hugetlb page).
 * - The TCE table is one kvmalloc'ed array: levels (1..5) is validated and
 *   shown in debugfs but does not change the layout; GET_INFO reports 5.
 * - EEH is a POWER platform service: VFIO_CHECK_EXTENSION(VFIO_EEH) is 0
 *   and VFIO_EEH_PE_OP fails with -ENOTTY.
 * - An IOMMU driver may fail to unmap (virtio-iommu, out of memory for
 *   its request).  TCEs that some group's IOMMU could not unmap stay in
 *   use, holding their pages (pin, charge or v2 mapping count), since a
 *   device may still reach them: UNMAP_DMA, DISABLE, TCE_REMOVE and
 *   MAP_DMA over them fail with -ENOMEM and can be repeated; the last
 *   group's detach clears them.  MAP_DMA that fails while mapping leaves
 *   such TCEs in use too.
 * - Groups whose IOMMU lacks isolated MSI (interrupt remapping) are
 *   refused with -EPERM, as vfio_iommu_type1 does, unless the module is
 *   loaded with allow_unsafe_interrupts=1 (type1's option of that name).
 */

/**
 * DOC: errnos
 *
 * Every ioctl validates its whole argument before it changes anything; on
 * any error no page is pinned, nothing is charged and no TCE or IOMMU
 * entry is left behind, unless an IOMMU could not unmap (see the
 * differences from POWER).  Argument structs start with argsz: a larger
 * argsz is accepted if the bytes this backend does not know are zero.
 *
 * - EINVAL: argsz below the fields the ioctl needs; unknown flags or
 *   non-zero reserved fields; MAP_DMA without READ or WRITE; vaddr, iova
 *   or size not aligned to the window page size, or size 0; vaddr + size
 *   overflowing; a v2 2 MiB TCE over memory that is not one contiguous
 *   aligned 2 MiB page; MAP_DMA/UNMAP_DMA running past the end of the
 *   window iova is in; TCE_CREATE with a page size other than 4 KiB or
 *   2 MiB, below the system page size or one the IOMMU lacks, a window
 *   size that is not a power of two at least one page, more than 2^22
 *   TCEs, or larger than the IOMMU aperture, levels outside 1..5;
 *   TCE_REMOVE of an address where no window starts; an emulated or
 *   duplicate group, or one whose aperture shares no IOVA with the other
 *   groups' or leaves no room for its MSI cookie.
 * - E2BIG: argsz larger than the struct with non-zero bytes past it.
 * - ENXIO: MAP_DMA/UNMAP_DMA at an iova in no window; GET_INFO, MAP_DMA,
 *   UNMAP_DMA, TCE_CREATE or TCE_REMOVE while no group is attached (as on
 *   POWER; through VFIO this cannot happen, as VFIO releases a container
 *   with its last group).
 * - EBUSY: ENABLE twice; a second group in a v1 container;
 *   REGISTER_MEMORY overlapping registered memory; UNREGISTER_MEMORY while
 *   TCEs point into the region.
 * - ENOENT: UNREGISTER_MEMORY of a range not registered with exactly that
 *   address and size.  UNMAP_DMA never fails for TCEs that are already
 *   clear: it skips them (POWER and type1 semantics).
 * - EPERM: the container belongs to another mm (the first to ENABLE or
 *   REGISTER_MEMORY); v1 MAP/UNMAP before ENABLE; v2 MAP_DMA of memory not
 *   inside one registered region; a group without isolated MSI (unless
 *   allow_unsafe_interrupts=1).
 * - ENOMEM: over RLIMIT_MEMLOCK without CAP_IPC_LOCK (v1 MAP_DMA and
 *   ENABLE, v2 REGISTER_MEMORY), or out of memory; an IOMMU that could
 *   not unmap TCEs (see above), which then stay in use.
 * - ENOSPC: TCE_CREATE with no free window slot or no free aligned IOVA
 *   range inside the aperture.
 * - ENOTTY: an ioctl of the other sPAPR version, VFIO_EEH_PE_OP, or any
 *   ioctl this backend does not implement.
 * - EFAULT: a bad user pointer, or user memory that cannot be pinned.
 */

/**
 * DOC: debugfs
 *
 * <debugfs>/vfio_spapr_tce/:
 *
 * - containers: per live container its version, enabled state, pinned
 *   pages and iommu_map() calls; the aperture (inclusive) and page sizes
 *   every domain shares; its groups, each with its MSI cookie's IOVA range
 *   if it has one; per window start, size, page
 *   shift, levels and "tces in_use/total"; per registered region its
 *   address, size and the TCEs mapping it.
 * - nr_containers: live containers.
 * - pinned_pages: system pages pinned by all containers (v1 mappings and
 *   v2 registered memory); 0 once every container is closed.
 * - iommu_map_calls, iommu_unmap_calls: IOMMU API calls made so far.
 */

#endif /* _UAPI_LINUX_VFIO_SPAPR_TCE_H */
