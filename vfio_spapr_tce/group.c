// SPDX-License-Identifier: GPL-2.0-only
/*
 * Groups: each attached IOMMU group gets its own paging domain, and every
 * in-use TCE of the container is mirrored into it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/iommu.h>
#include <linux/slab.h>

#include "stce.h"

static struct stce_group *stce_group_find(struct stce_container *c,
					  struct iommu_group *iommu_group)
{
	struct stce_group *g;

	list_for_each_entry(g, &c->groups, node)
		if (g->iommu_group == iommu_group)
			return g;
	return NULL;
}

static int stce_domain_alloc(struct device *dev, void *data)
{
	struct iommu_domain **domain = data;

	*domain = iommu_paging_domain_alloc(dev);
	return 1;	/* one device is enough to pick the IOMMU */
}

/*
 * Whether a window overlaps a reserved region (MSI doorbell, RMRR, ...) of
 * @g.  Relaxable direct regions (graphics and USB RMRRs a device only uses
 * before its driver takes over) are no conflict, as in type1.  A software
 * MSI region is only a hint of how much IOVA space the MSI cookie needs:
 * what matters is where this group's cookie actually lies (@g->msi).
 */
static int stce_group_resv_conflict(struct stce_group *g,
				    const struct vmk_iova_window *w)
{
	struct iommu_resv_region *r, *tmp;
	struct vmk_iova_window rw;
	LIST_HEAD(regions);
	int ret;

	/* On failure the list may hold the regions found so far: free them. */
	ret = iommu_get_group_resv_regions(g->iommu_group, &regions);
	list_for_each_entry_safe(r, tmp, &regions, list) {
		rw.start = r->start;
		rw.size = r->length;
		if (!ret && r->type != IOMMU_RESV_DIRECT_RELAXABLE &&
		    r->type != IOMMU_RESV_SW_MSI &&
		    vmk_iova_window_valid(&rw) &&
		    vmk_iova_window_overlaps(&rw, w))
			ret = -EINVAL;
		kfree(r);
	}
	if (!ret && g->msi.size && vmk_iova_window_overlaps(&g->msi, w))
		ret = -EINVAL;
	return ret;
}

/**
 * stce_resv_conflict() - check a window against every group's reserved IOVAs
 * @c: the container, locked
 * @w: the window
 *
 * Return: 0, -EINVAL if @w overlaps a reserved region, or -ENOMEM.
 */
int stce_resv_conflict(struct stce_container *c,
		       const struct vmk_iova_window *w)
{
	struct stce_group *g;
	int ret;

	lockdep_assert_held(&c->lock);
	list_for_each_entry(g, &c->groups, node) {
		ret = stce_group_resv_conflict(g, w);
		if (ret)
			return ret;
	}
	return 0;
}

/* Whether every existing window fits a domain of @pgsizes and @aperture. */
static int stce_windows_fit(struct stce_container *c, struct stce_group *g,
			    unsigned long pgsizes,
			    const struct vmk_iova_range *aperture)
{
	struct stce_window *w;
	int i, ret;

	for (i = 0; i < STCE_MAX_WINDOWS; i++) {
		w = &c->windows[i];
		if (!w->win.size)
			continue;
		if (!(pgsizes & (1UL << w->page_shift)) ||
		    !vmk_iova_range_contains(aperture, w->win.start,
					     w->win.size))
			return -EINVAL;
		ret = stce_group_resv_conflict(g, &w->win);
		if (ret)
			return ret;
	}
	return 0;
}

/* Whether @msi overlaps a window of @c. */
static bool stce_msi_hits_window(struct stce_container *c,
				 const struct vmk_iova_window *msi)
{
	int i;

	for (i = 0; i < STCE_MAX_WINDOWS; i++)
		if (c->windows[i].win.size &&
		    vmk_iova_window_overlaps(&c->windows[i].win, msi))
			return true;
	return false;
}

/*
 * A group whose IOMMU maps MSI doorbells in software (IOMMU_RESV_SW_MSI,
 * arm64 SMMU and virtio-iommu without an MSI bypass region) needs an MSI
 * cookie, as type1 gets one, or its device's MSIs are not translated.  The
 * region's start is only the driver's suggestion: the cookie goes there
 * unless a window (the default one covers MSI_IOVA_BASE) is in the way,
 * else at the top of the aperture, which no window starts near.  A group
 * with a hardware MSI region (IOMMU_RESV_MSI) needs no cookie.
 */
static int stce_msi_place(struct stce_container *c, struct stce_group *g,
			  const struct vmk_iova_range *aperture)
{
	struct vmk_iova_window msi = {};
	struct iommu_resv_region *r, *tmp;
	bool hw_msi = false;
	LIST_HEAD(regions);
	u64 align;
	int ret;

	ret = iommu_get_group_resv_regions(g->iommu_group, &regions);
	list_for_each_entry_safe(r, tmp, &regions, list) {
		if (r->type == IOMMU_RESV_MSI)
			hw_msi = true;
		if (r->type == IOMMU_RESV_SW_MSI && r->length) {
			msi.start = r->start;
			msi.size = r->length;
		}
		kfree(r);
	}
	if (ret || hw_msi || !msi.size)
		return ret;

	if (!vmk_iova_window_valid(&msi) ||
	    !vmk_iova_range_contains(aperture, msi.start, msi.size) ||
	    stce_msi_hits_window(c, &msi)) {
		align = roundup_pow_of_two(msi.size);
		if (!vmk_iova_range_fits(aperture, align))
			return -EINVAL;
		msi.start = (aperture->last - (align - 1)) & ~(align - 1);
		if (!vmk_iova_range_contains(aperture, msi.start, msi.size) ||
		    stce_msi_hits_window(c, &msi))
			return -EINVAL;
	}
	g->msi = msi;
	return 0;
}

static void stce_aperture_of(struct iommu_domain *domain,
			     struct vmk_iova_range *aperture)
{
	aperture->start = domain->geometry.aperture_start;
	aperture->last = domain->geometry.aperture_end;
}

/* Recompute page sizes and aperture from the groups left. */
static void stce_caps_update(struct stce_container *c)
{
	struct vmk_iova_range ap;
	struct stce_group *g;
	bool first = true;

	c->pgsizes = 0;
	c->aperture.start = 0;
	c->aperture.last = 0;
	list_for_each_entry(g, &c->groups, node) {
		stce_aperture_of(g->domain, &ap);
		if (first) {
			c->pgsizes = g->domain->pgsize_bitmap;
			c->aperture = ap;
			first = false;
			continue;
		}
		c->pgsizes &= g->domain->pgsize_bitmap;
		/* Attach made sure the apertures of all groups intersect. */
		vmk_iova_range_and(&c->aperture, &ap);
	}
}

/**
 * stce_attach_group() - vfio_iommu_driver_ops.attach_group
 * @iommu_data: the container
 * @iommu_group: the group VFIO already claimed DMA ownership of
 * @type: only VFIO_IOMMU groups have an IOMMU to program
 *
 * Return: 0; -EINVAL for an emulated or duplicate group, one whose domain
 * cannot hold the existing windows, shares no IOVA with the other groups'
 * domains or has no room for its MSI cookie; -EBUSY for a second group in
 * a v1 container; -EPERM without isolated MSI (unless
 * allow_unsafe_interrupts); or the IOMMU layer's error.
 */
int stce_attach_group(void *iommu_data, struct iommu_group *iommu_group,
		      enum vfio_group_type type)
{
	struct stce_container *c = iommu_data;
	struct iommu_domain *domain = NULL;
	struct vmk_iova_range ap, both;
	struct stce_group *g;
	int ret;

	if (type != VFIO_IOMMU)
		return -EINVAL;
	/*
	 * Without interrupt remapping a device could forge MSIs: refused
	 * unless the administrator allows it, as in type1.
	 */
	if (!stce_allow_unsafe_interrupts &&
	    !iommu_group_has_isolated_msi(iommu_group))
		return -EPERM;

	mutex_lock(&c->lock);
	ret = -EINVAL;
	if (stce_group_find(c, iommu_group))
		goto out_unlock;
	/* v1 is one group (one PE) per container, as on POWER. */
	ret = -EBUSY;
	if (!c->v2 && !list_empty(&c->groups))
		goto out_unlock;

	ret = -ENOMEM;
	g = kzalloc_obj(*g, GFP_KERNEL_ACCOUNT);
	if (!g)
		goto out_unlock;
	g->iommu_group = iommu_group;

	iommu_group_for_each_dev(iommu_group, &domain, stce_domain_alloc);
	if (IS_ERR_OR_NULL(domain)) {
		ret = domain ? PTR_ERR(domain) : -ENODEV;
		goto err_free_group;
	}
	g->domain = domain;

	/*
	 * Attach first, as type1 does: virtio-iommu only fills in a domain's
	 * geometry and page sizes when it is first attached.
	 */
	ret = iommu_attach_group(domain, iommu_group);
	if (ret)
		goto err_free_domain;

	stce_aperture_of(domain, &ap);
	both = c->aperture;
	ret = -EINVAL;
	if (ap.start > ap.last ||
	    (!list_empty(&c->groups) && !vmk_iova_range_and(&both, &ap)))
		goto err_detach;
	ret = stce_windows_fit(c, g, domain->pgsize_bitmap, &ap);
	if (ret)
		goto err_detach;
	ret = stce_msi_place(c, g, &ap);
	if (ret)
		goto err_detach;

	/* A v2 container may already have mappings the new domain needs. */
	ret = stce_window_replay(c, domain);
	if (ret)
		goto err_detach;
	/* -ENODEV: the kernel has no IOMMU_DMA, so no MSI is translated. */
	if (g->msi.size) {
		ret = iommu_get_msi_cookie(domain, g->msi.start);
		if (ret && ret != -ENODEV)
			goto err_detach;
	}

	list_add_tail(&g->node, &c->groups);
	stce_caps_update(c);
	mutex_unlock(&c->lock);
	return 0;

err_detach:
	iommu_detach_group(domain, iommu_group);
err_free_domain:
	iommu_domain_free(domain);
err_free_group:
	kfree(g);
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

/**
 * stce_detach_group() - vfio_iommu_driver_ops.detach_group
 * @iommu_data: the container
 * @iommu_group: the group leaving it
 *
 * The group's domain goes away with all its entries.  When the last group
 * leaves, nothing can DMA through the container any more, so every TCE is
 * cleared: v1 pins are dropped and un-charged and a v1 container is
 * disabled (v2 registered memory stays until release or UNREGISTER).
 */
void stce_detach_group(void *iommu_data, struct iommu_group *iommu_group)
{
	struct stce_container *c = iommu_data;
	struct stce_group *g;
	int i;

	mutex_lock(&c->lock);
	g = stce_group_find(c, iommu_group);
	if (!g)
		goto out_unlock;

	list_del(&g->node);
	iommu_detach_group(g->domain, iommu_group);
	iommu_domain_free(g->domain);
	kfree(g);
	stce_caps_update(c);

	if (list_empty(&c->groups)) {
		for (i = 0; i < STCE_MAX_WINDOWS; i++)
			stce_window_clear(c, &c->windows[i]);
		c->enabled = false;
	}
out_unlock:
	mutex_unlock(&c->lock);
}
