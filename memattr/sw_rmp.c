// SPDX-License-Identifier: GPL-2.0-only
/*
 * sw_rmp: a software model of an SEV-SNP style reverse map table.
 *
 * Per GFN it keeps two bits, as the hardware and the kernel would: "private"
 * (the RMP assigns the page to the guest) and "unmapped" (the page is out of
 * the host direct map).  The hooks move them in the order SNP needs, and WARN
 * (failing any test run) when the order is broken:
 *
 *   shared -> private: prepare unmaps, then assigns (only unmapped pages);
 *                      abort un-assigns and maps back;
 *   private -> shared: prepare un-assigns (only private pages), finish maps
 *                      back (only shared pages); abort assigns again;
 *   invalidate: a private page leaves the object: un-assign it and map it
 *               back (only private, unmapped pages);
 *   host_access: the host touches a page that is private or unmapped,
 *                which includes freeing one: a private page freed without
 *                invalidate first WARNs here.
 */
#include <linux/bitmap.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "internal.h"

/**
 * struct sw_rmp - ownership table of one object
 * @lock: protects both bitmaps (hooks of disjoint conversions may run at the
 *	same time, and their ranges may share a bitmap word)
 * @private: GFNs assigned to the guest
 * @unmapped: GFNs out of the host direct map
 */
struct sw_rmp {
	spinlock_t lock;	/* see kernel-doc above */
	unsigned long *private;
	unsigned long *unmapped;
};

static bool sw_rmp_to_private(const struct memattr_change *chg)
{
	return chg->new_attrs & MEMATTR_ATTRIBUTE_PRIVATE;
}

/* Whether every bit of @r is set in @map. */
static bool sw_rmp_all(const unsigned long *map, const struct vmk_gfn_range *r)
{
	return find_next_zero_bit(map, r->end, r->start) >= r->end;
}

/* Whether any bit of @r is set in @map. */
static bool sw_rmp_any(const unsigned long *map, const struct vmk_gfn_range *r)
{
	return find_next_bit(map, r->end, r->start) < r->end;
}

static void *sw_rmp_attach(u64 nr_gfns)
{
	struct sw_rmp *rmp;

	rmp = kzalloc_obj(*rmp, GFP_KERNEL_ACCOUNT);
	if (!rmp)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&rmp->lock);
	rmp->private = kvcalloc(BITS_TO_LONGS(nr_gfns), sizeof(long),
				GFP_KERNEL_ACCOUNT);
	if (!rmp->private)
		goto err_free_rmp;
	rmp->unmapped = kvcalloc(BITS_TO_LONGS(nr_gfns), sizeof(long),
				 GFP_KERNEL_ACCOUNT);
	if (!rmp->unmapped)
		goto err_free_private;
	return rmp;

err_free_private:
	kvfree(rmp->private);
err_free_rmp:
	kfree(rmp);
	return ERR_PTR(-ENOMEM);
}

static void sw_rmp_detach(void *priv)
{
	struct sw_rmp *rmp = priv;

	kvfree(rmp->unmapped);
	kvfree(rmp->private);
	kfree(rmp);
}

static int sw_rmp_prepare(void *priv, const struct memattr_change *chg)
{
	struct sw_rmp *rmp = priv;
	const struct vmk_gfn_range *r = &chg->range;
	u64 nr = vmk_gfn_range_nr(r);

	might_sleep();	/* set_direct_map_invalid_noflush() would sleep */
	spin_lock(&rmp->lock);
	if (sw_rmp_to_private(chg)) {
		WARN(sw_rmp_any(rmp->unmapped, r) || sw_rmp_any(rmp->private, r),
		     "sw_rmp: GFNs %#llx-%#llx already out of the direct map\n",
		     r->start, r->end - 1);
		bitmap_set(rmp->unmapped, r->start, nr);
		bitmap_set(rmp->private, r->start, nr);
	} else {
		WARN(!sw_rmp_all(rmp->private, r) ||
		     !sw_rmp_all(rmp->unmapped, r),
		     "sw_rmp: un-assigning GFNs %#llx-%#llx that are not private\n",
		     r->start, r->end - 1);
		bitmap_clear(rmp->private, r->start, nr);
	}
	spin_unlock(&rmp->lock);
	return 0;
}

static void sw_rmp_abort(void *priv, const struct memattr_change *chg)
{
	struct sw_rmp *rmp = priv;
	const struct vmk_gfn_range *r = &chg->range;
	u64 nr = vmk_gfn_range_nr(r);

	might_sleep();
	spin_lock(&rmp->lock);
	if (sw_rmp_to_private(chg)) {
		WARN(!sw_rmp_all(rmp->private, r) ||
		     !sw_rmp_all(rmp->unmapped, r),
		     "sw_rmp: aborting GFNs %#llx-%#llx that were not prepared\n",
		     r->start, r->end - 1);
		bitmap_clear(rmp->private, r->start, nr);
		bitmap_clear(rmp->unmapped, r->start, nr);
	} else {
		WARN(sw_rmp_any(rmp->private, r),
		     "sw_rmp: aborting GFNs %#llx-%#llx that were not prepared\n",
		     r->start, r->end - 1);
		bitmap_set(rmp->private, r->start, nr);
	}
	spin_unlock(&rmp->lock);
}

static void sw_rmp_finish(void *priv, const struct memattr_change *chg)
{
	struct sw_rmp *rmp = priv;
	const struct vmk_gfn_range *r = &chg->range;

	might_sleep();	/* set_direct_map_default_noflush() would sleep */
	if (sw_rmp_to_private(chg))
		return;
	spin_lock(&rmp->lock);
	WARN(sw_rmp_any(rmp->private, r),
	     "sw_rmp: mapping assigned GFNs %#llx-%#llx back\n",
	     r->start, r->end - 1);
	bitmap_clear(rmp->unmapped, r->start, vmk_gfn_range_nr(r));
	spin_unlock(&rmp->lock);
}

static void sw_rmp_host_access(void *priv, u64 gfn)
{
	struct sw_rmp *rmp = priv;

	spin_lock(&rmp->lock);
	WARN(test_bit(gfn, rmp->private) || test_bit(gfn, rmp->unmapped),
	     "sw_rmp: host access to GFN %#llx (%s)\n", gfn,
	     test_bit(gfn, rmp->private) ? "private" : "not in direct map");
	spin_unlock(&rmp->lock);
}

static void sw_rmp_invalidate(void *priv, const struct vmk_gfn_range *r)
{
	struct sw_rmp *rmp = priv;

	might_sleep();	/* RMPUPDATE and the direct-map change would sleep */
	spin_lock(&rmp->lock);
	WARN(!sw_rmp_all(rmp->private, r) || !sw_rmp_all(rmp->unmapped, r),
	     "sw_rmp: invalidating GFNs %#llx-%#llx that are not private\n",
	     r->start, r->end - 1);
	bitmap_clear(rmp->private, r->start, vmk_gfn_range_nr(r));
	bitmap_clear(rmp->unmapped, r->start, vmk_gfn_range_nr(r));
	spin_unlock(&rmp->lock);
}

static const struct memattr_backend_ops sw_rmp_ops = {
	.attach = sw_rmp_attach,
	.detach = sw_rmp_detach,
	.prepare = sw_rmp_prepare,
	.abort = sw_rmp_abort,
	.finish = sw_rmp_finish,
	.host_access = sw_rmp_host_access,
	.invalidate = sw_rmp_invalidate,
};

static struct memattr_backend sw_rmp_backend = {
	.name = "sw_rmp",
	.owner = THIS_MODULE,
	.ops = &sw_rmp_ops,
};

int memattr_sw_rmp_init(void)
{
	return memattr_backend_register(&sw_rmp_backend);
}

void memattr_sw_rmp_exit(void)
{
	memattr_backend_unregister(&sw_rmp_backend);
}
