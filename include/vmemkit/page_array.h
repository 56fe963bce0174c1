/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Page arrays: a chain of page-sized chunks of struct page pointers.
 *
 * An array holds either user pages pinned with FOLL_PIN (VMK_PA_PINNED) or
 * kernel pages on which it owns one reference (VMK_PA_REFS); the kind is
 * fixed at init time so release always drops exactly what was taken.  Pinned
 * arrays may also charge the pinning mm's locked_vm; the array remembers the
 * mm and the exact number of pages charged, so release un-charges exactly
 * that, even from another task.
 *
 * Every operation that adds pages is all-or-nothing: on failure the array is
 * as it was before the call (nothing left pinned, nothing left charged).
 *
 * Locking: none inside.  The caller serialises all calls on one array; the
 * pin and release paths may sleep.
 */
#ifndef _VMEMKIT_PAGE_ARRAY_H
#define _VMEMKIT_PAGE_ARRAY_H

#include <linux/bvec.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/types.h>

/**
 * enum vmk_pa_kind - what an array holds on each of its pages
 * @VMK_PA_PINNED: a FOLL_PIN pin, taken by vmk_page_array_pin_user()
 * @VMK_PA_REFS: one page reference, handed over by vmk_page_array_add()
 */
enum vmk_pa_kind {
	VMK_PA_PINNED,
	VMK_PA_REFS,
};

/**
 * struct vmk_page_chunk - one link of a page array
 * @node: link in &vmk_page_array.chunks
 * @nr: number of used entries in @pages
 * @pages: the pages; entries [0, @nr) are valid
 */
struct vmk_page_chunk {
	struct list_head node;
	unsigned int nr;
	struct page *pages[];
};

/* Entries per chunk: one chunk is exactly one page. */
#define VMK_PA_CHUNK_PAGES						\
	((PAGE_SIZE - sizeof(struct vmk_page_chunk)) / sizeof(struct page *))

/**
 * struct vmk_page_array - a growable array of pages
 * @chunks: list of &struct vmk_page_chunk, in index order
 * @nr_pages: pages held
 * @kind: what is held on each page
 * @mm: the mm whose locked_vm was charged (grabbed with mmgrab()), or NULL
 * @nr_charged: pages charged to @mm's locked_vm
 */
struct vmk_page_array {
	struct list_head chunks;
	unsigned long nr_pages;
	enum vmk_pa_kind kind;
	struct mm_struct *mm;
	unsigned long nr_charged;
};

/**
 * vmk_page_array_init() - initialise an empty array
 * @pa: the array
 * @kind: what the array will hold
 */
static inline void vmk_page_array_init(struct vmk_page_array *pa,
				       enum vmk_pa_kind kind)
{
	INIT_LIST_HEAD(&pa->chunks);
	pa->nr_pages = 0;
	pa->kind = kind;
	pa->mm = NULL;
	pa->nr_charged = 0;
}

/* Return the last chunk with free room, allocating one if needed. */
static inline struct vmk_page_chunk *
vmk_page_array_tail(struct vmk_page_array *pa, gfp_t gfp)
{
	struct vmk_page_chunk *c;

	if (!list_empty(&pa->chunks)) {
		c = list_last_entry(&pa->chunks, struct vmk_page_chunk, node);
		if (c->nr < VMK_PA_CHUNK_PAGES)
			return c;
	}
	c = (struct vmk_page_chunk *)get_zeroed_page(gfp);
	if (!c)
		return NULL;
	list_add_tail(&c->node, &pa->chunks);
	return c;
}

static inline void vmk_page_array_drop(struct vmk_page_array *pa,
				       struct page **pages, unsigned int nr,
				       bool dirty)
{
	unsigned int i;

	if (pa->kind == VMK_PA_PINNED) {
		unpin_user_pages_dirty_lock(pages, nr, dirty);
		return;
	}
	for (i = 0; i < nr; i++) {
		if (dirty)
			set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
	}
}

/**
 * vmk_page_array_truncate() - drop every page at index @new_nr and above
 * @pa: the array
 * @new_nr: how many pages to keep; at most &vmk_page_array.nr_pages
 * @dirty: mark the dropped pages dirty first (the device wrote them)
 *
 * Chunks left empty are freed.  Charges are not touched: see
 * vmk_page_array_uncharge().
 */
static inline void vmk_page_array_truncate(struct vmk_page_array *pa,
					   unsigned long new_nr, bool dirty)
{
	struct vmk_page_chunk *c;
	unsigned int keep;

	while (pa->nr_pages > new_nr) {
		c = list_last_entry(&pa->chunks, struct vmk_page_chunk, node);
		keep = c->nr - min_t(unsigned long, c->nr,
				     pa->nr_pages - new_nr);
		vmk_page_array_drop(pa, c->pages + keep, c->nr - keep, dirty);
		pa->nr_pages -= c->nr - keep;
		c->nr = keep;
		if (!keep) {
			list_del(&c->node);
			free_page((unsigned long)c);
		}
	}
}

/**
 * vmk_page_array_charge() - charge @nr pages to the current mm's locked_vm
 * @pa: the array
 * @nr: pages to charge
 *
 * Honours RLIMIT_MEMLOCK unless the caller has CAP_IPC_LOCK.  All charges of
 * one array go to one mm.
 *
 * Return: 0, -ENOMEM over the limit, -ESRCH without an mm, -EINVAL if the
 * array already charges another mm.
 */
static inline int vmk_page_array_charge(struct vmk_page_array *pa,
					unsigned long nr)
{
	struct mm_struct *mm = current->mm;
	int ret;

	if (!mm)
		return -ESRCH;
	if (pa->mm && pa->mm != mm)
		return -EINVAL;
	if (!nr)
		return 0;
	ret = account_locked_vm(mm, nr, true);
	if (ret)
		return ret;
	if (!pa->mm) {
		mmgrab(mm);
		pa->mm = mm;
	}
	pa->nr_charged += nr;
	return 0;
}

/**
 * vmk_page_array_uncharge() - return @nr charged pages to the charged mm
 * @pa: the array
 * @nr: pages to un-charge; at most &vmk_page_array.nr_charged
 *
 * Drops the array's hold on the mm when the last charge goes.
 */
static inline void vmk_page_array_uncharge(struct vmk_page_array *pa,
					   unsigned long nr)
{
	if (!nr || WARN_ON_ONCE(nr > pa->nr_charged))
		return;
	account_locked_vm(pa->mm, nr, false);
	pa->nr_charged -= nr;
	if (!pa->nr_charged) {
		mmdrop(pa->mm);
		pa->mm = NULL;
	}
}

/*
 * Pin @nr_pages user pages from @uaddr on and append them: of the current
 * mm with pin_user_pages_fast() if @mm is NULL, else of @mm with
 * pin_user_pages_remote() under its mmap_read_lock.  One chunk per call.
 * 0, or a negative errno with the array unchanged.
 */
static inline int __vmk_page_array_pin(struct vmk_page_array *pa,
				       struct mm_struct *mm,
				       unsigned long uaddr,
				       unsigned long nr_pages,
				       unsigned int gup_flags)
{
	unsigned long old_nr = pa->nr_pages, done = 0;
	struct vmk_page_chunk *c;
	unsigned int want;
	int locked;
	long got;
	int ret;

	while (done < nr_pages) {
		c = vmk_page_array_tail(pa, GFP_KERNEL_ACCOUNT);
		if (!c) {
			ret = -ENOMEM;
			goto err_unpin;
		}
		want = min_t(unsigned long, nr_pages - done,
			     VMK_PA_CHUNK_PAGES - c->nr);
		if (!mm) {
			got = pin_user_pages_fast(uaddr + (done << PAGE_SHIFT),
						  want, gup_flags,
						  c->pages + c->nr);
		} else {
			if (mmap_read_lock_killable(mm)) {
				ret = -EINTR;
				goto err_free_tail;
			}
			locked = 1;
			got = pin_user_pages_remote(mm,
						    uaddr + (done << PAGE_SHIFT),
						    want, gup_flags,
						    c->pages + c->nr, &locked);
			if (locked)
				mmap_read_unlock(mm);
		}
		if (got <= 0) {
			ret = got ? (int)got : -EFAULT;
			goto err_free_tail;
		}
		c->nr += got;
		pa->nr_pages += got;
		done += got;
	}
	return 0;

err_free_tail:
	if (!c->nr) {
		list_del(&c->node);
		free_page((unsigned long)c);
	}
err_unpin:
	vmk_page_array_truncate(pa, old_nr, false);
	return ret;
}

/* May @pa take @nr_pages pins from @uaddr on?  0 or -EINVAL. */
static inline int vmk_page_array_pin_check(const struct vmk_page_array *pa,
					   unsigned long uaddr,
					   unsigned long nr_pages)
{
	unsigned long end;

	if (pa->kind != VMK_PA_PINNED || !nr_pages ||
	    !PAGE_ALIGNED(uaddr) || nr_pages > (ULONG_MAX >> PAGE_SHIFT) ||
	    check_add_overflow(uaddr, nr_pages << PAGE_SHIFT, &end))
		return -EINVAL;
	return 0;
}

/**
 * vmk_page_array_pin_user() - pin user pages and append them
 * @pa: a VMK_PA_PINNED array
 * @uaddr: page-aligned user address of the first page
 * @nr_pages: how many pages to pin; non-zero
 * @gup_flags: FOLL_WRITE, FOLL_LONGTERM, ... (FOLL_PIN is implied)
 * @charge: also charge the pages to the current mm's locked_vm
 *
 * Pins in batches of up to one chunk per pin_user_pages_fast() call.
 *
 * Return: 0 with all pages appended, or a negative errno with the array
 * unchanged: -EINVAL for a bad address or count, -ENOMEM over RLIMIT_MEMLOCK
 * or out of memory, -EFAULT (or the GUP error) if a page cannot be pinned.
 */
static inline int vmk_page_array_pin_user(struct vmk_page_array *pa,
					  unsigned long uaddr,
					  unsigned long nr_pages,
					  unsigned int gup_flags, bool charge)
{
	int ret;

	might_sleep();
	ret = vmk_page_array_pin_check(pa, uaddr, nr_pages);
	if (ret)
		return ret;
	if (charge) {
		ret = vmk_page_array_charge(pa, nr_pages);
		if (ret)
			return ret;
	}
	ret = __vmk_page_array_pin(pa, NULL, uaddr, nr_pages, gup_flags);
	if (ret && charge)
		vmk_page_array_uncharge(pa, nr_pages);
	return ret;
}

/**
 * vmk_page_array_pin_remote() - pin pages of a given mm and append them
 * @pa: a VMK_PA_PINNED array
 * @mm: the mm to pin in; the caller keeps it alive (say, its task is
 *	blocked waiting for the caller) and may be a worker with no mm
 * @uaddr: page-aligned user address of the first page
 * @nr_pages: how many pages to pin; non-zero
 * @gup_flags: FOLL_WRITE, FOLL_FORCE, ... (FOLL_PIN is implied)
 *
 * vmk_page_array_pin_user() for a task other than the owner of @mm: pins
 * with pin_user_pages_remote() under mmap_read_lock(@mm), one chunk per
 * call, faulting pages in as needed.  The caller must not hold @mm's
 * mmap_lock.  Charges nothing to any locked_vm.
 *
 * Return: 0 with all pages appended, or a negative errno with the array
 * unchanged: -EINVAL for a bad address or count, -ENOMEM out of memory,
 * -EINTR on a fatal signal of the calling task, -EFAULT (or the GUP error)
 * if a page cannot be pinned.
 */
static inline int vmk_page_array_pin_remote(struct vmk_page_array *pa,
					    struct mm_struct *mm,
					    unsigned long uaddr,
					    unsigned long nr_pages,
					    unsigned int gup_flags)
{
	int ret;

	might_sleep();
	ret = vmk_page_array_pin_check(pa, uaddr, nr_pages);
	if (ret)
		return ret;
	return __vmk_page_array_pin(pa, mm, uaddr, nr_pages, gup_flags);
}

/**
 * vmk_page_array_add() - append a kernel page, taking over one reference
 * @pa: a VMK_PA_REFS array
 * @page: the page; the caller's reference moves to the array on success
 * @gfp: allocation flags for a new chunk
 *
 * Return: 0, -EINVAL for a pinned array, or -ENOMEM (the caller keeps its
 * reference).
 */
static inline int vmk_page_array_add(struct vmk_page_array *pa,
				     struct page *page, gfp_t gfp)
{
	struct vmk_page_chunk *c;

	if (pa->kind != VMK_PA_REFS)
		return -EINVAL;
	c = vmk_page_array_tail(pa, gfp);
	if (!c)
		return -ENOMEM;
	c->pages[c->nr++] = page;
	pa->nr_pages++;
	return 0;
}

/**
 * vmk_page_array_release() - drop every page and every charge
 * @pa: the array; empty and reusable afterwards
 * @dirty: mark the pages dirty first (the device wrote them)
 */
static inline void vmk_page_array_release(struct vmk_page_array *pa,
					  bool dirty)
{
	might_sleep();
	vmk_page_array_truncate(pa, 0, dirty);
	vmk_page_array_uncharge(pa, pa->nr_charged);
}

/**
 * vmk_page_array_page() - the page at index @idx
 * @pa: the array
 * @idx: index below &vmk_page_array.nr_pages
 *
 * Walks the chunk list: O(@idx / VMK_PA_CHUNK_PAGES).  Use
 * vmk_pa_iter_first() to visit every page.
 *
 * Return: the page, or NULL if @idx is out of range.
 */
static inline struct page *vmk_page_array_page(struct vmk_page_array *pa,
					       unsigned long idx)
{
	struct vmk_page_chunk *c;

	if (idx >= pa->nr_pages)
		return NULL;
	list_for_each_entry(c, &pa->chunks, node) {
		if (idx < c->nr)
			return c->pages[idx];
		idx -= c->nr;
	}
	return NULL;
}

/**
 * struct vmk_pa_iter - position of a walk over a page array
 * @chunk: the current chunk
 * @i: index inside @chunk
 * @idx: index inside the whole array
 */
struct vmk_pa_iter {
	struct vmk_page_chunk *chunk;
	unsigned int i;
	unsigned long idx;
};

/**
 * vmk_pa_iter_first() - start a walk over every page in index order
 * @pa: the array
 * @it: the walk's position; @it->idx is the index of the returned page
 *
 * Walk with::
 *
 *	for (page = vmk_pa_iter_first(pa, &it); page;
 *	     page = vmk_pa_iter_next(pa, &it))
 *
 * Return: the first page, or NULL if the array is empty.
 */
static inline struct page *vmk_pa_iter_first(struct vmk_page_array *pa,
					     struct vmk_pa_iter *it)
{
	it->chunk = list_first_entry_or_null(&pa->chunks,
					     struct vmk_page_chunk, node);
	it->i = 0;
	it->idx = 0;
	return it->chunk && it->chunk->nr ? it->chunk->pages[0] : NULL;
}

/**
 * vmk_pa_iter_next() - advance a walk started by vmk_pa_iter_first()
 * @pa: the array
 * @it: the walk's position
 *
 * Return: the next page, or NULL after the last one.
 */
static inline struct page *vmk_pa_iter_next(struct vmk_page_array *pa,
					    struct vmk_pa_iter *it)
{
	it->idx++;
	if (++it->i < it->chunk->nr)
		return it->chunk->pages[it->i];
	if (list_is_last(&it->chunk->node, &pa->chunks))
		return NULL;
	it->chunk = list_next_entry(it->chunk, node);
	it->i = 0;
	return it->chunk->nr ? it->chunk->pages[0] : NULL;
}

/**
 * vmk_page_array_bvec() - describe whole pages of the array as a bio_vec table
 * @pa: the array
 * @first: index of the first page
 * @nr: number of pages; @first + @nr must not exceed the array
 * @bv: table of at least @nr entries, filled with one full page each
 *
 * Lets a caller read or write many pages with one iov_iter_bvec() based
 * call (vfs_iter_read(), vfs_iter_write()) instead of one call per page.
 * The table stays valid while the array holds the pages.
 *
 * Return: 0, or -ERANGE if the range leaves the array (nothing written).
 */
static inline int vmk_page_array_bvec(struct vmk_page_array *pa,
				      unsigned long first, unsigned long nr,
				      struct bio_vec *bv)
{
	struct vmk_pa_iter it;
	struct page *page;

	if (first > pa->nr_pages || nr > pa->nr_pages - first)
		return -ERANGE;
	for (page = vmk_pa_iter_first(pa, &it); page;
	     page = vmk_pa_iter_next(pa, &it)) {
		if (it.idx < first)
			continue;
		if (it.idx >= first + nr)
			break;
		bvec_set_page(&bv[it.idx - first], page, PAGE_SIZE, 0);
	}
	return 0;
}

/*
 * Copy between a linear kernel buffer and the array viewed as one byte
 * range, mapping one page at a time with kmap_local_page().
 */
static inline int vmk_page_array_copy(struct vmk_page_array *pa,
				      u64 offset, void *buf, size_t len,
				      bool to_pages)
{
	unsigned long idx = offset >> PAGE_SHIFT;
	unsigned int off = offset_in_page(offset);
	struct vmk_pa_iter it;
	struct page *page;
	size_t n;
	void *va;

	if (offset > (u64)pa->nr_pages << PAGE_SHIFT ||
	    len > ((u64)pa->nr_pages << PAGE_SHIFT) - offset)
		return -ERANGE;
	for (page = vmk_pa_iter_first(pa, &it); page;
	     page = vmk_pa_iter_next(pa, &it)) {
		if (!len)
			break;
		if (it.idx < idx)
			continue;
		n = min_t(size_t, len, PAGE_SIZE - off);
		va = kmap_local_page(page);
		if (to_pages)
			memcpy(va + off, buf, n);
		else
			memcpy(buf, va + off, n);
		kunmap_local(va);
		buf += n;
		len -= n;
		off = 0;
	}
	return 0;
}

/**
 * vmk_page_array_copy_from() - copy bytes out of the array
 * @pa: the array
 * @offset: byte offset into the array
 * @dst: destination buffer
 * @len: bytes to copy
 *
 * Return: 0, or -ERANGE if the range leaves the array (nothing copied).
 */
static inline int vmk_page_array_copy_from(struct vmk_page_array *pa,
					   u64 offset, void *dst, size_t len)
{
	return vmk_page_array_copy(pa, offset, dst, len, false);
}

/**
 * vmk_page_array_copy_to() - copy bytes into the array
 * @pa: the array
 * @offset: byte offset into the array
 * @src: source buffer
 * @len: bytes to copy
 *
 * Return: 0, or -ERANGE if the range leaves the array (nothing copied).
 */
static inline int vmk_page_array_copy_to(struct vmk_page_array *pa,
					 u64 offset, const void *src,
					 size_t len)
{
	return vmk_page_array_copy(pa, offset, (void *)src, len, true);
}

/**
 * vmk_pa_iter_seek() - position a walk at index @idx
 * @pa: the array
 * @it: the walk; continue it with vmk_pa_iter_next()
 * @idx: index below &vmk_page_array.nr_pages
 *
 * Skips whole chunks, so reaching @idx costs O(@idx / VMK_PA_CHUNK_PAGES)
 * instead of one step per page.
 *
 * Return: the page at @idx, or NULL if @idx is out of range.
 */
static inline struct page *vmk_pa_iter_seek(struct vmk_page_array *pa,
					    struct vmk_pa_iter *it,
					    unsigned long idx)
{
	struct vmk_page_chunk *c;

	if (idx >= pa->nr_pages)
		return NULL;
	it->idx = idx;
	list_for_each_entry(c, &pa->chunks, node) {
		if (idx < c->nr) {
			it->chunk = c;
			it->i = idx;
			return c->pages[idx];
		}
		idx -= c->nr;
	}
	return NULL;
}

/**
 * vmk_page_array_disown() - empty the array but keep every page held
 * @pa: the array; it must charge nothing (&vmk_page_array.nr_charged == 0)
 *
 * For a caller that has taken over each page's pin or reference one by one
 * (say, into a table that releases them page by page later): the chunks are
 * freed and the pages are left exactly as held.  The array is empty and
 * reusable afterwards.
 *
 * Return: 0, or -EBUSY (nothing done) if the array still charges an mm,
 * since that charge would otherwise be lost.
 */
static inline int vmk_page_array_disown(struct vmk_page_array *pa)
{
	struct vmk_page_chunk *c, *tmp;

	if (pa->nr_charged)
		return -EBUSY;
	list_for_each_entry_safe(c, tmp, &pa->chunks, node) {
		list_del(&c->node);
		free_page((unsigned long)c);
	}
	pa->nr_pages = 0;
	return 0;
}

#endif /* _VMEMKIT_PAGE_ARRAY_H */
