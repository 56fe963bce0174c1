// SPDX-License-Identifier: GPL-2.0-only
/*
 * CKPT_RESTORE: map an image's VMAs into the calling process and fill them.
 *
 * Order of work, so that a bad image or a clash never leaves the process
 * changed:
 *
 *  1. load and validate the header and metadata (image.c); with
 *     CKPT_RESTORE_VERIFY_FIRST also every chunk checksum;
 *  2. open every file the VMAs need (absolute paths of regular files with
 *     the caller's credentials, new shmem files, lazy state files), and
 *     check that the caller may have non-writable VMAs filled (-EPERM);
 *  3. check that nothing is mapped where any VMA goes (-EEXIST);
 *  4. map each VMA with MAP_FIXED_NOREPLACE and its final protection (an
 *     executable lazy VMA is first mapped and unmapped as anonymous memory
 *     to prove the caller may execute there, then mapped without
 *     PROT_EXEC and made executable by lazy.c);
 *  5. fill eager VMAs, a long run batch by batch: read the batch's chunk
 *     checksums, pin (and so populate) the destination pages, read the
 *     batch straight into them with one vfs_iter_read() and check each
 *     chunk.  Private batches are shared out between the restoring task
 *     and one helper work item on another CPU, each taking the next batch
 *     in image order when it is done with its last, so populating, copying
 *     and checking are split over two CPUs.  The error of the first
 *     failing batch in image order is returned, and the helper is waited
 *     for before step 5 returns, on success and failure alike, unless the
 *     task is killed while it waits: then it returns at once and the
 *     helper, holding its own references to the call's state and to the
 *     mm, stops after its current batch.  The helper is used only when it
 *     would allocate as the task would (no memory policy of the task's
 *     own, no cpuset limiting its nodes); otherwise the task fills every
 *     batch itself.  Shared VMAs are filled afterwards by the task alone.
 *     Lazy VMAs read and check a chunk and its checksum on its first fault.
 *
 * Any failure in 4 or 5 unmaps exactly the VMAs this call mapped.
 *
 * Non-writable private VMAs are written with FOLL_FORCE, the way ptrace
 * pokes memory, so read-only, executable and PROT_NONE VMAs are mapped with
 * their final protection from the start and no mprotect() is needed
 * afterwards; only a caller with CAP_CHECKPOINT_RESTORE may have that done.
 *
 * The caller's mm must have no other user (-EBUSY): undo unmaps the VMAs
 * by address, which must still be the ones this call mapped.
 */
#include <linux/bvec.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/cpuset.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/kref.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mutex.h>
#include <linux/namei.h>
#include <linux/nodemask.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/user_namespace.h>
#include <linux/workqueue.h>
#include <vmemkit/compat.h>
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
 * struct ckpt_filler - what one filler of private batches works with
 * @pa: the pinned destination pages of its current batch
 * @bv: bio_vec table over @pa, CKPT_BATCH_PAGES entries
 * @csums: chunk checksums of its current batch
 * @nr_pages: pages it filled
 *
 * There are two fillers, the restoring task and the helper work item; each
 * touches only its own.
 */
struct ckpt_filler {
	struct vmk_page_array pa;
	struct bio_vec *bv;
	u64 csums[CKPT_BATCH_CHUNKS];
	u64 nr_pages;
};

/**
 * struct ckpt_batch - one batch of a run, as handed out to a filler
 * @run: index of the run
 * @off: first page of the batch in the run, on a chunk boundary
 * @n: pages in the batch
 * @seq: number of the batch in image order
 */
struct ckpt_batch {
	u64 run;
	u64 off;
	unsigned int n;
	u64 seq;
};

/**
 * struct ckpt_rctx - one CKPT_RESTORE call
 * @ref: held by the restoring task and, while it runs, by the helper: a
 *	task killed while it waits for the helper returns without it, and
 *	the last of the two frees what the helper uses (ckpt_rctx_free())
 * @img: the validated image
 * @rv: one entry per image VMA
 * @mm: the restoring task's mm, which both fillers pin in; the helper
 *	holds an mm_users reference while it runs
 * @cred: the restoring task's credentials (a reference), which the helper
 *	reads with
 * @helper: the helper filler's work item (ckpt_fill_helper())
 * @helper_done: completed by the helper when it takes no more batches
 * @fl: the fillers: [0] the restoring task, [1] the helper; their @bv
 *	allocated only for eager private VMAs
 * @lock: protects @vma, @run, @off, @seq, @err and @err_seq while the
 *	helper may run; once @helper_done is complete the task reads them
 *	without it
 * @vma: VMA of @run
 * @run: run of the next private batch to hand out
 * @off: first page of that batch in @run
 * @seq: number of the next batch to hand out
 * @err: error of the first failing batch (lowest @err_seq), or 0; once
 *	set no more batches are handed out
 * @err_seq: that batch's number
 * @buf: bounce buffer of one batch, allocated only for eager shared VMAs
 * @csums: chunk checksums of the current shared batch
 */
struct ckpt_rctx {
	struct kref ref;
	struct ckpt_image img;
	struct ckpt_rvma *rv;
	struct mm_struct *mm;
	const struct cred *cred;
	struct work_struct helper;
	struct completion helper_done;
	struct ckpt_filler fl[2];
	struct mutex lock; /* hands out batches: @vma to @err_seq */
	u32 vma;
	u64 run;
	u64 off;
	u64 seq;
	int err;
	u64 err_seq;
	void *buf;
	u64 csums[CKPT_BATCH_CHUNKS];
};

/*
 * Open the absolute path of a private file VMA with the caller's rights.
 * Only a regular file will do: the path is looked up first so that a
 * FIFO, a device or a directory is refused without being opened, and
 * opened with O_NONBLOCK so that one swapped in after the look-up cannot
 * block the restore either; the opened file is checked again.
 */
static struct file *ckpt_open_path(const struct ckpt_image *img,
				   const struct ckpt_image_vma *v)
{
	struct file *file;
	struct path p;
	char *path;
	int ret;

	path = kmemdup_nul(img->strings + v->path_offset, v->path_len,
			   GFP_KERNEL);
	if (!path)
		return ERR_PTR(-ENOMEM);
	ret = kern_path(path, LOOKUP_FOLLOW, &p);
	if (ret) {
		file = ERR_PTR(ret);
		goto out_free;
	}
	ret = d_is_reg(p.dentry);
	path_put(&p);
	if (!ret) {
		file = ERR_PTR(-ENODEV);
		goto out_free;
	}
	file = filp_open(path, O_RDONLY | O_LARGEFILE | O_NONBLOCK, 0);
	if (!IS_ERR(file) && !S_ISREG(file_inode(file)->i_mode)) {
		fput(file);
		file = ERR_PTR(-ENODEV);
	}
out_free:
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
			rv->file = vmk_shmem_file_setup("dev/zero",
							v->end - v->start);
			/*
			 * shmem reports a failed inode allocation as -ENOSPC;
			 * the internal mount has no size or inode limit, so
			 * here it can only mean out of memory.
			 */
			if (rv->file == ERR_PTR(-ENOSPC))
				rv->file = ERR_PTR(-ENOMEM);
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

/*
 * May the caller have private anonymous memory with @v's protection at
 * @v's place?  security_mmap_file() is not exported and the kernel's
 * answer also depends on MDWE and the architecture, so ask the kernel
 * itself: map exactly what an eager restore of @v would map, then unmap
 * it.  An executable lazy VMA is allowed only where this succeeds: lazy
 * restore grants no exec that eager restore would not.  The unmap fails
 * only on a fatal signal; @rv->mapped then leaves it to the undo.
 */
static int ckpt_may_map_anon(const struct ckpt_image_vma *v,
			     struct ckpt_rvma *rv)
{
	unsigned long len = v->end - v->start, addr;
	int ret;

	addr = vm_mmap(NULL, v->start, len, v->prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, 0);
	if (IS_ERR_VALUE(addr))
		return (int)addr;
	rv->mapped = true;
	if (WARN_ON_ONCE(addr != v->start)) {
		vm_munmap(addr, len);
		rv->mapped = false;
		return -EINVAL;
	}
	ret = vm_munmap(addr, len);
	if (!ret)
		rv->mapped = false;
	return ret;
}

/* Step 4 for one VMA; MAP_FIXED_NOREPLACE still catches a racing mmap. */
static int ckpt_map_one(const struct ckpt_image_vma *v, struct ckpt_rvma *rv)
{
	unsigned long len = v->end - v->start, flags, addr, off = 0;
	unsigned long prot = v->prot;
	int ret;

	flags = MAP_FIXED_NOREPLACE;
	switch (v->kind) {
	case CKPT_VMA_ANON:
		if (rv->lazy) {
			flags |= MAP_PRIVATE;
			off = v->start;
			/*
			 * The lazy file is on a pseudo filesystem, noexec on
			 * newer kernels: never map it with PROT_EXEC, let
			 * ckpt_lazy_mmap() add VM_EXEC once allowed.
			 */
			if (prot & PROT_EXEC) {
				ret = ckpt_may_map_anon(v, rv);
				if (ret)
					return ret;
				ckpt_lazy_allow_exec(rv->file);
				prot &= ~PROT_EXEC;
			}
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
	addr = vm_mmap(rv->file, v->start, len, prot, flags, off);
	if (IS_ERR_VALUE(addr))
		return (int)addr;
	if (WARN_ON_ONCE(addr != v->start)) {
		vm_munmap(addr, len);
		return -EINVAL;
	}
	rv->mapped = true;
	return 0;
}

/* Is VMA @i filled here by the private fillers? */
static bool ckpt_private_eager(const struct ckpt_rctx *c, u32 i)
{
	return !c->rv[i].lazy && c->img.vmas[i].kind != CKPT_VMA_SHARED;
}

/*
 * FOLL_FORCE for the eager fill of VMA @i if it is not writable, as ptrace
 * pokes memory; ckpt_may_force() allowed it before anything was mapped.
 */
static unsigned int ckpt_force(const struct ckpt_rctx *c, u32 i)
{
	return c->img.vmas[i].prot & PROT_WRITE ? 0 : FOLL_FORCE;
}

/*
 * Writing through a VMA's protection places contents, code say, where the
 * caller could not write them itself, past what mprotect() and the LSMs
 * check (SELinux execmod, proc_mem.force_override=never): only a caller
 * with CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) in the initial user
 * namespace may have non-writable VMAs filled eagerly.  Lazy VMAs install
 * their pages without forcing anything.
 */
static int ckpt_may_force(const struct ckpt_rctx *c)
{
	u32 i;

	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		if (ckpt_private_eager(c, i) && c->rv[i].nr_runs &&
		    ckpt_force(c, i) &&
		    !checkpoint_restore_ns_capable(&init_user_ns))
			return -EPERM;
	}
	return 0;
}

/*
 * Hand out the next private batch in image order, unless a batch failed
 * or none is left.  Every run lies in exactly one VMA and each VMA's runs
 * follow each other (ckpt_prepare() checked), so one walk over the runs,
 * skipping those of other VMAs, visits every private batch once.
 */
static bool ckpt_next_batch(struct ckpt_rctx *c, struct ckpt_batch *bt)
{
	const struct ckpt_rvma *rv;
	bool found = false;
	u64 left;

	mutex_lock(&c->lock);
	while (!c->err && c->run < c->img.hdr.nr_runs) {
		rv = &c->rv[c->vma];
		if (c->run >= rv->first_run + rv->nr_runs) {
			c->vma++;
			continue;
		}
		if (!ckpt_private_eager(c, c->vma)) {
			c->run = rv->first_run + rv->nr_runs;
			continue;
		}
		left = c->img.runs[c->run].nr_pages - c->off;
		if (!left) {
			c->run++;
			c->off = 0;
			continue;
		}
		bt->run = c->run;
		bt->off = c->off;
		bt->n = min_t(u64, left, CKPT_BATCH_PAGES);
		bt->seq = c->seq++;
		c->off += bt->n;
		found = true;
		break;
	}
	mutex_unlock(&c->lock);
	return found;
}

/* Record that batch @seq failed with @err; the first batch's error wins. */
static void ckpt_batch_failed(struct ckpt_rctx *c, u64 seq, int err)
{
	mutex_lock(&c->lock);
	if (!c->err || seq < c->err_seq) {
		c->err = err;
		c->err_seq = seq;
	}
	mutex_unlock(&c->lock);
}

/*
 * Fill one private batch: read its chunk checksums, pin (fault in) its
 * destination pages in the restoring task's mm, read it straight into
 * them and check its chunks.  The pages are unpinned before returning.
 */
static int ckpt_fill_batch(struct ckpt_rctx *c, struct ckpt_filler *f,
			   const struct ckpt_batch *bt)
{
	const struct ckpt_image_run *r = &c->img.runs[bt->run];
	loff_t pos = c->img.run_pos[bt->run] + (bt->off << PAGE_SHIFT);
	size_t len = (size_t)bt->n << PAGE_SHIFT;
	struct iov_iter iter;
	ssize_t got;
	int ret;

	ret = ckpt_image_read_csums(&c->img,
				    r->chunk + bt->off / CKPT_CHUNK_PAGES,
				    ckpt_run_chunks(bt->n), f->csums);
	if (ret)
		return ret;
	ret = vmk_page_array_pin_remote(&f->pa, c->mm,
					r->start + (bt->off << PAGE_SHIFT),
					bt->n, FOLL_WRITE | ckpt_force(c, r->vma));
	if (ret)
		return ret;
	ret = vmk_page_array_bvec(&f->pa, 0, bt->n, f->bv);
	if (ret)
		goto out_release;
	iov_iter_bvec(&iter, ITER_DEST, f->bv, bt->n, len);
	got = vfs_iter_read(c->img.file, &iter, &pos, 0);
	if (got != len) {
		ret = got < 0 ? got : -EIO;
		goto out_release;
	}
	ret = ckpt_check_chunks_bvec(f->csums, f->bv, bt->n);

out_release:
	vmk_page_array_release(&f->pa, true);
	return ret;
}

/*
 * Fill private batches until none is left or one failed.  Only the
 * restoring task (@task) sees its own fatal signals; the helper stops once
 * the task has recorded -EINTR.
 */
static void ckpt_fill_batches(struct ckpt_rctx *c, struct ckpt_filler *f,
			      bool task)
{
	struct ckpt_batch bt;
	int ret;

	while (ckpt_next_batch(c, &bt)) {
		ret = ckpt_fill_batch(c, f, &bt);
		if (!ret && task && fatal_signal_pending(current))
			ret = -EINTR;
		if (ret)
			ckpt_batch_failed(c, bt.seq, ret);
		else
			f->nr_pages += bt.n;
		cond_resched();
	}
	atomic_long_add(f->nr_pages, &ckpt_stats.fill_pages);
}

/* What the helper uses; the task's own part is undone by ckpt_restore(). */
static void ckpt_rctx_free(struct kref *ref)
{
	struct ckpt_rctx *c = container_of(ref, struct ckpt_rctx, ref);

	kvfree(c->buf);
	kvfree(c->fl[1].bv);
	kvfree(c->fl[0].bv);
	kvfree(c->rv);
	ckpt_image_free(&c->img);
	put_cred(c->cred);
	mutex_destroy(&c->lock);
	kfree(c);
}

/*
 * The helper filler, on another CPU, with the restoring task's creds.  It
 * holds a reference to @c and to the mm (ckpt_fill()), so it may outlive
 * a restoring task killed while waiting for it; it runs on ckpt_wq, which
 * module unload drains.
 */
static void ckpt_fill_helper(struct work_struct *work)
{
	struct ckpt_rctx *c = container_of(work, struct ckpt_rctx, helper);
	const struct cred *old = override_creds(c->cred);

	ckpt_fill_batches(c, &c->fl[1], false);
	revert_creds(old);
	atomic_long_add(c->fl[1].nr_pages, &ckpt_stats.fill_pages_helper);
	complete(&c->helper_done);
	mmput(c->mm);
	kref_put(&c->ref, ckpt_rctx_free);
}

/*
 * Would the helper allocate the pages it populates as the task would?  It
 * faults them in under its own (default) memory policy and cpuset, local
 * to the CPU it runs on, and is queued on the task's node.  A task with
 * a memory policy of its own, or whose cpuset does not allow every node
 * with memory, fills every batch itself.  mbind() policies are per VMA
 * and every VMA here was just mapped, without one.
 */
static bool ckpt_helper_allocates_alike(void)
{
#ifdef CONFIG_NUMA
	if (current->mempolicy)
		return false;
#endif
	return nodes_subset(node_states[N_MEMORY], cpuset_current_mems_allowed);
}

/*
 * Shared VMAs: copy a batch of a run (as for ckpt_fill_batch()) into the
 * new shmem file through a bounce buffer.
 */
static int ckpt_fill_shared(struct ckpt_rctx *c, const struct ckpt_image_vma *v,
			    struct file *shm, u64 run, u64 off, unsigned int n)
{
	const struct ckpt_image_run *r = &c->img.runs[run];
	loff_t pos = r->start + (off << PAGE_SHIFT) - v->start;
	size_t len = (size_t)n << PAGE_SHIFT;
	int ret;

	ret = ckpt_image_read_csums(&c->img, r->chunk + off / CKPT_CHUNK_PAGES,
				    ckpt_run_chunks(n), c->csums);
	if (!ret)
		ret = ckpt_read_full(c->img.file, c->buf, len,
				     c->img.run_pos[run] + (off << PAGE_SHIFT));
	if (!ret)
		ret = ckpt_check_chunks_buf(c->csums, c->buf, n);
	return ret ?: ckpt_write_full(shm, c->buf, len, &pos);
}

/* Step 5 for the shared VMAs, run by run, batch by batch. */
static int ckpt_fill_shared_vmas(struct ckpt_rctx *c)
{
	const struct ckpt_image_run *r;
	unsigned int n;
	u64 run, off;
	int ret;
	u32 i;

	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		if (c->img.vmas[i].kind != CKPT_VMA_SHARED)
			continue;
		for (run = c->rv[i].first_run;
		     run < c->rv[i].first_run + c->rv[i].nr_runs; run++) {
			r = &c->img.runs[run];
			for (off = 0; off < r->nr_pages; off += n) {
				n = min_t(u64, r->nr_pages - off,
					  CKPT_BATCH_PAGES);
				ret = ckpt_fill_shared(c, &c->img.vmas[i],
						       c->rv[i].file, run, off,
						       n);
				if (ret)
					return ret;
				if (fatal_signal_pending(current))
					return -EINTR;
				cond_resched();
			}
		}
	}
	return 0;
}

/*
 * Step 5: fill every eager VMA, the private ones by the task and the helper
 * together.  Returns only once the helper is done and every pin is
 * dropped, on success and on failure alike.
 */
static int ckpt_fill(struct ckpt_rctx *c)
{
	bool helper;

	if (c->fl[0].bv) {
		helper = ckpt_helper_allocates_alike();
		if (helper) {
			kref_get(&c->ref);
			mmget(c->mm);
			queue_work_node(numa_node_id(), ckpt_wq, &c->helper);
		}
		ckpt_fill_batches(c, &c->fl[0], true);
		/*
		 * The helper may be stuck in a fault or a read that only this
		 * task can end (its own FUSE server, say): wait killably.  A
		 * killed task stops the helper's batches and leaves it its
		 * references; undo unmaps what the helper may still pin in.
		 */
		if (helper && wait_for_completion_killable(&c->helper_done)) {
			ckpt_batch_failed(c, 0, -EINTR);
			return -EINTR;
		}
		/*
		 * Past its completion the helper only drops its references:
		 * wait for that too, so that the last reference to the image
		 * and the mm users count are the caller's again on return.
		 * The completion ordered the helper's writes before these.
		 */
		flush_work(&c->helper);
		if (c->err)
			return c->err;
	}
	return ckpt_fill_shared_vmas(c);
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

/*
 * The outputs, known before anything is mapped: every eager VMA is filled
 * whole or the restore is undone.  They are copied out before the first
 * mapping, so a failing copy changes nothing either.
 */
static int ckpt_put_results(struct ckpt_rctx *c, struct ckpt_restore *arg,
			    struct ckpt_restore __user *uarg)
{
	u64 lazy_pages = 0;
	u32 i;

	arg->nr_vmas = c->img.hdr.nr_vmas;
	arg->nr_lazy_vmas = 0;
	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		if (!c->rv[i].lazy)
			continue;
		arg->nr_lazy_vmas++;
		lazy_pages += ckpt_image_run_pages(&c->img, c->rv[i].first_run,
						   c->rv[i].nr_runs);
	}
	arg->nr_pages = c->img.hdr.nr_pages - lazy_pages;
	arg->nr_lazy_pages = lazy_pages;
	return copy_to_user(uarg, arg, sizeof(*arg)) ? -EFAULT : 0;
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
 * @arg: the argument, copied in
 * @uarg: where the argument with its outputs is copied back, before
 *	anything is mapped
 *
 * Return: 0, or a negative errno with the address space as before the call.
 */
int ckpt_restore(struct ckpt_restore *arg, struct ckpt_restore __user *uarg)
{
	bool need_bv, need_buf;
	struct ckpt_rctx *c;
	struct file *file;
	u32 i;
	int ret;

	if (arg->flags & ~(CKPT_RESTORE_LAZY | CKPT_RESTORE_VERIFY_FIRST) ||
	    arg->reserved)
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	/*
	 * Undo unmaps by address, and the fillers pin by address: another
	 * task of this mm could map, unmap or move its own mappings there
	 * in between.  Nothing can join the mm while its only user is in
	 * this call; a transient reference (a /proc reader) also counts.
	 */
	if (atomic_read(&current->mm->mm_users) > 1)
		return -EBUSY;
	file = fget(arg->image_fd);
	if (!file)
		return -EBADF;
	if (!(file->f_mode & FMODE_READ)) {
		ret = -EBADF;
		goto out_fput;
	}
	c = kzalloc_obj(*c, GFP_KERNEL);
	if (!c) {
		ret = -ENOMEM;
		goto out_fput;
	}
	kref_init(&c->ref);
	c->mm = current->mm;
	c->cred = get_current_cred();
	INIT_WORK(&c->helper, ckpt_fill_helper);
	init_completion(&c->helper_done);
	mutex_init(&c->lock);
	for (i = 0; i < ARRAY_SIZE(c->fl); i++)
		vmk_page_array_init(&c->fl[i].pa, VMK_PA_PINNED);

	ret = ckpt_image_load(&c->img, file);
	if (ret)
		goto out_put_ctx;
	if (arg->flags & CKPT_RESTORE_VERIFY_FIRST) {
		ret = ckpt_image_verify_runs(&c->img);
		if (ret)
			goto out_put_ctx;
	}
	/* Bounded by CKPT_MAX_VMAS, checked. */
	c->rv = kvcalloc(max(c->img.hdr.nr_vmas, 1U), sizeof(*c->rv),
			 GFP_KERNEL_ACCOUNT);
	if (!c->rv) {
		ret = -ENOMEM;
		goto out_put_ctx;
	}
	ret = ckpt_prepare(c, arg->flags);
	if (!ret)
		ret = ckpt_may_force(c);
	if (ret)
		goto out_put_files;
	/*
	 * Buffers of one batch, only for the eager VMAs that need them: a
	 * lazy restore reads no contents and allocates nothing per batch.
	 */
	need_bv = ckpt_eager_runs(c, false);
	need_buf = ckpt_eager_runs(c, true);
	for (i = 0; i < ARRAY_SIZE(c->fl) && need_bv; i++)
		c->fl[i].bv = kvmalloc_array(CKPT_BATCH_PAGES,
					     sizeof(*c->fl[i].bv), GFP_KERNEL);
	if (need_buf)
		c->buf = kvmalloc(CKPT_BATCH_BYTES, GFP_KERNEL);
	if ((need_bv && (!c->fl[0].bv || !c->fl[1].bv)) ||
	    (need_buf && !c->buf)) {
		ret = -ENOMEM;
		goto out_put_files;
	}
	ret = ckpt_check_free(&c->img);
	if (!ret)
		ret = ckpt_put_results(c, arg, uarg);
	if (ret)
		goto out_put_files;
	for (i = 0; i < c->img.hdr.nr_vmas; i++) {
		ret = ckpt_map_one(&c->img.vmas[i], &c->rv[i]);
		if (ret)
			goto out_unmap;
	}
	ret = ckpt_fill(c);
	if (ret)
		goto out_unmap;
	atomic_long_inc(&ckpt_stats.restores);
	goto out_put_files;

out_unmap:
	ckpt_unmap_all(c);
	atomic_long_inc(&ckpt_stats.restores_undone);
out_put_files:
	ckpt_put_files(c);
out_put_ctx:
	kref_put(&c->ref, ckpt_rctx_free);
out_fput:
	fput(file);
	return ret;
}
