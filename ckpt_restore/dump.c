// SPDX-License-Identifier: GPL-2.0-only
/*
 * CKPT_DUMP: write a memory image of the caller or of a traced process.
 *
 * The VMA table is taken under the target's mmap lock in one go; contents
 * are then read a batch at a time with get_user_pages_remote(FOLL_DUMP),
 * which fails on holes and zero-page mappings of anonymous memory instead
 * of faulting them in, so untouched memory is skipped without allocating.
 * An anonymous VMA without an anon_vma has no page of its own at all and
 * is skipped whole, without a GUP call per page; inside other VMAs, holes
 * are found in the page tables and skipped by range, so GUP is only asked
 * for stretches that may hold pages.
 * Any other failure of GUP is no hole and fails the dump.  Lazily restored
 * VMAs are read without faulting: missing pages come from their state.
 *
 * The target may keep running (CKPT_DUMP does not stop it), and the image
 * must still match its own checksums: they are taken of one stable copy
 * of each page.  An image in tmpfs (or a memfd) is that copy: the
 * target's pages are written with vfs_iter_write() and hashed in the
 * image's page cache, one copy each.  Into any other file each page is
 * copied once into a bounce page, which is checked for zeroes, hashed and
 * written.  No lock is held while the image file is written.
 *
 * A run is every stretch of consecutive kept pages of a VMA, however long:
 * it stays open across batches (each batch's part is written when the
 * batch ends, as its pages are released then) and the checksum of its open
 * chunk is carried over, so a densely filled VMA becomes one run.
 *
 * File layout (see the uAPI header): the header page, page contents, then
 * the VMA table, the run table and the paths.  The header is written last.
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/xxhash.h>

#include <vmemkit/page_array.h>

#include "ckpt_restore.h"

/**
 * struct ckpt_dvma - one VMA (or the part of it inside a range) to dump
 * @iv: its image table entry
 * @file: CKPT_VMA_FILE: the mapped file, for its path; CKPT_VMA_SHARED: the
 *	shmem file, read directly; NULL for anonymous memory
 * @file_off: file offset of @iv.start
 */
struct ckpt_dvma {
	struct ckpt_image_vma iv;
	struct file *file;
	loff_t file_off;
};

/**
 * struct ckpt_dctx - one CKPT_DUMP call
 * @mm: the target mm (a reference is held)
 * @out: the image file
 * @pos: where the next page contents go
 * @vmas: VMAs to dump
 * @nr_vmas: entries used in @vmas
 * @nr_skipped: VMAs left out
 * @runs: runs written so far
 * @nr_runs: entries used in @runs
 * @max_runs: entries allocated in @runs
 * @nr_pages: pages written so far
 * @csums: chunk checksums of the runs written so far
 * @nr_chunks: entries used in @csums
 * @max_chunks: entries allocated in @csums
 * @strings: path strings
 * @strings_size: bytes used in @strings
 * @pages: one batch of target pages
 * @bv: bio_vec table over the pages of the pending run in the current
 *	batch, not yet written
 * @bv_nr: entries used in @bv
 * @run_start: address of the pending run's first page
 * @run_nr: pages in the pending run, written or in @bv
 * @run_chunk: index in @csums of the pending run's first chunk
 * @chunk_st: checksum state of the pending run's open chunk
 * @chunk_nr: pages hashed into @chunk_st
 * @bounce: one batch of kernel pages: the copies every page is checked,
 *	hashed and written from
 * @bounce_bv: bio_vec table over all of @bounce
 * @in_cache: the image is in shmem: target pages are written as they are
 *	and hashed in its page cache (ckpt_run_flush())
 * @bv_live: @bv holds target pages, not copies: hash what was written
 * @lazy_chunk: the last chunk read from the image of a lazy VMA
 */
struct ckpt_dctx {
	struct mm_struct *mm;
	struct file *out;
	loff_t pos;
	struct ckpt_dvma *vmas;
	u32 nr_vmas;
	u32 nr_skipped;
	struct ckpt_image_run *runs;
	u64 nr_runs;
	u64 max_runs;
	u64 nr_pages;
	u64 *csums;
	u64 nr_chunks;
	u64 max_chunks;
	char *strings;
	u64 strings_size;
	struct page **pages;
	struct bio_vec *bv;
	u32 bv_nr;
	u64 run_start;
	u64 run_nr;
	u64 run_chunk;
	struct xxh64_state chunk_st;
	u32 chunk_nr;
	struct vmk_page_array bounce;
	struct bio_vec *bounce_bv;
	bool in_cache;
	bool bv_live;
	struct ckpt_lazy_chunk lazy_chunk;
};

/* Resolve a pidfd to an mm the caller may read: it must be our tracee. */
static struct mm_struct *ckpt_target_mm(int pidfd)
{
	struct task_struct *task;
	struct mm_struct *mm;
	struct file *file;
	bool allowed;
	int ret;

	file = fget(pidfd);
	if (!file)
		return ERR_PTR(-EBADF);
	/* Only pidfs holds pidfd files; their inode carries the struct pid. */
	if (file_inode(file)->i_sb->s_magic != PID_FS_MAGIC) {
		fput(file);
		return ERR_PTR(-EBADF);
	}
	task = get_pid_task(file_inode(file)->i_private, PIDTYPE_PID);
	fput(file);
	if (!task)
		return ERR_PTR(-ESRCH);

	/*
	 * ptrace_may_access() is not exported to modules.  Being the tracer
	 * proves the rights instead: ptrace_attach() made exactly that check
	 * (PTRACE_MODE_ATTACH_REALCREDS) and a traced task cannot gain
	 * privileges by exec while we stay attached.  The tracer must be the
	 * calling thread, which cannot detach while it is here, and the
	 * check and get_task_mm() are made under the target's
	 * exec_update_lock, as mm_access() does, so the mm is the one the
	 * check was made for: an exec cannot replace it in between.
	 */
	ret = down_read_killable(&task->signal->exec_update_lock);
	if (ret) {
		put_task_struct(task);
		return ERR_PTR(ret);
	}
	rcu_read_lock();
	allowed = same_thread_group(task, current) ||
		  ptrace_parent(task) == current;
	rcu_read_unlock();
	mm = allowed ? get_task_mm(task) : ERR_PTR(-EPERM);
	up_read(&task->signal->exec_update_lock);
	put_task_struct(task);
	return mm ?: ERR_PTR(-ESRCH);
}

static int ckpt_add_path(struct ckpt_dctx *c, struct ckpt_dvma *d, char *tmp)
{
	char *path = file_path(d->file, tmp, CKPT_MAX_PATH);
	size_t len;

	if (IS_ERR(path))
		return PTR_ERR(path) == -ENAMETOOLONG ? -EFBIG : PTR_ERR(path);
	len = strlen(path);
	if (!len || len >= CKPT_MAX_PATH)
		return -EFBIG;
	if (c->strings_size + len > CKPT_MAX_STRINGS)
		return -EFBIG;
	memcpy(c->strings + c->strings_size, path, len);
	d->iv.path_offset = c->strings_size;
	d->iv.path_len = len;
	c->strings_size += len;
	return 0;
}

static int ckpt_classify(struct vm_area_struct *vma, u32 *kind)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_HUGETLB))
		return -ENOENT;
	if (ckpt_vma_is_lazy(vma) || vma_is_anonymous(vma)) {
		*kind = CKPT_VMA_ANON;
		return 0;
	}
	if (!vma->vm_file || vma->vm_flags & VM_MIXEDMAP)
		return -ENOENT;	/* vdso, vvar and other special mappings */
	if (vma->vm_flags & VM_MAYSHARE) {
		if (!shmem_mapping(vma->vm_file->f_mapping))
			return -ENOENT;
		*kind = CKPT_VMA_SHARED;
		return 0;
	}
	*kind = CKPT_VMA_FILE;
	return 0;
}

static u32 ckpt_prot(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_READ ? PROT_READ : 0) |
	       (vma->vm_flags & VM_WRITE ? PROT_WRITE : 0) |
	       (vma->vm_flags & VM_EXEC ? PROT_EXEC : 0);
}

static void ckpt_add_vma(struct ckpt_dctx *c, struct vm_area_struct *vma,
			 u64 start, u64 end, u32 kind)
{
	struct ckpt_dvma *d = &c->vmas[c->nr_vmas++];

	d->iv.start = start;
	d->iv.end = end;
	d->iv.prot = ckpt_prot(vma);
	d->iv.kind = kind;
	if (kind == CKPT_VMA_ANON)
		return;
	d->file = get_file(vma->vm_file);
	d->file_off = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) +
		      (start - vma->vm_start);
	if (kind == CKPT_VMA_FILE)
		d->iv.pgoff = d->file_off >> PAGE_SHIFT;
}

/* Snapshot the VMA table, clipped to @ranges when there are any. */
static int ckpt_collect(struct ckpt_dctx *c, const struct ckpt_range *ranges,
			u32 nr_ranges)
{
	struct ckpt_range all = { 0, TASK_SIZE };
	struct vm_area_struct *vma;
	u64 start, end, max;
	u32 kind, i;
	int ret = 0;

	if (!nr_ranges) {
		ranges = &all;
		nr_ranges = 1;
	}
	if (mmap_read_lock_killable(c->mm))
		return -EINTR;
	/* Each range can add at most one piece to a VMA it cuts. */
	max = (u64)c->mm->map_count + nr_ranges;
	if (max > CKPT_MAX_VMAS) {
		ret = -EFBIG;
		goto out_unlock;
	}
	c->vmas = kvcalloc(max, sizeof(*c->vmas), GFP_KERNEL_ACCOUNT);
	if (!c->vmas) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	for (i = 0; i < nr_ranges; i++) {
		VMA_ITERATOR(vmi, c->mm, ranges[i].start);

		for_each_vma_range(vmi, vma, ranges[i].end) {
			start = max_t(u64, vma->vm_start, ranges[i].start);
			end = min_t(u64, vma->vm_end, ranges[i].end);
			if (ckpt_classify(vma, &kind)) {
				c->nr_skipped++;
				continue;
			}
			if (c->nr_vmas == max) {
				ret = -EFBIG;
				goto out_unlock;
			}
			ckpt_add_vma(c, vma, start, end, kind);
		}
	}
out_unlock:
	mmap_read_unlock(c->mm);
	return ret;
}

/* Append a chunk checksum, growing the table as needed. */
static int ckpt_push_csum(struct ckpt_dctx *c, u64 csum)
{
	u64 *csums;
	u64 max;

	if (c->nr_chunks == c->max_chunks) {
		max = max(c->max_chunks * 2, 1024ULL);
		csums = kvrealloc(c->csums, max * sizeof(*csums),
				  GFP_KERNEL_ACCOUNT);
		if (!csums)
			return -ENOMEM;
		c->csums = csums;
		c->max_chunks = max;
	}
	c->csums[c->nr_chunks++] = csum;
	return 0;
}

/* Append a run entry, growing the table as needed. */
static int ckpt_push_run(struct ckpt_dctx *c, const struct ckpt_image_run *r)
{
	struct ckpt_image_run *runs;
	u64 max;

	if (c->nr_runs == c->max_runs) {
		if (c->max_runs == CKPT_MAX_RUNS)
			return -EFBIG;
		max = min_t(u64, CKPT_MAX_RUNS, max(c->max_runs * 2, 256ULL));
		runs = kvrealloc(c->runs, max * sizeof(*runs),
				 GFP_KERNEL_ACCOUNT);
		if (!runs)
			return -ENOMEM;
		c->runs = runs;
		c->max_runs = max;
	}
	c->runs[c->nr_runs++] = *r;
	return 0;
}

/*
 * Hash the image's page at @pos, in its page cache (shmem): the bytes
 * written there, not the target's page they came from, which may have
 * changed since.  A page swapped out since is read back in.
 */
static int ckpt_hash_cached(struct ckpt_dctx *c, loff_t pos)
{
	struct address_space *mapping = c->out->f_mapping;
	pgoff_t index = pos >> PAGE_SHIFT;
	struct folio *folio;
	void *va;

	folio = filemap_get_folio(mapping, index);
	if (IS_ERR(folio) || !folio_test_uptodate(folio)) {
		if (!IS_ERR(folio))
			folio_put(folio);
		folio = shmem_read_folio(mapping, index);
		if (IS_ERR(folio))
			return PTR_ERR(folio);
	}
	va = kmap_local_page(folio_file_page(folio, index));
	xxh64_update(&c->chunk_st, va, PAGE_SIZE);
	kunmap_local(va);
	folio_put(folio);
	return 0;
}

/*
 * Write the pending run's pages of the current batch and hash them into
 * its chunks; the caller releases the batch's pages afterwards.
 */
static int ckpt_run_flush(struct ckpt_dctx *c)
{
	size_t len = (size_t)c->bv_nr << PAGE_SHIFT;
	loff_t pos = c->pos;
	struct iov_iter iter;
	void *va;
	u32 i;
	int ret;

	if (!c->bv_nr)
		return 0;
	iov_iter_bvec(&iter, ITER_SOURCE, c->bv, c->bv_nr, len);
	ret = ckpt_write_iter_full(c->out, &iter, &c->pos);
	if (ret)
		return ret;
	for (i = 0; i < c->bv_nr; i++, pos += PAGE_SIZE) {
		if (c->bv_live) {
			ret = ckpt_hash_cached(c, pos);
			if (ret)
				return ret;
		} else {
			va = kmap_local_page(c->bv[i].bv_page);
			xxh64_update(&c->chunk_st, va, PAGE_SIZE);
			kunmap_local(va);
		}
		if (++c->chunk_nr < CKPT_CHUNK_PAGES)
			continue;
		ret = ckpt_push_csum(c, xxh64_digest(&c->chunk_st));
		if (ret)
			return ret;
		xxh64_reset(&c->chunk_st, 0);
		c->chunk_nr = 0;
	}
	c->bv_nr = 0;
	return 0;
}

/* Write out the pending run of VMA @idx, if any, and close it. */
static int ckpt_run_end(struct ckpt_dctx *c, u32 idx)
{
	struct ckpt_image_run r = {
		.start = c->run_start, .nr_pages = c->run_nr,
		.chunk = c->run_chunk, .vma = idx,
	};
	int ret;

	if (!c->run_nr)
		return 0;
	ret = ckpt_run_flush(c);
	if (!ret && c->chunk_nr)
		ret = ckpt_push_csum(c, xxh64_digest(&c->chunk_st));
	if (!ret)
		ret = ckpt_push_run(c, &r);
	if (ret)
		return ret;
	c->nr_pages += c->run_nr;
	c->run_nr = 0;
	c->chunk_nr = 0;
	return 0;
}

/*
 * Offer the next page of a batch: a kept page extends the pending run if it
 * directly follows it, else starts a new one; any other page ends it.  The
 * caller calls ckpt_run_flush() at the end of each batch, whose pages it
 * holds until then, and ckpt_run_end() at the end of the VMA.
 */
static int ckpt_run_page(struct ckpt_dctx *c, u32 idx, u64 addr,
			 struct page *page, bool keep)
{
	int ret;

	if (!keep ||
	    (c->run_nr && addr != c->run_start + (c->run_nr << PAGE_SHIFT))) {
		ret = ckpt_run_end(c, idx);
		if (ret || !keep)
			return ret;
	}
	if (!c->run_nr) {
		c->run_start = addr;
		c->run_chunk = c->nr_chunks;
		xxh64_reset(&c->chunk_st, 0);
		c->chunk_nr = 0;
	}
	bvec_set_page(&c->bv[c->bv_nr++], page, PAGE_SIZE, 0);
	c->run_nr++;
	return 0;
}

static bool ckpt_page_zero(struct page *page)
{
	void *va = kmap_local_page(page);
	bool zero = !memchr_inv(va, 0, PAGE_SIZE);

	kunmap_local(va);
	return zero;
}

/*
 * Why GUP found no page at @addr of @vma (it returned -EFAULT): a hole
 * (anonymous memory never touched or mapping the zero page, FOLL_DUMP),
 * a page of a private file mapping beyond the file's end, or a fault that
 * failed.  Only the last is an error: a page the target could not read
 * either, and the image must not hold zeroes in its place.
 */
static bool ckpt_fault_is_hole(struct vm_area_struct *vma, u64 addr)
{
	pgoff_t pgoff, size;

	/* A special mapping may have moved here since the VMA table. */
	if (vma_is_anonymous(vma) || !vma->vm_file)
		return true;
	pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	size = DIV_ROUND_UP(i_size_read(file_inode(vma->vm_file)), PAGE_SIZE);
	return pgoff >= size;
}

/*
 * Offer @got pages of the target, from @addr on: every page is read from
 * the target once, into one stable copy that is hashed and written, so
 * the image's checksums match the bytes it holds even while the target
 * keeps writing.  That copy is the image's page cache when it is in
 * shmem (the target's pages are written as they are, and hashed where
 * they landed), else a bounce page, checked for zeroes, hashed and
 * written.  Of an image in shmem, a page is checked for zeroes in the
 * target: one zero then is a hole, as it was at that moment.
 */
static int ckpt_take_pages(struct ckpt_dctx *c, u32 idx, u64 addr, long got)
{
	bool file = c->vmas[idx].iv.kind == CKPT_VMA_FILE;
	struct page *copy;
	bool keep;
	long i;
	int ret = 0;

	c->bv_live = c->in_cache;
	for (i = 0; i < got && !ret; i++) {
		copy = c->pages[i];
		if (!c->in_cache) {
			copy = c->bounce_bv[i].bv_page;
			copy_highpage(copy, c->pages[i]);
		}
		/* A file page counts only once privately modified. */
		keep = file ? PageAnon(c->pages[i]) : !ckpt_page_zero(copy);
		ret = ckpt_run_page(c, idx, addr + i * PAGE_SIZE, copy, keep);
	}
	if (!ret)
		ret = ckpt_run_flush(c);
	c->bv_live = false;
	for (i = 0; i < got; i++)
		put_page(c->pages[i]);
	return ret;
}

/*
 * Page table entries a dump may read in one call before it lets go of the
 * mmap lock, rescheduling and looking for signals: a hole of any size is
 * skipped in a bounded number of round trips.
 */
#define CKPT_SCAN_BUDGET	(64 * PTRS_PER_PTE)

/*
 * What a page table entry holds, as far as a dump cares: a hole (as GUP
 * with FOLL_DUMP takes it: none, or mapping the zero page), in a lazy VMA
 * a none entry (its page, if any, comes from the VMA's lazy state), or
 * anything else (a page, a swap or migration entry, a marker), which is
 * GUP's to judge.
 */
enum ckpt_pte_class {
	CKPT_PTE_MAP,
	CKPT_PTE_HOLE,
	CKPT_PTE_LAZY,
};

/* The class of a missing page table, at any level. */
static enum ckpt_pte_class ckpt_none_class(bool lazy)
{
	return lazy ? CKPT_PTE_LAZY : CKPT_PTE_HOLE;
}

static enum ckpt_pte_class ckpt_pte_class(pte_t pte, bool lazy)
{
	if (pte_none(pte))
		return ckpt_none_class(lazy);
	if (pte_present(pte) && is_zero_pfn(pte_pfn(pte)))
		return CKPT_PTE_HOLE;
	return CKPT_PTE_MAP;
}

/*
 * The PTEs of one page table from @addr to @end (one table at most):
 * where the stretch of entries of class *@cls ends (*@cls < 0: of the
 * class of the first entry, stored there).  Read under the PTE lock, as
 * walk_page_range() does (not exported to modules): reclaim, migration
 * and NUMA hinting clear a PTE for a moment under that lock, and a
 * lockless read could take a page for a hole.
 */
static u64 ckpt_scan_ptes(struct mm_struct *mm, pmd_t *pmdp, u64 addr,
			  u64 end, bool lazy, int *cls)
{
	spinlock_t *ptl;	/* the PTE lock of the table read */
	pmd_t pmd;
	pte_t *ptep;

	/* Tables not mapped here: leave all to GUP. */
	if (IS_ENABLED(CONFIG_HIGHPTE))
		goto map;
again:
	/* RCU: a page table may be freed under the mmap read lock. */
	rcu_read_lock();
	pmd = pmdp_get_lockless(pmdp);
	if (pmd_none(pmd)) {
		rcu_read_unlock();
		if (*cls < 0)
			*cls = ckpt_none_class(lazy);
		return *cls == ckpt_none_class(lazy) ? end : addr;
	}
	if (!pmd_present(pmd) || pmd_leaf(pmd) || pmd_bad(pmd)) {
		rcu_read_unlock();
		goto map;
	}
	ptl = pte_lockptr(mm, &pmd);
	ptep = pte_offset_kernel(&pmd, addr);
	/* The PTE lock: no PTE of this table changes while it is read. */
	spin_lock(ptl);
	if (unlikely(!pmd_same(pmd, pmdp_get_lockless(pmdp)))) {
		spin_unlock(ptl);
		rcu_read_unlock();
		goto again;
	}
	if (*cls < 0)
		*cls = ckpt_pte_class(ptep_get(ptep), lazy);
	while (addr < end && ckpt_pte_class(ptep_get(ptep), lazy) == *cls) {
		addr += PAGE_SIZE;
		ptep++;
	}
	spin_unlock(ptl);
	rcu_read_unlock();
	return addr;
map:
	if (*cls < 0)
		*cls = CKPT_PTE_MAP;
	return *cls == CKPT_PTE_MAP ? end : addr;
}

/*
 * Read the target's page tables from @addr to @end, inside one VMA, with
 * the mmap lock held for reading: returns where the stretch of entries of
 * the class of the one at @addr ends, and sets *@class to that class.  A
 * missing page table at any level is a stretch of none entries.  The
 * upper levels are read without a lock (no table of a VMA the lock keeps
 * is freed above the PTE level, and none is cleared for a moment), as
 * walk_page_range() reads them; an entry not understood here is left to
 * GUP, which judges every page this does not call a hole.  At most
 * CKPT_SCAN_BUDGET entries are looked at, and a stretch for GUP is not
 * followed past the page table holding @map_end: the stretch may go on
 * past where this stops.
 */
static u64 ckpt_scan(struct mm_struct *mm, u64 addr, u64 end, u64 map_end,
		     bool lazy, enum ckpt_pte_class *class)
{
	unsigned int budget = CKPT_SCAN_BUDGET;
	pgd_t *pgdp, pgd;
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp;
	u64 next, stop;
	int cls = -1;

	while (addr < end && budget) {
		/* GUP takes a batch at most: look no further for it. */
		if (cls == CKPT_PTE_MAP && addr >= map_end)
			break;
		budget--;
		pgdp = pgd_offset(mm, addr);
		pgd = pgdp_get(pgdp);
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgd))
			goto none;
		if (pgd_bad(pgd))
			goto map;
		p4dp = p4d_offset_lockless(pgdp, pgd, addr);
		p4d = p4dp_get(p4dp);
		next = p4d_addr_end(addr, end);
		if (p4d_none(p4d))
			goto none;
		if (p4d_bad(p4d))
			goto map;
		pudp = pud_offset_lockless(p4dp, p4d, addr);
		pud = pudp_get(pudp);
		next = pud_addr_end(addr, end);
		if (pud_none(pud))
			goto none;
		if (!pud_present(pud) || pud_leaf(pud) || pud_bad(pud))
			goto map;
		pmdp = pmd_offset_lockless(pudp, pud, addr);
		next = pmd_addr_end(addr, end);
		budget -= min_t(unsigned int, budget, PTRS_PER_PTE);
		stop = ckpt_scan_ptes(mm, pmdp, addr, next, lazy, &cls);
		if (stop < next) {
			addr = stop;
			break;
		}
		addr = next;
		continue;
none:
		if (cls < 0)
			cls = ckpt_none_class(lazy);
		if (cls != ckpt_none_class(lazy))
			break;
		addr = next;
		continue;
map:
		/* Not understood here: GUP's. */
		if (cls < 0)
			cls = CKPT_PTE_MAP;
		if (cls != CKPT_PTE_MAP)
			break;
		addr = next;
	}
	*class = cls;
	return addr;
}

/* Fault in and take the one page at @addr; 1 (pages done) or an error. */
static long ckpt_fault_in_one(struct ckpt_dctx *c, u32 idx, u64 addr)
{
	long got;

	if (mmap_read_lock_killable(c->mm))
		return -EINTR;
	atomic_long_inc(&ckpt_stats.dump_lock_rounds);
	got = get_user_pages_remote(c->mm, addr, 1, FOLL_DUMP | FOLL_FORCE,
				    c->pages, NULL);
	mmap_read_unlock(c->mm);
	if (got != 1)
		return got < 0 ? got : -EFAULT;
	return ckpt_take_pages(c, idx, addr, 1) ?: 1;
}

/*
 * @n pages of a lazily restored VMA from @addr on that have no page table
 * entry (@pgoff: the first one's offset in @lazy): what a read would see,
 * without faulting anything in: zeroes, skipped whatever their number, or
 * the image's contents, at most a batch of them, each chunk read and
 * checked once.  Returns the pages done, -EAGAIN to look again, or an
 * error.
 */
static long ckpt_take_lazy(struct ckpt_dctx *c, u32 idx, u64 addr,
			   struct file *lazy, unsigned long pgoff, u64 n)
{
	struct page *page, *copy;
	unsigned long span, i;
	long ret = 0;

	if (!ckpt_lazy_dump_span(lazy, c->mm, pgoff, n, &span))
		return ckpt_run_end(c, idx) ?: (long)span;
	span = min_t(unsigned long, span, CKPT_BATCH_PAGES);
	for (i = 0; i < span; i++) {
		ret = ckpt_lazy_dump_page(&c->lazy_chunk, lazy, pgoff + i,
					  &page);
		if (ret <= 0)
			break;
		copy = c->bounce_bv[i].bv_page;
		copy_highpage(copy, page);
		ret = ckpt_run_page(c, idx, addr + i * PAGE_SIZE, copy,
				    !ckpt_page_zero(copy));
		if (ret)
			break;
	}
	if (ret < 0 && ret != -EAGAIN)
		return fatal_signal_pending(current) ? -EINTR : ret;
	ret = ckpt_run_flush(c);
	if (ret)
		return ret;
	/* The last page went in meanwhile (-EAGAIN): look again. */
	return i ?: -EAGAIN;
}

/*
 * A page of a lazily restored VMA that GUP could not take without a
 * fault (a swap entry, say): fault it in to read it.  If that fails, the
 * page's chunk tells why (a chunk a read gets SIGBUS for, say): the
 * dump fails with its error, never taking the page for a hole.  Returns
 * 1 (pages done), -EAGAIN to look again, or an error.
 */
static long ckpt_take_lazy_fault(struct ckpt_dctx *c, u32 idx, u64 addr,
				 struct file *lazy, unsigned long pgoff)
{
	struct page *page, *copy = c->bounce_bv[0].bv_page;
	long ret;

	ret = ckpt_fault_in_one(c, idx, addr);
	if (ret != -EFAULT)
		return ret;
	ret = ckpt_lazy_dump_page(&c->lazy_chunk, lazy, pgoff, &page);
	if (ret < 0 && ret != -EAGAIN && fatal_signal_pending(current))
		return -EINTR;
	if (ret < 0)
		return ret;
	if (!ret)
		return ckpt_run_end(c, idx) ?: 1;
	copy_highpage(copy, page);
	ret = ckpt_run_page(c, idx, addr, copy, !ckpt_page_zero(copy));
	return ret ?: ckpt_run_flush(c) ?: 1;
}

/*
 * One batch of a private VMA from @addr on, inside one VMA of the target:
 * returns the pages done, or an error.  GUP does not drop the mmap lock
 * (no @locked), so the VMA can be looked at again when a page is missing.
 * Holes are skipped by range, found in the page tables.  In a lazily
 * restored VMA nothing is faulted in: present pages are taken, and
 * stretches without page table entries come from its state.
 */
static long ckpt_dump_batch(struct ckpt_dctx *c, u32 idx, u64 addr)
{
	const struct ckpt_dvma *d = &c->vmas[idx];
	u64 n = min_t(u64, CKPT_BATCH_PAGES, (d->iv.end - addr) >> PAGE_SHIFT);
	unsigned int flags = FOLL_DUMP | FOLL_FORCE;
	enum ckpt_pte_class cls;
	struct vm_area_struct *vma;
	struct file *lazy = NULL;
	unsigned long pgoff = 0;
	u64 end, stop;
	long got;
	bool hole;

	if (mmap_read_lock_killable(c->mm))
		return -EINTR;
	atomic_long_inc(&ckpt_stats.dump_lock_rounds);
	vma = find_vma(c->mm, addr);
	if (!vma || vma->vm_start > addr) {
		/* Unmapped since the VMA table was taken: a hole, up to the next VMA. */
		n = (min_t(u64, vma ? vma->vm_start : d->iv.end, d->iv.end) -
		     addr) >> PAGE_SHIFT;
		mmap_read_unlock(c->mm);
		got = ckpt_run_end(c, idx);
		return got ?: (long)n;
	}
	/*
	 * Private anonymous memory that never had a page of its own (no
	 * anon_vma; a large PROT_NONE reservation, say) holds nothing but
	 * holes and zero-page mappings: skip all of it at once.  A fault
	 * racing with this gives the page as it was before, as for any page
	 * of a running target.
	 */
	if (vma_is_anonymous(vma) && !vma->anon_vma) {
		n = (min_t(u64, vma->vm_end, d->iv.end) - addr) >> PAGE_SHIFT;
		mmap_read_unlock(c->mm);
		got = ckpt_run_end(c, idx);
		return got ?: (long)n;
	}
	n = min_t(u64, n, (vma->vm_end - addr) >> PAGE_SHIFT);
	if (ckpt_vma_is_lazy(vma)) {
		/* Never fault in here: a none entry's page is in its state. */
		flags |= FOLL_NOFAULT;
		lazy = get_file(vma->vm_file);
		pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	}
	/*
	 * Skip holes by range, and give GUP only the stretch that may hold
	 * pages: in a private file VMA it would fault in the file's pages
	 * past it, which are never saved (only private copies are), and a
	 * hole has no private copy.  A fault racing with the scan gives the
	 * page as it was before, as for any page of a running target.
	 */
	end = min_t(u64, vma->vm_end, d->iv.end);
	stop = ckpt_scan(c->mm, addr, end, addr + (n << PAGE_SHIFT), lazy,
			 &cls);
	if (cls != CKPT_PTE_MAP) {
		mmap_read_unlock(c->mm);
		if (cls == CKPT_PTE_HOLE)
			got = ckpt_run_end(c, idx) ?: (long)((stop - addr) >>
							     PAGE_SHIFT);
		else
			got = ckpt_take_lazy(c, idx, addr, lazy, pgoff,
					     (stop - addr) >> PAGE_SHIFT);
		goto out;
	}
	n = min_t(u64, n, (stop - addr) >> PAGE_SHIFT);
	got = get_user_pages_remote(c->mm, addr, n, flags, c->pages, NULL);
	hole = got == -EFAULT && !lazy && ckpt_fault_is_hole(vma, addr);
	mmap_read_unlock(c->mm);

	if (got > 0)
		got = ckpt_take_pages(c, idx, addr, got) ?: got;
	else if (got == -EFAULT && lazy)
		got = ckpt_take_lazy_fault(c, idx, addr, lazy, pgoff);
	else if (hole)
		got = ckpt_run_end(c, idx) ?: 1;
	else if (got == -EFAULT)
		got = -EIO;
	else if (!got)
		got = -EFAULT;
out:
	if (lazy)
		fput(lazy);
	return got;
}

/* Private VMAs: pages the target maps, through GUP, batch by batch. */
static int ckpt_dump_private(struct ckpt_dctx *c, u32 idx)
{
	const struct ckpt_dvma *d = &c->vmas[idx];
	u64 addr = d->iv.start;
	long done;

	while (addr < d->iv.end) {
		if (fatal_signal_pending(current))
			return -EINTR;
		done = ckpt_dump_batch(c, idx, addr);
		if (done == -EAGAIN)
			continue;
		if (done < 0)
			return done;
		addr += (u64)done << PAGE_SHIFT;
		cond_resched();
	}
	return ckpt_run_end(c, idx);
}

/* Shared VMAs: read the shmem file itself, which never allocates holes. */
static int ckpt_dump_shared(struct ckpt_dctx *c, u32 idx)
{
	const struct ckpt_dvma *d = &c->vmas[idx];
	u64 addr = d->iv.start;
	loff_t fpos = d->file_off;
	struct iov_iter iter;
	u32 i, n;
	struct page *page;
	size_t want;
	ssize_t got;
	int ret = 0;

	while (addr < d->iv.end) {
		if (fatal_signal_pending(current))
			return -EINTR;
		want = min_t(u64, CKPT_BATCH_BYTES, d->iv.end - addr);
		n = want >> PAGE_SHIFT;
		iov_iter_bvec(&iter, ITER_DEST, c->bounce_bv, n, want);
		got = vfs_iter_read(d->file, &iter, &fpos, 0);
		if (got < 0)
			return got;
		for (i = 0; i < n && !ret; i++) {
			page = c->bounce_bv[i].bv_page;
			/* Past the file's end the VMA has no contents at all. */
			if ((size_t)i << PAGE_SHIFT >= got)
				break;
			if (got - ((size_t)i << PAGE_SHIFT) < PAGE_SIZE)
				memzero_page(page, got & ~PAGE_MASK,
					     PAGE_SIZE - (got & ~PAGE_MASK));
			ret = ckpt_run_page(c, idx, addr + i * PAGE_SIZE, page,
					    !ckpt_page_zero(page));
		}
		if (!ret)
			ret = ckpt_run_flush(c);
		if (ret)
			return ret;
		fpos = d->file_off + (addr + want - d->iv.start);
		addr += want;
		cond_resched();
	}
	return ckpt_run_end(c, idx);
}

static int ckpt_alloc_buffers(struct ckpt_dctx *c)
{
	struct page *page;

	c->pages = kvmalloc_array(CKPT_BATCH_PAGES, sizeof(*c->pages),
				  GFP_KERNEL);
	c->bv = kvmalloc_array(CKPT_BATCH_PAGES, sizeof(*c->bv), GFP_KERNEL);
	c->bounce_bv = kvmalloc_array(CKPT_BATCH_PAGES, sizeof(*c->bv),
				      GFP_KERNEL);
	if (!c->pages || !c->bv || !c->bounce_bv)
		return -ENOMEM;
	if (!c->nr_vmas)
		return 0;
	/* Every page is dumped from a copy in the bounce pages. */
	while (c->bounce.nr_pages < CKPT_BATCH_PAGES) {
		page = alloc_page(GFP_KERNEL);
		if (!page)
			return -ENOMEM;
		if (vmk_page_array_add(&c->bounce, page, GFP_KERNEL)) {
			__free_page(page);
			return -ENOMEM;
		}
	}
	return vmk_page_array_bvec(&c->bounce, 0, CKPT_BATCH_PAGES,
				   c->bounce_bv);
}

/* Paths go into one buffer with room for the longest paths possible. */
static int ckpt_collect_paths(struct ckpt_dctx *c)
{
	char *tmp;
	size_t need = 0;
	u32 i;
	int ret = 0;

	for (i = 0; i < c->nr_vmas; i++)
		if (c->vmas[i].iv.kind == CKPT_VMA_FILE)
			need += CKPT_MAX_PATH;
	if (!need)
		return 0;
	need = min_t(size_t, need, CKPT_MAX_STRINGS);
	c->strings = kvmalloc(need, GFP_KERNEL_ACCOUNT);
	tmp = kmalloc(CKPT_MAX_PATH, GFP_KERNEL);
	if (!c->strings || !tmp) {
		kfree(tmp);
		return -ENOMEM;
	}
	for (i = 0; i < c->nr_vmas && !ret; i++)
		if (c->vmas[i].iv.kind == CKPT_VMA_FILE)
			ret = ckpt_add_path(c, &c->vmas[i], tmp);
	kfree(tmp);
	return ret;
}

/* Append @buf to the image, hashing it into @st unless that is NULL. */
static int ckpt_write_all(struct ckpt_dctx *c, const void *buf, size_t len,
			  struct xxh64_state *st)
{
	if (!len)
		return 0;
	if (st)
		xxh64_update(st, buf, len);
	return ckpt_write_full(c->out, buf, len, &c->pos);
}

/*
 * After the contents: the tables (covered by meta_csum), then the chunk
 * checksums; then the results are copied out to @uarg and only then is
 * the header written at offset 0: until it is, the file is no image a
 * restore accepts, so a dump that fails at any step, copying out
 * included, leaves none behind.
 */
static int ckpt_write_meta(struct ckpt_dctx *c, struct ckpt_dump *arg,
			   struct ckpt_dump __user *uarg)
{
	struct ckpt_image_header *h;
	struct xxh64_state st;
	u64 data_end = c->pos, meta_end;
	loff_t zero = 0;
	u32 i;
	int ret;

	xxh64_reset(&st, 0);
	for (i = 0; i < c->nr_vmas; i++) {
		ret = ckpt_write_all(c, &c->vmas[i].iv, sizeof(c->vmas[i].iv),
				     &st);
		if (ret)
			return ret;
	}
	ret = ckpt_write_all(c, c->runs, c->nr_runs * sizeof(*c->runs), &st);
	if (!ret)
		ret = ckpt_write_all(c, c->strings, c->strings_size, &st);
	meta_end = c->pos;
	/* Each chunk checksum is checked with its chunk, not with the tables. */
	if (!ret)
		ret = ckpt_write_all(c, c->csums,
				     c->nr_chunks * sizeof(*c->csums), NULL);
	if (ret)
		return ret;

	arg->nr_vmas = c->nr_vmas;
	arg->nr_skipped = c->nr_skipped;
	arg->nr_runs = c->nr_runs;
	arg->nr_pages = c->nr_pages;
	arg->image_size = c->pos;
	if (copy_to_user(uarg, arg, sizeof(*arg)))
		return -EFAULT;

	/* A whole zeroed page, so the gap up to the contents is zero too. */
	h = (void *)get_zeroed_page(GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	*h = (struct ckpt_image_header) {
		.magic = CKPT_IMAGE_MAGIC,
		.version = CKPT_IMAGE_VERSION,
		.header_size = sizeof(*h),
		.page_size = PAGE_SIZE,
		.nr_vmas = c->nr_vmas,
		.chunk_pages = CKPT_CHUNK_PAGES,
		.nr_runs = c->nr_runs,
		.nr_pages = c->nr_pages,
		.nr_chunks = c->nr_chunks,
		.data_offset = PAGE_SIZE,
		.data_size = data_end - PAGE_SIZE,
		.meta_offset = data_end,
		.meta_size = meta_end - data_end,
		.strings_size = c->strings_size,
		.meta_csum = xxh64_digest(&st),
	};
	h->header_csum = xxh64(h, sizeof(*h), 0);
	ret = ckpt_write_full(c->out, h, PAGE_SIZE, &zero);
	free_page((unsigned long)h);
	return ret;
}

static struct ckpt_range *ckpt_copy_ranges(const struct ckpt_dump *arg)
{
	struct ckpt_range *r;
	u32 i;

	r = memdup_array_user(u64_to_user_ptr(arg->ranges), arg->nr_ranges,
			      sizeof(*r));
	if (IS_ERR(r))
		return r;
	for (i = 0; i < arg->nr_ranges; i++) {
		if (!PAGE_ALIGNED(r[i].start) || !PAGE_ALIGNED(r[i].end) ||
		    r[i].start >= r[i].end || r[i].end > TASK_SIZE ||
		    (i && r[i].start < r[i - 1].end)) {
			kfree(r);
			return ERR_PTR(-EINVAL);
		}
	}
	return r;
}

static struct file *ckpt_out_file(int fd)
{
	struct file *out = fget(fd);

	if (!out)
		return ERR_PTR(-EBADF);
	if (!(out->f_mode & FMODE_WRITE)) {
		fput(out);
		return ERR_PTR(-EBADF);
	}
	if (!S_ISREG(file_inode(out)->i_mode) || out->f_flags & O_APPEND ||
	    i_size_read(file_inode(out))) {
		fput(out);
		return ERR_PTR(-EINVAL);
	}
	return out;
}

/**
 * ckpt_dump() - CKPT_DUMP
 * @arg: the argument, copied in
 * @uarg: where the argument with its outputs is copied back, before the
 *	image is made valid
 *
 * Return: 0 or a negative errno as listed in the uAPI header.  On failure
 * the output file may hold a partial image without a valid header.
 */
int ckpt_dump(struct ckpt_dump *arg, struct ckpt_dump __user *uarg)
{
	struct ckpt_range *ranges = NULL;
	struct ckpt_dctx *c;
	u32 i;
	int ret;

	if (arg->flags & ~CKPT_DUMP_PIDFD || arg->reserved ||
	    (!(arg->flags & CKPT_DUMP_PIDFD) && arg->pidfd))
		return -EINVAL;
	if (arg->nr_ranges > CKPT_MAX_RANGES)
		return -EFBIG;
	c = kzalloc_obj(*c, GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	vmk_page_array_init(&c->bounce, VMK_PA_REFS);
	if (arg->nr_ranges) {
		ranges = ckpt_copy_ranges(arg);
		if (IS_ERR(ranges)) {
			ret = PTR_ERR(ranges);
			ranges = NULL;
			goto out_free;
		}
	}
	c->out = ckpt_out_file(arg->out_fd);
	if (IS_ERR(c->out)) {
		ret = PTR_ERR(c->out);
		c->out = NULL;
		goto out_free;
	}
	c->in_cache = shmem_mapping(c->out->f_mapping) &&
		      !(c->out->f_flags & O_DIRECT);
	if (arg->flags & CKPT_DUMP_PIDFD) {
		c->mm = ckpt_target_mm(arg->pidfd);
	} else if (current->mm) {
		c->mm = current->mm;
		mmget(c->mm);
	} else {
		c->mm = ERR_PTR(-ESRCH);
	}
	if (IS_ERR(c->mm)) {
		ret = PTR_ERR(c->mm);
		c->mm = NULL;
		goto out_free;
	}

	ret = ckpt_collect(c, ranges, arg->nr_ranges);
	if (!ret)
		ret = ckpt_alloc_buffers(c);
	if (!ret)
		ret = ckpt_collect_paths(c);
	c->pos = PAGE_SIZE;
	for (i = 0; i < c->nr_vmas && !ret; i++) {
		if (c->vmas[i].iv.kind == CKPT_VMA_SHARED)
			ret = ckpt_dump_shared(c, i);
		else
			ret = ckpt_dump_private(c, i);
	}
	if (!ret)
		ret = ckpt_write_meta(c, arg, uarg);
	if (!ret)
		atomic_long_inc(&ckpt_stats.dumps);

out_free:
	if (c->mm)
		mmput(c->mm);
	for (i = 0; i < c->nr_vmas; i++)
		if (c->vmas[i].file)
			fput(c->vmas[i].file);
	ckpt_lazy_chunk_release(&c->lazy_chunk);
	vmk_page_array_release(&c->bounce, false);
	kvfree(c->bounce_bv);
	kvfree(c->bv);
	kvfree(c->pages);
	kvfree(c->strings);
	kvfree(c->csums);
	kvfree(c->runs);
	kvfree(c->vmas);
	if (c->out)
		fput(c->out);
	kfree(ranges);
	kfree(c);
	return ret;
}
