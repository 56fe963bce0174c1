// SPDX-License-Identifier: GPL-2.0-only
/*
 * The container ioctls.  Each handler copies and validates every field of
 * its argument before it takes the container lock, and changes no state on
 * any error (no pin, no charge, no TCE, no IOMMU entry left behind).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "stce.h"

#define STCE_DMA_PERM	(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/*
 * Copy an argsz-first ioctl argument.  Userspace may pass a larger struct
 * from a newer header as long as the bytes we do not know are zero.
 */
static int stce_copy_arg(void *dst, size_t minsz, size_t ksize,
			 unsigned long arg)
{
	u32 argsz;

	if (get_user(argsz, (u32 __user *)arg))
		return -EFAULT;
	if (argsz < minsz)
		return -EINVAL;
	return copy_struct_from_user(dst, ksize, (void __user *)arg,
				     min_t(size_t, argsz, PAGE_SIZE));
}

/*
 * The container belongs to the first mm that claimed it (a successful
 * ENABLE, REGISTER_MEMORY, TCE_CREATE or TCE_REMOVE, the calls POWER's
 * driver claims it in); every other mm gets -EPERM from each ioctl of
 * this version.
 */
static int stce_mm_check(struct stce_container *c)
{
	lockdep_assert_held(&c->lock);
	if (!current->mm)
		return -ESRCH;
	if (c->mm && c->mm != current->mm)
		return -EPERM;
	return 0;
}

/* POWER answers -ENXIO while no group is attached. */
static int stce_groups_check(struct stce_container *c)
{
	lockdep_assert_held(&c->lock);
	return list_empty(&c->groups) ? -ENXIO : 0;
}

static void stce_mm_claim(struct stce_container *c)
{
	lockdep_assert_held(&c->lock);
	if (!c->mm) {
		mmgrab(current->mm);
		c->mm = current->mm;
	}
}

static long stce_get_info(struct stce_container *c, unsigned long arg)
{
	size_t minsz = offsetofend(struct vfio_iommu_spapr_tce_info,
				   dma32_window_size);
	struct vfio_iommu_spapr_tce_info info = {};
	u32 argsz;
	int ret;

	if (get_user(argsz, (u32 __user *)arg))
		return -EFAULT;
	if (argsz < minsz)
		return -EINVAL;

	info.argsz = sizeof(info);
	info.dma32_window_start = 0;
	info.dma32_window_size = stce_dma32_window_mb << 20;
	mutex_lock(&c->lock);
	ret = stce_mm_check(c);
	if (!ret)
		ret = stce_groups_check(c);
	if (ret) {
		mutex_unlock(&c->lock);
		return ret;
	}
	if (c->v2) {
		info.flags = VFIO_IOMMU_SPAPR_INFO_DDW;
		info.ddw.pgsizes = c->pgsizes & STCE_PAGE_SIZES & PAGE_MASK;
		info.ddw.max_dynamic_windows_supported = STCE_MAX_WINDOWS - 1;
		info.ddw.levels = STCE_MAX_LEVELS;
	}
	mutex_unlock(&c->lock);

	if (copy_to_user((void __user *)arg, &info, min_t(size_t, argsz,
							  sizeof(info))))
		return -EFAULT;
	return 0;
}

/*
 * v1 MAP_DMA of at most this many pages pins into an array on the stack:
 * a page array would allocate (and zero) a page for every call, which
 * made single-page MAP_DMA, QEMU's H_PUT_TCE, slower than type1.
 */
#define STCE_PIN_STACK	16

/*
 * Pin @n pages of the current mm from @vaddr on into @pages.  0, or a
 * negative errno with nothing pinned.
 */
static int stce_pin_small(u64 vaddr, unsigned long n, unsigned int flags,
			  struct page **pages)
{
	unsigned long done = 0;
	long got;

	while (done < n) {
		got = pin_user_pages_fast(vaddr + (done << PAGE_SHIFT),
					  n - done, flags, pages + done);
		if (got <= 0) {
			unpin_user_pages(pages, done);
			return got ? got : -EFAULT;
		}
		done += got;
	}
	return 0;
}

/* v1: pin the pages behind the TCEs, charging each to locked_vm. */
static int stce_map_v1(struct stce_container *c, struct stce_window *w,
		       unsigned long first, unsigned long n, u64 vaddr, u64 perm)
{
	unsigned long npages = n << (w->page_shift - PAGE_SHIFT), i, j, len;
	unsigned int flags = FOLL_LONGTERM |
			     (perm & STCE_TCE_WRITE ? FOLL_WRITE : 0);
	struct page *stack[STCE_PIN_STACK], *page = NULL;
	bool small = npages <= STCE_PIN_STACK;
	struct stce_cursor cur;
	struct vmk_page_array pa;
	struct vmk_pa_iter it;
	unsigned long k = 0;
	int ret;

	ret = vmk_page_array_charge(&c->acct, npages);
	if (ret)
		return ret;
	vmk_page_array_init(&pa, VMK_PA_PINNED);
	if (small)
		ret = stce_pin_small(vaddr, npages, flags, stack);
	else
		ret = vmk_page_array_pin_user(&pa, vaddr, npages, flags, false);
	if (ret)
		goto err_uncharge;

	/* Drop what the TCEs held before; only an IOMMU can refuse that. */
	ret = stce_tces_clear(c, w, first, n);
	if (ret)
		goto err_unpin;
	/*
	 * v1 windows use the system page size: one page per TCE.  The range
	 * is clear now: each leaf gains all of its part of it.
	 */
	if (!small)
		page = vmk_pa_iter_first(&pa, &it);
	stce_cursor_seek(&cur, w, first);
	for (i = 0; i < n; i += len) {
		len = min(cur.left, n - i);
		for (j = 0; j < len; j++) {
			if (small)
				page = stack[k++];
			cur.tce[j] = page_to_phys(page) | perm;
			if (!small)
				page = vmk_pa_iter_next(&pa, &it);
		}
		*cur.used += len;
		stce_cursor_skip(&cur, len);
	}
	vmk_page_array_disown(&pa);	/* the TCEs own the pins now */
	w->in_use += n;
	c->pinned += npages;
	atomic_long_add(npages, &stce_stats.pinned_pages);
	return 0;

err_unpin:
	if (small)
		unpin_user_pages(stack, npages);
	else
		vmk_page_array_release(&pa, false);
err_uncharge:
	vmk_page_array_uncharge(&c->acct, npages);
	return ret;
}

/*
 * v2: whether the registered pages behind TCEs [@first, @first + @n) of
 * @w, mapped from @vaddr in @mem, can back them.  A TCE larger than a
 * system page needs its whole IOMMU page physically contiguous and
 * naturally aligned (a THP or hugetlb page behind it); a TCE of one system
 * page always can.
 */
static bool stce_v2_check(struct stce_window *w, struct stce_mem *mem,
			  unsigned long n, u64 vaddr)
{
	unsigned long i, k, per_tce = 1UL << (w->page_shift - PAGE_SHIFT);
	struct vmk_page_array *pa = &mem->region->pa;
	u64 tsize = 1ULL << w->page_shift, phys;
	struct vmk_pa_iter it;
	struct page *page;

	if (per_tce == 1)
		return true;
	page = vmk_pa_iter_seek(pa, &it, (vaddr - mem->ua) >> PAGE_SHIFT);
	for (i = 0; i < n; i++) {
		phys = page_to_phys(page);
		if (phys & (tsize - 1))
			return false;
		for (k = 0; k < per_tce; k++) {
			if (page_to_phys(page) != phys + k * PAGE_SIZE)
				return false;
			page = vmk_pa_iter_next(pa, &it);
		}
	}
	return true;
}

/*
 * v2: write TCEs [@first, @first + @n) of @w, all clear, from the pages
 * stce_v2_check() accepted.  Each leaf gains all of its part of the range.
 */
static void stce_v2_fill(struct stce_window *w, struct stce_mem *mem,
			 unsigned long first, unsigned long n, u64 vaddr,
			 u64 perm)
{
	unsigned long i, j, k, len, per_tce = 1UL << (w->page_shift - PAGE_SHIFT);
	struct vmk_page_array *pa = &mem->region->pa;
	u64 tsize = 1ULL << w->page_shift;
	struct stce_cursor cur;
	struct vmk_pa_iter it;
	struct page *page;

	page = vmk_pa_iter_seek(pa, &it, (vaddr - mem->ua) >> PAGE_SHIFT);
	stce_cursor_seek(&cur, w, first);
	for (i = 0; i < n; i += len) {
		len = min(cur.left, n - i);
		for (j = 0; j < len; j++) {
			cur.tce[j] = page_to_phys(page) | perm;
			cur.tce[cur.ua_off + j] = vaddr + (i + j) * tsize;
			for (k = 0; k < per_tce; k++)
				page = vmk_pa_iter_next(pa, &it);
		}
		*cur.used += len;
		stce_cursor_skip(&cur, len);
	}
}

/*
 * v2: point the TCEs at registered pages.  Every TCE is checked before the
 * TCEs in use in the range are dropped, so a refused MAP changes nothing.
 */
static int stce_map_v2(struct stce_container *c, struct stce_window *w,
		       unsigned long first, unsigned long n, u64 vaddr, u64 perm)
{
	struct stce_mem *mem;
	int ret;

	mem = stce_mem_find(c, vaddr, (u64)n << w->page_shift);
	if (!mem)
		return -EPERM;
	if (!stce_v2_check(w, mem, n, vaddr))
		return -EINVAL;

	ret = stce_tces_clear(c, w, first, n);
	if (ret)
		return ret;
	stce_v2_fill(w, mem, first, n, vaddr, perm);
	mem->mapped += n;
	w->in_use += n;
	return 0;
}

/*
 * The checks MAP_DMA and UNMAP_DMA share, under c->lock: the caller's mm
 * owns the container, a group is attached, a v1 container is enabled and
 * the request lies in one window.  Return the index of the first TCE, or a
 * negative errno: -EPERM (another mm, v1 not enabled), -ESRCH (no mm),
 * -ENXIO (no group, or iova in no window), -EINVAL for an empty or
 * unaligned request or one running past the end of its window.
 */
static long stce_request(struct stce_container *c, u64 iova, u64 size,
			 struct stce_window **wp)
{
	struct stce_window *w;
	int ret;

	ret = stce_mm_check(c);
	if (ret)
		return ret;
	ret = stce_groups_check(c);
	if (ret)
		return ret;
	if (!c->v2 && !c->enabled)
		return -EPERM;
	w = stce_window_find(c, iova);
	if (!w)
		return -ENXIO;
	ret = vmk_iova_check(&w->win, iova, size, 1ULL << w->page_shift);
	if (ret)
		return -EINVAL;
	*wp = w;
	return (iova - w->win.start) >> w->page_shift;
}

static long stce_map_dma(struct stce_container *c, unsigned long arg)
{
	struct vfio_iommu_type1_dma_map p;
	struct stce_window *w;
	unsigned long n;
	u64 perm = 0, end;
	long first;
	int ret;

	ret = stce_copy_arg(&p, offsetofend(typeof(p), size), sizeof(p), arg);
	if (ret)
		return ret;
	if ((p.flags & ~STCE_DMA_PERM) || !(p.flags & STCE_DMA_PERM) ||
	    check_add_overflow(p.vaddr, p.size, &end) || end > TASK_SIZE)
		return -EINVAL;
	if (p.flags & VFIO_DMA_MAP_FLAG_READ)
		perm |= STCE_TCE_READ;
	if (p.flags & VFIO_DMA_MAP_FLAG_WRITE)
		perm |= STCE_TCE_WRITE;

	mutex_lock(&c->lock);
	first = stce_request(c, p.iova, p.size, &w);
	if (first < 0) {
		ret = first;
		goto out_unlock;
	}
	ret = -EINVAL;
	if (!IS_ALIGNED(p.vaddr, 1ULL << w->page_shift))
		goto out_unlock;
	n = p.size >> w->page_shift;
	ret = stce_table_alloc(w, first, n);
	if (ret)
		goto out_unlock;

	/* TCEs in use are replaced, as H_PUT_TCE does on POWER. */
	if (c->v2)
		ret = stce_map_v2(c, w, first, n, p.vaddr, perm);
	else
		ret = stce_map_v1(c, w, first, n, p.vaddr, perm);
	if (!ret)
		ret = stce_map_all(c, w, first, n);
	if (ret)
		stce_table_trim(w, first, n);
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

/* TCEs already clear are skipped, as on POWER and in type1. */
static long stce_unmap_dma(struct stce_container *c, unsigned long arg)
{
	struct vfio_iommu_type1_dma_unmap p;
	struct stce_window *w;
	long first;
	int ret;

	ret = stce_copy_arg(&p, offsetofend(typeof(p), size), sizeof(p), arg);
	if (ret)
		return ret;
	if (p.flags)
		return -EINVAL;

	mutex_lock(&c->lock);
	first = stce_request(c, p.iova, p.size, &w);
	if (first < 0) {
		ret = first;
		goto out_unlock;
	}
	ret = stce_tces_clear(c, w, first, p.size >> w->page_shift);
	stce_table_trim(w, first, p.size >> w->page_shift);
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

/*
 * v1 ENABLE.  POWER charges the whole window here; this backend charges
 * each page when MAP_DMA pins it, so ENABLE only claims the container for
 * this mm and fails early, as POWER would, if the limit leaves no room to
 * lock even one page.
 */
static long stce_enable(struct stce_container *c)
{
	unsigned long limit;
	int ret;

	mutex_lock(&c->lock);
	ret = stce_mm_check(c);
	if (ret)
		goto out_unlock;
	ret = -EBUSY;
	if (c->enabled)
		goto out_unlock;
	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	ret = -ENOMEM;
	if (!capable(CAP_IPC_LOCK) && READ_ONCE(current->mm->locked_vm) >= limit)
		goto out_unlock;
	stce_mm_claim(c);
	c->enabled = true;
	ret = 0;
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

/* v1 DISABLE: every mapping goes, with its pins and charges. */
static long stce_disable(struct stce_container *c)
{
	int i, ret;

	mutex_lock(&c->lock);
	ret = stce_mm_check(c);
	if (ret)
		goto out_unlock;
	for (i = 0; i < STCE_MAX_WINDOWS; i++)
		if (stce_window_clear(c, &c->windows[i]))
			ret = -ENOMEM;
	/* Still enabled while TCEs that could not be unmapped hold pages. */
	if (!ret)
		c->enabled = false;
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

static long stce_register(struct stce_container *c, unsigned long arg,
			  bool reg)
{
	struct vfio_iommu_spapr_register_memory p;
	int ret;

	ret = stce_copy_arg(&p, offsetofend(typeof(p), size), sizeof(p), arg);
	if (ret)
		return ret;
	if (p.flags)
		return -EINVAL;

	mutex_lock(&c->lock);
	ret = stce_mm_check(c);
	if (ret)
		goto out_unlock;
	if (reg) {
		ret = stce_mem_register(c, p.vaddr, p.size);
		if (!ret)
			stce_mm_claim(c);
	} else if (!c->mm) {
		/* As on POWER: nothing can be registered before a claim. */
		ret = -EPERM;
	} else {
		ret = stce_mem_unregister(c, p.vaddr, p.size);
	}
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

/*
 * Where a window in slot @i starts: the default slot at 0, the second at
 * 1 << 59 as on POWER where every group's IOMMU translates that address,
 * else at the ddw_base module parameter.  A window never moves: one that
 * does not fit at its start is refused.
 */
static u64 stce_slot_start(struct stce_container *c, int i)
{
	if (!i)
		return 0;
	if (vmk_iova_range_contains(&c->aperture, STCE_DDW_START, 1))
		return STCE_DDW_START;
	return stce_ddw_base;
}

/*
 * Whether @win fits the aperture at its fixed start, overlapping no other
 * window and no reserved region: 0, -ENOSPC, or the error of reading the
 * reserved regions.
 */
static int stce_slot_check(struct stce_container *c,
			   const struct vmk_iova_window *win)
{
	int i, ret;

	if (!vmk_iova_range_contains(&c->aperture, win->start, win->size))
		return -ENOSPC;
	for (i = 0; i < STCE_MAX_WINDOWS; i++)
		if (c->windows[i].win.size &&
		    vmk_iova_window_overlaps(&c->windows[i].win, win))
			return -ENOSPC;
	ret = stce_resv_conflict(c, win);
	return ret == -EINVAL ? -ENOSPC : ret;
}

static long stce_tce_create(struct stce_container *c, unsigned long arg)
{
	struct vfio_iommu_spapr_tce_create p;
	struct vmk_iova_window win = {};
	unsigned int depth, node_shift;
	struct stce_window *w = NULL;
	int i, ret;

	ret = stce_copy_arg(&p, offsetofend(typeof(p), start_addr), sizeof(p),
			    arg);
	if (ret)
		return ret;
	/* A TCE smaller than a system page could not hold a pinned page. */
	if (p.flags || p.__resv1 || p.__resv2 || p.page_shift >= 64 ||
	    p.page_shift < PAGE_SHIFT ||
	    !(STCE_PAGE_SIZES & (1ULL << p.page_shift)) ||
	    !is_power_of_2(p.window_size) ||
	    p.window_size < (1ULL << p.page_shift) ||
	    stce_table_geometry(p.window_size >> p.page_shift, p.levels,
				&depth, &node_shift))
		return -EINVAL;

	mutex_lock(&c->lock);
	ret = stce_mm_check(c);
	if (!ret)
		ret = stce_groups_check(c);
	if (ret)
		goto out_unlock;
	/* A page size the IOMMU lacks, or a window larger than it reaches. */
	ret = -EINVAL;
	if (!(c->pgsizes & (1UL << p.page_shift)) ||
	    !vmk_iova_range_fits(&c->aperture, p.window_size))
		goto out_unlock;
	/* The first free slot, as on POWER. */
	for (i = 0; i < STCE_MAX_WINDOWS && !w; i++)
		if (!c->windows[i].win.size)
			w = &c->windows[i];
	ret = -ENOSPC;
	if (!w)
		goto out_unlock;
	win.start = stce_slot_start(c, w - c->windows);
	win.size = p.window_size;
	ret = stce_slot_check(c, &win);
	if (ret)
		goto out_unlock;
	ret = stce_window_init(w, c->v2, win.start, win.size, p.page_shift,
			       p.levels);
	if (ret)
		goto out_unlock;
	if (put_user(win.start, (u64 __user *)(arg +
		     offsetof(struct vfio_iommu_spapr_tce_create, start_addr)))) {
		stce_window_destroy(c, w);
		ret = -EFAULT;
		goto out_unlock;
	}
	/* Windows belong to the caller's mm from now on, as on POWER. */
	stce_mm_claim(c);
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

static long stce_tce_remove(struct stce_container *c, unsigned long arg)
{
	struct vfio_iommu_spapr_tce_remove p;
	int i, ret;

	ret = stce_copy_arg(&p, offsetofend(typeof(p), start_addr), sizeof(p),
			    arg);
	if (ret)
		return ret;
	if (p.flags)
		return -EINVAL;

	mutex_lock(&c->lock);
	ret = stce_mm_check(c);
	if (!ret)
		ret = stce_groups_check(c);
	if (ret)
		goto out_unlock;
	ret = -EINVAL;
	for (i = 0; i < STCE_MAX_WINDOWS; i++) {
		if (c->windows[i].win.size &&
		    c->windows[i].win.start == p.start_addr) {
			ret = stce_window_destroy(c, &c->windows[i]);
			break;
		}
	}
	if (!ret)
		stce_mm_claim(c);
out_unlock:
	mutex_unlock(&c->lock);
	return ret;
}

/**
 * stce_ioctl() - vfio_iommu_driver_ops.ioctl
 * @iommu_data: the container, or NULL for VFIO_CHECK_EXTENSION before
 *	VFIO_SET_IOMMU
 * @cmd: the ioctl
 * @arg: its user pointer or value
 *
 * Return: 0 or a negative errno, as vfio_spapr_tce/README.md lists them.
 */
long stce_ioctl(void *iommu_data, unsigned int cmd, unsigned long arg)
{
	struct stce_container *c = iommu_data;

	if (cmd == VFIO_CHECK_EXTENSION)
		return arg == VFIO_SPAPR_TCE_IOMMU ||
		       arg == VFIO_SPAPR_TCE_v2_IOMMU;
	if (!c)
		return -EINVAL;

	switch (cmd) {
	case VFIO_IOMMU_SPAPR_TCE_GET_INFO:
		return stce_get_info(c, arg);
	case VFIO_IOMMU_MAP_DMA:
		return stce_map_dma(c, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return stce_unmap_dma(c, arg);
	case VFIO_IOMMU_ENABLE:
		return c->v2 ? -ENOTTY : stce_enable(c);
	case VFIO_IOMMU_DISABLE:
		return c->v2 ? -ENOTTY : stce_disable(c);
	case VFIO_IOMMU_SPAPR_REGISTER_MEMORY:
	case VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY:
		if (!c->v2)
			return -ENOTTY;
		return stce_register(c, arg,
				     cmd == VFIO_IOMMU_SPAPR_REGISTER_MEMORY);
	case VFIO_IOMMU_SPAPR_TCE_CREATE:
		return c->v2 ? stce_tce_create(c, arg) : -ENOTTY;
	case VFIO_IOMMU_SPAPR_TCE_REMOVE:
		return c->v2 ? stce_tce_remove(c, arg) : -ENOTTY;
	default:
		/* Includes VFIO_EEH_PE_OP: EEH is a POWER platform service. */
		return -ENOTTY;
	}
}
