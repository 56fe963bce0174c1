// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/vduse_iotlb: create domains, query them, (de)register user bounce
 * memory, destroy them.  Each open file names its domains by small ids;
 * the file holds one domain reference per id.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vduse_iotlb.h>

#include "vduse_iotlb.h"

/**
 * struct vit_ctx - one open /dev/vduse_iotlb
 * @domains: id -> domain; each entry holds a reference; the xa_lock
 *           serialises lookups against DESTROY; ids are below
 *           %VDUSE_IOTLB_MAX_DOMAINS_PER_FD, so that a loop of CREATEs
 *           cannot pin bounce tables and files without end
 */
struct vit_ctx {
	struct xarray domains;
};

union vit_ucmd {
	struct vduse_iotlb_create create;
	struct vduse_iotlb_info info;
	struct vduse_iotlb_umem umem;
	struct vduse_iotlb_destroy destroy;
};

/* Look up @id and take a reference for the duration of one ioctl. */
static struct vduse_iotlb_domain *vit_ctx_get(struct vit_ctx *ctx, u32 id)
{
	struct vduse_iotlb_domain *dom;

	xa_lock(&ctx->domains);
	dom = xa_load(&ctx->domains, id);
	if (dom)
		get_file(dom->file);
	xa_unlock(&ctx->domains);
	return dom;
}

static int vit_respond(void __user *uarg, const void *cmd, u32 usize,
		       size_t ksize)
{
	return copy_to_user(uarg, cmd, min_t(size_t, usize, ksize)) ?
	       -EFAULT : 0;
}

static int vit_ioc_create(struct vit_ctx *ctx, union vit_ucmd *ucmd,
			  void __user *uarg, u32 usize)
{
	struct vduse_iotlb_create *cmd = &ucmd->create;
	struct vduse_iotlb_domain *dom;
	int fd, ret;
	u32 id;

	if (cmd->flags || cmd->out_domain_id || cmd->out_fd)
		return -EINVAL;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	dom = vduse_iotlb_domain_create(cmd->iova_limit, cmd->bounce_size);
	if (IS_ERR(dom)) {
		ret = PTR_ERR(dom);
		goto err_put_fd;
	}
	/* One reference for the id, the creator's one goes to the fd. */
	get_file(dom->file);
	ret = xa_alloc(&ctx->domains, &id, dom,
		       XA_LIMIT(0, VDUSE_IOTLB_MAX_DOMAINS_PER_FD - 1),
		       GFP_KERNEL_ACCOUNT);
	if (ret == -EBUSY)
		ret = -ENOSPC;
	if (ret)
		goto err_put_id_ref;
	cmd->out_domain_id = id;
	cmd->out_fd = fd;
	ret = vit_respond(uarg, cmd, usize, sizeof(*cmd));
	if (ret)
		goto err_erase_id;
	fd_install(fd, dom->file);
	return 0;

err_erase_id:
	xa_erase(&ctx->domains, id);
err_put_id_ref:
	fput(dom->file);
	vduse_iotlb_domain_put(dom);
err_put_fd:
	put_unused_fd(fd);
	return ret;
}

static int vit_ioc_info(struct vit_ctx *ctx, union vit_ucmd *ucmd,
			void __user *uarg, u32 usize)
{
	struct vduse_iotlb_info *cmd = &ucmd->info;
	struct vduse_iotlb_domain *dom;
	struct vit_stats sum;
	int ret;

	dom = vit_ctx_get(ctx, cmd->domain_id);
	if (!dom)
		return -ENOENT;
	vit_stats_sum(dom->stats, &sum);
	cmd->out_bounce_size = dom->bounce.size;
	cmd->out_iova_limit = vmk_iova_window_last(&dom->coherent);
	cmd->out_page_size = PAGE_SIZE;
	cmd->out_mappings = sum.v[VIT_STAT_MAPPINGS];
	cmd->out_kernel_pages = sum.v[VIT_STAT_KERNEL_PAGES];
	cmd->out_user_pages = sum.v[VIT_STAT_USER_PAGES];
	cmd->out_coherent_pages = sum.v[VIT_STAT_COHERENT_PAGES];
	cmd->out_reclaimed = sum.v[VIT_STAT_RECLAIMED];
	cmd->out_bytes_to_dev = sum.v[VIT_STAT_BYTES_TO_DEV];
	cmd->out_bytes_from_dev = sum.v[VIT_STAT_BYTES_FROM_DEV];
	ret = vit_respond(uarg, cmd, usize, sizeof(*cmd));
	vduse_iotlb_domain_put(dom);
	return ret;
}

static int vit_ioc_umem(struct vit_ctx *ctx, union vit_ucmd *ucmd, bool reg)
{
	struct vduse_iotlb_umem *cmd = &ucmd->umem;
	struct vduse_iotlb_domain *dom;
	int ret;

	if (cmd->flags || cmd->__reserved || (!reg && cmd->uaddr))
		return -EINVAL;
	dom = vit_ctx_get(ctx, cmd->domain_id);
	if (!dom)
		return -ENOENT;
	if (reg)
		ret = vit_umem_register(dom, cmd->iova, cmd->length, cmd->uaddr);
	else
		ret = vit_umem_deregister(dom, cmd->iova, cmd->length);
	vduse_iotlb_domain_put(dom);
	return ret;
}

static int vit_ioc_destroy(struct vit_ctx *ctx, union vit_ucmd *ucmd)
{
	struct vduse_iotlb_domain *dom;

	dom = xa_erase(&ctx->domains, ucmd->destroy.domain_id);
	if (!dom)
		return -ENOENT;
	vduse_iotlb_domain_put(dom);
	return 0;
}

/* Smallest size userspace may pass for each command. */
static const u32 vit_min_size[] = {
	[VDUSE_IOTLB_CMD_CREATE - VDUSE_IOTLB_CMD_BASE] =
		offsetofend(struct vduse_iotlb_create, out_fd),
	[VDUSE_IOTLB_CMD_INFO - VDUSE_IOTLB_CMD_BASE] =
		offsetofend(struct vduse_iotlb_info, out_bytes_from_dev),
	[VDUSE_IOTLB_CMD_UMEM_REG - VDUSE_IOTLB_CMD_BASE] =
		offsetofend(struct vduse_iotlb_umem, uaddr),
	[VDUSE_IOTLB_CMD_UMEM_DEREG - VDUSE_IOTLB_CMD_BASE] =
		offsetofend(struct vduse_iotlb_umem, uaddr),
	[VDUSE_IOTLB_CMD_DESTROY - VDUSE_IOTLB_CMD_BASE] =
		offsetofend(struct vduse_iotlb_destroy, domain_id),
};

static long vit_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vit_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	unsigned int nr = _IOC_NR(cmd);
	union vit_ucmd ucmd;
	u32 usize, ksize;
	int ret;

	if (_IOC_TYPE(cmd) != VDUSE_IOTLB_TYPE || _IOC_DIR(cmd) != _IOC_NONE ||
	    _IOC_SIZE(cmd) || nr < VDUSE_IOTLB_CMD_BASE ||
	    nr - VDUSE_IOTLB_CMD_BASE >= ARRAY_SIZE(vit_min_size))
		return -ENOTTY;
	ksize = vit_min_size[nr - VDUSE_IOTLB_CMD_BASE];
	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < ksize)
		return -EINVAL;
	/* Checking a larger tail for zeroes would only cost time. */
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&ucmd, ksize, uarg, usize);
	if (ret)
		return ret;

	switch (nr) {
	case VDUSE_IOTLB_CMD_CREATE:
		return vit_ioc_create(ctx, &ucmd, uarg, usize);
	case VDUSE_IOTLB_CMD_INFO:
		return vit_ioc_info(ctx, &ucmd, uarg, usize);
	case VDUSE_IOTLB_CMD_UMEM_REG:
		return vit_ioc_umem(ctx, &ucmd, true);
	case VDUSE_IOTLB_CMD_UMEM_DEREG:
		return vit_ioc_umem(ctx, &ucmd, false);
	default:
		return vit_ioc_destroy(ctx, &ucmd);
	}
}

static int vit_open(struct inode *inode, struct file *file)
{
	struct vit_ctx *ctx;

	ctx = kzalloc_obj(*ctx, GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	xa_init_flags(&ctx->domains, XA_FLAGS_ALLOC);
	file->private_data = ctx;
	return 0;
}

static int vit_close(struct inode *inode, struct file *file)
{
	struct vit_ctx *ctx = file->private_data;
	struct vduse_iotlb_domain *dom;
	unsigned long id;

	xa_for_each(&ctx->domains, id, dom)
		vduse_iotlb_domain_put(dom);
	xa_destroy(&ctx->domains);
	kfree(ctx);
	return 0;
}

static const struct file_operations vit_ctl_fops = {
	.owner = THIS_MODULE,
	.open = vit_open,
	.release = vit_close,
	.unlocked_ioctl = vit_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice vit_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vduse_iotlb",
	.fops = &vit_ctl_fops,
	.mode = 0600,
};

int vit_uapi_init(void)
{
	return misc_register(&vit_misc);
}

void vit_uapi_exit(void)
{
	misc_deregister(&vit_misc);
}
