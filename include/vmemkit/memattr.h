/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * memattr platform backends.
 *
 * A platform backend (an SEV-SNP RMP manager, a TDX module glue, the software
 * models shipped with memattr) is told about every shared <-> private
 * conversion of a memattr object through four hooks.  Their order and context
 * are fixed, so a backend can do sleeping work (direct-map changes, firmware
 * calls) on the right side of the atomic attribute update:
 *
 *   for each run that changes:  prepare()      may sleep, may fail
 *   (a prepare failing, or the store running out of memory:
 *    abort() for every run already prepared, last first; the call fails
 *    and nothing changed)
 *   for each batch of up to 64 runs that change, in order:
 *     conversion lock taken
 *     for each run of the batch:  commit()     atomic, cannot fail
 *     attribute store updated up to the batch's last run
 *     conversion lock dropped (then cond_resched())
 *   invalidation sequence bumped, in the last batch
 *   for each run that changes:  finish()       may sleep, cannot fail
 *
 * The work is where it can sleep: prepare() and finish() do everything that
 * is per page (an SEV-SNP RMPUPDATE or a direct-map change per page, TDX
 * page adds), as KVM's guest_memfd does in its prepare.  commit() only
 * publishes what prepare() made ready (a flag, a generation, a pointer) in
 * a bounded time that does not depend on the size of its run: it runs under
 * a spinlock with up to 63 other commits and a store update, so a 16 GiB
 * run's per-page loop there would be a soft lockup.  A backend with nothing
 * to publish leaves commit() out.  The lock is held for at most 64 commits
 * and a store update removing at most 64 runs, however many runs the
 * conversion changes: a conversion of 8M runs takes it 128K times.  The
 * range is in flight throughout, so faults and other conversions see none
 * of the batches until the whole conversion is done.
 *
 * Around these, memattr itself guarantees:
 * - A run going shared -> private is unmapped from every user mapping before
 *   prepare() is called, and no fault can map it again until the conversion
 *   has ended.
 * - No page of a run going shared -> private is pinned (pin_user_pages())
 *   when prepare() is called: a pinned page fails the whole call with -EBUSY
 *   after the unmap and before any hook, so no pin outlives the conversion.
 * - Pages of a run going private -> shared are zeroed after finish()
 *   returned (the host touches them only once the backend made them shared
 *   again).
 * - Conversions of overlapping ranges never run at the same time; disjoint
 *   ones may, so hooks for different ranges of one object can run
 *   concurrently.  Hooks for one conversion are called from one task.
 * - host_access() is called, under the conversion lock, for every page the
 *   host is about to map into user space, write from the kernel or return
 *   to the page allocator.
 * - Pages never move: the object's page cache is unmovable memory
 *   (GFP_HIGHUSER, not movable), unevictable, inaccessible to the kernel's
 *   own reads and writes (mapping_set_inaccessible()) and refuses
 *   migration, so a backend can key its state on a page's physical frame.
 * - A page that leaves the object while private (truncation, which only
 *   release of the object does today) is first given to invalidate(), once,
 *   then to host_access(), then freed.  GFNs that are private but never had
 *   a page get no invalidate() call.
 *
 * Runs whose attributes do not change get no hook calls.  A run never crosses
 * a change of old attributes, so each call sees one old and one new value.
 */
#ifndef _VMEMKIT_MEMATTR_H
#define _VMEMKIT_MEMATTR_H

#include <linux/list.h>
#include <linux/module.h>
#include <linux/types.h>
#include <vmemkit/gfn_range.h>

/*
 * Runs committed per hold of the conversion lock (see above): the bound on
 * the commit() calls, and on the runs a store update removes, under it.
 */
#define MEMATTR_COMMIT_BATCH 64U

/**
 * struct memattr_change - one run of a conversion
 * @range: the GFNs of the run
 * @old_attrs: attributes of every GFN in @range before the conversion
 * @new_attrs: attributes after it; never equal to @old_attrs
 */
struct memattr_change {
	struct vmk_gfn_range range;
	u64 old_attrs;
	u64 new_attrs;
};

/**
 * struct memattr_backend_ops - hooks of a platform backend
 * @attach: set up per-object state for an object of @nr_gfns GFNs, all
 *	shared.  May sleep.  Returns the state handed to the other hooks, or
 *	an ERR_PTR; object creation fails with that error.
 * @detach: free what @attach returned.  May sleep.  Called once the object
 *	has no mappings and no conversion left.
 * @prepare: do the per-page work of @chg before anything changes (for
 *	shared -> private: take the pages out of the direct map and assign
 *	them; private -> shared: un-assign them).  The run is unmapped and in
 *	flight: nothing can reach its pages until the conversion ends.  May
 *	sleep, called with no memattr lock held.  A non-zero return aborts
 *	the conversion.
 * @abort: undo a successful @prepare of a conversion that will not happen.
 *	May sleep, cannot fail.  Optional if @prepare has nothing to undo.
 * @commit: publish @chg, which @prepare made ready: O(1), no work per
 *	page (that belongs in @prepare and @finish).  Called under the
 *	object's conversion spinlock, together with the store update of its
 *	run, in batches of at most 64 runs per lock hold: must not sleep,
 *	cannot fail.
 * @finish: complete @chg after the lock is dropped (for private ->
 *	shared: put the pages back in the direct map).  May sleep, cannot fail.
 * @host_access: the host is about to map @gfn into user space, write it
 *	from the kernel or free its page.  Under the conversion spinlock: must
 *	not sleep.  A backend that enforces ownership WARNs here on a private
 *	page.
 * @invalidate: the pages of @range, all private, are about to be freed (the
 *	object is being released): give them back to the host (for SEV-SNP,
 *	RMPUPDATE to hypervisor-owned and back into the direct map).  May
 *	sleep, called with no memattr lock held and the pages' folio locked;
 *	cannot fail.  Once per page's end of life; no conversion of @range can
 *	run at the same time.
 *
 * Every hook but @attach and @detach is optional.
 */
struct memattr_backend_ops {
	void *(*attach)(u64 nr_gfns);
	void (*detach)(void *priv);
	int (*prepare)(void *priv, const struct memattr_change *chg);
	void (*abort)(void *priv, const struct memattr_change *chg);
	void (*commit)(void *priv, const struct memattr_change *chg);
	void (*finish)(void *priv, const struct memattr_change *chg);
	void (*host_access)(void *priv, u64 gfn);
	void (*invalidate)(void *priv, const struct vmk_gfn_range *range);
};

/**
 * struct memattr_backend - a registered platform backend
 * @name: name selected through memattr's ``backend`` module parameter
 * @owner: module providing @ops; pinned while an object uses the backend
 * @ops: the hooks
 * @node: link in memattr's backend list (owned by memattr)
 */
struct memattr_backend {
	const char *name;
	struct module *owner;
	const struct memattr_backend_ops *ops;
	struct list_head node;
};

/**
 * memattr_backend_register() - make a backend selectable
 * @be: the backend; @be->name must be unique
 *
 * Objects created afterwards use @be when memattr's ``backend`` parameter
 * names it.  May sleep.
 *
 * Return: 0, or -EEXIST if the name is taken.
 */
int memattr_backend_register(struct memattr_backend *be);

/**
 * memattr_backend_unregister() - withdraw a backend
 * @be: a registered backend
 *
 * Objects already using @be keep it (they pin @be->owner, so a module can
 * only unregister from its exit path once they are gone).  May sleep.
 */
void memattr_backend_unregister(struct memattr_backend *be);

#endif /* _VMEMKIT_MEMATTR_H */
