// SPDX-License-Identifier: GPL-2.0-only
/*
 * CKPT_RESTORE: map an image's VMAs into the calling process and fill them.
 *
 * Order of work, so that a bad image or a clash never leaves the process
 * changed:
 *
 *  1. load and validate the header and metadata (image.c); with
 *     CKPT_RESTORE_VERIFY_FIRST also every chunk checksum;
 *  2. open every file the VMAs need (paths with the caller's credentials,
 *     new shmem files, lazy state files);
 *  3. check that nothing is mapped where any VMA goes (-EEXIST);
 *  4. map each VMA with MAP_FIXED_NOREPLACE and its final protection;
 *  5. fill eager VMAs run by run, a long run batch by batch: read the
 *     batch's chunk checksums, pin the destination pages, read the batch
 *     straight into them with one vfs_iter_read() and check each chunk.
 *     A private batch's chunks are checked (and its pages unpinned) by a
 *     work item on another CPU while the next batch is pinned and read;
 *     every work item is waited for before step 5 returns, so a mismatch
 *     unwinds as any other failure.
 *     Lazy VMAs read and check a chunk and its checksum on its first fault.
 *
 * Any failure in 4 or 5 unmaps exactly the VMAs this call mapped.
 *
 * Private VMAs are written with FOLL_FORCE, the way ptrace pokes memory, so
 * read-only, executable and PROT_NONE VMAs are mapped with their final
 * protection from the start and no mprotect() is needed afterwards.
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <vmemkit/page_array.h>

#include "ckpt_restore.h"

/**
 * struct ckpt_rvma - restore-time state of one image VMA
 * @file: what to map (NULL for eager anonymous memory)
 * @first_run: index of the VMA's first run
 * @nr_runs: number of its runs
 * @lazy: mapped through ckpt_lazy_file_create()
 * @mapped: this call mapped it; undo unmaps it
 */
struct ckpt_rvma {
	struct file *file;
	u64 first_run;
	u32 nr_runs;
	bool lazy;
	bool mapped;
};

/**
 * struct ckpt_pbatch - one batch of an eager private VMA, read and checked
 * @work: checks the chunks, then unpins the pages (ckpt_pbatch_check())
 * @pa: the pinned destination pages
 * @bv: bio_vec table over @pa
 * @csums: chunk checksums of the batch
 * @nr: pages in the batch
 * @ret: the check's result, 0 or -EBADMSG
 * @queued: @work was queued and not yet waited for
 *
 * Ownership: while @queued, @work owns @pa, @bv, @csums, @nr and @ret and
 * the restoring task touches none of them; ckpt_pbatch_wait() hands them
 * back (flush_work() orders the worker's writes before the task's reads).
 * @queued itself is only used by the restoring task.
 */
struct ckpt_pbatch {
	struct work_struct work;
	struct vmk_page_array pa;
	struct bio_vec *bv;
	u64 csums[CKPT_BATCH_CHUNKS];
	unsigned int nr;
	int ret;
	bool queued;
};

/**
 * struct ckpt_rctx - one CKPT_RESTORE call
 * @img: the validated image
 * @rv: one entry per image VMA
 * @pb: two private batches, used in turn: one is checked while the next is
 *      read; their @bv allocated only for eager private VMAs
 * @next_pb: index in @pb of the next private batch to fill
 * @buf: bounce buffer of one batch, allocated only for eager shared VMAs
 * @csums: chunk checksums of the current shared batch
 */
struct ckpt_rctx {
	struct ckpt_image img;
	struct ckpt_rvma *rv;
	struct ckpt_pbatch pb[2];
	unsigned int next_pb;
	void *buf;
	u64 csums[CKPT_BATCH_CHUNKS];
};

static struct file *ckpt_open_path(const struct ckpt_image *img,
				   const struct ckpt_image_vma *v)
{
	struct file *file;
	char *path;

	path = kmemdup_nul(img->strings + v->path_offset, v->path_len,
			   GFP_KERNEL);
	if (!path)
		return ERR_PTR(-ENOMEM);
	file = filp_open(path, O_RDONLY | O_LARGEFILE, 0);
	kfree(path);
	return file;
}

/* Index of the first run at or after @addr: runs are sorted by address. */
static u64 ckpt_run_at(const struct ckpt_image *img, u64 addr)
{
	u64 lo = 0, hi = img->hdr.nr_runs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (img->runs[mid].start < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Step 2: everything that can fail for want of a file, before any mapping. */
static int ckpt_prepare(struct ckpt_rctx *c, u32 flags)
{
	const struct ckpt_image *img = &c->img;
	const struct ckpt_image_vma *v;
	struct ckpt_rvma *rv;
	u64 runs = 0;
	u32 i;

	for (i = 0; i < img->hdr.nr_vmas; i++) {
		v = &img->vmas[i];
		rv = &c->rv[i];
		/* Found by address, not by a walk of every run. */
		rv->first_run = ckpt_run_at(img, v->start);
		rv->nr_runs = ckpt_run_at(img, v->end) - rv->first_run;
		runs += rv->nr_runs;

		switch (v->kind) {
		case CKPT_VMA_FILE:
			rv->file = ckpt_open_path(img, v);
			break;
		case CKPT_VMA_SHARED:
			rv->file = shmem_file_setup("dev/zero", v->end - v->start,
						    0);
			break;
		case CKPT_VMA_ANON:
			if (!(flags & CKPT_RESTORE_LAZY))
				continue;
			rv->lazy = true;
			rv->file = ckpt_lazy_file_create(img, i, rv->first_run,
							 rv->nr_runs);
			break;
		}
		if (IS_ERR(rv->file)) {
			int ret = PTR_ERR(rv->file);

			rv->file = NULL;
			return ret;
		}
	}
	/* Runs are sorted and inside their VMAs, so each VMA took its own. */
	return runs == img->hdr.nr_runs ? 0 : -EINVAL;
}

/* Step 3: refuse before mapping anything if any VMA would clash. */
static int ckpt_check_free(const struct ckpt_image *img)
{
	struct mm_struct *mm = current->mm;
	int ret = 0;
	u32 i;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for (i = 0; i < img->hdr.nr_vmas; i++) {
		if (find_vma_intersection(mm, img->vmas[i].start,
					  img->vmas[i].end)) {
			ret = -EEXIST;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

/* Step 4 for one VMA; MAP_FIXED_NOREPLACE still catches a racing mmap. */
static int ckpt_map_one(const struct ckpt_image_vma *v, struct ckpt_rvma *rv)
{
	unsigned long len = v->end - v->start, flags, addr, off = 0;

	flags = MAP_FIXED_NOREPLACE;
	switch (v->kind) {
	case CKPT_VMA_ANON:
		if (rv->lazy) {
			flags |= MAP_PRIVATE;
			off = v->start;
		} else {
			flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		}
		break;
	case CKPT_VMA_FILE:
		flags |= MAP_PRIVATE;
		off = v->pgoff << PAGE_SHIFT;
		break;
	case CKPT_VMA_SHARED:
		flags |= MAP_SHARED;
		break;
	}
	addr = vm_mmap(rv->file, v->start, len, v->prot, flags, off);
	if (IS_ERR_VALUE(addr))
		return (int)addr;
	if (WARN_ON_ONCE(addr != v->start)) {
		vm_munmap(addr, len);
		return -EINVAL;
	}
	rv->mapped = true;
	return 0;
}

/* Work item of a read private batch: check its chunks, then unpin it. */
static void ckpt_pbatch_check(struct work_struct *work)
{
	struct ckpt_pbatch *b = container_of(work, struct ckpt_pbatch, work);

	b->ret = ckpt_check_chunks_bvec(b->csums, b->bv, b->nr);
	vmk_page_array_release(&b->pa, true);
}

/* Wait for @b's check if it is queued; its result, 0 if none. */
static int ckpt_pbatch_wait(struct ckpt_pbatch *b)
{
	if (!b->queued)
		return 0;
	flush_work(&b->work);
	b->queued = false;
	return b->ret;
}

/* Wait for every queued check; the first failure among them, or 0. */
static int ckpt_pbatch_wait_all(struct ckpt_rctx *c)
{
	int ret0 = ckpt_pbatch_wait(&c->pb[0]);
	int ret1 = ckpt_pbatch_wait(&c->pb[1]);

	return ret0 ?: ret1;
}

/*
 * Read @n pages of @run from page @off on (a batch, starting on a chunk
 * boundary) straight into the pinned destination pages, and queue the
 * check of their chunks.  The batch before this one may still be checked
 * meanwhile; the one before that is waited for here, as its buffers are
 * reused.
 */
static int ckpt_fill_private(struct ckpt_rctx *c, u64 run, u64 off,
			     unsigned int n)
{
	const struct ckpt_image_run *r = &c->img.runs[run];
	loff_t pos = c->img.run_pos[run] + (off << PAGE_SHIFT);
	struct ckpt_pbatch *b = &c->pb[c->next_pb];
	size_t len = (size_t)n << PAGE_SHIFT;
	struct iov_iter iter;
	ssize_t got;
	int ret;

	ret = ckpt_pbatch_wait(b);
	if (ret)
		return ret;
	ret = ckpt_image_read_csums(&c->img, r->chunk + off / CKPT_CHUNK_PAGES,
				    ckpt_run_chunks(n), b->csums);
	if (ret)
		return ret;
	ret = vmk_page_array_pin_user(&b->pa, r->start + (off << PAGE_SHIFT),
				      n, FOLL_WRITE | FOLL_FORCE, false);
	if (ret)
		return ret;
	ret = vmk_page_array_bvec(&b->pa, 0, n, b->bv);
	if (ret)
		goto out_release;
	iov_iter_bvec(&iter, ITER_DEST, b->bv, n, len);
	got = vfs_iter_read(c->img.file, &iter, &pos, 0);
	if (got != len) {
		ret = got < 0 ? got : -EIO;
		goto out_release;
	}
	b->nr = n;
	b->queued = true;
	queue_work(system_unbound_wq, &b->work);
	c->next_pb ^= 1;
	return 0;

out_release:
	vmk_page_array_release(&b->pa, true);
	return ret;
}

/*
 * Shared VMAs: copy a batch of a run (as for ckpt_fill_private()) into the
 * new shmem file through a bounce buffer.
 */
static int ckpt_fill_shared(struct ckpt_rctx *c, const struct ckpt_image_vma *v,
			    struct file *shm, u64 run, u64 off, unsigned int n)
{
	const struct ckpt_image_run *r = &c->img.runs[run];
	loff_t pos = r->start + (off << PAGE_SHIFT) - v->start;
	size_t len = (size_t)n << PAGE_SHIFT;
	ssize_t put;
	int ret;

	ret = ckpt_image_read_csums(&c->img, r->chunk + off / CKPT_CHUNK_PAGES,
				    ckpt_run_chunks(n), c->csums);
	if (!ret)
		ret = ckpt_read_full(c->img.file, c->buf, len,
				     c->img.run_pos[run] + (off << PAGE_SHIFT));
	if (!ret)
		ret = ckpt_check_chunks_buf(c->csums, c->buf, n);
	if (ret)
		return ret;
	put = kernel_write(shm, c->buf, len, &pos);
	if (put != len)
		return put < 0 ? put : -EIO;
	return 0;
}

/* Step 5 for one run, batch by batch. */
static int ckpt_fill_run(struct ckpt_rctx *c, u32 vma, u64 run, u64 *nr_pages)
{
	const struct ckpt_image_run *r = &c->img.runs[run];
	unsigned int n;
	u64 off;
	int ret;

	for (off = 0; off < r->nr_pages; off += n) {
		n = min_t(u64, r->nr_pages - off, CKPT_BATCH_PAGES);
		if (c->img.vmas[vma].kind == CKPT_VMA_SHARED)
			ret = ckpt_fill_shared(c, &c->img.vmas[vma],
					       c->rv[vma].file, run, off, n);
		else
			ret = ckpt_fill_private(c, run, off, n);
		if (ret)
			return ret;
		*nr_pages += n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * Step 5: fill every eager VMA, run by run.  Returns only once every
 * private batch's check is done and its pages unpinned, on success and on
 * failure alike.
 */
static int ckpt_fill(struct ckpt_rctx *c, u64 *nr_pages)
{
	struct ckpt_rvma *rv;
	int ret = 0, check;
	u64 run;
	u32 i;

	for (i = 0; i < c->img.hdr.nr_vmas && !ret; i++) {
		rv = &c->rv[i];
		if (rv->lazy)
			continue;
		for (run = rv->first_run; run < rv->first_run + rv->nr_runs;
		     run++) {
			ret = ckpt_fill_run(c, i, run, nr_pages);
			if (ret)
				break;
		}
	}
	check = ckpt_pbatch_wait_all(c);
	return ret ?: check;
}

/* Has an eager VMA, shared or not as @shared says, runs to fill? */
static bool ckpt_eager_runs(const struct ckpt_rctx *c, bool shared)
{
	bool is_shared;
	u32 i;

	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		is_shared = c->img.vmas[i].kind == CKPT_VMA_SHARED;
		if (!c->rv[i].lazy && c->rv[i].nr_runs && is_shared == shared)
			return true;
	}
	return false;
}

static void ckpt_unmap_all(struct ckpt_rctx *c)
{
	const struct ckpt_image_vma *v;
	u32 i;

	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		v = &c->img.vmas[i];
		if (!c->rv[i].mapped)
			continue;
		vm_munmap(v->start, v->end - v->start);
		c->rv[i].mapped = false;
	}
}

static void ckpt_put_files(struct ckpt_rctx *c)
{
	u32 i;

	for (i = 0; i < c->img.hdr.nr_vmas; i++)
		if (c->rv[i].file)
			fput(c->rv[i].file);
}

/**
 * ckpt_restore() - CKPT_RESTORE
 * @arg: the argument, copied in; outputs are filled on success
 *
 * Return: 0, or a negative errno with the address space as before the call.
 */
int ckpt_restore(struct ckpt_restore *arg)
{
	bool need_bv, need_buf;
	struct ckpt_rctx *c;
	struct file *file;
	u64 nr_pages = 0;
	u32 i;
	int ret;

	if (arg->flags & ~(CKPT_RESTORE_LAZY | CKPT_RESTORE_VERIFY_FIRST) ||
	    arg->reserved)
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	file = fget(arg->image_fd);
	if (!file)
		return -EBADF;
	if (!(file->f_mode & FMODE_READ)) {
		ret = -EBADF;
		goto out_fput;
	}
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		ret = -ENOMEM;
		goto out_fput;
	}
	for (i = 0; i < ARRAY_SIZE(c->pb); i++) {
		INIT_WORK(&c->pb[i].work, ckpt_pbatch_check);
		vmk_page_array_init(&c->pb[i].pa, VMK_PA_PINNED);
	}

	ret = ckpt_image_load(&c->img, file);
	if (ret)
		goto out_free_ctx;
	if (arg->flags & CKPT_RESTORE_VERIFY_FIRST) {
		ret = ckpt_image_verify_runs(&c->img);
		if (ret)
			goto out_free_image;
	}
	/* Bounded by CKPT_MAX_VMAS, checked. */
	c->rv = kvcalloc(max(c->img.hdr.nr_vmas, 1U), sizeof(*c->rv),
			 GFP_KERNEL_ACCOUNT);
	if (!c->rv) {
		ret = -ENOMEM;
		goto out_free_bufs;
	}
	ret = ckpt_prepare(c, arg->flags);
	if (ret)
		goto out_put_files;
	/*
	 * Buffers of one batch, only for the eager VMAs that need them: a
	 * lazy restore reads no contents and allocates nothing per batch.
	 */
	need_bv = ckpt_eager_runs(c, false);
	need_buf = ckpt_eager_runs(c, true);
	for (i = 0; i < ARRAY_SIZE(c->pb) && need_bv; i++)
		c->pb[i].bv = kvmalloc_array(CKPT_BATCH_PAGES,
					     sizeof(*c->pb[i].bv), GFP_KERNEL);
	if (need_buf)
		c->buf = kvmalloc(CKPT_BATCH_BYTES, GFP_KERNEL);
	if ((need_bv && (!c->pb[0].bv || !c->pb[1].bv)) ||
	    (need_buf && !c->buf)) {
		ret = -ENOMEM;
		goto out_put_files;
	}
	ret = ckpt_check_free(&c->img);
	if (ret)
		goto out_put_files;
	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		ret = ckpt_map_one(&c->img.vmas[i], &c->rv[i]);
		if (ret)
			goto out_unmap;
	}
	ret = ckpt_fill(c, &nr_pages);
	if (ret)
		goto out_unmap;

	arg->nr_vmas = c->img.hdr.nr_vmas;
	arg->nr_lazy_vmas = 0;
	for (i = 0; i < c->img.hdr.nr_vmas; i++)
		arg->nr_lazy_vmas += c->rv[i].lazy;
	arg->nr_pages = nr_pages;
	arg->nr_lazy_pages = c->img.hdr.nr_pages - nr_pages;
	atomic_long_inc(&ckpt_stats.restores);
	goto out_put_files;

out_unmap:
	ckpt_unmap_all(c);
	atomic_long_inc(&ckpt_stats.restores_undone);
out_put_files:
	ckpt_put_files(c);
out_free_bufs:
	kvfree(c->buf);
	kvfree(c->pb[1].bv);
	kvfree(c->pb[0].bv);
	kvfree(c->rv);
out_free_image:
	ckpt_image_free(&c->img);
out_free_ctx:
	kfree(c);
out_fput:
	fput(file);
	return ret;
}
