// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint: free page hinting (VIRTIO_BALLOON_F_FREE_PAGE_HINT).
 *
 * The host starts a round by writing a new command id to config (QEMU does
 * so after every dirty-bitmap sync of a migration).  The driver answers with
 * a start marker carrying that id, then hands over free blocks it allocated
 * (in-bufs on the free page virtqueue), then a stop marker.  A newer id
 * arriving during a round starts a new round at once (stop marker, start
 * marker with the new id, held blocks hinted again, then new ones): hints
 * given for the old id do not count for the new pass.  A hint means
 * "this block was free at some time after the id was issued".
 *
 * What the driver assumes of the host: it may act on a hint (QEMU skips
 * sending the block; another host could discard or replace the memory)
 * from the moment the buffer is queued until it returns the buffer, and
 * not after that.  So a block is given back to the allocator only once
 * every hint queued for it came back (page->private counts them, see
 * bh_block_get()): the shrinker and the OOM notifier pass over blocks still
 * queued, DONE frees the others and leaves those to bh_hint_reap_work(),
 * and free page reporting waits for the hints of its blocks before it
 * returns them to the free lists (bh_hint_reported_wait()).  Only a device
 * reset (removal, freeze) frees blocks whose hints are queued: the host
 * then forgets every buffer.  Once the host returned a hint, a later guest
 * write must count (QEMU catches it in its next dirty sync), as the spec
 * requires.  The driver holds the blocks so that it does not allocate and
 * hint the same memory again, and frees them when the host writes DONE.
 *
 * Improvements over the in-tree driver:
 *   - orders fall back from MAX_PAGE_ORDER to bh_hint_min_order (pageblock
 *     order by default), so a fragmented guest still hints;
 *   - bh_hint_batch blocks per kick instead of one;
 *   - a helper on a second CPU allocates blocks beside the round's work
 *     (bh_hint_helper).  Allocation costs about as much as zeroing the
 *     block (init_on_alloc), QEMU sends whatever it reaches before the
 *     hint, and a hint round is otherwise bound to one CPU;
 *   - free blocks that page reporting takes off the free lists while a
 *     round is open are hinted too (bh_hint_reported): they cost no
 *     allocation and no zeroing, and they are often the memory freed
 *     last, whose old contents QEMU would otherwise send.  Not when free
 *     pages must keep their contents (init_on_free, page poisoning):
 *     those blocks go back to the free lists unzeroed, with whatever the
 *     destination had there;
 *   - each new round re-hints the blocks already held.  Allocation zeroes a
 *     block under init_on_alloc (Debian's default) and there is no way for
 *     a module to allocate without it, so the first hint of a block dirties
 *     it once; re-hinting it in every later round clears that dirt before
 *     the host sends the block again (as a zero page).
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/swap.h>

#include "balloon_hint.h"

/*
 * Only memory that is free right now: no reclaim, no compaction, no
 * emergency reserves, no warning when a block is not there.
 */
#define BH_HINT_GFP	((GFP_KERNEL & ~__GFP_RECLAIM) | __GFP_NORETRY | \
			 __GFP_NOWARN | __GFP_NOMEMALLOC)
/* Given back per call of the OOM notifier (a few reclaim passes' worth). */
#define BH_HINT_OOM_PAGES	(SZ_16M >> PAGE_SHIFT)
/* Polling step while waiting for the host to return descriptors. */
#define BH_STALL_STEP_MS	10

/*
 * A held block's page->private, under hint_lock: its order in the low
 * BH_BLOCK_ORDER_BITS bits, and above them how many of its hints are
 * queued (on the free page virtqueue and not yet returned by the host, or
 * about to be added there by the round that reserved the block).
 */
#define BH_BLOCK_ORDER_BITS	8
#define BH_BLOCK_QUEUED		BIT(BH_BLOCK_ORDER_BITS)

/* How bh_hint_free() picks the blocks it frees. */
enum bh_free_mode {
	BH_FREE_RETURNED,	/* blocks with no hint queued */
	BH_FREE_AFTER_DONE,	/* the same, while DONE's release is due */
	BH_FREE_RESET,		/* every block: the device was reset */
};

static unsigned int bh_block_order(struct page *page)
{
	return page_private(page) & (BH_BLOCK_QUEUED - 1);
}

static bool bh_block_queued(struct page *page)
{
	return page_private(page) >= BH_BLOCK_QUEUED;
}

/* One more hint of a held block queued, or about to be; hint_lock held. */
static void bh_block_get(struct bh_dev *bh, struct page *page)
{
	lockdep_assert_held(&bh->hint_lock);
	if (!bh_block_queued(page))
		atomic_long_add(1L << bh_block_order(page), &bh->hint_inflight);
	set_page_private(page, page_private(page) + BH_BLOCK_QUEUED);
}

/* The host returned a hint of the block, or it was never queued. */
static void bh_block_put(struct bh_dev *bh, struct page *page)
{
	lockdep_assert_held(&bh->hint_lock);
	set_page_private(page, page_private(page) - BH_BLOCK_QUEUED);
	if (!bh_block_queued(page))
		atomic_long_sub(1L << bh_block_order(page), &bh->hint_inflight);
}

static void bh_block_unqueue(struct bh_dev *bh, struct page *page)
{
	spin_lock(&bh->hint_lock);
	bh_block_put(bh, page);
	spin_unlock(&bh->hint_lock);
}

/*
 * The command id from config, read once per config change.  QEMU shows the
 * id only while it waits for our start marker: once it took the marker it
 * reports STOP (0) in config although the round goes on, so re-reading
 * config during a round would end every round after its first few blocks.
 * A config change (STOP, a new id, DONE, or a balloon target) marks the
 * cache stale.
 *
 * Only the holder of hint_round_lock reads config.  With two readers a
 * slower one could store an older id over the newer one another had just
 * read, and with the stale bit cleared that round would be lost; the
 * helper reads the cached value instead (bh_hint_should_stop()).
 * @in_round: the caller is a round under way (between its markers), so a
 * read here means a config change arrived mid-round: counted apart, so
 * that a test knows when the round has seen one.
 */
static u32 bh_hint_cmd_id(struct bh_dev *bh, bool in_round)
{
	u32 id;

	lockdep_assert_held(&bh->hint_round_lock);
	if (test_and_clear_bit(BH_CMD_ID_STALE, &bh->hint_flags)) {
		virtio_cread_le(bh->vdev, struct virtio_balloon_config,
				free_page_hint_cmd_id, &id);
		WRITE_ONCE(bh->cmd_id_received, id);
		atomic64_inc(&bh->st.cmd_id_reads);
		if (in_round)
			atomic64_inc(&bh->st.mid_round_reads);
	}
	return bh->cmd_id_received;
}

void bh_hint_vq_done(struct virtqueue *vq)
{
	struct bh_dev *bh = vq->vdev->priv;

	atomic_inc(&bh->hint_vq_events);
	wake_up(&bh->hint_wait);
	/* A round takes used buffers back itself; between rounds nobody does. */
	if (!READ_ONCE(bh->hint_open))
		bh_queue(bh, &bh->hint_reap_work);
}

/*
 * Detach used buffers; returns how many.  A block whose every hint came
 * back may be freed from now on; it stays on hint_list.  The tokens: the
 * two markers, report_hints_out for a reported block, the page of a held
 * block (held until its hints are back, so still ours).
 */
static unsigned int bh_hint_reclaim(struct bh_dev *bh)
{
	unsigned int len, n = 0;
	void *token;

	lockdep_assert_held(&bh->hint_vq_lock);
	while ((token = virtqueue_get_buf(bh->hint_vq, &len))) {
		if (token == &bh->cmd_id_active)
			bh->start_inflight = false;
		else if (token == &bh->report_hints_out)
			bh->report_hints_out--;
		else if (token != &bh->cmd_id_stop)
			bh_block_unqueue(bh, token);
		n++;
	}
	return n;
}

/*
 * Take back what the host returned, for the shrinker and the OOM notifier
 * (reclaim context): only if hint_vq_lock is free, without waiting for
 * it.  Its holders never wait for the host or allocate with it held, but
 * one of them may be the task that is reclaiming.
 */
static void bh_hint_reclaim_try(struct bh_dev *bh)
{
	if (!mutex_trylock(&bh->hint_vq_lock))
		return;
	/* Not from the queues a freeze deleted, before restore made new. */
	if (!bh->vqs_dead)
		bh_hint_reclaim(bh);
	mutex_unlock(&bh->hint_vq_lock);
}

/*
 * Kick the host, hint_vq_lock held.  The notification itself goes out
 * without the lock: a host may take its time over it (QEMU serves it in
 * the notifying vCPU's thread; the fake device can hold it there), and
 * meanwhile the shrinker and free page reporting need the lock to take
 * back what the host returned.  Callers rely on nothing they saw under the
 * lock before the kick.
 */
static void bh_hint_kick(struct bh_dev *bh)
{
	bool notify;

	lockdep_assert_held(&bh->hint_vq_lock);
	notify = virtqueue_kick_prepare(bh->hint_vq);
	atomic64_inc(&bh->st.kicks);
	bh->hint_pending = 0;
	if (!notify)
		return;
	mutex_unlock(&bh->hint_vq_lock);
	virtqueue_notify(bh->hint_vq);
	mutex_lock(&bh->hint_vq_lock);
}

static bool bh_hint_has_room(struct bh_dev *bh, unsigned int need)
{
	return bh->hint_vq->num_free >= need;
}

static bool bh_hint_start_used(struct bh_dev *bh, unsigned int unused)
{
	return !bh->start_inflight;
}

/*
 * One polling step of bh_hint_wait(), without hint_vq_lock: until the
 * queue's callback ran since it counted @events, removal began, or
 * BH_STALL_STEP_MS passed.
 */
static void bh_hint_sleep(struct bh_dev *bh, int events)
{
	mutex_unlock(&bh->hint_vq_lock);
	wait_event_timeout(bh->hint_wait,
			   READ_ONCE(bh->hint_stopping) ||
			   atomic_read(&bh->hint_vq_events) != events,
			   msecs_to_jiffies(BH_STALL_STEP_MS));
	mutex_lock(&bh->hint_vq_lock);
}

/*
 * Wait until @done(@bh, @arg) holds, taking back used buffers meanwhile;
 * give up once the host returned nothing for bh_hint_stall_ms.  Called and
 * returns with hint_vq_lock held, but sleeps without it: free page
 * reporting (bh_hint_reported()) and the round's other worker must not
 * wait behind a host that may stay silent for seconds.  Whatever they add
 * meanwhile, @done is checked again under the lock.
 */
static int bh_hint_wait(struct bh_dev *bh,
			bool (*done)(struct bh_dev *bh, unsigned int arg),
			unsigned int arg)
{
	unsigned long stall = msecs_to_jiffies(bh_hint_stall_ms);
	unsigned long last = jiffies;
	int events;

	lockdep_assert_held(&bh->hint_vq_lock);
	while (!done(bh, arg)) {
		if (READ_ONCE(bh->hint_stopping))
			return -ESHUTDOWN;
		if (time_after(jiffies, last + stall)) {
			atomic64_inc(&bh->st.host_stalls);
			return -ETIMEDOUT;
		}
		events = atomic_read(&bh->hint_vq_events);
		bh_hint_sleep(bh, events);
		/* The host answered, if perhaps to the other worker. */
		if (bh_hint_reclaim(bh) ||
		    atomic_read(&bh->hint_vq_events) != events)
			last = jiffies;
	}
	return 0;
}

/*
 * Make room for one more descriptor, keeping one back for the stop marker
 * when @reserve.
 */
static int bh_hint_room(struct bh_dev *bh, bool reserve)
{
	unsigned int need = reserve ? 2 : 1;

	bh_hint_reclaim(bh);
	if (bh_hint_has_room(bh, need))
		return 0;
	atomic64_inc(&bh->st.vq_full);
	bh_hint_kick(bh);
	return bh_hint_wait(bh, bh_hint_has_room, need);
}

static int bh_hint_wait_start_used(struct bh_dev *bh)
{
	int err;

	mutex_lock(&bh->hint_vq_lock);
	bh_hint_reclaim(bh);
	err = bh_hint_wait(bh, bh_hint_start_used, 0);
	mutex_unlock(&bh->hint_vq_lock);
	return err;
}

/* Queue a marker and kick (with the blocks still pending, if any). */
static int bh_hint_marker(struct bh_dev *bh, __virtio32 *marker)
{
	struct scatterlist sg;
	int err;

	mutex_lock(&bh->hint_vq_lock);
	WRITE_ONCE(bh->hint_open, false);
	err = bh_hint_room(bh, false);
	if (err)
		goto out_unlock;
	sg_init_one(&sg, marker, sizeof(*marker));
	err = virtqueue_add_outbuf(bh->hint_vq, &sg, 1, marker, GFP_KERNEL);
	if (err)
		goto out_unlock;
	if (marker == &bh->cmd_id_active) {
		bh->start_inflight = true;
		WRITE_ONCE(bh->hint_open, true);
	}
	bh_hint_kick(bh);
out_unlock:
	mutex_unlock(&bh->hint_vq_lock);
	return err;
}

/*
 * Queue the block of order @order at @page, a held block the caller
 * counted as queued (bh_block_get()), so that nothing frees it meanwhile;
 * kick once per bh_hint_batch blocks.  On failure it is not queued.
 */
static int bh_hint_add(struct bh_dev *bh, struct page *page,
		       unsigned int order)
{
	struct scatterlist sg;
	int err;

	mutex_lock(&bh->hint_vq_lock);
	err = bh_hint_room(bh, true);
	if (err)
		goto out_unlock;
	sg_init_table(&sg, 1);
	sg_set_page(&sg, page, PAGE_SIZE << order, 0);
	err = virtqueue_add_inbuf(bh->hint_vq, &sg, 1, page, GFP_KERNEL);
	if (err)
		goto out_unlock;
	if (++bh->hint_pending >= bh_hint_batch)
		bh_hint_kick(bh);
out_unlock:
	mutex_unlock(&bh->hint_vq_lock);
	return err;
}

/*
 * Cut the round short for @why, counting it in @counter once per round:
 * both hinting CPUs see the same cause.
 */
static int bh_hint_cut(struct bh_dev *bh, int why, atomic64_t *counter)
{
	if (!atomic_cmpxchg(&bh->hint_cut, 0, why))
		atomic64_inc(counter);
	return why;
}

/*
 * Why the current round must end, or 0 to go on: -EAGAIN for a new id (a
 * new round follows), -ECANCELED for DONE (bh_hint_work handles it next).
 *
 * STOP read during a round does not end it.  From QEMU it is what config
 * shows for the whole round once our start marker was taken, and a config
 * change for any reason (a second notification of the sync that issued
 * this id, a balloon target) makes us read it; ending the round then left
 * it a few MiB long.  A real STOP from the host (before its next dirty
 * sync) always comes with a new id or DONE right after, which end the
 * round; blocks hinted in between are ignored by the host and hinted
 * again for the new id.
 */
static int bh_hint_should_stop(struct bh_dev *bh, u32 id, bool helper)
{
	u32 now;

	if (READ_ONCE(bh->hint_stopping))
		return -ESHUTDOWN;
	if (atomic_read(&bh->hint_pressure))
		return bh_hint_cut(bh, -ENOMEM, &bh->st.pressure_stops);
	/* The helper goes by what the round's worker last read. */
	now = helper ? READ_ONCE(bh->cmd_id_received) :
		       bh_hint_cmd_id(bh, true);
	if (now == id || now == VIRTIO_BALLOON_CMD_ID_STOP)
		return 0;
	if (now == VIRTIO_BALLOON_CMD_ID_DONE)
		return -ECANCELED;
	return bh_hint_cut(bh, -EAGAIN, &bh->st.id_changed_mid_round);
}

/**
 * bh_hint_reported - hint blocks free page reporting isolated
 * @bh: the device
 * @sgl: the blocks, as handed to the reporting callback
 * @nents: how many
 *
 * The blocks are free and off the free lists now, so while a round is
 * open (after our start marker for the current id) a hint for them is
 * true; the host needs only their address.  They go back to the free
 * lists when the reporting callback returns, which must wait for the host
 * to return these hints first (bh_hint_reported_wait()).  So only while
 * the host answers this round (it returned the start marker): a host
 * that stopped answering would hold reporting up.  Best effort: whatever
 * finds no room in the virtqueue is not hinted.
 *
 * Return: how many blocks were hinted.
 */
unsigned int bh_hint_reported(struct bh_dev *bh, struct scatterlist *sgl,
			      unsigned int nents)
{
	struct scatterlist *s, one;
	unsigned int i, n = 0;
	u64 bytes = 0;

	if (!bh->hint_vq)
		return 0;
	/*
	 * A hinted block is not sent, so at the destination it holds whatever
	 * that memory held there: zeroes, or an older pass's data.  Held
	 * blocks are freed at DONE through the allocator, which zeroes or
	 * poisons them again; a reported block goes back to the free lists as
	 * it is.  When free pages must keep their contents (init_on_free: the
	 * allocator then hands them out as zeroed; poisoning: it checks the
	 * pattern), the destination would hand out stale data as zeroes.
	 */
	if (want_init_on_free() || page_poisoning_enabled_static())
		return 0;
	mutex_lock(&bh->hint_vq_lock);
	bh_hint_reclaim(bh);
	/* Not once removal began: the round it belonged to is over. */
	if (!bh->hint_open || bh->start_inflight ||
	    READ_ONCE(bh->hint_stopping))
		goto out_unlock;
	for_each_sg(sgl, s, nents, i) {
		/* Keep a descriptor for the stop marker. */
		if (!bh_hint_has_room(bh, 2))
			break;
		sg_init_table(&one, 1);
		sg_set_page(&one, sg_page(s), s->length, s->offset);
		if (virtqueue_add_inbuf(bh->hint_vq, &one, 1,
					&bh->report_hints_out, GFP_KERNEL))
			break;
		bh->report_hints_out++;
		bytes += s->length;
		n++;
	}
	if (n) {
		atomic64_add(bytes, &bh->st.report_hinted_bytes);
		bh_hint_kick(bh);
	}
out_unlock:
	mutex_unlock(&bh->hint_vq_lock);
	return n;
}

/**
 * bh_hint_reported_wait - wait for the host to return the hints of reported blocks
 * @bh: the device
 *
 * Called by the reporting callback that hinted its blocks, before it
 * returns them to the free lists.  There is no time limit: until the host
 * returns the hints it may still act on them, and the blocks could by then
 * be in use.  A host that stays silent for hint_stall_ms counts in
 * host_stalls (once per such period) and holds page reporting up, nothing
 * else; the wait ends when the device is reset (removal, freeze), after
 * which the host has forgotten every buffer.
 */
void bh_hint_reported_wait(struct bh_dev *bh)
{
	unsigned long stall = max(msecs_to_jiffies(bh_hint_stall_ms), 1UL);
	int events;

	mutex_lock(&bh->hint_vq_lock);
	for (;;) {
		/* Read first: a callback after it ends the wait below. */
		events = atomic_read(&bh->hint_vq_events);
		bh_hint_reclaim(bh);
		if (!bh->report_hints_out || READ_ONCE(bh->vqs_dead))
			break;
		mutex_unlock(&bh->hint_vq_lock);
		if (!wait_event_timeout(bh->hint_wait,
					READ_ONCE(bh->vqs_dead) ||
					atomic_read(&bh->hint_vq_events) != events,
					stall))
			atomic64_inc(&bh->st.host_stalls);
		mutex_lock(&bh->hint_vq_lock);
	}
	mutex_unlock(&bh->hint_vq_lock);
}

/*
 * Hint the @left pages held from earlier rounds again.  Each block is
 * picked and counted as queued under hint_lock, so nothing frees it until
 * the host returned this hint too.
 */
static int bh_hint_rehint_held(struct bh_dev *bh, u32 id, long left)
{
	unsigned int order = 0;
	struct page *page;
	int err;

	while (left > 0) {
		err = bh_hint_should_stop(bh, id, false);
		if (err)
			return err;
		spin_lock(&bh->hint_lock);
		page = list_first_entry_or_null(&bh->hint_list, struct page,
						lru);
		if (page) {
			order = bh_block_order(page);
			bh_block_get(bh, page);
			list_move_tail(&page->lru, &bh->hint_list);
		}
		spin_unlock(&bh->hint_lock);
		if (!page)
			return 0;
		left -= 1L << order;
		err = bh_hint_add(bh, page, order);
		if (err) {
			bh_block_unqueue(bh, page);
			return err;
		}
		atomic64_inc(&bh->st.rehinted_blocks);
	}
	return 0;
}

/*
 * Allocate free blocks, largest order first, and hint them.  The helper
 * (@helper) also stops, with 0, once hint_work ended the round.
 */
static int bh_hint_new_blocks(struct bh_dev *bh, u32 id, bool helper)
{
	unsigned int order = MAX_PAGE_ORDER + 1;
	struct page *page;
	int err;

	while (order-- > bh_hint_min_order) {
		for (;;) {
			if (helper && READ_ONCE(bh->hint_helper_quit))
				return 0;
			err = bh_hint_should_stop(bh, id, helper);
			if (err)
				return err;
			page = alloc_pages(BH_HINT_GFP, order);
			if (!page) {
				atomic64_inc(&bh->st.alloc_fail_order[order]);
				break;
			}
			/*
			 * Held, and counted as queued: nothing frees it
			 * before the host returned its hint.
			 */
			set_page_private(page, order);
			spin_lock(&bh->hint_lock);
			bh_block_get(bh, page);
			list_add_tail(&page->lru, &bh->hint_list);
			atomic_long_add(1L << order, &bh->hint_held);
			spin_unlock(&bh->hint_lock);
			err = bh_hint_add(bh, page, order);
			if (err) {
				/*
				 * Not queued (the host stopped answering):
				 * never hinted, so not held either.
				 */
				spin_lock(&bh->hint_lock);
				bh_block_put(bh, page);
				list_del(&page->lru);
				atomic_long_sub(1L << order, &bh->hint_held);
				spin_unlock(&bh->hint_lock);
				set_page_private(page, 0);
				__free_pages(page, order);
				return err;
			}
			atomic64_inc(&bh->st.blocks_order[order]);
			atomic64_add(PAGE_SIZE << order, &bh->st.bytes_hinted);
			if (helper)
				atomic64_inc(&bh->st.helper_blocks);
		}
	}
	return 0;
}

/*
 * The first block bh_hint_free() may free now, or NULL; hint_lock held.
 * Blocks with hints queued gather at the list's tail (new and re-hinted
 * blocks go there), so the walk is short unless the host holds most.
 */
static struct page *bh_hint_pick(struct bh_dev *bh, enum bh_free_mode mode)
{
	struct page *page;

	lockdep_assert_held(&bh->hint_lock);
	if (mode == BH_FREE_AFTER_DONE &&
	    !test_bit(BH_HINT_RELEASE, &bh->hint_flags))
		return NULL;
	list_for_each_entry(page, &bh->hint_list, lru)
		if (mode == BH_FREE_RESET || !bh_block_queued(page))
			return page;
	return NULL;
}

/*
 * Free up to @nr held pages, block by block, the blocks @mode allows.
 * @counter grows block by block, so held_pages plus the returned_*
 * counters always add up to what was allocated, even while a large
 * release is under way (with init_on_free each block is zeroed as it goes
 * back: seconds for a whole guest's free memory under TCG).  Returns the
 * pages freed.
 */
static unsigned long bh_hint_free(struct bh_dev *bh, unsigned long nr,
				  atomic64_t *counter, enum bh_free_mode mode)
{
	unsigned long freed = 0;
	unsigned int order;
	struct page *page;

	while (freed < nr) {
		spin_lock(&bh->hint_lock);
		page = bh_hint_pick(bh, mode);
		if (page) {
			list_del(&page->lru);
			order = bh_block_order(page);
			/* After a reset: the host forgot the hints. */
			if (bh_block_queued(page))
				atomic_long_sub(1L << order,
						&bh->hint_inflight);
			/* Together, so readers never see the block in neither. */
			atomic_long_sub(1L << order, &bh->hint_held);
			atomic64_add(1UL << order, counter);
		}
		spin_unlock(&bh->hint_lock);
		if (!page)
			break;
		set_page_private(page, 0);
		__free_pages(page, order);
		freed += 1UL << order;
		cond_resched();
	}
	return freed;
}

/**
 * bh_hint_release - free up to @nr held pages whose hints all came back
 * @bh: the device
 * @nr: pages wanted (ULONG_MAX: all there are)
 * @counter: statistic to add the freed pages to
 *
 * Blocks with a hint still queued are passed over, not waited for: the
 * host may still act on those hints, and the callers (DONE, the shrinker,
 * the OOM notifier) must not sleep on a host that may take seconds to
 * answer, or never do.  From any context that may sleep.
 *
 * Return: pages freed.
 */
unsigned long bh_hint_release(struct bh_dev *bh, unsigned long nr,
			      atomic64_t *counter)
{
	return bh_hint_free(bh, nr, counter, BH_FREE_RETURNED);
}

/**
 * bh_hint_release_reset - free every held page, the device being reset
 * @bh: the device
 *
 * After virtio_reset_device() (removal, freeze): the host forgot every
 * buffer, so no hint is queued any more.  Counted in returned_remove.
 *
 * Return: pages freed.
 */
unsigned long bh_hint_release_reset(struct bh_dev *bh)
{
	return bh_hint_free(bh, ULONG_MAX, &bh->st.returned_remove,
			    BH_FREE_RESET);
}

/*
 * Used buffers came back while no round was open (queued by the hint
 * virtqueue's callback): take them back, so that the shrinker sees the
 * blocks it may free, and free the blocks DONE had to leave behind whose
 * hints have all come back now.
 */
void bh_hint_reap_work(struct work_struct *work)
{
	struct bh_dev *bh = container_of(work, struct bh_dev, hint_reap_work);

	mutex_lock(&bh->hint_vq_lock);
	bh_hint_reclaim(bh);
	mutex_unlock(&bh->hint_vq_lock);
	bh_hint_free(bh, ULONG_MAX, &bh->st.returned_done, BH_FREE_AFTER_DONE);
}

void bh_hint_helper_work(struct work_struct *work)
{
	struct bh_dev *bh = container_of(work, struct bh_dev,
					 hint_helper_work);

	bh->hint_helper_err = bh_hint_new_blocks(bh, bh->hint_helper_id, true);
}

/*
 * New blocks for @id, from this CPU and, when @helper and there is another
 * one, from hint_helper_work on it (on hint_helper_wq, which is not
 * freezable: it runs only while we wait for it here).
 */
static int bh_hint_new_blocks_all(struct bh_dev *bh, u32 id, bool helper)
{
	int err;

	helper = helper && num_online_cpus() > 1;

	if (helper) {
		bh->hint_helper_id = id;
		bh->hint_helper_err = 0;
		WRITE_ONCE(bh->hint_helper_quit, false);
		queue_work(bh->hint_helper_wq, &bh->hint_helper_work);
	}
	err = bh_hint_new_blocks(bh, id, false);
	if (!helper)
		return err;
	if (err)
		WRITE_ONCE(bh->hint_helper_quit, true);
	flush_work(&bh->hint_helper_work);
	return err ?: bh->hint_helper_err;
}

/*
 * One round for @id: start marker, held blocks, new blocks (with the
 * helper when @helper), stop marker.  Returns why the blocks ended
 * (-EAGAIN: a new id is waiting) or 0.
 */
static int bh_hint_one_round(struct bh_dev *bh, u32 id, bool helper)
{
	long held;
	int err;

	/* The previous start marker must be used before we rewrite it. */
	err = bh_hint_wait_start_used(bh);
	if (err)
		return err;

	bh->hint_last_id = id;
	atomic64_inc(&bh->st.rounds);
	atomic_set(&bh->hint_pressure, 0);
	atomic_set(&bh->hint_cut, 0);
	bh->cmd_id_active = cpu_to_virtio32(bh->vdev, id);
	err = bh_hint_marker(bh, &bh->cmd_id_active);
	if (err)
		return err;

	/*
	 * A new round: the blocks an earlier DONE left with hints queued are
	 * held for it, not freed when those come back.  Together with the
	 * count, so that bh_hint_reap_work() frees none of the blocks counted.
	 */
	spin_lock(&bh->hint_lock);
	clear_bit(BH_HINT_RELEASE, &bh->hint_flags);
	held = atomic_long_read(&bh->hint_held);
	spin_unlock(&bh->hint_lock);
	if (bh_hint_rehint)
		err = bh_hint_rehint_held(bh, id, held);
	if (!err)
		err = bh_hint_new_blocks_all(bh, id, helper);

	if (READ_ONCE(bh->hint_stopping))
		return -ESHUTDOWN;
	bh->cmd_id_stop = cpu_to_virtio32(bh->vdev, VIRTIO_BALLOON_CMD_ID_STOP);
	if (!bh_hint_marker(bh, &bh->cmd_id_stop))
		atomic64_inc(&bh->st.stops_sent);
	return err;
}

/* Act on the command id in config: a round, DONE, STOP or nothing. */
static void bh_hint_answer(struct bh_dev *bh, bool helper)
{
	u32 id;

	mutex_lock(&bh->hint_round_lock);
	id = bh_hint_cmd_id(bh, false);
	if (id == bh->hint_last_id)
		goto out_unlock;
	if (id == VIRTIO_BALLOON_CMD_ID_DONE) {
		bh->hint_last_id = id;
		atomic64_inc(&bh->st.done_seen);
		/*
		 * The blocks whose hints the host still holds go when it
		 * returns them (bh_hint_reap_work()), unless a new round
		 * comes first.
		 */
		set_bit(BH_HINT_RELEASE, &bh->hint_flags);
		mutex_lock(&bh->hint_vq_lock);
		bh_hint_reclaim(bh);
		mutex_unlock(&bh->hint_vq_lock);
		bh_hint_release(bh, ULONG_MAX, &bh->st.returned_done);
		goto out_unlock;
	}
	if (id == VIRTIO_BALLOON_CMD_ID_STOP) {
		bh->hint_last_id = id;
		atomic64_inc(&bh->st.stop_seen);
		goto out_unlock;
	}
	atomic64_inc(&bh->st.cmd_ids);
	/*
	 * A newer id ended the round.  The host may have withdrawn it since
	 * (STOP, DONE, yet another id): start over from config in hint_work,
	 * which also lets the freezer and other work in between.
	 */
	if (bh_hint_one_round(bh, id, helper) == -EAGAIN)
		bh_queue(bh, &bh->hint_work);
out_unlock:
	mutex_unlock(&bh->hint_round_lock);
}

void bh_hint_work(struct work_struct *work)
{
	struct bh_dev *bh = container_of(work, struct bh_dev, hint_work);

	bh_hint_answer(bh, bh_hint_helper);
}

/**
 * bh_hint_now - answer the command id in config now, in the caller's context
 * @bh: the device
 *
 * The debug trigger (debugfs "hint"): what hint_work does on a config
 * change, config read again, but in the task that writes the trigger and
 * without the helper, so that every block of the round is allocated by
 * that task (fault injection through its fail-nth reaches them all).
 * Returns once the round, and any newer id's round, ended.
 */
void bh_hint_now(struct bh_dev *bh)
{
	set_bit(BH_CMD_ID_STALE, &bh->hint_flags);
	bh_hint_answer(bh, false);
}

/* Only the blocks whose hints all came back can be freed. */
static unsigned long bh_hint_count(struct shrinker *s,
				   struct shrink_control *sc)
{
	struct bh_dev *bh = s->private_data;
	long n;

	bh_hint_reclaim_try(bh);
	n = atomic_long_read(&bh->hint_held) -
	    atomic_long_read(&bh->hint_inflight);
	return max(n, 0L);
}

/*
 * Reclaim counts as progress what it freed from the LRU lists and what
 * is added to its reclaim_state: blocks freed here must be reported
 * there.  Without that, direct reclaim saw no progress at any priority,
 * and its last passes (priority 0 asks for twice the count) took every
 * held block back for an allocation of a few pages.  Blocks whose hints
 * the host has not returned are passed over (bh_hint_release()): reclaim
 * comes back, and a host that answers returns them within a kick's time.
 */
static unsigned long bh_hint_scan(struct shrinker *s, struct shrink_control *sc)
{
	struct bh_dev *bh = s->private_data;
	unsigned long freed;

	/* Stop the running round from taking the memory straight back. */
	atomic_set(&bh->hint_pressure, 1);
	bh_hint_reclaim_try(bh);
	freed = bh_hint_release(bh, sc->nr_to_scan, &bh->st.returned_shrinker);
	mm_account_reclaimed_pages(freed);
	return freed;
}

/*
 * The page allocator decides on OOM without the shrinker's help: it asks
 * whether free memory plus what is on the LRU lists would reach the min
 * watermark, and held blocks are on neither.  With no swap and little
 * page cache, a reclaim pass that brought one block back (reclaim stops
 * at its first few pages) could leave free memory below a min watermark
 * raised by watermark boosting (movable allocations falling back into the
 * pageblocks freed blocks leave as unmovable), and the OOM killer ran
 * with hundreds of MiB still held.  Before it picks a victim it calls
 * this: give back a slice of what is held, and the allocation is retried.
 * The pages count in returned_shrinker too (memory pressure took them).
 * Only blocks whose hints came back, as for the shrinker: a host holding
 * hints keeps their blocks from the OOM killer's victim too.
 */
static int bh_hint_oom_notify(struct notifier_block *nb, unsigned long dummy,
			      void *parm)
{
	struct bh_dev *bh = container_of(nb, struct bh_dev, hint_oom_nb);
	unsigned long *freed = parm, n;

	atomic_set(&bh->hint_pressure, 1);
	bh_hint_reclaim_try(bh);
	n = bh_hint_release(bh, BH_HINT_OOM_PAGES, &bh->st.returned_shrinker);
	atomic64_add(n, &bh->st.returned_oom);
	*freed += n;
	return NOTIFY_OK;
}

int bh_hint_shrinker_register(struct bh_dev *bh)
{
	int err;

	bh->shrinker = shrinker_alloc(0, "balloon_hint-%s",
				      dev_name(&bh->vdev->dev));
	if (!bh->shrinker)
		return -ENOMEM;
	bh->shrinker->count_objects = bh_hint_count;
	bh->shrinker->scan_objects = bh_hint_scan;
	bh->shrinker->private_data = bh;
	shrinker_register(bh->shrinker);

	bh->hint_oom_nb.notifier_call = bh_hint_oom_notify;
	err = register_oom_notifier(&bh->hint_oom_nb);
	if (err)
		goto err_free_shrinker;
	return 0;

err_free_shrinker:
	shrinker_free(bh->shrinker);
	return err;
}

void bh_hint_shrinker_unregister(struct bh_dev *bh)
{
	unregister_oom_notifier(&bh->hint_oom_nb);
	shrinker_free(bh->shrinker);
}

/*
 * Make a running round give up at its next step (device removal, freeze);
 * no new round starts until bh_hint_resume().
 */
void bh_hint_stop(struct bh_dev *bh)
{
	WRITE_ONCE(bh->hint_stopping, true);
	wake_up(&bh->hint_wait);
}

/*
 * After a restore: the device was reset and its new free page virtqueue is
 * empty, so no round is open and no marker or hint in flight.  The last id stays
 * answered (its blocks went back at freeze): a host that wants hints after
 * the reset issues a new id, as in-tree expects too.  hint_work is not
 * running (cancelled at freeze, not queued again yet).
 */
void bh_hint_resume(struct bh_dev *bh)
{
	mutex_lock(&bh->hint_vq_lock);
	bh->start_inflight = false;
	WRITE_ONCE(bh->hint_open, false);
	bh->hint_pending = 0;
	bh->report_hints_out = 0;
	mutex_unlock(&bh->hint_vq_lock);
	set_bit(BH_CMD_ID_STALE, &bh->hint_flags);
	WRITE_ONCE(bh->hint_stopping, false);
}
