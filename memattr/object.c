// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest-memory objects: creation, the object fd and its ioctls.
 *
 * Each object is an anon inode of its own, so its page cache (and the
 * mappings unmap_mapping_pages() walks) belongs to this object alone.  The
 * object lives as long as its file: mappings and running ioctls hold a file
 * reference, so release finds it idle.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

/* Kernel-side bounce buffer size for GET, in runs. */
#define MEMATTR_GET_BATCH 128

/*
 * A page of the object leaves its page cache (truncation: only release
 * truncates).  Every private GFN of @folio goes to the backend's invalidate
 * hook first, in runs of consecutive private GFNs, then the whole folio is
 * reported as a host access: its memory goes back to the page allocator,
 * which writes it (init_on_free, the next user).  The folio is locked.
 */
static void memattr_folio_end(struct memattr_obj *obj, struct folio *folio)
{
	const struct memattr_backend_ops *ops = obj->backend ?
						obj->backend->ops : NULL;
	u64 first = folio->index;
	u64 end = min_t(u64, first + folio_nr_pages(folio), obj->nr_gfns);
	struct vmk_gfn_range run = { 0, 0 };
	u64 gfn;
	bool private;

	might_sleep();
	for (gfn = first; gfn < end; gfn++) {
		spin_lock(&obj->lock);
		private = memattr_store_load(obj, gfn) &
			  MEMATTR_ATTRIBUTE_PRIVATE;
		spin_unlock(&obj->lock);
		if (!private)
			continue;
		if (run.end != gfn) {
			if (run.start < run.end)
				memattr_hook_invalidate(obj, &run);
			run.start = gfn;
		}
		run.end = gfn + 1;
	}
	if (run.start < run.end)
		memattr_hook_invalidate(obj, &run);

	if (ops && ops->host_access) {
		spin_lock(&obj->lock);
		for (gfn = first; gfn < end; gfn++)
			ops->host_access(obj->backend_priv, gfn);
		spin_unlock(&obj->lock);
	}
}

/*
 * Truncation calls this for every folio it removes (the mapping is
 * "release always", see memattr_create_object()).  Whole folios only:
 * objects have no partial pages.
 */
static void memattr_invalidate_folio(struct folio *folio, size_t offset,
				     size_t len)
{
	struct memattr_obj *obj = folio->mapping->host->i_private;

	if (WARN_ON_ONCE(!obj) || offset || len != folio_size(folio))
		return;
	memattr_folio_end(obj, folio);
}

/*
 * Never let reclaim or invalidate_mapping_pages() drop a folio: the page
 * cache is the only copy of the data, and a private page must go through
 * memattr_invalidate_folio().  Truncation does not ask.
 */
static bool memattr_release_folio(struct folio *folio, gfp_t gfp)
{
	return false;
}

/*
 * Private pages must stay on their physical frame: a platform tracks
 * ownership per frame (the RMP, the PAMT), so a moved private page would
 * leave the guest's data on a frame the host reuses.  Shared pages stay
 * too: a page changes attributes in place.
 */
static int memattr_migrate_folio(struct address_space *mapping,
				 struct folio *dst, struct folio *src,
				 enum migrate_mode mode)
{
	return -EOPNOTSUPP;
}

static const struct address_space_operations memattr_aops = {
	/* Nothing to write back: the pages are unevictable memory. */
	.dirty_folio = noop_dirty_folio,
	.invalidate_folio = memattr_invalidate_folio,
	.release_folio = memattr_release_folio,
	.migrate_folio = memattr_migrate_folio,
};

static long memattr_ioctl_set(struct memattr_obj *obj, void __user *argp)
{
	struct memattr_attributes args;
	struct vmk_gfn_range range;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.attributes & ~MEMATTR_ATTRIBUTE_PRIVATE)
		return -EINVAL;
	if (vmk_gfn_range_from_bytes(args.address, args.size, obj->nr_gfns,
				     &range))
		return -EINVAL;
	return memattr_set_attributes(obj, &range, args.attributes);
}

/* Copy @n collected runs out to the user array at index @done. */
static int memattr_put_runs(const struct memattr_attr_run *runs,
			    unsigned int n, struct memattr_run *out,
			    u64 runs_ptr, u32 done)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		vmk_gfn_range_to_bytes(&runs[i].range, &out[i].address,
				       &out[i].size);
		out[i].attributes = runs[i].attrs;
	}
	if (copy_to_user(u64_to_user_ptr(runs_ptr) +
			 (u64)done * sizeof(*out), out, n * sizeof(*out)))
		return -EFAULT;
	return 0;
}

static long memattr_ioctl_get(struct memattr_obj *obj, void __user *argp)
{
	struct memattr_get_attributes __user *uarg = argp;
	struct memattr_get_attributes args;
	struct vmk_gfn_range range;
	struct memattr_attr_run *runs;
	struct memattr_run *out;
	unsigned int n;
	u32 usize, done = 0;
	long ret;

	if (get_user(usize, &uarg->size))
		return -EFAULT;
	if (usize < sizeof(args))
		return -EINVAL;
	/* As openat2() and clone3(): never scan more than a page for zeroes. */
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&args, sizeof(args), uarg, usize);
	if (ret)
		return ret;
	if (args.flags || args.out_flags)
		return -EINVAL;
	if (vmk_gfn_range_from_bytes(args.address, args.length, obj->nr_gfns,
				     &range))
		return -EINVAL;

	runs = kmalloc_array(MEMATTR_GET_BATCH, sizeof(*runs), GFP_KERNEL);
	out = kmalloc_array(MEMATTR_GET_BATCH, sizeof(*out), GFP_KERNEL);
	if (!runs || !out) {
		ret = -ENOMEM;
		goto out_free;
	}
	/*
	 * Collect under tree_mutex, copy out without it: the user buffer may
	 * be a mapping of this very object, whose faults wait for conversions,
	 * which need tree_mutex.
	 */
	while (done < args.nr_runs && range.start < range.end) {
		mutex_lock(&obj->tree_mutex);
		n = memattr_store_collect(obj, &range, runs,
					  min(args.nr_runs - done,
					      MEMATTR_GET_BATCH));
		mutex_unlock(&obj->tree_mutex);
		ret = memattr_put_runs(runs, n, out, args.runs_ptr, done);
		if (ret)
			goto out_free;
		done += n;
		range.start = runs[n - 1].range.end;
	}
	args.nr_runs = done;
	args.out_flags = range.start < range.end ? MEMATTR_GET_MORE : 0;
	if (put_user(args.nr_runs, &uarg->nr_runs) ||
	    put_user(args.out_flags, &uarg->out_flags))
		ret = -EFAULT;
out_free:
	kfree(out);
	kfree(runs);
	return ret;
}

static long memattr_obj_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct memattr_obj *obj = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case MEMATTR_SET_ATTRIBUTES:
		return memattr_ioctl_set(obj, argp);
	case MEMATTR_GET_ATTRIBUTES:
		return memattr_ioctl_get(obj, argp);
	default:
		return -ENOTTY;
	}
}

static void memattr_obj_free(struct memattr_obj *obj)
{
	if (obj->per_gfn)
		memattr_xa_destroy(obj);
	else
		memattr_rb_destroy(obj);
	if (obj->backend) {
		obj->backend->ops->detach(obj->backend_priv);
		memattr_backend_put(obj->backend);
	}
	kfree(obj);
}

static int memattr_obj_release(struct inode *inode, struct file *file)
{
	struct memattr_obj *obj = file->private_data;

	/*
	 * Free the pages while the object and its backend are still there
	 * (the inode's own eviction, later, would find nothing to tell the
	 * backend with): each private page is invalidated on its way out.
	 */
	truncate_inode_pages(obj->mapping, 0);
	inode->i_private = NULL;
	memattr_obj_free(obj);
	memattr_stat_dec(objects);
	return 0;
}

static const struct file_operations memattr_obj_fops = {
	.owner = THIS_MODULE,
	.release = memattr_obj_release,
	.unlocked_ioctl = memattr_obj_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = memattr_mmap,
	.llseek = noop_llseek,
};

static struct memattr_obj *memattr_obj_alloc(u64 nr_gfns, bool per_gfn)
{
	const struct memattr_backend *be;
	struct memattr_obj *obj;
	int ret;

	obj = kzalloc_obj(*obj, GFP_KERNEL_ACCOUNT);
	if (!obj)
		return ERR_PTR(-ENOMEM);
	obj->nr_gfns = nr_gfns;
	obj->per_gfn = per_gfn;
	mutex_init(&obj->tree_mutex);
	spin_lock_init(&obj->lock);
	obj->runs = RB_ROOT;
	seqcount_spinlock_init(&obj->runs_seq, &obj->lock);
	xa_init(&obj->xa);
	INIT_LIST_HEAD(&obj->inflight);
	init_waitqueue_head(&obj->inflight_wq);

	be = memattr_backend_get();
	if (IS_ERR(be)) {
		ret = PTR_ERR(be);
		goto err_free;
	}
	if (be) {
		obj->backend_priv = be->ops->attach(nr_gfns);
		if (IS_ERR(obj->backend_priv)) {
			ret = PTR_ERR(obj->backend_priv);
			goto err_put_backend;
		}
		obj->backend = be;
	}
	return obj;

err_put_backend:
	memattr_backend_put(be);
err_free:
	kfree(obj);
	return ERR_PTR(ret);
}

long memattr_create_object(struct memattr_create __user *uarg)
{
	struct memattr_create args;
	struct vmk_gfn_range range;
	struct memattr_obj *obj;
	struct inode *inode;
	struct file *file;
	u32 usize;
	int fd, ret;

	if (get_user(usize, &uarg->size))
		return -EFAULT;
	if (usize < sizeof(args))
		return -EINVAL;
	/* As openat2() and clone3(): never scan more than a page for zeroes. */
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(&args, sizeof(args), uarg, usize);
	if (ret)
		return ret;
	if (args.flags & ~MEMATTR_CREATE_PER_GFN)
		return -EINVAL;
	if (args.object_size > MEMATTR_MAX_OBJECT_SIZE)
		return -E2BIG;
	if (vmk_gfn_range_from_bytes(0, args.object_size,
				     MEMATTR_MAX_OBJECT_SIZE >> PAGE_SHIFT,
				     &range))
		return -EINVAL;

	obj = memattr_obj_alloc(vmk_gfn_range_nr(&range),
				args.flags & MEMATTR_CREATE_PER_GFN);
	if (IS_ERR(obj))
		return PTR_ERR(obj);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_free_obj;
	}
	file = anon_inode_create_getfile("[memattr]", &memattr_obj_fops, obj,
					 O_RDWR, NULL);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}
	file->f_flags |= O_LARGEFILE;
	inode = file_inode(file);
	inode->i_size = args.object_size;
	inode->i_mapping->a_ops = &memattr_aops;
	inode->i_private = obj;
	/*
	 * Pages never move (see memattr_migrate_folio()): allocate them
	 * outside ZONE_MOVABLE and movable pageblocks.
	 */
	mapping_set_gfp_mask(inode->i_mapping, GFP_HIGHUSER);
	/*
	 * Unevictable (nothing backs the pages: reclaim must never drop them)
	 * and inaccessible: migration and compaction leave the folios alone,
	 * and no kernel path reads or writes them through the mapping.
	 */
	mapping_set_inaccessible(inode->i_mapping);
	/* Truncation calls memattr_invalidate_folio() for every folio. */
	mapping_set_release_always(inode->i_mapping);
	obj->mapping = inode->i_mapping;

	memattr_stat_inc(objects);
	fd_install(fd, file);
	return fd;

err_put_fd:
	put_unused_fd(fd);
err_free_obj:
	memattr_obj_free(obj);
	return ret;
}
