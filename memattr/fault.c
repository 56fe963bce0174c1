// SPDX-License-Identifier: GPL-2.0-only
/*
 * User mappings of an object: shared pages fault in from the object's page
 * cache, private pages raise SIGBUS.
 *
 * A fault first looks without a lock: the invalidation sequence, whether a
 * conversion is in flight at all (and only then, under obj->lock, whether
 * one covers its GFN), and the attributes (memattr_store_load_lockless()).
 * A private page fails here, without allocating.  Then it allocates (or
 * finds) the folio and locks it, and checks again under obj->lock: a GFN in
 * flight waits for its conversion and starts over; an unchanged sequence
 * means the first look still holds; otherwise the attributes are read
 * again.  That check takes the lock because it orders the fault's folio
 * (in the page cache, locked) against a conversion claiming its range
 * before it zaps: one of them sees the other.  The folio stays locked until
 * the core has installed the PTE, which is what memattr_zap() relies on.
 * There is no ->map_pages, so no fault-around can map a page without this
 * check (and faults come under mmap_lock: the core retries a fault without
 * ->map_pages there).  Waiting for a conversion drops that lock on a first
 * try (memattr_fault_wait()).
 */
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "internal.h"

static bool memattr_fault_busy(struct memattr_obj *obj, u64 gfn)
{
	bool busy;

	spin_lock(&obj->lock);
	busy = memattr_gfn_inflight(obj, gfn);
	spin_unlock(&obj->lock);
	return busy;
}

/*
 * Wait for the conversion covering @gfn.  A conversion can take seconds, so
 * on a fault's first try the fault lock (mmap_lock) is dropped for the wait
 * and the fault retried, as filemap does for I/O: the rest of the process
 * can map and unmap meanwhile.  The file reference keeps @obj alive once the
 * VMA may be gone.  A retry, or a fault that may not drop the lock, waits
 * holding it.
 *
 * Return: VM_FAULT_RETRY when the lock was dropped (or may not be waited
 * under), VM_FAULT_NOPAGE on a fatal signal, 0 to look again.
 */
static vm_fault_t memattr_fault_wait(struct vm_fault *vmf,
				     struct memattr_obj *obj, u64 gfn)
{
	struct file *fpin;

	memattr_stat_inc(fault_retries);
	if (fault_flag_allow_retry_first(vmf->flags)) {
		if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
			return VM_FAULT_RETRY;
		fpin = get_file(vmf->vma->vm_file);
		release_fault_lock(vmf);
		wait_event_killable(obj->inflight_wq,
				    !memattr_fault_busy(obj, gfn));
		fput(fpin);
		return VM_FAULT_RETRY;
	}
	if (wait_event_killable(obj->inflight_wq,
				!memattr_fault_busy(obj, gfn)))
		return VM_FAULT_NOPAGE;
	return 0;
}

/* The locked, up-to-date folio caching @gfn, allocated on first use. */
static struct folio *memattr_get_folio(struct memattr_obj *obj, u64 gfn)
{
	struct folio *folio = filemap_grab_folio(obj->mapping, gfn);

	if (IS_ERR(folio))
		return folio;
	if (!folio_test_uptodate(folio)) {
		folio_zero_range(folio, 0, folio_size(folio));
		folio_mark_uptodate(folio);
	}
	return folio;
}

static vm_fault_t memattr_fault(struct vm_fault *vmf)
{
	struct memattr_obj *obj = vmf->vma->vm_file->private_data;
	u64 gfn = vmf->pgoff, attrs;
	struct folio *folio;
	unsigned long seq;
	vm_fault_t ret;
	bool busy;

	if (gfn >= obj->nr_gfns)
		return VM_FAULT_SIGBUS;
	memattr_stat_inc(faults);
again:
	/*
	 * The first look, without obj->lock.  The acquire pairs with the
	 * release in memattr_commit(): the store read next is at least as new
	 * as @seq, which the check below relies on when @seq has not moved.
	 * The in-flight list is looked at under the lock only when it is not
	 * empty; a conversion that starts after that read is caught below.
	 */
	seq = smp_load_acquire(&obj->seq);
	busy = !list_empty(&obj->inflight) && memattr_fault_busy(obj, gfn);
	attrs = memattr_store_load_lockless(obj, gfn);
	if (busy) {
		ret = memattr_fault_wait(vmf, obj, gfn);
		if (ret)
			return ret;
		goto again;
	}
	if (attrs & MEMATTR_ATTRIBUTE_PRIVATE)
		return VM_FAULT_SIGBUS;

	folio = memattr_get_folio(obj, gfn);
	if (IS_ERR(folio))
		return vmf_error(PTR_ERR(folio));

	spin_lock(&obj->lock);
	busy = memattr_gfn_inflight(obj, gfn);
	if (!busy && obj->seq != seq)
		attrs = memattr_store_load(obj, gfn);
	if (!busy && !(attrs & MEMATTR_ATTRIBUTE_PRIVATE)) {
		if (obj->backend && obj->backend->ops->host_access)
			obj->backend->ops->host_access(obj->backend_priv, gfn);
		spin_unlock(&obj->lock);
		vmf->page = folio_file_page(folio, gfn);
		return VM_FAULT_LOCKED;
	}
	spin_unlock(&obj->lock);
	folio_unlock(folio);
	folio_put(folio);
	if (!busy)
		return VM_FAULT_SIGBUS;
	ret = memattr_fault_wait(vmf, obj, gfn);
	if (ret)
		return ret;
	goto again;
}

static const struct vm_operations_struct memattr_vm_ops = {
	.fault = memattr_fault,
};

int memattr_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct memattr_obj *obj = file->private_data;
	struct vmk_gfn_range range;

	/* A private (COW) mapping would copy private pages out. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= obj->nr_gfns ||
	    vmk_gfn_range_from_bytes((u64)vma->vm_pgoff << PAGE_SHIFT,
				     vma->vm_end - vma->vm_start, obj->nr_gfns,
				     &range))
		return -EINVAL;
	vm_flags_set(vma, VM_DONTEXPAND);
	vma->vm_ops = &memattr_vm_ops;
	return 0;
}
