/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vduse_iotlb kernel API: an MMU-based software IOTLB domain.
 *
 * A domain owns an IOVA space [0, iova_limit]: streaming mappings are
 * bounced through per-IOVA-page bounce pages in [0, bounce_size), coherent
 * allocations live above.  Its struct device (vduse_iotlb_domain_device())
 * carries DMA ops that call these functions, so most users simply call
 * dma_map_page(), dma_alloc_coherent() and dma_sync_single_*() on it.
 *
 * A reference on a domain is a reference on its file: the domain is torn
 * down when the last one goes.  The struct device and every function below
 * may be used while a reference is held.  Map, unmap and sync may be called
 * from atomic context, alloc_coherent with GFP_ATOMIC from softirq context;
 * create, put, free_coherent may sleep.  An unmap takes the bounce pages
 * away from the device: at once from a context that may sleep, from a work
 * item otherwise (see vduse_iotlb/README.md).
 */
#ifndef _VMEMKIT_VDUSE_IOTLB_H
#define _VMEMKIT_VDUSE_IOTLB_H

#include <linux/dma-direction.h>
#include <linux/types.h>

struct device;
struct file;
struct page;
struct vduse_iotlb_domain;

struct vduse_iotlb_domain *vduse_iotlb_domain_create(u64 iova_limit,
						     u64 bounce_size);
struct vduse_iotlb_domain *vduse_iotlb_domain_get_fd(int fd);
void vduse_iotlb_domain_put(struct vduse_iotlb_domain *dom);
struct file *vduse_iotlb_domain_file(struct vduse_iotlb_domain *dom);
struct device *vduse_iotlb_domain_device(struct vduse_iotlb_domain *dom);

int vduse_iotlb_map_page(struct vduse_iotlb_domain *dom, struct page *page,
			 unsigned long offset, size_t size,
			 enum dma_data_direction dir, unsigned long attrs,
			 dma_addr_t *iova);
int vduse_iotlb_unmap_page(struct vduse_iotlb_domain *dom, dma_addr_t iova,
			   size_t size, enum dma_data_direction dir,
			   unsigned long attrs);
int vduse_iotlb_sync_for_cpu(struct vduse_iotlb_domain *dom, dma_addr_t iova,
			     size_t size, enum dma_data_direction dir);
int vduse_iotlb_sync_for_device(struct vduse_iotlb_domain *dom,
				dma_addr_t iova, size_t size,
				enum dma_data_direction dir);
void *vduse_iotlb_alloc_coherent(struct vduse_iotlb_domain *dom, size_t size,
				 dma_addr_t *iova, gfp_t gfp);
int vduse_iotlb_free_coherent(struct vduse_iotlb_domain *dom, size_t size,
			      void *vaddr, dma_addr_t iova);

#endif /* _VMEMKIT_VDUSE_IOTLB_H */
