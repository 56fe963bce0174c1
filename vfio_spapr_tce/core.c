// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_spapr_tce: the sPAPR TCE IOMMU model of VFIO (v1 and v2) as a VFIO
 * IOMMU backend on any IOMMU.  Each container keeps its own TCE tables and
 * mirrors them into an IOMMU paging domain per attached group, so the
 * sPAPR user API can be developed and tested with real DMA off POWER.
 *
 * This file: module set-up and the container's life (open, release).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/idr.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "stce.h"

/*
 * 2 GiB: the 32-bit window of a POWER PHB (powernv: below the 32-bit MMIO
 * window at 2 GiB) and as much RAM as QEMU's q35 puts below 4 GiB for
 * guests from 2.75 GiB up, which its v1 container code maps at IOVA = GPA.
 */
unsigned int stce_dma32_window_mb = 2048;
module_param_named(dma32_window_mb, stce_dma32_window_mb, uint, 0444);
MODULE_PARM_DESC(dma32_window_mb,
		 "size of the default DMA window at IOVA 0 in MiB (power of two, 1..2048)");

/*
 * 256 GiB: the upper half of a 39-bit space, which every IOMMU this runs
 * behind translates (VT-d 39 or 48 bits, AMD 48 or 64, virtio-iommu up to
 * 64) and where none of them reports a reserved region (x86 MSIs sit below
 * 4 GiB, AMD's HyperTransport range at 1012 GiB); it holds windows of up
 * to 256 GiB.
 */
unsigned long long stce_ddw_base = 1ULL << 38;
module_param_named(ddw_base, stce_ddw_base, ullong, 0444);
MODULE_PARM_DESC(ddw_base,
		 "start of the second DMA window where the IOMMU cannot translate 1<<59 (2 MiB aligned, above the default window)");

bool stce_allow_unsafe_interrupts;
module_param_named(allow_unsafe_interrupts, stce_allow_unsafe_interrupts,
		   bool, 0444);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "attach groups without isolated MSI (no interrupt remapping), as vfio_iommu_type1's option");

struct stce_stats stce_stats;

static DEFINE_IDA(stce_ida);

static void *stce_open(unsigned long arg)
{
	struct stce_container *c;
	int ret;

	if (arg != VFIO_SPAPR_TCE_IOMMU && arg != VFIO_SPAPR_TCE_v2_IOMMU)
		return ERR_PTR(-EINVAL);

	c = kzalloc_obj(*c, GFP_KERNEL_ACCOUNT);
	if (!c)
		return ERR_PTR(-ENOMEM);
	mutex_init(&c->lock);
	c->v2 = arg == VFIO_SPAPR_TCE_v2_IOMMU;
	INIT_LIST_HEAD(&c->groups);
	INIT_LIST_HEAD(&c->mems);
	vmk_page_array_init(&c->acct, VMK_PA_PINNED);

	ret = stce_window_init(&c->windows[0], c->v2, 0,
			       (u64)stce_dma32_window_mb << 20, PAGE_SHIFT,
			       STCE_DMA32_LEVELS);
	if (ret)
		goto err_free;

	ret = ida_alloc(&stce_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_window;
	c->id = ret;

	stce_debugfs_add(c);
	atomic_long_inc(&stce_stats.nr_containers);
	return c;

err_window:
	stce_window_destroy(c, &c->windows[0]);
err_free:
	mutex_destroy(&c->lock);
	kfree(c);
	return ERR_PTR(ret);
}

/*
 * Called by VFIO when the last group left the container, so no domain is
 * left to unmap from; still tear down in the same order as everywhere else
 * (IOMMU first, then pins, then charges).
 */
static void stce_release(void *iommu_data)
{
	struct stce_container *c = iommu_data;
	int i;

	stce_debugfs_del(c);

	mutex_lock(&c->lock);
	WARN_ON_ONCE(!list_empty(&c->groups));
	for (i = 0; i < STCE_MAX_WINDOWS; i++)
		stce_window_destroy(c, &c->windows[i]);
	stce_mem_release_all(c);
	vmk_page_array_release(&c->acct, false);
	if (c->mm)
		mmdrop(c->mm);
	mutex_unlock(&c->lock);

	ida_free(&stce_ida, c->id);
	mutex_destroy(&c->lock);
	kfree(c);
	atomic_long_dec(&stce_stats.nr_containers);
}

static const struct vfio_iommu_driver_ops stce_ops = {
	.name		= "vfio-spapr-tce",
	.owner		= THIS_MODULE,
	.open		= stce_open,
	.release	= stce_release,
	.ioctl		= stce_ioctl,
	.attach_group	= stce_attach_group,
	.detach_group	= stce_detach_group,
};

static int __init stce_init(void)
{
	int ret;

	if (!is_power_of_2(stce_dma32_window_mb) ||
	    stce_dma32_window_mb > 2048) {
		pr_err("dma32_window_mb=%u: need a power of two up to 2048\n",
		       stce_dma32_window_mb);
		return -EINVAL;
	}
	if (!IS_ALIGNED(stce_ddw_base, SZ_2M) ||
	    stce_ddw_base < (u64)stce_dma32_window_mb << 20) {
		pr_err("ddw_base=0x%llx: need 2 MiB alignment, above the default window\n",
		       stce_ddw_base);
		return -EINVAL;
	}

	stce_debugfs_init();
	ret = vfio_register_iommu_driver(&stce_ops);
	if (ret)
		stce_debugfs_exit();
	return ret;
}

static void __exit stce_exit(void)
{
	vfio_unregister_iommu_driver(&stce_ops);
	stce_debugfs_exit();
	ida_destroy(&stce_ida);
}

module_init(stce_init);
module_exit(stce_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sPAPR TCE (v1/v2) VFIO IOMMU backend on the IOMMU API");
