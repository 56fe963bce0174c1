// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test-only client of vduse_iotlb: kernel buffers mapped through the
 * ordinary DMA API on a domain's device, driven from userspace through
 * /dev/vduse_iotlb_test (see vduse_iotlb_test.h).  Everything a file
 * created is unmapped and freed when it is closed.
 */
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <vmemkit/compat.h>
#include <vmemkit/vduse_iotlb.h>

#include "vduse_iotlb_test.h"

/**
 * struct vt_buf - a kernel buffer
 * @vaddr: kernel address
 * @size: bytes
 * @order: page order of a streaming buffer
 * @coherent: allocated with dma_alloc_coherent()
 * @iova: IOVA of a coherent buffer
 * @maps: live mappings of the buffer
 */
struct vt_buf {
	void *vaddr;
	size_t size;
	unsigned int order;
	bool coherent;
	dma_addr_t iova;
	unsigned int maps;
};

/* How a mapping was made, and so how it is unmapped. */
enum vt_map_kind {
	VT_MAP_PAGE,	/* dma_map_page_attrs() */
	VT_MAP_SG,	/* dma_map_sgtable() */
	VT_MAP_RAW,	/* vduse_iotlb_map_page() */
};

/**
 * struct vt_map - a live streaming mapping
 * @buf: the buffer mapped
 * @kind: how it was mapped
 * @iova: its IOVA (of the first entry for VT_MAP_SG)
 * @size: bytes mapped
 * @dir: its direction
 * @sgt: the entries of a VT_MAP_SG mapping
 */
struct vt_map {
	struct vt_buf *buf;
	enum vt_map_kind kind;
	dma_addr_t iova;
	size_t size;
	enum dma_data_direction dir;
	struct sg_table sgt;
};

/*
 * A device of the test module's own for VIT_TEST_F_DIRECT: no DMA ops, so
 * the DMA API maps it directly, or through swiotlb when that is forced;
 * the same kernel buffers and loop as a domain's device, for comparison.
 */
static struct platform_device *vt_pdev;

/*
 * VIT_TEST_F_GLOBAL_LOCK: the seed's single spinlock, taken around every
 * map and every unmap of a benchmark loop, so that two mappers measure
 * what per-slot locking gained.  Benchmark only.
 */
static DEFINE_SPINLOCK(vt_global_lock);

struct vt_call;

/**
 * struct vt_softirq - one run of a function in softirq context
 * @timer: fires at once; its callback runs in softirq context
 * @done: completed when @fn has returned
 * @fn: the function
 * @call: its argument
 */
struct vt_softirq {
	struct timer_list timer;
	struct completion done;
	void (*fn)(struct vt_call *call);
	struct vt_call *call;
};

/**
 * struct vt_ctx - one open file
 * @lock: serialises ioctls of the file; protects everything below
 * @dom: the attached domain (a reference), or NULL
 * @dev: its DMA device
 * @bufs: id -> &struct vt_buf
 * @maps: id -> &struct vt_map
 * @sirq: runs DMA API calls in softirq context for VIT_TEST_F_SOFTIRQ
 * @fwd: VIT_TEST_FWD_DEVICE's platform device, or NULL
 */
struct vt_ctx {
	struct mutex lock; /* serialises ioctls of the file */
	struct vduse_iotlb_domain *dom;
	struct device *dev;
	struct xarray bufs;
	struct xarray maps;
	struct vt_softirq sirq;
	struct platform_device *fwd;
};

/**
 * struct vt_call - a DMA API call made from a timer callback
 * @ctx: the file
 * @cmd: the command
 * @buf: VIT_TEST_COH_ALLOC: the buffer to allocate
 * @map: VIT_TEST_MAP/UNMAP: the mapping
 * @attrs: its DMA_ATTR_* flags
 * @ret: VIT_TEST_MAP: what vt_map_kind() said
 */
struct vt_call {
	struct vt_ctx *ctx;
	struct vit_test_cmd *cmd;
	struct vt_buf *buf;
	struct vt_map *map;
	unsigned long attrs;
	int ret;
};

static void vt_softirq_fire(struct timer_list *t)
{
	struct vt_softirq *w = container_of(t, struct vt_softirq, timer);

	w->fn(w->call);
	complete(&w->done);
}

/* Run @fn(@call) in a timer callback and wait for it to finish. */
static void vt_in_softirq(void (*fn)(struct vt_call *call),
			  struct vt_call *call)
{
	struct vt_softirq *w = &call->ctx->sirq;

	lockdep_assert_held(&call->ctx->lock);
	w->fn = fn;
	w->call = call;
	reinit_completion(&w->done);
	mod_timer(&w->timer, jiffies);
	wait_for_completion(&w->done);
	/* The callback may still be returning from complete(). */
	timer_delete_sync(&w->timer);
}

static void vt_coh_alloc_call(struct vt_call *call)
{
	struct vt_buf *buf = call->buf;

	buf->vaddr = dma_alloc_coherent(call->ctx->dev, buf->size, &buf->iova,
					GFP_ATOMIC);
}

static struct vt_buf *vt_buf_get(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_buf *buf = xa_load(&ctx->bufs, cmd->id);

	if (!buf || cmd->offset > buf->size ||
	    cmd->length > buf->size - cmd->offset)
		return NULL;
	return buf;
}

static void vt_buf_free(struct vt_ctx *ctx, struct vt_buf *buf)
{
	if (buf->coherent)
		dma_free_coherent(ctx->dev, buf->size, buf->vaddr, buf->iova);
	else
		free_pages((unsigned long)buf->vaddr, buf->order);
	kfree(buf);
}

static int vt_buf_alloc(struct vt_ctx *ctx, struct vit_test_cmd *cmd,
			bool coherent)
{
	struct vt_buf *buf;
	int ret;

	if (!cmd->length || cmd->length > VIT_TEST_MAX_BUF)
		return -EINVAL;
	buf = kzalloc_obj(*buf, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	buf->size = cmd->length;
	buf->coherent = coherent;
	/* The id first: a failure after the allocation would have to undo it. */
	ret = xa_alloc(&ctx->bufs, &cmd->out_id, buf, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto err_free_buf;
	if (coherent && (cmd->flags & VIT_TEST_F_SOFTIRQ)) {
		struct vt_call call = { .ctx = ctx, .buf = buf };

		vt_in_softirq(vt_coh_alloc_call, &call);
	} else if (coherent) {
		buf->vaddr = dma_alloc_coherent(ctx->dev, buf->size, &buf->iova,
						GFP_KERNEL);
	} else {
		buf->order = get_order(buf->size);
		buf->vaddr = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO,
						      buf->order);
	}
	if (!buf->vaddr) {
		ret = -ENOMEM;
		goto err_erase;
	}
	cmd->out_iova = buf->iova;
	return 0;

err_erase:
	xa_erase(&ctx->bufs, cmd->out_id);
err_free_buf:
	kfree(buf);
	return ret;
}

/*
 * Split bytes [@offset, @offset + @length) of @map's buffer into @count
 * entries of @map->sgt, in process context: the table is allocated here
 * and mapped by vt_map_kind(), from any context.
 */
static int vt_sg_build(struct vit_test_cmd *cmd, struct vt_map *map)
{
	u64 chunk = cmd->length / cmd->count, off = cmd->offset, len;
	struct scatterlist *sg;
	unsigned int i;
	void *addr;
	int ret;

	ret = sg_alloc_table(&map->sgt, cmd->count, GFP_KERNEL);
	if (ret)
		return ret;
	for_each_sgtable_sg(&map->sgt, sg, i) {
		len = i == cmd->count - 1 ? cmd->offset + cmd->length - off :
		      chunk;
		addr = map->buf->vaddr + off;
		sg_set_page(sg, virt_to_page(addr), len, offset_in_page(addr));
		off += len;
	}
	return 0;
}

/* Copy the IOVA of each entry of @map to @uptr (VIT_TEST_MAP_SG). */
static int vt_sg_iovas(struct vt_map *map, u64 uptr)
{
	u64 __user *out = u64_to_user_ptr(uptr);
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(&map->sgt, sg, i)
		if (put_user((u64)sg_dma_address(sg), out + i))
			return -EFAULT;
	return 0;
}

/* Map @map's bytes of its buffer the way @map->kind says. */
static int vt_map_kind(struct vt_ctx *ctx, struct vit_test_cmd *cmd,
		       struct vt_map *map, unsigned long attrs)
{
	struct page *page = virt_to_page(map->buf->vaddr);

	int ret;

	switch (map->kind) {
	case VT_MAP_SG:
		ret = dma_map_sgtable(ctx->dev, &map->sgt, map->dir, attrs);
		if (!ret)
			map->iova = sg_dma_address(map->sgt.sgl);
		return ret;
	case VT_MAP_RAW:
		return vduse_iotlb_map_page(ctx->dom, page, cmd->offset,
					    map->size, map->dir, attrs,
					    &map->iova);
	default:
		map->iova = dma_map_page_attrs(ctx->dev, page, cmd->offset,
					       map->size, map->dir, attrs);
		return dma_mapping_error(ctx->dev, map->iova) ? -ENOSPC : 0;
	}
}

static void vt_map_call(struct vt_call *call)
{
	call->ret = vt_map_kind(call->ctx, call->cmd, call->map, call->attrs);
}

static void vt_unmap(struct vt_ctx *ctx, struct vt_map *map,
		     unsigned long attrs);

static int vt_map(struct vt_ctx *ctx, struct vit_test_cmd *cmd,
		  enum vt_map_kind kind)
{
	unsigned long attrs = 0;
	struct vt_buf *buf;
	struct vt_map *map;
	int ret;

	buf = vt_buf_get(ctx, cmd);
	if (!buf || buf->coherent || cmd->dir > DMA_FROM_DEVICE)
		return -EINVAL;
	if (kind == VT_MAP_SG &&
	    (!cmd->count || cmd->count > VIT_TEST_MAX_SG ||
	     cmd->length < cmd->count))
		return -EINVAL;
	if ((cmd->flags & VIT_TEST_F_SOFTIRQ) && kind == VT_MAP_RAW)
		return -EINVAL;
	if (cmd->flags & VIT_TEST_F_SKIP_SYNC)
		attrs |= DMA_ATTR_SKIP_CPU_SYNC;
	map = kzalloc_obj(*map, GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	map->buf = buf;
	map->kind = kind;
	map->size = cmd->length;
	map->dir = cmd->dir;
	/*
	 * The id first: undoing a mapping is an unmap, which keeps the
	 * bounce pages, so the mapping is the last step that may fail.
	 */
	ret = xa_alloc(&ctx->maps, &cmd->out_id, map, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto err_free_map;
	if (kind == VT_MAP_SG) {
		ret = vt_sg_build(cmd, map);
		if (ret)
			goto err_erase;
	}
	if (cmd->flags & VIT_TEST_F_SOFTIRQ) {
		struct vt_call call = { .ctx = ctx, .cmd = cmd, .map = map,
					.attrs = attrs };

		vt_in_softirq(vt_map_call, &call);
		ret = call.ret;
	} else {
		ret = vt_map_kind(ctx, cmd, map, attrs);
	}
	if (ret)
		goto err_free_sgt;
	buf->maps++;
	if (kind == VT_MAP_SG && cmd->uptr) {
		ret = vt_sg_iovas(map, cmd->uptr);
		if (ret) {
			/* vt_unmap() frees the table and the mapping. */
			xa_erase(&ctx->maps, cmd->out_id);
			vt_unmap(ctx, map, DMA_ATTR_SKIP_CPU_SYNC);
			return ret;
		}
	}
	cmd->out_iova = map->iova;
	return 0;

err_free_sgt:
	if (kind == VT_MAP_SG)
		sg_free_table(&map->sgt);
err_erase:
	xa_erase(&ctx->maps, cmd->out_id);
err_free_map:
	kfree(map);
	return ret;
}

/*
 * Map buffer bytes by physical address as a resource (MMIO): a bounce
 * domain has no page to bounce MMIO from, so the mapping must fail and
 * leave the domain unchanged.  Should it succeed, it is unmapped at once
 * and its IOVA reported.
 */
static int vt_map_resource(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_buf *buf = vt_buf_get(ctx, cmd);
	phys_addr_t phys;
	dma_addr_t iova;

	if (!buf || buf->coherent || !cmd->length || cmd->flags ||
	    cmd->dir > DMA_FROM_DEVICE)
		return -EINVAL;
	phys = virt_to_phys(buf->vaddr) + cmd->offset;
	iova = dma_map_resource(ctx->dev, phys, cmd->length, cmd->dir, 0);
	if (dma_mapping_error(ctx->dev, iova))
		return -ENOSPC;
	dma_unmap_resource(ctx->dev, iova, cmd->length, cmd->dir, 0);
	cmd->out_iova = iova;
	return 0;
}

static void vt_unmap(struct vt_ctx *ctx, struct vt_map *map,
		     unsigned long attrs)
{
	switch (map->kind) {
	case VT_MAP_SG:
		dma_unmap_sgtable(ctx->dev, &map->sgt, map->dir, attrs);
		sg_free_table(&map->sgt);
		break;
	case VT_MAP_RAW:
		WARN_ON(vduse_iotlb_unmap_page(ctx->dom, map->iova, map->size,
					       map->dir, attrs));
		break;
	default:
		dma_unmap_page_attrs(ctx->dev, map->iova, map->size, map->dir,
				     attrs);
	}
	map->buf->maps--;
	kfree(map);
}

static void vt_unmap_call(struct vt_call *call)
{
	vt_unmap(call->ctx, call->map, call->attrs);
}

static int vt_unmap_op(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	unsigned long attrs = cmd->flags & VIT_TEST_F_SKIP_SYNC ?
			      DMA_ATTR_SKIP_CPU_SYNC : 0;
	struct vt_call call = { .ctx = ctx, .attrs = attrs };
	struct vt_map *map = xa_load(&ctx->maps, cmd->id);

	if (!map)
		return -ENOENT;
	if (!(cmd->flags & VIT_TEST_F_SOFTIRQ)) {
		xa_erase(&ctx->maps, cmd->id);
		vt_unmap(ctx, map, attrs);
		return 0;
	}
	if (map->kind == VT_MAP_RAW)
		return -EINVAL;
	xa_erase(&ctx->maps, cmd->id);
	call.map = map;
	vt_in_softirq(vt_unmap_call, &call);
	return 0;
}

/* A sync through the kernel API, not limited to the mapping. */
static int vt_raw_sync(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_map *map = xa_load(&ctx->maps, cmd->id);
	dma_addr_t iova;

	if (!map || map->kind != VT_MAP_PAGE || cmd->dir > DMA_FROM_DEVICE)
		return -EINVAL;
	iova = map->iova + cmd->offset;
	if (cmd->flags & VIT_TEST_F_FOR_CPU)
		return vduse_iotlb_sync_for_cpu(ctx->dom, iova, cmd->length,
						cmd->dir);
	return vduse_iotlb_sync_for_device(ctx->dom, iova, cmd->length,
					   cmd->dir);
}

static void vt_dev_info(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	cmd->out_max_map = dma_max_mapping_size(ctx->dev);
	cmd->out_dma_mask = dma_get_mask(ctx->dev);
	cmd->out_coherent_mask = ctx->dev->coherent_dma_mask;
	cmd->out_max_seg = dma_get_max_seg_size(ctx->dev);
}

static int vt_set_mask(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	int ret = 0;

	if (cmd->offset)
		ret = dma_set_mask(ctx->dev, cmd->offset);
	if (!ret && cmd->length)
		ret = dma_set_coherent_mask(ctx->dev, cmd->length);
	return ret;
}

static int vt_sync(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_map *map = xa_load(&ctx->maps, cmd->id);

	if (!map || map->kind != VT_MAP_PAGE || cmd->dir > DMA_FROM_DEVICE ||
	    cmd->offset > map->size ||
	    cmd->length > map->size - cmd->offset)
		return -EINVAL;
	if (cmd->flags & VIT_TEST_F_FOR_CPU)
		dma_sync_single_for_cpu(ctx->dev, map->iova + cmd->offset,
					cmd->length, cmd->dir);
	else
		dma_sync_single_for_device(ctx->dev, map->iova + cmd->offset,
					   cmd->length, cmd->dir);
	return 0;
}

static int vt_fill(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_buf *buf = vt_buf_get(ctx, cmd);
	u8 *p;
	u64 i;

	if (!buf)
		return -EINVAL;
	p = buf->vaddr + cmd->offset;
	for (i = 0; i < cmd->length; i++)
		p[i] = vit_pattern(cmd->seed, i);
	return 0;
}

static int vt_rw(struct vt_ctx *ctx, struct vit_test_cmd *cmd, bool read)
{
	void __user *uptr = u64_to_user_ptr(cmd->uptr);
	struct vt_buf *buf = vt_buf_get(ctx, cmd);
	unsigned long left;

	if (!buf)
		return -EINVAL;
	if (read)
		left = copy_to_user(uptr, buf->vaddr + cmd->offset,
				    cmd->length);
	else
		left = copy_from_user(buf->vaddr + cmd->offset, uptr,
				      cmd->length);
	return left ? -EFAULT : 0;
}

/* Is DMA address @addr of @dev in swiotlb's buffer? */
static bool vt_in_swiotlb(struct device *dev, dma_addr_t addr)
{
#ifdef CONFIG_SWIOTLB_DYNAMIC
	/* __swiotlb_find_pool() is not exported: has @dev used swiotlb? */
	return READ_ONCE(dev->dma_uses_io_tlb);
#else
	return swiotlb_find_pool(dev, dma_to_phys(dev, addr));
#endif
}

/* dma_map_page() of @len bytes of @src, under vt_global_lock when @glock. */
static dma_addr_t vt_bench_map(struct device *dev, void *src, size_t len,
			       enum dma_data_direction dir, bool glock)
{
	unsigned long flags;
	dma_addr_t iova;

	if (!glock)
		return dma_map_page(dev, virt_to_page(src), 0, len, dir);
	spin_lock_irqsave(&vt_global_lock, flags);
	iova = dma_map_page(dev, virt_to_page(src), 0, len, dir);
	spin_unlock_irqrestore(&vt_global_lock, flags);
	return iova;
}

/* dma_unmap_page(), under vt_global_lock when @glock. */
static void vt_bench_unmap(struct device *dev, dma_addr_t iova, size_t len,
			   enum dma_data_direction dir, bool glock)
{
	unsigned long flags;

	if (!glock) {
		dma_unmap_page(dev, iova, len, dir);
		return;
	}
	spin_lock_irqsave(&vt_global_lock, flags);
	dma_unmap_page(dev, iova, len, dir);
	spin_unlock_irqrestore(&vt_global_lock, flags);
}

/*
 * @count map + unmap pairs of @src on @dev, each half timed apart (the
 * clock reads cost a little, so the headline figures come from
 * vt_bench_loop()).  Maps that did not get @own as their address are counted in
 * @out_bounced; *@last is the address of the last map.
 */
static int vt_bench_split(struct device *dev, struct vit_test_cmd *cmd,
			  void *src, dma_addr_t own, dma_addr_t *last)
{
	bool glock = cmd->flags & VIT_TEST_F_GLOBAL_LOCK;
	u64 i, t0, t1, map_ns = 0, unmap_ns = 0, bounced = 0;
	dma_addr_t iova = own;

	for (i = 0; i < cmd->count; i++) {
		t0 = ktime_get_ns();
		iova = vt_bench_map(dev, src, cmd->length, cmd->dir, glock);
		t1 = ktime_get_ns();
		if (dma_mapping_error(dev, iova))
			return -ENOSPC;
		bounced += iova != own;
		vt_bench_unmap(dev, iova, cmd->length, cmd->dir, glock);
		unmap_ns += ktime_get_ns() - t1;
		map_ns += t1 - t0;
	}
	cmd->out_map_ns = map_ns;
	cmd->out_ns = map_ns + unmap_ns;
	cmd->out_bounced = bounced;
	*last = iova;
	return 0;
}

/*
 * @count map + unmap pairs (or memcpy()s to @dst, the physical limit, or
 * memset()s of @dst) of @src on @dev in one timed loop; as
 * vt_bench_split() otherwise.
 */
static int vt_bench_loop(struct device *dev, struct vit_test_cmd *cmd,
			 void *src, void *dst, dma_addr_t own,
			 dma_addr_t *last)
{
	bool glock = cmd->flags & VIT_TEST_F_GLOBAL_LOCK;
	u64 i, start, bounced = 0;
	dma_addr_t iova = own;

	start = ktime_get_ns();
	for (i = 0; i < cmd->count; i++) {
		if (cmd->flags & VIT_TEST_F_MEMCPY) {
			memcpy(dst, src, cmd->length);
			continue;
		}
		if (cmd->flags & VIT_TEST_F_MEMSET) {
			memset(dst, 0, cmd->length);
			continue;
		}
		iova = vt_bench_map(dev, src, cmd->length, cmd->dir, glock);
		if (dma_mapping_error(dev, iova))
			return -ENOSPC;
		bounced += iova != own;
		vt_bench_unmap(dev, iova, cmd->length, cmd->dir, glock);
	}
	cmd->out_ns = ktime_get_ns() - start;
	cmd->out_bounced = bounced;
	*last = iova;
	return 0;
}

/*
 * Time @count map + unmap pairs (or memcpy()s) of @length bytes between
 * two private buffers, in the caller's context, on the domain's device or
 * (VIT_TEST_F_DIRECT) on the dma-direct one.
 */
static int vt_bench(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	const u32 valid = VIT_TEST_F_MEMCPY | VIT_TEST_F_MEMSET |
			  VIT_TEST_F_SPLIT | VIT_TEST_F_DIRECT |
			  VIT_TEST_F_GLOBAL_LOCK;
	unsigned int order = get_order(cmd->length);
	dma_addr_t last, own;
	struct device *dev;
	void *src, *dst;
	int ret;

	if (!cmd->length || cmd->length > VIT_TEST_MAX_BUF || !cmd->count ||
	    cmd->dir > DMA_FROM_DEVICE || (cmd->flags & ~valid) ||
	    ((cmd->flags & VIT_TEST_F_MEMCPY) && cmd->flags != VIT_TEST_F_MEMCPY) ||
	    ((cmd->flags & VIT_TEST_F_MEMSET) && cmd->flags != VIT_TEST_F_MEMSET))
		return -EINVAL;
	dev = cmd->flags & VIT_TEST_F_DIRECT ? &vt_pdev->dev : ctx->dev;
	src = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, order);
	dst = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, order);
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out_free;
	}
	own = phys_to_dma(dev, virt_to_phys(src));
	if (cmd->flags & VIT_TEST_F_SPLIT)
		ret = vt_bench_split(dev, cmd, src, own, &last);
	else
		ret = vt_bench_loop(dev, cmd, src, dst, own, &last);
	/* The last map is undone by now: only its address is looked at. */
	if (!ret && (cmd->flags & VIT_TEST_F_DIRECT))
		cmd->out_in_swiotlb = vt_in_swiotlb(dev, last);
out_free:
	free_pages((unsigned long)dst, order);
	free_pages((unsigned long)src, order);
	return ret;
}

/*
 * VIT_TEST_FWD_DEVICE: a platform device for drivers the project did not
 * write (the kernel's dma_map_benchmark, bound through driver_override)
 * whose DMA ops are the domain's: each op calls the domain device's own
 * op with that device, as the DMA API would after its checks.  DMA-API
 * debug tracks the mappings on this device, the one its driver uses;
 * going through the DMA API a second time for the domain's device would
 * make it see every buffer mapped twice (an overlapping-mapping error).
 * Its platform data is the domain's device.
 */
static struct device *vt_fwd_target(struct device *dev)
{
	return *(struct device **)dev_get_platdata(dev);
}

#if VMK_DMA_HAS_MAP_PHYS
static dma_addr_t vt_fwd_map_phys(struct device *dev, phys_addr_t phys,
				  size_t size, enum dma_data_direction dir,
				  unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	return get_dma_ops(target)->map_phys(target, phys, size, dir, attrs);
}

static void vt_fwd_unmap_phys(struct device *dev, dma_addr_t iova,
			      size_t size, enum dma_data_direction dir,
			      unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->unmap_phys(target, iova, size, dir, attrs);
}
#else
static dma_addr_t vt_fwd_map_page(struct device *dev, struct page *page,
				  unsigned long offset, size_t size,
				  enum dma_data_direction dir,
				  unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	return get_dma_ops(target)->map_page(target, page, offset, size, dir,
					     attrs);
}

static void vt_fwd_unmap_page(struct device *dev, dma_addr_t iova,
			      size_t size, enum dma_data_direction dir,
			      unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->unmap_page(target, iova, size, dir, attrs);
}
#endif

static int vt_fwd_map_sg(struct device *dev, struct scatterlist *sgl,
			 int nents, enum dma_data_direction dir,
			 unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	return get_dma_ops(target)->map_sg(target, sgl, nents, dir, attrs);
}

static void vt_fwd_unmap_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->unmap_sg(target, sgl, nents, dir, attrs);
}

static void vt_fwd_sync_for_cpu(struct device *dev, dma_addr_t iova,
				size_t size, enum dma_data_direction dir)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->sync_single_for_cpu(target, iova, size, dir);
}

static void vt_fwd_sync_for_device(struct device *dev, dma_addr_t iova,
				   size_t size, enum dma_data_direction dir)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->sync_single_for_device(target, iova, size, dir);
}

static void vt_fwd_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
				   int nents, enum dma_data_direction dir)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->sync_sg_for_cpu(target, sgl, nents, dir);
}

static void vt_fwd_sync_sg_for_device(struct device *dev,
				      struct scatterlist *sgl, int nents,
				      enum dma_data_direction dir)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->sync_sg_for_device(target, sgl, nents, dir);
}

static void *vt_fwd_alloc(struct device *dev, size_t size, dma_addr_t *iova,
			  gfp_t gfp, unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	return get_dma_ops(target)->alloc(target, size, iova, gfp, attrs);
}

static void vt_fwd_free(struct device *dev, size_t size, void *vaddr,
			dma_addr_t iova, unsigned long attrs)
{
	struct device *target = vt_fwd_target(dev);

	get_dma_ops(target)->free(target, size, vaddr, iova, attrs);
}

static size_t vt_fwd_max_mapping_size(struct device *dev)
{
	struct device *target = vt_fwd_target(dev);

	return get_dma_ops(target)->max_mapping_size(target);
}

static int vt_fwd_dma_supported(struct device *dev, u64 mask)
{
	struct device *target = vt_fwd_target(dev);

	return get_dma_ops(target)->dma_supported(target, mask);
}

static const struct dma_map_ops vt_fwd_ops = {
	.alloc = vt_fwd_alloc,
	.free = vt_fwd_free,
#if VMK_DMA_HAS_MAP_PHYS
	.map_phys = vt_fwd_map_phys,
	.unmap_phys = vt_fwd_unmap_phys,
#else
	.map_page = vt_fwd_map_page,
	.unmap_page = vt_fwd_unmap_page,
#endif
	.map_sg = vt_fwd_map_sg,
	.unmap_sg = vt_fwd_unmap_sg,
	.sync_single_for_cpu = vt_fwd_sync_for_cpu,
	.sync_single_for_device = vt_fwd_sync_for_device,
	.sync_sg_for_cpu = vt_fwd_sync_sg_for_cpu,
	.sync_sg_for_device = vt_fwd_sync_sg_for_device,
	.max_mapping_size = vt_fwd_max_mapping_size,
	.dma_supported = vt_fwd_dma_supported,
};

/* Register the forwarding device of the attached domain; @out_id: its id. */
static int vt_fwd_create(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct platform_device_info info = {
		.name = "vduse_iotlb_fwd",
		.id = PLATFORM_DEVID_AUTO,
		.data = &ctx->dev,
		.size_data = sizeof(ctx->dev),
		.dma_mask = dma_get_mask(ctx->dev),
	};
	struct platform_device *pdev;

	if (ctx->fwd)
		return -EBUSY;
	pdev = platform_device_register_full(&info);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	/* No driver yet: the ops are in place before anything can bind. */
	set_dma_ops(&pdev->dev, &vt_fwd_ops);
	pdev->dev.coherent_dma_mask = ctx->dev->coherent_dma_mask;
	dma_set_max_seg_size(&pdev->dev, dma_get_max_seg_size(ctx->dev));
	ctx->fwd = pdev;
	cmd->out_id = pdev->id;
	return 0;
}

static int vt_attach(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vduse_iotlb_domain *dom;

	if (ctx->dom)
		return -EBUSY;
	dom = vduse_iotlb_domain_get_fd(cmd->fd);
	if (IS_ERR(dom))
		return PTR_ERR(dom);
	ctx->dom = dom;
	ctx->dev = vduse_iotlb_domain_device(dom);
	return 0;
}

static int vt_dispatch(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_buf *buf;

	if (cmd->flags & VIT_TEST_F_DIRECT) {
		if (cmd->op != VIT_TEST_BENCH)
			return -EINVAL;
		return vt_bench(ctx, cmd);
	}
	if (cmd->op == VIT_TEST_ATTACH)
		return vt_attach(ctx, cmd);
	if (!ctx->dom)
		return -ENODEV;

	switch (cmd->op) {
	case VIT_TEST_BUF_ALLOC:
		return vt_buf_alloc(ctx, cmd, false);
	case VIT_TEST_COH_ALLOC:
		return vt_buf_alloc(ctx, cmd, true);
	case VIT_TEST_BUF_FREE:
		buf = xa_load(&ctx->bufs, cmd->id);
		if (!buf)
			return -ENOENT;
		if (buf->maps)
			return -EBUSY;
		xa_erase(&ctx->bufs, cmd->id);
		vt_buf_free(ctx, buf);
		return 0;
	case VIT_TEST_BUF_FILL:
		return vt_fill(ctx, cmd);
	case VIT_TEST_BUF_READ:
		return vt_rw(ctx, cmd, true);
	case VIT_TEST_BUF_WRITE:
		return vt_rw(ctx, cmd, false);
	case VIT_TEST_MAP:
		return vt_map(ctx, cmd, VT_MAP_PAGE);
	case VIT_TEST_MAP_SG:
		return vt_map(ctx, cmd, VT_MAP_SG);
	case VIT_TEST_RAW_MAP:
		return vt_map(ctx, cmd, VT_MAP_RAW);
	case VIT_TEST_UNMAP:
		return vt_unmap_op(ctx, cmd);
	case VIT_TEST_SYNC:
		return vt_sync(ctx, cmd);
	case VIT_TEST_RAW_SYNC:
		return vt_raw_sync(ctx, cmd);
	case VIT_TEST_DEV_INFO:
		vt_dev_info(ctx, cmd);
		return 0;
	case VIT_TEST_SET_MASK:
		return vt_set_mask(ctx, cmd);
	case VIT_TEST_SET_SEG:
		if (!cmd->length || cmd->length > UINT_MAX)
			return -EINVAL;
		dma_set_max_seg_size(ctx->dev, cmd->length);
		return 0;
	case VIT_TEST_RAW_UNMAP:
		return vduse_iotlb_unmap_page(ctx->dom, cmd->offset, cmd->length,
					      cmd->dir, 0);
	case VIT_TEST_BENCH:
		return vt_bench(ctx, cmd);
	case VIT_TEST_MAP_RESOURCE:
		return vt_map_resource(ctx, cmd);
	case VIT_TEST_FWD_DEVICE:
		return vt_fwd_create(ctx, cmd);
	default:
		return -EINVAL;
	}
}

/*
 * The copy of the results back failed after @cmd succeeded: undo what
 * userspace would have named by the id it never got.
 */
static void vt_undo(struct vt_ctx *ctx, struct vit_test_cmd *cmd)
{
	struct vt_buf *buf;
	struct vt_map *map;

	switch (cmd->op) {
	case VIT_TEST_BUF_ALLOC:
	case VIT_TEST_COH_ALLOC:
		buf = xa_erase(&ctx->bufs, cmd->out_id);
		vt_buf_free(ctx, buf);
		break;
	case VIT_TEST_MAP:
	case VIT_TEST_MAP_SG:
	case VIT_TEST_RAW_MAP:
		map = xa_erase(&ctx->maps, cmd->out_id);
		vt_unmap(ctx, map, DMA_ATTR_SKIP_CPU_SYNC);
		break;
	case VIT_TEST_FWD_DEVICE:
		platform_device_unregister(ctx->fwd);
		ctx->fwd = NULL;
		break;
	}
}

/* Does @op return results in the command? */
static bool vt_has_results(u32 op)
{
	switch (op) {
	case VIT_TEST_BUF_ALLOC:
	case VIT_TEST_COH_ALLOC:
	case VIT_TEST_MAP:
	case VIT_TEST_MAP_SG:
	case VIT_TEST_RAW_MAP:
	case VIT_TEST_BENCH:
	case VIT_TEST_MAP_RESOURCE:
	case VIT_TEST_DEV_INFO:
	case VIT_TEST_FWD_DEVICE:
		return true;
	default:
		return false;
	}
}

static long vt_ioctl(struct file *file, unsigned int op, unsigned long arg)
{
	struct vt_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct vit_test_cmd cmd;
	int ret;

	if (op != VIT_TEST_IOCTL)
		return -ENOTTY;
	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.__pad || cmd.__pad2)
		return -EINVAL;
	mutex_lock(&ctx->lock);
	ret = vt_dispatch(ctx, &cmd);
	if (!ret && vt_has_results(cmd.op) &&
	    copy_to_user(uarg, &cmd, sizeof(cmd))) {
		vt_undo(ctx, &cmd);
		ret = -EFAULT;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static int vt_open(struct inode *inode, struct file *file)
{
	struct vt_ctx *ctx;

	ctx = kzalloc_obj(*ctx, GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	timer_setup(&ctx->sirq.timer, vt_softirq_fire, 0);
	init_completion(&ctx->sirq.done);
	xa_init_flags(&ctx->bufs, XA_FLAGS_ALLOC);
	xa_init_flags(&ctx->maps, XA_FLAGS_ALLOC);
	file->private_data = ctx;
	return 0;
}

static int vt_release(struct inode *inode, struct file *file)
{
	struct vt_ctx *ctx = file->private_data;
	struct vt_buf *buf;
	struct vt_map *map;
	unsigned long id;

	/* Unbinds its driver, which unmaps what it had mapped. */
	if (ctx->fwd)
		platform_device_unregister(ctx->fwd);
	xa_for_each(&ctx->maps, id, map)
		vt_unmap(ctx, map, DMA_ATTR_SKIP_CPU_SYNC);
	xa_for_each(&ctx->bufs, id, buf)
		vt_buf_free(ctx, buf);
	xa_destroy(&ctx->maps);
	xa_destroy(&ctx->bufs);
	if (ctx->dom)
		vduse_iotlb_domain_put(ctx->dom);
	timer_delete_sync(&ctx->sirq.timer);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

static const struct file_operations vt_fops = {
	.owner = THIS_MODULE,
	.open = vt_open,
	.release = vt_release,
	.unlocked_ioctl = vt_ioctl,
};

static struct miscdevice vt_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vduse_iotlb_test",
	.fops = &vt_fops,
	.mode = 0600,
};

static int __init vt_init(void)
{
	const struct platform_device_info info = {
		.name = "vduse_iotlb_test",
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(64),
	};
	int ret;

	vt_pdev = platform_device_register_full(&info);
	if (IS_ERR(vt_pdev))
		return PTR_ERR(vt_pdev);
	ret = misc_register(&vt_misc);
	if (ret)
		goto err_unregister;
	return 0;

err_unregister:
	platform_device_unregister(vt_pdev);
	return ret;
}
module_init(vt_init);

static void __exit vt_exit(void)
{
	misc_deregister(&vt_misc);
	platform_device_unregister(vt_pdev);
}
module_exit(vt_exit);

MODULE_DESCRIPTION("vduse_iotlb test-only DMA client");
MODULE_LICENSE("GPL");
