// SPDX-License-Identifier: GPL-2.0-only
/*
 * The domain file's mmap: file offset == IOVA.  Faults install the kernel
 * bounce page of a live streaming mapping or the page of a live coherent
 * allocation; anything else is SIGBUS.
 *
 * The handler inserts the PTE itself (vm_insert_page on a VM_MIXEDMAP vma)
 * instead of returning vmf->page, so that lookup and insertion both happen
 * under view_lock: a detacher's zap then either comes after the PTE and
 * removes it, or the fault waits for the detach and finds the new page (see
 * vduse_iotlb.h).
 */
#include <linux/mm.h>

#include "vduse_iotlb.h"

static vm_fault_t vit_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vduse_iotlb_domain *dom = vma->vm_private_data;
	unsigned long pfn = vmf->pgoff;
	u64 iova = (u64)pfn << PAGE_SHIFT;
	struct page *page;
	int ret;

	down_read(&dom->view_lock);
	if (vmk_iova_window_contains(&dom->bounce, iova, PAGE_SIZE))
		page = vit_bounce_get_page(dom, pfn);
	else if (vmk_iova_window_contains(&dom->coherent, iova, PAGE_SIZE))
		page = vit_coherent_get_page(dom, pfn);
	else
		page = NULL;
	if (!page) {
		up_read(&dom->view_lock);
		return VM_FAULT_SIGBUS;
	}

	/* -EBUSY: another thread's fault installed the same page first. */
	ret = vm_insert_page(vma, vmf->address & PAGE_MASK, page);
	up_read(&dom->view_lock);
	put_page(page);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	if (ret && ret != -EBUSY)
		return VM_FAULT_SIGBUS;
	return VM_FAULT_NOPAGE;
}

static const struct vm_operations_struct vit_vm_ops = {
	.fault = vit_fault,
};

int vit_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vduse_iotlb_domain *dom = file->private_data;
	u64 last_iova = vmk_iova_window_last(&dom->coherent);
	unsigned long pages = vma_pages(vma);

	/* Private copies of DMA pages make no sense; neither does mremap. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff > last_iova >> PAGE_SHIFT ||
	    pages - 1 > (last_iova >> PAGE_SHIFT) - vma->vm_pgoff)
		return -EINVAL;
	vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_private_data = dom;
	vma->vm_ops = &vit_vm_ops;
	return 0;
}
