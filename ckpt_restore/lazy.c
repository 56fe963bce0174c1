// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lazily restored VMAs: post-copy restore without a userfaultfd daemon.
 *
 * A lazy VMA is a private mapping of an anonymous-inode file whose
 * private_data is a struct ckpt_lazy.  A fault on a page of a run reads the
 * whole checksummed chunk holding it (CKPT_CHUNK_PAGES pages) from the image
 * into new pages, reads the chunk's checksum from the image's checksum
 * table, checks it, and installs every page of the chunk with
 * vm_insert_page(); a mismatch or a read error gives SIGBUS and installs
 * nothing, so corrupted contents never become visible.  Short reads are
 * continued until the chunk is whole; only a read error or the end of the
 * file (an image truncated after the restore) gives up.  A page
 * in no run is mapped to the zero page.  The mapping is private, so a
 * write fault then copies the page into an ordinary anonymous page, exactly
 * as for a private file mapping.
 *
 * The image is read with the mmap lock dropped where the fault allows it
 * (FAULT_FLAG_ALLOW_RETRY, first try): the chunk read and checked is kept
 * in @ready and the fault returns VM_FAULT_RETRY; the retried fault
 * installs it.  So an image on FUSE served by the faulting process, or
 * any slow read, never holds the mmap lock (which the server's own faults
 * and any mmap() of the process need) while it waits.  Faults that may
 * not drop the lock (GUP without a lock to drop, a retried fault) read
 * under it as before.
 *
 * The restore call checked all metadata (header, VMA and run tables, and
 * that the file holds every run and every checksum) but read neither
 * contents nor checksums; both are read and checked here, one chunk at a
 * time, so the call costs nothing per page of contents and a first touch
 * reads and checks one chunk and its checksum.
 *
 * The image file is held until every page covered by a run has been
 * installed once in the restoring mm, or until the last VMA using the state
 * goes away.  A page installed once and later discarded (MADV_DONTNEED)
 * faults back in as zeroes, as anonymous memory does.  Once a lazy VMA was
 * copied into a child by fork() the image is kept until the state is freed,
 * so that pages never touched before the fork are still filled from it in
 * either process.
 *
 * Exec: the file lives on the anon_inode pseudo filesystem, which kernels
 * from 7.x on make noexec (SB_I_NOEXEC), so do_mmap() refuses PROT_EXEC on
 * it and clears VM_MAYEXEC.  The restore therefore never asks for
 * PROT_EXEC on this file, on any kernel: it first proves with an ordinary
 * anonymous mapping of the same address, length and protection that the
 * caller may have executable anonymous memory there (every check the
 * kernel makes for that: LSM, MDWE, arch), then maps the file without
 * PROT_EXEC, and ckpt_lazy_mmap() sets VM_EXEC on that one mapping while
 * the VMA is being created, before anything can fault in it; the core
 * computes the page protection and the VMA accounting from the flags
 * ->mmap() leaves.  The restore's mapping gets VM_MAYEXEC as anonymous
 * memory has it, so a later mprotect() goes through the usual checks; any
 * other mapping of the file (say through /proc/PID/map_files) gets no
 * exec at all.
 */
#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uio.h>
#include <linux/xarray.h>
#include <vmemkit/compat.h>

#include "ckpt_restore.h"

/**
 * struct ckpt_lazy_run - one image run of the VMA, as a fault needs it
 * @first: index of its first page, relative to the VMA's start
 * @nr: number of pages; a run may span its whole VMA
 * @pos: file offset of its contents
 * @chunk: index of its first chunk's checksum in the image's checksum table
 *
 * Built on the stack from the shared tables by ckpt_lazy_find().
 */
struct ckpt_lazy_run {
	unsigned long first;
	unsigned long nr;
	loff_t pos;
	u64 chunk;
};

/**
 * struct ckpt_lazy - state of one lazily restored VMA
 * @lock: protects @image
 * @install_lock: serialises installing run pages in @mm with setting their
 *	bits in @installed, so a set bit always means "was installed"
 * @image: the image file; NULL once no fault can need it any more
 * @mm: the restoring mm, only compared, never dereferenced; mmgrab()ed,
 *	so that no later mm can be allocated at its address while the state
 *	lives and be taken for the restoring one
 * @forked: a child got a copy of the VMA; keep @image until release
 * @first_map: the next ->mmap() is the restore's own mapping of the VMA
 * @exec: the restore proved the caller may execute there: make its
 *	mapping executable (ckpt_lazy_allow_exec())
 * @base_pgoff: vm_pgoff of the VMA's first page (its address in pages)
 * @nr_pages: pages of the VMA
 * @remaining: covered pages not yet installed once in @mm
 * @installed: for each group of CKPT_LAZY_GROUP_PAGES pages of the VMA
 *	(by VMA-relative page index / CKPT_LAZY_GROUP_PAGES) with a page
 *	installed once in @mm, a bitmap of its pages installed once (pages
 *	of runs and zero-page mappings alike, so a clear bit means no page
 *	table entry was ever made there); allocated on first touch of the
 *	group, so creating the state costs nothing per page or per run, and
 *	no allocation grows with a run's length
 * @ready: struct ckpt_lazy_ready of chunks read for a fault that dropped
 *	the mmap lock and is retried, by index in the checksum table
 * @tables: the image's tables, shared with the other lazy VMAs of the image
 * @runs: the VMA's runs inside @tables, sorted by address
 * @run_pos: file offset of the contents of each of @runs, inside @tables
 * @nr_runs: entries in @runs
 * @csums_pos: file offset of the image's chunk checksum table
 */
struct ckpt_lazy {
	spinlock_t lock;	/* protects image */
	struct file *image;
	struct mutex install_lock;	/* protects installed, in mm */
	struct mm_struct *mm;
	bool forked;
	bool first_map;
	bool exec;
	unsigned long base_pgoff;
	unsigned long nr_pages;
	atomic_long_t remaining;
	struct xarray installed;
	struct xarray ready;
	struct ckpt_tables *tables;
	const struct ckpt_image_run *runs;
	const u64 *run_pos;
	unsigned int nr_runs;
	loff_t csums_pos;
};

/**
 * struct ckpt_lazy_ready - a chunk read with the mmap lock dropped
 * @err: 0, or why it could not be read or checked (the retried fault
 *	raises SIGBUS for it once; the next touch reads afresh)
 * @n: pages in @pages
 * @pages: its contents, checked against its checksum
 */
struct ckpt_lazy_ready {
	int err;
	unsigned int n;
	struct page *pages[CKPT_CHUNK_PAGES];
};

/* Pages per bitmap of installed pages; a chunk spans at most two groups. */
#define CKPT_LAZY_GROUP_PAGES	CKPT_BATCH_PAGES
static_assert(CKPT_LAZY_GROUP_PAGES >= CKPT_CHUNK_PAGES);

static const struct vm_operations_struct ckpt_lazy_vm_ops;

bool ckpt_vma_is_lazy(const struct vm_area_struct *vma)
{
	return vma->vm_ops == &ckpt_lazy_vm_ops;
}

/*
 * Find the run holding page @idx of the VMA; false if it is in none, and
 * then, if @next is not NULL, *@next is the VMA-relative index of the
 * first page of the next run (ULONG_MAX if there is none).
 */
static bool ckpt_lazy_lookup(const struct ckpt_lazy *lz, unsigned long idx,
			     struct ckpt_lazy_run *run, unsigned long *next)
{
	unsigned long pgoff = lz->base_pgoff + idx, first;
	unsigned int lo = 0, hi = lz->nr_runs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		first = lz->runs[mid].start >> PAGE_SHIFT;
		if (pgoff < first) {
			hi = mid;
		} else if (pgoff - first >= lz->runs[mid].nr_pages) {
			lo = mid + 1;
		} else {
			*run = (struct ckpt_lazy_run) {
				.first = first - lz->base_pgoff,
				.nr = lz->runs[mid].nr_pages,
				.pos = lz->run_pos[mid],
				.chunk = lz->runs[mid].chunk,
			};
			return true;
		}
	}
	if (next)
		*next = lo < lz->nr_runs ?
			(lz->runs[lo].start >> PAGE_SHIFT) - lz->base_pgoff :
			ULONG_MAX;
	return false;
}

/* Find the run holding page @idx of the VMA; false if it is in none. */
static bool ckpt_lazy_find(const struct ckpt_lazy *lz, unsigned long idx,
			   struct ckpt_lazy_run *run)
{
	return ckpt_lazy_lookup(lz, idx, run, NULL);
}

/* Was page @idx of the VMA installed once in the restoring mm? */
static bool ckpt_lazy_was_installed(struct ckpt_lazy *lz, unsigned long idx)
{
	unsigned long *bits;

	bits = xa_load(&lz->installed, idx / CKPT_LAZY_GROUP_PAGES);
	return bits && test_bit(idx % CKPT_LAZY_GROUP_PAGES, bits);
}

/* The bitmap of the group holding page @idx of the VMA, made on first use. */
static unsigned long *ckpt_lazy_bits(struct ckpt_lazy *lz, unsigned long idx)
{
	unsigned long group = idx / CKPT_LAZY_GROUP_PAGES;
	unsigned long *bits;
	void *old;

	lockdep_assert_held(&lz->install_lock);
	bits = xa_load(&lz->installed, group);
	if (bits)
		return bits;
	bits = bitmap_zalloc(CKPT_LAZY_GROUP_PAGES, GFP_KERNEL_ACCOUNT);
	if (!bits)
		return NULL;
	old = xa_store(&lz->installed, group, bits, GFP_KERNEL_ACCOUNT);
	if (xa_is_err(old)) {
		bitmap_free(bits);
		return NULL;
	}
	return bits;
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

/*
 * Map the zero page: a page in no run, or one discarded after use, reads
 * as zeroes and costs no memory until it is written (the mapping is
 * private: a write copies it into an anonymous page).  Where the
 * architecture forbids the zero page in this mm, a new zeroed page.  In
 * the restoring mm its bit is set too, so that a dump knows a page whose
 * bit is clear was never mapped (ckpt_lazy_dump_span()).
 */
static vm_fault_t ckpt_lazy_zero(struct vm_fault *vmf, struct ckpt_lazy *lz,
				 bool owner)
{
	unsigned long idx = vmf->pgoff - lz->base_pgoff;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned long *bits = NULL;
	struct page *page = NULL;
	int ret;

	if (owner) {
		mutex_lock(&lz->install_lock);
		bits = ckpt_lazy_bits(lz, idx);
		if (!bits) {
			mutex_unlock(&lz->install_lock);
			return VM_FAULT_OOM;
		}
	}
	ret = vm_insert_page(vmf->vma, addr, ZERO_PAGE(addr));
	if (ret == -EINVAL) {
		/* mm_forbids_zeropage(): a page of its own. */
		page = alloc_page(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT);
		ret = page ? vm_insert_page(vmf->vma, addr, page) : -ENOMEM;
		if (page)
			put_page(page);
	}
	/* -EBUSY: another thread installed this page first. */
	if (bits && (!ret || ret == -EBUSY))
		set_bit(idx % CKPT_LAZY_GROUP_PAGES, bits);
	if (owner)
		mutex_unlock(&lz->install_lock);
	if (!ret || ret == -EBUSY)
		return VM_FAULT_NOPAGE;
	return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

/*
 * Read chunk @k of @run into @pages and check it against its checksum, read
 * from the checksum table.  A short read is continued where it stopped, as
 * a filesystem may return less than asked without an error; reaching the
 * end of the file means the image was truncated after the restore.
 */
static int ckpt_lazy_read_chunk(struct ckpt_lazy *lz, struct file *image,
				const struct ckpt_lazy_run *run, unsigned long k,
				struct page **pages, unsigned int n)
{
	struct bio_vec bv[CKPT_CHUNK_PAGES];
	size_t len = (size_t)n << PAGE_SHIFT;
	struct iov_iter iter;
	unsigned int i;
	ssize_t got;
	loff_t pos;
	u64 csum;
	int ret;

	for (i = 0; i < n; i++)
		bvec_set_page(&bv[i], pages[i], PAGE_SIZE, 0);
	pos = run->pos + ((loff_t)k * CKPT_CHUNK_PAGES << PAGE_SHIFT);
	iov_iter_bvec(&iter, ITER_DEST, bv, n, len);
	while (iov_iter_count(&iter)) {
		got = vfs_iter_read(image, &iter, &pos, 0);
		if (got < 0)
			return got;
		if (!got)
			return -EIO;
	}
	ret = ckpt_read_full(image, &csum, sizeof(csum),
			     lz->csums_pos + (run->chunk + k) * sizeof(csum));
	if (ret)
		return ret == -EINVAL ? -EIO : ret;
	if (ckpt_csum_bvec(bv, n) != csum) {
		atomic_long_inc(&ckpt_stats.lazy_bad_chunks);
		return -EBADMSG;
	}
	return 0;
}

/*
 * Install page @i of the run at its address in @vma, if that lies in @vma
 * (a split may have put it in another VMA) and, in the restoring mm, if it
 * was never installed before (a page discarded after its first touch reads
 * back as zeroes).  In the restoring mm the caller holds install_lock: a
 * racing fault then sees the bit only once the page is really in, and
 * never mistakes a page being installed for a discarded one.  @bits is the
 * bitmap of the page's group in the restoring mm, NULL in another mm.
 * Return: 0, 1 if skipped or already present, or vm_insert_page()'s error.
 */
static int ckpt_lazy_install(struct vm_area_struct *vma, struct ckpt_lazy *lz,
			     const struct ckpt_lazy_run *run, unsigned long i,
			     struct page *page, unsigned long *bits)
{
	unsigned long pgoff = lz->base_pgoff + run->first + i, addr;
	unsigned long bit = (run->first + i) % CKPT_LAZY_GROUP_PAGES;
	int ret;

	if (bits)
		lockdep_assert_held(&lz->install_lock);
	if (pgoff < vma->vm_pgoff || pgoff - vma->vm_pgoff >= vma_pages(vma))
		return 1;
	addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
	if (bits && test_bit(bit, bits))
		return 1;
	ret = vm_insert_page(vma, addr, page);
	if (!ret)
		atomic_long_inc(&ckpt_stats.lazy_fills);
	if (ret == -EBUSY)
		ret = 1;
	if (!bits || ret < 0)
		return ret;
	set_bit(bit, bits);
	if (atomic_long_dec_and_test(&lz->remaining) && !READ_ONCE(lz->forked))
		ckpt_lazy_drop_image(lz);
	return ret;
}

/* Allocate @n pages and read chunk @k of @run into them; freed on error. */
static int ckpt_lazy_get_chunk(struct ckpt_lazy *lz, struct file *image,
			       const struct ckpt_lazy_run *run, unsigned long k,
			       struct page **pages, unsigned int n)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		/* Every byte is read from the image: no need to zero. */
		pages[i] = alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT);
		if (!pages[i]) {
			ret = -ENOMEM;
			goto err_put_pages;
		}
	}
	ret = ckpt_lazy_read_chunk(lz, image, run, k, pages, n);
	if (!ret)
		return 0;
err_put_pages:
	while (i--)
		put_page(pages[i]);
	return ret;
}

static void ckpt_lazy_ready_free(struct ckpt_lazy_ready *ready)
{
	unsigned int i;

	if (!ready->err)
		for (i = 0; i < ready->n; i++)
			put_page(ready->pages[i]);
	kfree(ready);
}

/*
 * Install the @n pages of the chunk of @run holding page @rel of the run,
 * read and checked, and drop the caller's references to them.
 */
static vm_fault_t ckpt_lazy_install_chunk(struct vm_fault *vmf,
					  struct ckpt_lazy *lz,
					  const struct ckpt_lazy_run *run,
					  unsigned long rel, struct page **pages,
					  unsigned int n)
{
	unsigned long first = rel / CKPT_CHUNK_PAGES * CKPT_CHUNK_PAGES;
	unsigned long *bits[2] = { NULL, NULL }, idx = run->first + first;
	bool owner = vmf->vma->vm_mm == lz->mm;
	unsigned int i;
	int ret = 0, err;

	if (owner) {
		/* The groups of the chunk's first and last page, maybe one. */
		mutex_lock(&lz->install_lock);
		bits[0] = ckpt_lazy_bits(lz, idx);
		bits[1] = bits[0] ? ckpt_lazy_bits(lz, idx + n - 1) : NULL;
		if (!bits[1]) {
			mutex_unlock(&lz->install_lock);
			ret = -ENOMEM;
			goto out_put_pages;
		}
	}
	for (i = 0; i < n; i++) {
		bool later = (idx + i) / CKPT_LAZY_GROUP_PAGES !=
			     idx / CKPT_LAZY_GROUP_PAGES;

		err = ckpt_lazy_install(vmf->vma, lz, run, first + i, pages[i],
					bits[later]);
		/* Only the faulting page's failure fails the fault. */
		if (err < 0 && first + i == rel)
			ret = err;
	}
	if (owner)
		mutex_unlock(&lz->install_lock);

out_put_pages:
	for (i = 0; i < n; i++)
		put_page(pages[i]);
	if (!ret)
		return VM_FAULT_NOPAGE;
	return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

/*
 * Read chunk @k of @run with the fault's lock dropped, keep it in @ready
 * for the retried fault and return VM_FAULT_RETRY.  The lazy file is held
 * across the read: the VMA may go meanwhile.  A read cut short by a fatal
 * signal keeps nothing (the task dies), nor does one out of memory (the
 * retried fault reads under the lock); any other failure is kept so that
 * the retried fault raises SIGBUS.
 */
static vm_fault_t ckpt_lazy_read_unlocked(struct vm_fault *vmf,
					  struct ckpt_lazy *lz,
					  const struct ckpt_lazy_run *run,
					  unsigned long k, unsigned int n,
					  struct file *image)
{
	struct file *file = get_file(vmf->vma->vm_file);
	struct ckpt_lazy_ready *ready, *old;

	release_fault_lock(vmf);
	atomic_long_inc(&ckpt_stats.lazy_unlocked_reads);
	ready = kmalloc_obj(*ready, GFP_KERNEL_ACCOUNT);
	if (!ready)
		goto out_fput;
	ready->n = n;
	ready->err = ckpt_lazy_get_chunk(lz, image, run, k, ready->pages, n);
	/* The task dies, or the retry tries again under the lock. */
	if (ready->err == -ENOMEM ||
	    (ready->err && fatal_signal_pending(current))) {
		kfree(ready);
		goto out_fput;
	}
	old = xa_store(&lz->ready, run->chunk + k, ready, GFP_KERNEL_ACCOUNT);
	if (xa_is_err(old))
		ckpt_lazy_ready_free(ready);
	else if (old)
		ckpt_lazy_ready_free(old);
out_fput:
	fput(file);
	return VM_FAULT_RETRY;
}

/* First touch of a page of @run: fill and install its whole chunk. */
static vm_fault_t ckpt_lazy_fill(struct vm_fault *vmf, struct ckpt_lazy *lz,
				 const struct ckpt_lazy_run *run,
				 unsigned long rel, struct file *image)
{
	unsigned long k = rel / CKPT_CHUNK_PAGES;
	struct page *pages[CKPT_CHUNK_PAGES];
	struct ckpt_lazy_ready *ready;
	vm_fault_t fault;
	unsigned int n;
	int ret;

	n = min_t(unsigned long, run->nr - k * CKPT_CHUNK_PAGES,
		  CKPT_CHUNK_PAGES);
	/* Read by this fault's first try, with the lock dropped? */
	ready = xa_erase(&lz->ready, run->chunk + k);
	if (ready) {
		ret = ready->err;
		if (!ret)
			fault = ckpt_lazy_install_chunk(vmf, lz, run, rel,
							ready->pages, ready->n);
		kfree(ready);
		if (!ret)
			return fault;
		return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	}
	if (fault_flag_allow_retry_first(vmf->flags) &&
	    !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		return ckpt_lazy_read_unlocked(vmf, lz, run, k, n, image);

	ret = ckpt_lazy_get_chunk(lz, image, run, k, pages, n);
	/* Interrupted by a fatal signal: the task dies, no SIGBUS needed. */
	if (ret && fatal_signal_pending(current))
		return VM_FAULT_NOPAGE;
	if (ret)
		return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	return ckpt_lazy_install_chunk(vmf, lz, run, rel, pages, n);
}

static vm_fault_t ckpt_lazy_fault(struct vm_fault *vmf)
{
	struct ckpt_lazy *lz = vmf->vma->vm_file->private_data;
	bool owner = vmf->vma->vm_mm == lz->mm;
	struct ckpt_lazy_run run;
	struct file *image;
	unsigned long idx;
	vm_fault_t ret;

	idx = vmf->pgoff - lz->base_pgoff;
	if (ckpt_lazy_find(lz, idx, &run) &&
	    (!owner || !ckpt_lazy_was_installed(lz, idx))) {
		image = ckpt_lazy_get_image(lz);
		if (image) {
			ret = ckpt_lazy_fill(vmf, lz, &run, idx - run.first,
					     image);
			fput(image);
			return ret;
		}
		/* The last page went in and the image was dropped: retry. */
		if (owner)
			return VM_FAULT_NOPAGE;
	}
	return ckpt_lazy_zero(vmf, lz, owner);
}

/**
 * ckpt_lazy_dump_span() - how pages of a lazy VMA without a PTE read
 * @file: the VMA's lazy file; the caller holds a reference
 * @mm: the mm of the VMA
 * @pgoff: the first page's offset in @file, in pages
 * @max: pages to look at, at least one, all inside the VMA
 * @nr: set to the number of pages from @pgoff, 1 to @max, that read alike
 *
 * For CKPT_DUMP, which must not fault in a lazy VMA to read it.  A page
 * with no page table entry reads what a fault would give it
 * (ckpt_lazy_fault()): in the restoring mm, the image's contents if it is
 * in a run and was never installed there, else zeroes (a page in no run,
 * or one discarded after its first touch); in another mm (a child after
 * fork()), the image's contents if it is in a run and the image is still
 * held, else zeroes.  The bits of installed pages are set after a page
 * went in, so of a target that runs meanwhile a page may be taken as it
 * was a moment before, as any page of a running target.
 *
 * Return: true if the pages come from the image (ckpt_lazy_dump_page()),
 * false if they read as zeroes.
 */
bool ckpt_lazy_dump_span(struct file *file, struct mm_struct *mm,
			 unsigned long pgoff, unsigned long max,
			 unsigned long *nr)
{
	struct ckpt_lazy *lz = file->private_data;
	unsigned long idx = pgoff - lz->base_pgoff, end = idx + max;
	unsigned long next, group, bit, lim, *bits;
	struct ckpt_lazy_run run;
	bool image;

	if (!ckpt_lazy_lookup(lz, idx, &run, &next)) {
		*nr = min(end, next) - idx;
		return false;
	}
	end = min(end, run.first + run.nr);
	if (mm != lz->mm) {
		*nr = end - idx;
		/* Only a pointer test: lz->lock orders nothing here. */
		return data_race(lz->image);
	}
	group = idx / CKPT_LAZY_GROUP_PAGES;
	end = min(end, (group + 1) * CKPT_LAZY_GROUP_PAGES);
	bits = xa_load(&lz->installed, group);
	if (!bits) {
		*nr = end - idx;
		return true;
	}
	bit = idx % CKPT_LAZY_GROUP_PAGES;
	lim = end - group * CKPT_LAZY_GROUP_PAGES;
	image = !test_bit(bit, bits);
	next = image ? find_next_bit(bits, lim, bit) :
		       find_next_zero_bit(bits, lim, bit);
	*nr = next - bit;
	return image;
}

/**
 * ckpt_lazy_dump_page() - a page of a lazy VMA's image, read and checked
 * @ch: the caller's chunk cache, zeroed before first use
 * @file: the VMA's lazy file; the caller holds a reference
 * @pgoff: the page's offset in @file, in pages
 * @page: set to a page of @ch holding the contents on a return of 1
 *
 * For CKPT_DUMP: the page's whole chunk is read and checked as a fault
 * would (each chunk once while the dump reads its pages in order), and
 * nothing is installed.
 *
 * Return: 1 with *@page set, 0 if the page is in no run (zeroes),
 * -EAGAIN if the image is no longer held (the last page went in: look at
 * the VMA again), -EBADMSG if the chunk does not match its checksum, -EIO
 * if the image ends early, -ENOMEM, or another read error.
 */
int ckpt_lazy_dump_page(struct ckpt_lazy_chunk *ch, struct file *file,
			unsigned long pgoff, struct page **page)
{
	struct ckpt_lazy *lz = file->private_data;
	unsigned long idx = pgoff - lz->base_pgoff, rel, k;
	struct ckpt_lazy_run run;
	struct file *image;
	unsigned int i;
	int ret;

	if (!ckpt_lazy_find(lz, idx, &run))
		return 0;
	rel = idx - run.first;
	k = rel / CKPT_CHUNK_PAGES;
	if (ch->file == file && ch->chunk == run.chunk + k)
		goto out;

	for (i = 0; i < CKPT_CHUNK_PAGES; i++) {
		if (ch->pages[i])
			continue;
		ch->pages[i] = alloc_page(GFP_KERNEL);
		if (!ch->pages[i])
			return -ENOMEM;
	}
	image = ckpt_lazy_get_image(lz);
	if (!image)
		return -EAGAIN;
	if (ch->file)
		fput(ch->file);
	ch->file = NULL;
	ret = ckpt_lazy_read_chunk(lz, image, &run, k, ch->pages,
				   min_t(unsigned long, run.nr - k * CKPT_CHUNK_PAGES,
					 CKPT_CHUNK_PAGES));
	fput(image);
	if (ret)
		return ret;
	ch->file = get_file(file);
	ch->chunk = run.chunk + k;
out:
	*page = ch->pages[rel % CKPT_CHUNK_PAGES];
	return 1;
}

/**
 * ckpt_lazy_chunk_release() - free what ckpt_lazy_dump_page() kept in @ch
 * @ch: the chunk cache
 */
void ckpt_lazy_chunk_release(struct ckpt_lazy_chunk *ch)
{
	unsigned int i;

	if (ch->file)
		fput(ch->file);
	for (i = 0; i < CKPT_CHUNK_PAGES; i++)
		if (ch->pages[i])
			__free_page(ch->pages[i]);
	memset(ch, 0, sizeof(*ch));
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

/*
 * Called under the mmap write lock while the VMA is created: nothing can
 * fault in it yet, and the core derives vm_page_prot and the exec/data
 * accounting from the flags left here.  Only the restore's own mapping
 * (the first) may be executable, and only if the restore allowed it; it
 * was asked for without PROT_EXEC, so the exec bits are set here, on every
 * kernel alike, whether or not the pseudo filesystem is noexec.
 */
static int ckpt_lazy_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ckpt_lazy *lz = file->private_data;

	if (vma->vm_flags & VM_MAYSHARE || vma->vm_pgoff < lz->base_pgoff ||
	    vma->vm_pgoff - lz->base_pgoff > lz->nr_pages ||
	    vma_pages(vma) > lz->nr_pages - (vma->vm_pgoff - lz->base_pgoff))
		return -EINVAL;
	if (!lz->first_map && vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (lz->first_map) {
		lz->first_map = false;
		/* READ_IMPLIES_EXEC may have added VM_EXEC: the image decides. */
		if (!lz->exec)
			vm_flags_clear(vma, VM_EXEC);
		vm_flags_set(vma, lz->exec ? VM_EXEC | VM_MAYEXEC : VM_MAYEXEC);
	} else {
		vm_flags_clear(vma, VM_MAYEXEC);
	}
	vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND);
	vma->vm_ops = &ckpt_lazy_vm_ops;
	return 0;
}

static int ckpt_lazy_release(struct inode *inode, struct file *file)
{
	struct ckpt_lazy *lz = file->private_data;
	struct ckpt_lazy_ready *ready;
	unsigned long *bits, idx;

	ckpt_lazy_drop_image(lz);
	xa_for_each(&lz->installed, idx, bits)
		bitmap_free(bits);
	xa_destroy(&lz->installed);
	xa_for_each(&lz->ready, idx, ready)
		ckpt_lazy_ready_free(ready);
	xa_destroy(&lz->ready);
	ckpt_tables_put(lz->tables);
	mmdrop(lz->mm);
	mutex_destroy(&lz->install_lock);
	kfree(lz);
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
 * @img: a loaded image; contents are checked chunk by chunk on fault
 * @vma: index of a CKPT_VMA_ANON VMA
 * @first_run: index of the VMA's first run
 * @nr_runs: number of its runs
 *
 * The caller maps the file MAP_PRIVATE at the VMA's address with the
 * address as file offset, then drops its reference.  The state refers to
 * the image's tables rather than copying the VMA's runs, and allocates the
 * bitmap of installed pages of a group of pages on its first touch: its
 * cost does not depend on the size of the image or of a run.
 *
 * Return: the file, or an ERR_PTR.
 */
struct file *ckpt_lazy_file_create(const struct ckpt_image *img,
				   unsigned int vma, unsigned int first_run,
				   unsigned int nr_runs)
{
	const struct ckpt_image_vma *v = &img->vmas[vma];
	unsigned long covered;
	struct ckpt_lazy *lz;
	struct file *file;

	lz = kzalloc_obj(*lz, GFP_KERNEL_ACCOUNT);
	if (!lz)
		return ERR_PTR(-ENOMEM);
	covered = ckpt_image_run_pages(img, first_run, nr_runs);
	lz->tables = ckpt_tables_get(img->tables);
	lz->runs = img->runs + first_run;
	lz->run_pos = img->run_pos + first_run;
	lz->nr_runs = nr_runs;
	lz->csums_pos = img->csums_pos;
	xa_init(&lz->installed);
	xa_init(&lz->ready);
	spin_lock_init(&lz->lock);
	mutex_init(&lz->install_lock);
	lz->mm = current->mm;
	mmgrab(lz->mm);
	lz->first_map = true;
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
	mmdrop(lz->mm);
	ckpt_tables_put(lz->tables);
	kfree(lz);
	return file;
}

/**
 * ckpt_lazy_allow_exec() - make the restore's mapping of @file executable
 * @file: from ckpt_lazy_file_create(), not mapped yet
 *
 * Only after the caller was shown to be allowed executable anonymous
 * memory with the VMA's protection at the VMA's address: the restore then
 * maps @file without PROT_EXEC and ckpt_lazy_mmap() adds VM_EXEC.
 */
void ckpt_lazy_allow_exec(struct file *file)
{
	struct ckpt_lazy *lz = file->private_data;

	lz->exec = true;
}
