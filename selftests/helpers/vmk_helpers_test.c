// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmk_helpers_test - drive the include/vmemkit/ helpers from userspace.
 *
 * Test-only: the helpers kselftest feeds values through these ioctls and
 * checks the kernel's answers against its own arithmetic, and pins real user
 * memory to check the page array's pinning, copying and locked_vm charging.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <vmemkit/gfn_range.h>
#include <vmemkit/compat.h>
#include <vmemkit/iova.h>
#include <vmemkit/page_array.h>

#include "vmk_helpers_test.h"

/* Largest copy one VMK_HT_COPY call may ask for. */
#define VMK_HT_COPY_MAX		SZ_1M

struct vmk_ht_file {
	struct mutex lock;		/* protects @pa */
	struct vmk_page_array pa;
};

static long vmk_ht_gfn(void __user *arg)
{
	struct vmk_gfn_range a, b, out = {}, out2 = {}, chunk;
	struct vmk_ht_gfn g;

	if (copy_from_user(&g, arg, sizeof(g)))
		return -EFAULT;
	a.start = g.a_start;
	a.end = g.a_end;
	b.start = g.b_start;
	b.end = g.b_end;
	switch (g.op) {
	case VMK_HT_GFN_FROM_BYTES:
		g.ret = vmk_gfn_range_from_bytes(g.addr, g.size, g.nr_gfns, &out);
		break;
	case VMK_HT_GFN_INTERSECT:
		g.ret = vmk_gfn_range_intersect(&a, &b, &out);
		break;
	case VMK_HT_GFN_SPLIT:
		g.ret = vmk_gfn_range_split(&a, g.at, &out, &out2);
		break;
	case VMK_HT_GFN_CHUNKS:
		if (!g.max || a.end <= a.start)
			return -EINVAL;
		g.nr_chunks = 0;
		g.sum = 0;
		chunk.end = a.start;
		while (vmk_gfn_range_next_chunk(&a, &chunk, g.max)) {
			g.nr_chunks++;
			g.sum += vmk_gfn_range_nr(&chunk);
			g.last = vmk_gfn_range_nr(&chunk);
			cond_resched();
		}
		break;
	default:
		return -EINVAL;
	}
	g.out_start = out.start;
	g.out_end = out.end;
	g.out2_start = out2.start;
	g.out2_end = out2.end;
	return copy_to_user(arg, &g, sizeof(g)) ? -EFAULT : 0;
}

static long vmk_ht_iova(void __user *arg)
{
	struct vmk_iova_window w, w2;
	struct vmk_iova_range r;
	struct vmk_ht_iova v;

	if (copy_from_user(&v, arg, sizeof(v)))
		return -EFAULT;
	w.start = v.start;
	w.size = v.size;
	w2.start = v.start2;
	w2.size = v.size2;
	switch (v.op) {
	case VMK_HT_IOVA_CONTAINS:
		v.ret = vmk_iova_window_contains(&w, v.iova, v.len);
		break;
	case VMK_HT_IOVA_CHECK:
		v.ret = vmk_iova_check(&w, v.iova, v.len, v.pgsize);
		break;
	case VMK_HT_IOVA_VALID:
		v.ret = vmk_iova_window_valid(&w);
		break;
	case VMK_HT_IOVA_OVERLAPS:
		if (!vmk_iova_window_valid(&w) || !vmk_iova_window_valid(&w2))
			return -EINVAL;
		v.ret = vmk_iova_window_overlaps(&w, &w2);
		break;
	case VMK_HT_IOVA_RANGE_CONTAINS:
	case VMK_HT_IOVA_RANGE_FITS:
		r.start = v.start;
		r.last = v.size;
		if (r.start > r.last)
			return -EINVAL;
		if (v.op == VMK_HT_IOVA_RANGE_FITS)
			v.ret = vmk_iova_range_fits(&r, v.len);
		else
			v.ret = vmk_iova_range_contains(&r, v.iova, v.len);
		break;
	default:
		return -EINVAL;
	}
	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long vmk_ht_pin(struct vmk_ht_file *f, void __user *arg)
{
	unsigned int gup = FOLL_LONGTERM;
	struct vmk_ht_pin p;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if (p.flags & ~(VMK_HT_PIN_WRITE | VMK_HT_PIN_CHARGE))
		return -EINVAL;
	if (p.flags & VMK_HT_PIN_WRITE)
		gup |= FOLL_WRITE;
	mutex_lock(&f->lock);
	p.ret = vmk_page_array_pin_user(&f->pa, p.uaddr, p.nr_pages, gup,
					p.flags & VMK_HT_PIN_CHARGE);
	mutex_unlock(&f->lock);
	return copy_to_user(arg, &p, sizeof(p)) ? -EFAULT : 0;
}

static long vmk_ht_state(struct vmk_ht_file *f, void __user *arg)
{
	struct vmk_ht_state st = { .chunk_pages = VMK_PA_CHUNK_PAGES };
	struct vmk_page_chunk *c;

	mutex_lock(&f->lock);
	st.nr_pages = f->pa.nr_pages;
	st.nr_charged = f->pa.nr_charged;
	list_for_each_entry(c, &f->pa.chunks, node)
		st.nr_chunks++;
	mutex_unlock(&f->lock);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long vmk_ht_copy(struct vmk_ht_file *f, void __user *arg)
{
	struct vmk_ht_copy c;
	void *buf;
	long ret;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if (!c.len || c.len > VMK_HT_COPY_MAX || c.to_pages > 1)
		return -EINVAL;
	buf = kvmalloc(c.len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (c.to_pages &&
	    copy_from_user(buf, u64_to_user_ptr(c.buf), c.len)) {
		ret = -EFAULT;
		goto out_free;
	}
	mutex_lock(&f->lock);
	if (c.to_pages)
		c.ret = vmk_page_array_copy_to(&f->pa, c.offset, buf, c.len);
	else
		c.ret = vmk_page_array_copy_from(&f->pa, c.offset, buf, c.len);
	mutex_unlock(&f->lock);
	ret = -EFAULT;
	if (!c.to_pages && !c.ret &&
	    copy_to_user(u64_to_user_ptr(c.buf), buf, c.len))
		goto out_free;
	ret = copy_to_user(arg, &c, sizeof(c)) ? -EFAULT : 0;
out_free:
	kvfree(buf);
	return ret;
}

static long vmk_ht_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct vmk_ht_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VMK_HT_GFN:
		return vmk_ht_gfn(uarg);
	case VMK_HT_IOVA:
		return vmk_ht_iova(uarg);
	case VMK_HT_PIN:
		return vmk_ht_pin(f, uarg);
	case VMK_HT_STATE:
		return vmk_ht_state(f, uarg);
	case VMK_HT_COPY:
		return vmk_ht_copy(f, uarg);
	case VMK_HT_RELEASE:
		mutex_lock(&f->lock);
		vmk_page_array_release(&f->pa, true);
		mutex_unlock(&f->lock);
		return 0;
	}
	return -ENOTTY;
}

static int vmk_ht_open(struct inode *inode, struct file *file)
{
	struct vmk_ht_file *f;

	f = kzalloc_obj(*f, GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	vmk_page_array_init(&f->pa, VMK_PA_PINNED);
	file->private_data = f;
	return 0;
}

static int vmk_ht_release(struct inode *inode, struct file *file)
{
	struct vmk_ht_file *f = file->private_data;

	/* Pins and charges outlive the pinning task: drop them here. */
	vmk_page_array_release(&f->pa, false);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

static const struct file_operations vmk_ht_fops = {
	.owner = THIS_MODULE,
	.open = vmk_ht_open,
	.release = vmk_ht_release,
	.unlocked_ioctl = vmk_ht_ioctl,
};

static struct miscdevice vmk_ht_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmk_helpers_test",
	.fops = &vmk_ht_fops,
	.mode = 0666,
};

module_misc_device(vmk_ht_misc);

MODULE_DESCRIPTION("vmemkit: test driver for the shared include/vmemkit helpers");
MODULE_LICENSE("GPL");
