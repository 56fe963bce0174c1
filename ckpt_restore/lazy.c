// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lazily restored VMAs: post-copy restore without a userfaultfd daemon.
 *
 * A lazy VMA is a private mapping of an anonymous-inode file whose
 * private_data is a struct ckpt_lazy.  Its fault handler allocates a page,
 * reads the page's contents from the image (or leaves it zero when the page
 * is in no run), and installs it with vm_insert_page().  The mapping is
 * private, so a write fault then copies the page into an ordinary anonymous
 * page, exactly as for a private file mapping.
 *
 * The image file is held until every page covered by a run has been
 * installed once in the restoring mm, or until the last VMA using the state
 * goes away.  A page installed once and later discarded (MADV_DONTNEED)
 * faults back in as zeroes, as anonymous memory does.  Once a lazy VMA was
 * copied into a child by fork() the image is kept until the state is freed,
 * so that pages never touched before the fork are still filled from it in
 * either process.
 */
#include <linux/anon_inodes.h>
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uio.h>

#include "ckpt_restore.h"

/**
 * struct ckpt_lazy_run - one image run of the VMA
 * @first: index of its first page, relative to the VMA's start
 * @nr: number of pages
 * @bit: index of its first page in &ckpt_lazy.installed
 * @pos: file offset of its contents
 */
struct ckpt_lazy_run {
	unsigned long first;
	unsigned int nr;
	unsigned long bit;
	loff_t pos;
};

/**
 * struct ckpt_lazy - state of one lazily restored VMA
 * @lock: protects @image
 * @image: the image file; NULL once no fault can need it any more
 * @mm: the restoring mm, only compared, never dereferenced
 * @forked: a child got a copy of the VMA; keep @image until release
 * @base_pgoff: vm_pgoff of the VMA's first page (its address in pages)
 * @nr_pages: pages of the VMA
 * @remaining: covered pages not yet installed once in @mm
 * @installed: bitmap of covered pages installed once in @mm
 * @nr_runs: entries in @runs
 * @runs: the VMA's runs, sorted by @first
 */
struct ckpt_lazy {
	spinlock_t lock;	/* protects image */
	struct file *image;
	struct mm_struct *mm;
	bool forked;
	unsigned long base_pgoff;
	unsigned long nr_pages;
	atomic_long_t remaining;
	unsigned long *installed;
	unsigned int nr_runs;
	struct ckpt_lazy_run runs[] __counted_by(nr_runs);
};

static const struct vm_operations_struct ckpt_lazy_vm_ops;

bool ckpt_vma_is_lazy(const struct vm_area_struct *vma)
{
	return vma->vm_ops == &ckpt_lazy_vm_ops;
}

static const struct ckpt_lazy_run *ckpt_lazy_find(const struct ckpt_lazy *lz,
						  unsigned long idx)
{
	unsigned int lo = 0, hi = lz->nr_runs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (idx < lz->runs[mid].first)
			hi = mid;
		else if (idx >= lz->runs[mid].first + lz->runs[mid].nr)
			lo = mid + 1;
		else
			return &lz->runs[mid];
	}
	return NULL;
}

static void ckpt_lazy_drop_image(struct ckpt_lazy *lz)
{
	struct file *image;

	spin_lock(&lz->lock);
	image = lz->image;
	lz->image = NULL;
	spin_unlock(&lz->lock);
	if (image) {
		atomic_long_dec(&ckpt_stats.lazy_images);
		fput(image);
	}
}

static struct file *ckpt_lazy_get_image(struct ckpt_lazy *lz)
{
	struct file *image;

	spin_lock(&lz->lock);
	image = lz->image ? get_file(lz->image) : NULL;
	spin_unlock(&lz->lock);
	return image;
}

static int ckpt_lazy_read(struct file *image, struct page *page, loff_t pos)
{
	struct bio_vec bv;
	struct iov_iter iter;
	ssize_t ret;

	bvec_set_page(&bv, page, PAGE_SIZE, 0);
	iov_iter_bvec(&iter, ITER_DEST, &bv, 1, PAGE_SIZE);
	ret = vfs_iter_read(image, &iter, &pos, 0);
	if (ret < 0)
		return ret;
	return ret == PAGE_SIZE ? 0 : -EIO;
}

static vm_fault_t ckpt_lazy_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct ckpt_lazy *lz = vma->vm_file->private_data;
	bool owner = vma->vm_mm == lz->mm, filled = false;
	const struct ckpt_lazy_run *run;
	unsigned long idx, bit = 0;
	struct file *image = NULL;
	struct page *page;
	int ret;

	idx = vmf->pgoff - lz->base_pgoff;
	run = ckpt_lazy_find(lz, idx);
	if (run) {
		bit = run->bit + (idx - run->first);
		if (!owner || !test_bit(bit, lz->installed))
			image = ckpt_lazy_get_image(lz);
	}

	page = alloc_page(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT);
	if (!page) {
		ret = -ENOMEM;
		goto out_put_image;
	}
	if (image) {
		ret = ckpt_lazy_read(image, page,
				     run->pos + ((loff_t)(idx - run->first) << PAGE_SHIFT));
		if (ret)
			goto out_put_page;
		filled = true;
	} else if (run && owner && !test_bit(bit, lz->installed)) {
		/* Someone installed the last page and dropped the image. */
		ret = -EAGAIN;
		goto out_put_page;
	}

	ret = vm_insert_page(vma, vmf->address & PAGE_MASK, page);
	if (!ret && filled) {
		atomic_long_inc(&ckpt_stats.lazy_fills);
		if (owner && !test_and_set_bit(bit, lz->installed) &&
		    atomic_long_dec_and_test(&lz->remaining) &&
		    !READ_ONCE(lz->forked))
			ckpt_lazy_drop_image(lz);
	}
	/* -EBUSY: another thread installed this page first. */
	if (ret == -EBUSY)
		ret = -EAGAIN;

out_put_page:
	put_page(page);
out_put_image:
	if (image)
		fput(image);
	if (ret == -EAGAIN || !ret)
		return VM_FAULT_NOPAGE;
	return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

static void ckpt_lazy_open(struct vm_area_struct *vma)
{
	struct ckpt_lazy *lz = vma->vm_file->private_data;

	/* Called for the copy in a child at fork, and on VMA splits. */
	if (vma->vm_mm != lz->mm)
		WRITE_ONCE(lz->forked, true);
}

static const struct vm_operations_struct ckpt_lazy_vm_ops = {
	.open = ckpt_lazy_open,
	.fault = ckpt_lazy_fault,
};

static int ckpt_lazy_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ckpt_lazy *lz = file->private_data;

	if (vma->vm_flags & VM_MAYSHARE || vma->vm_pgoff < lz->base_pgoff ||
	    vma->vm_pgoff - lz->base_pgoff > lz->nr_pages ||
	    vma_pages(vma) > lz->nr_pages - (vma->vm_pgoff - lz->base_pgoff))
		return -EINVAL;
	vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND);
	vma->vm_ops = &ckpt_lazy_vm_ops;
	return 0;
}

static int ckpt_lazy_release(struct inode *inode, struct file *file)
{
	struct ckpt_lazy *lz = file->private_data;

	ckpt_lazy_drop_image(lz);
	kvfree(lz->installed);
	kvfree(lz);
	atomic_long_dec(&ckpt_stats.lazy_live);
	return 0;
}

static const struct file_operations ckpt_lazy_fops = {
	.owner = THIS_MODULE,
	.mmap = ckpt_lazy_mmap,
	.release = ckpt_lazy_release,
};

/**
 * ckpt_lazy_file_create() - the file to map a VMA of @img lazily
 * @img: a loaded and verified image
 * @vma: index of a CKPT_VMA_ANON VMA
 * @first_run: index of the VMA's first run
 * @nr_runs: number of its runs
 *
 * The caller maps the file MAP_PRIVATE at the VMA's address with the
 * address as file offset, then drops its reference.
 *
 * Return: the file, or an ERR_PTR.
 */
struct file *ckpt_lazy_file_create(const struct ckpt_image *img,
				   unsigned int vma, unsigned int first_run,
				   unsigned int nr_runs)
{
	const struct ckpt_image_vma *v = &img->vmas[vma];
	const struct ckpt_image_run *r;
	unsigned long covered = 0;
	struct ckpt_lazy *lz;
	struct file *file;
	unsigned int i;

	lz = kvzalloc(struct_size(lz, runs, nr_runs), GFP_KERNEL_ACCOUNT);
	if (!lz)
		return ERR_PTR(-ENOMEM);
	lz->nr_runs = nr_runs;
	for (i = 0; i < nr_runs; i++) {
		r = &img->runs[first_run + i];
		lz->runs[i].first = (r->start - v->start) >> PAGE_SHIFT;
		lz->runs[i].nr = r->nr_pages;
		lz->runs[i].bit = covered;
		lz->runs[i].pos = img->run_pos[first_run + i];
		covered += r->nr_pages;
	}
	/* covered <= CKPT_MAX_RUNS * CKPT_MAX_RUN_PAGES bits, checked. */
	lz->installed = kvcalloc(BITS_TO_LONGS(max(covered, 1UL)),
				 sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
	if (!lz->installed) {
		file = ERR_PTR(-ENOMEM);
		goto err_free;
	}
	spin_lock_init(&lz->lock);
	lz->mm = current->mm;
	lz->base_pgoff = v->start >> PAGE_SHIFT;
	lz->nr_pages = (v->end - v->start) >> PAGE_SHIFT;
	atomic_long_set(&lz->remaining, covered);
	if (covered)
		lz->image = get_file(img->file);

	file = anon_inode_getfile("[ckpt_lazy]", &ckpt_lazy_fops, lz, O_RDWR);
	if (IS_ERR(file))
		goto err_put_image;
	atomic_long_inc(&ckpt_stats.lazy_live);
	if (lz->image)
		atomic_long_inc(&ckpt_stats.lazy_images);
	return file;

err_put_image:
	if (lz->image)
		fput(lz->image);
	kvfree(lz->installed);
err_free:
	kvfree(lz);
	return file;
}
