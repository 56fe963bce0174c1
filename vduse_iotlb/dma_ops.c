// SPDX-License-Identifier: GPL-2.0-only
/*
 * DMA ops of the domain device: the ordinary DMA API on top of the domain.
 * The API cannot report unmap or free errors, so they are logged
 * (rate-limited) and leave the domain unchanged.
 */
#include <linux/dma-map-ops.h>
#include <linux/scatterlist.h>
#include <vmemkit/compat.h>

#include "vduse_iotlb.h"

/*
 * MMIO has no struct page to bounce from and a device may not see it
 * through a bounce domain at all: refuse it.
 */
static dma_addr_t vit_map_phys(struct device *dev, phys_addr_t phys,
			       size_t size, enum dma_data_direction dir,
			       unsigned long attrs)
{
	dma_addr_t iova;

	if (attrs & VMK_DMA_ATTR_MMIO)
		return DMA_MAPPING_ERROR;
	if (vduse_iotlb_map_page(vit_dev_to_dom(dev), pfn_to_page(PHYS_PFN(phys)),
				 offset_in_page(phys), size, dir, attrs, &iova))
		return DMA_MAPPING_ERROR;
	return iova;
}

static void vit_unmap_phys(struct device *dev, dma_addr_t iova, size_t size,
			   enum dma_data_direction dir, unsigned long attrs)
{
	int ret = vduse_iotlb_unmap_page(vit_dev_to_dom(dev), iova, size, dir,
					 attrs);

	if (ret)
		dev_err_ratelimited(dev, "unmap of %pad+%zu: %d\n", &iova, size,
				    ret);
}

/* The page-based entry points of kernels without .map_phys. */
static __maybe_unused dma_addr_t vit_map_page(struct device *dev,
					      struct page *page,
					      unsigned long offset,
					      size_t size,
					      enum dma_data_direction dir,
					      unsigned long attrs)
{
	return vit_map_phys(dev, page_to_phys(page) + offset, size, dir,
			    attrs);
}

static __maybe_unused void vit_unmap_page(struct device *dev, dma_addr_t iova,
					  size_t size,
					  enum dma_data_direction dir,
					  unsigned long attrs)
{
	vit_unmap_phys(dev, iova, size, dir, attrs);
}

static void vit_sync_for_cpu(struct device *dev, dma_addr_t iova,
			     size_t size, enum dma_data_direction dir)
{
	int ret = vduse_iotlb_sync_for_cpu(vit_dev_to_dom(dev), iova, size,
					   dir);

	if (ret)
		dev_err_ratelimited(dev, "sync of %pad+%zu: %d\n", &iova, size,
				    ret);
}

static void vit_sync_for_device(struct device *dev, dma_addr_t iova,
				size_t size, enum dma_data_direction dir)
{
	int ret = vduse_iotlb_sync_for_device(vit_dev_to_dom(dev), iova, size,
					      dir);

	if (ret)
		dev_err_ratelimited(dev, "sync of %pad+%zu: %d\n", &iova, size,
				    ret);
}

static void vit_unmap_sg(struct device *dev, struct scatterlist *sgl,
			 int nents, enum dma_data_direction dir,
			 unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vit_unmap_phys(dev, sg_dma_address(sg), sg_dma_len(sg), dir,
			       attrs);
}

/* One IOVA range per entry, all or none; the DMA API's errnos. */
static int vit_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			  int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
	int ret = vit_map_sg(vit_dev_to_dom(dev), sgl, nents, dir, attrs);

	if (ret)
		return ret == -EINVAL ? -EINVAL : -ENOMEM;
	return nents;
}

static void vit_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
				int nents, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vit_sync_for_cpu(dev, sg_dma_address(sg), sg_dma_len(sg), dir);
}

static void vit_sync_sg_for_device(struct device *dev,
				   struct scatterlist *sgl, int nents,
				   enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vit_sync_for_device(dev, sg_dma_address(sg), sg_dma_len(sg),
				    dir);
}

static void *vit_alloc(struct device *dev, size_t size, dma_addr_t *iova,
		       gfp_t gfp, unsigned long attrs)
{
	return vduse_iotlb_alloc_coherent(vit_dev_to_dom(dev), size, iova, gfp);
}

static void vit_free(struct device *dev, size_t size, void *vaddr,
		     dma_addr_t iova, unsigned long attrs)
{
	int ret = vduse_iotlb_free_coherent(vit_dev_to_dom(dev), size, vaddr,
					    iova);

	if (ret)
		dev_err_ratelimited(dev, "free of %pad+%zu: %d\n", &iova, size,
				    ret);
}

static size_t vit_max_mapping_size(struct device *dev)
{
	return vit_dev_to_dom(dev)->max_map_size;
}

/*
 * A mask must reach the whole streaming region and at least one page of
 * the coherent region above it; streaming IOVAs then always fit, and
 * coherent ones are taken under the coherent mask.
 */
static int vit_dma_supported(struct device *dev, u64 mask)
{
	struct vduse_iotlb_domain *dom = vit_dev_to_dom(dev);

	return mask >= dom->coherent.start + PAGE_SIZE - 1;
}

const struct dma_map_ops vit_dma_ops = {
	.alloc = vit_alloc,
	.free = vit_free,
#if VMK_DMA_HAS_MAP_PHYS
	.map_phys = vit_map_phys,
	.unmap_phys = vit_unmap_phys,
#else
	.map_page = vit_map_page,
	.unmap_page = vit_unmap_page,
#endif
	.map_sg = vit_dma_map_sg,
	.unmap_sg = vit_unmap_sg,
	.sync_single_for_cpu = vit_sync_for_cpu,
	.sync_single_for_device = vit_sync_for_device,
	.sync_sg_for_cpu = vit_sync_sg_for_cpu,
	.sync_sg_for_device = vit_sync_sg_for_device,
	.max_mapping_size = vit_max_mapping_size,
	.dma_supported = vit_dma_supported,
};
