// SPDX-License-Identifier: GPL-2.0-only
/*
 * Domain objects: creation, the domain file, references and teardown.
 *
 * The domain file is the reference count: the creator's reference, every
 * fd, every mmap and every in-kernel user (vduse_iotlb_domain_get_fd())
 * hold the file, and its release tears the domain down.  The embedded
 * struct device only keeps the memory around until the driver core is done
 * with it.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/dma-map-ops.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <uapi/linux/vduse_iotlb.h>

#include "vduse_iotlb.h"

static DEFINE_IDA(vit_ida);

static void vit_dev_release(struct device *dev)
{
	struct vduse_iotlb_domain *dom = vit_dev_to_dom(dev);

	ida_free(&vit_ida, dom->id);
	free_percpu(dom->stats);
	kfree(dom);
}

static int vit_file_release(struct inode *inode, struct file *file)
{
	struct vduse_iotlb_domain *dom = file->private_data;

	debugfs_remove_recursive(dom->debugfs);
	/* Waits for running scans; none can start afterwards. */
	shrinker_free(dom->shrinker);
	vit_umem_fini(dom);
	vit_coherent_fini(dom);
	vit_bounce_fini(dom);
	atomic_dec(&vit_live_domains);
	put_device(&dom->dev);
	return 0;
}

static const struct file_operations vit_domain_fops = {
	.owner = THIS_MODULE,
	.mmap = vit_mmap,
	.release = vit_file_release,
};

static int vit_check_layout(u64 iova_limit, u64 bounce_size)
{
	if (bounce_size < VDUSE_IOTLB_MIN_BOUNCE_SIZE ||
	    bounce_size > VDUSE_IOTLB_MAX_BOUNCE_SIZE ||
	    !PAGE_ALIGNED(bounce_size))
		return -EINVAL;
	/* At least one coherent page above the streaming region. */
	if (iova_limit > VDUSE_IOTLB_MAX_IOVA_LIMIT ||
	    !PAGE_ALIGNED(iova_limit + 1) ||
	    iova_limit < bounce_size + PAGE_SIZE - 1)
		return -EINVAL;
	return 0;
}

/**
 * vduse_iotlb_domain_create() - create a domain
 * @iova_limit: last IOVA (inclusive); see struct vduse_iotlb_create
 * @bounce_size: bytes of streaming region at IOVA 0
 *
 * The caller owns one reference (drop it with vduse_iotlb_domain_put()).
 *
 * Return: the domain, ERR_PTR(-EINVAL) for an inconsistent layout or
 * ERR_PTR(-ENOMEM).
 */
struct vduse_iotlb_domain *vduse_iotlb_domain_create(u64 iova_limit,
						     u64 bounce_size)
{
	struct vduse_iotlb_domain *dom;
	struct file *file;
	int ret;

	ret = vit_check_layout(iova_limit, bounce_size);
	if (ret)
		return ERR_PTR(ret);

	dom = kzalloc_obj(*dom, GFP_KERNEL_ACCOUNT);
	if (!dom)
		return ERR_PTR(-ENOMEM);
	dom->stats = alloc_percpu_gfp(struct vit_stats,
				      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!dom->stats) {
		ret = -ENOMEM;
		goto err_free_dom;
	}
	ret = ida_alloc(&vit_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_free_stats;
	dom->id = ret;

	/* From here on the device's release frees dom, stats and id. */
	device_initialize(&dom->dev);
	dom->dev.release = vit_dev_release;
	ret = dev_set_name(&dom->dev, "vduse_iotlb%d", dom->id);
	if (ret)
		goto err_put_device;
	/* Two masks, as any device has: a driver may narrow either. */
	dom->dma_mask = DMA_BIT_MASK(fls64(iova_limit));
	dom->dev.dma_mask = &dom->dma_mask;
	dom->dev.coherent_dma_mask = dom->dma_mask;
	dom->dev.dma_parms = &dom->dma_parms;
	set_dma_ops(&dom->dev, &vit_dma_ops);

	dom->bounce.start = 0;
	dom->bounce.size = bounce_size;
	dom->coherent.start = bounce_size;
	dom->coherent.size = iova_limit - bounce_size + 1;
	mutex_init(&dom->umem_lock);
	init_rwsem(&dom->view_lock);
	INIT_LIST_HEAD(&dom->umems);

	ret = vit_bounce_init(dom);
	if (ret)
		goto err_put_device;
	/* Each scatterlist entry is a mapping of its own. */
	dma_set_max_seg_size(&dom->dev, dom->max_map_size);
	vit_coherent_init(dom);
	ret = vit_shrinker_init(dom);
	if (ret)
		goto err_coherent_fini;

	file = anon_inode_create_getfile("[vduse_iotlb]", &vit_domain_fops,
					 dom, O_RDWR, NULL);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_free_shrinker;
	}
	dom->file = file;
	atomic_inc(&vit_live_domains);
	vit_domain_debugfs_init(dom);
	return dom;

err_free_shrinker:
	shrinker_free(dom->shrinker);
err_coherent_fini:
	vit_coherent_fini(dom);
	vit_bounce_fini(dom);
err_put_device:
	put_device(&dom->dev);
	return ERR_PTR(ret);

err_free_stats:
	free_percpu(dom->stats);
err_free_dom:
	kfree(dom);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(vduse_iotlb_domain_create);

/**
 * vduse_iotlb_domain_get_fd() - take a reference on the domain behind @fd
 * @fd: a domain file descriptor of the current task
 *
 * Return: the domain, ERR_PTR(-EBADF) or ERR_PTR(-EINVAL) if @fd is not a
 * domain file.
 */
struct vduse_iotlb_domain *vduse_iotlb_domain_get_fd(int fd)
{
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &vit_domain_fops) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	return file->private_data;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_domain_get_fd);

/**
 * vduse_iotlb_domain_put() - drop a reference
 * @dom: the domain
 *
 * The last reference tears the domain down: live streaming mappings and
 * coherent allocations are discarded, user memory unpinned.
 */
void vduse_iotlb_domain_put(struct vduse_iotlb_domain *dom)
{
	fput(dom->file);
}
EXPORT_SYMBOL_GPL(vduse_iotlb_domain_put);

/**
 * vduse_iotlb_domain_file() - the domain file (no reference taken)
 * @dom: the domain
 *
 * Return: the file to install as an fd (after get_file()) for mmap().
 */
struct file *vduse_iotlb_domain_file(struct vduse_iotlb_domain *dom)
{
	return dom->file;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_domain_file);

/**
 * vduse_iotlb_domain_device() - the DMA device of the domain
 * @dom: the domain
 *
 * Return: a device whose DMA API calls go through the domain, valid while
 * the caller holds a reference.
 */
struct device *vduse_iotlb_domain_device(struct vduse_iotlb_domain *dom)
{
	return &dom->dev;
}
EXPORT_SYMBOL_GPL(vduse_iotlb_domain_device);

static int vit_domain_stats_show(struct seq_file *m, void *unused)
{
	struct vduse_iotlb_domain *dom = m->private;

	seq_printf(m, "bounce_size %llu\niova_limit %llu\n",
		   dom->bounce.size, vmk_iova_window_last(&dom->coherent));
	vit_stats_show(m, dom->stats);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vit_domain_stats);

void vit_domain_debugfs_init(struct vduse_iotlb_domain *dom)
{
	dom->debugfs = debugfs_create_dir(dev_name(&dom->dev),
					  vit_debugfs_root);
	debugfs_create_file("stats", 0444, dom->debugfs, dom,
			    &vit_domain_stats_fops);
}
