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
 * "this block was free at some time after the id was issued": the host may
 * skip sending it in the current pass, and any later guest write is caught
 * by the next sync.  So a held block may be freed at any moment (the
 * shrinker does so under memory pressure); the driver holds the blocks only
 * so that it does not allocate and hint the same memory again in the round,
 * and frees them all when the host writes DONE.
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
}

/* Detach used buffers; returns how many.  The pages stay on hint_list. */
static unsigned int bh_hint_reclaim(struct bh_dev *bh)
{
	unsigned int len, n = 0;
	void *token;

	lockdep_assert_held(&bh->hint_vq_lock);
	while ((token = virtqueue_get_buf(bh->hint_vq, &len))) {
		if (token == &bh->cmd_id_active)
			bh->start_inflight = false;
		n++;
	}
	return n;
}

/*
 * Kick the host, hint_vq_lock held.  The notification itself goes out
 * without the lock: a host may take its time over it (QEMU serves it in
 * the notifying vCPU's thread; the fake device can hold it there), and
 * meanwhile free page reporting and the other hinting worker need the
 * lock.  Callers rely on nothing they saw under the lock before the kick.
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
	bh->hint_open = false;
	err = bh_hint_room(bh, false);
	if (err)
		goto out_unlock;
	sg_init_one(&sg, marker, sizeof(*marker));
	err = virtqueue_add_outbuf(bh->hint_vq, &sg, 1, marker, GFP_KERNEL);
	if (err)
		goto out_unlock;
	if (marker == &bh->cmd_id_active) {
		bh->start_inflight = true;
		bh->hint_open = true;
	}
	bh_hint_kick(bh);
out_unlock:
	mutex_unlock(&bh->hint_vq_lock);
	return err;
}

/*
 * Queue the block of order @order at @page; kick once per bh_hint_batch
 * blocks.  Only the block's address is used here, never its struct page:
 * a held block being hinted again may have been freed by the shrinker
 * since it was picked (see bh_hint_rehint_held()).
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
 * true; the host needs only their address, and any write after they go
 * back to the free lists is caught by its next dirty sync.  Best effort:
 * whatever finds no room in the virtqueue is not hinted.
 */
void bh_hint_reported(struct bh_dev *bh, struct scatterlist *sgl,
		      unsigned int nents)
{
	struct scatterlist *s, one;
	unsigned int i, n = 0;
	u64 bytes = 0;

	if (!bh->hint_vq)
		return;
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
		return;
	mutex_lock(&bh->hint_vq_lock);
	/* Not once removal began: the round it belonged to is over. */
	if (!bh->hint_open || READ_ONCE(bh->hint_stopping))
		goto out_unlock;
	bh_hint_reclaim(bh);
	for_each_sg(sgl, s, nents, i) {
		/* Keep a descriptor for the stop marker. */
		if (!bh_hint_has_room(bh, 2))
			break;
		sg_init_table(&one, 1);
		sg_set_page(&one, sg_page(s), s->length, s->offset);
		if (virtqueue_add_inbuf(bh->hint_vq, &one, 1, sg_page(s),
					GFP_KERNEL))
			break;
		bytes += s->length;
		n++;
	}
	if (n) {
		atomic64_add(bytes, &bh->st.report_hinted_bytes);
		bh_hint_kick(bh);
	}
out_unlock:
	mutex_unlock(&bh->hint_vq_lock);
}

/*
 * Hint the blocks held from earlier rounds again.  Each is picked under
 * hint_lock, so it was still held after the current id was issued; should
 * the shrinker free it right after, the hint is still true.  But then its
 * page may be reused at once, and its page_private() becomes whatever the
 * new owner keeps there (a buddy order, say): the block's order is read
 * under the lock with the block, and nothing of its struct page after.
 */
static int bh_hint_rehint_held(struct bh_dev *bh, u32 id)
{
	long left = atomic_long_read(&bh->hint_held);
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
			order = page_private(page);
			list_move_tail(&page->lru, &bh->hint_list);
		}
		spin_unlock(&bh->hint_lock);
		if (!page)
			return 0;
		left -= 1L << order;
		err = bh_hint_add(bh, page, order);
		if (err)
			return err;
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
			set_page_private(page, order);
			/*
			 * Queued first: a block the queue refuses (the host
			 * stopped answering) would be held without ever
			 * having been hinted.
			 */
			err = bh_hint_add(bh, page, order);
			if (err) {
				set_page_private(page, 0);
				__free_pages(page, order);
				return err;
			}
			/* Only now can the shrinker or DONE free it. */
			spin_lock(&bh->hint_lock);
			list_add_tail(&page->lru, &bh->hint_list);
			atomic_long_add(1L << order, &bh->hint_held);
			spin_unlock(&bh->hint_lock);
			atomic64_inc(&bh->st.blocks_order[order]);
			atomic64_add(PAGE_SIZE << order, &bh->st.bytes_hinted);
			if (helper)
				atomic64_inc(&bh->st.helper_blocks);
		}
	}
	return 0;
}

/**
 * bh_hint_release - free up to @nr held pages (all if ULONG_MAX)
 * @bh: the device
 * @nr: pages wanted
 * @counter: statistic to add the freed pages to
 *
 * Safe at any time, from any context that may sleep (see the top of this
 * file for why in-flight hints need not be waited for).  @counter grows
 * block by block, so held_pages plus the returned_* counters always add
 * up to what was allocated, even while a large release is under way (with
 * init_on_free each block is zeroed as it goes back: seconds for a whole
 * guest's free memory under TCG).
 *
 * Return: pages freed.
 */
unsigned long bh_hint_release(struct bh_dev *bh, unsigned long nr,
			      atomic64_t *counter)
{
	unsigned long freed = 0;
	unsigned int order;
	struct page *page;

	while (freed < nr) {
		spin_lock(&bh->hint_lock);
		page = list_first_entry_or_null(&bh->hint_list, struct page,
						lru);
		if (page) {
			list_del(&page->lru);
			order = page_private(page);
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

	if (bh_hint_rehint)
		err = bh_hint_rehint_held(bh, id);
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

static unsigned long bh_hint_count(struct shrinker *s,
				   struct shrink_control *sc)
{
	struct bh_dev *bh = s->private_data;

	return atomic_long_read(&bh->hint_held);
}

/*
 * Reclaim counts as progress what it freed from the LRU lists and what
 * is added to its reclaim_state: blocks freed here must be reported
 * there.  Without that, direct reclaim saw no progress at any priority,
 * and its last passes (priority 0 asks for twice the count) took every
 * held block back for an allocation of a few pages.
 */
static unsigned long bh_hint_scan(struct shrinker *s, struct shrink_control *sc)
{
	struct bh_dev *bh = s->private_data;
	unsigned long freed;

	/* Stop the running round from taking the memory straight back. */
	atomic_set(&bh->hint_pressure, 1);
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
 */
static int bh_hint_oom_notify(struct notifier_block *nb, unsigned long dummy,
			      void *parm)
{
	struct bh_dev *bh = container_of(nb, struct bh_dev, hint_oom_nb);
	unsigned long *freed = parm, n;

	atomic_set(&bh->hint_pressure, 1);
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
 * empty, so no round is open and no marker in flight.  The last id stays
 * answered (its blocks went back at freeze): a host that wants hints after
 * the reset issues a new id, as in-tree expects too.  hint_work is not
 * running (cancelled at freeze, not queued again yet).
 */
void bh_hint_resume(struct bh_dev *bh)
{
	mutex_lock(&bh->hint_vq_lock);
	bh->start_inflight = false;
	bh->hint_open = false;
	bh->hint_pending = 0;
	mutex_unlock(&bh->hint_vq_lock);
	set_bit(BH_CMD_ID_STALE, &bh->hint_flags);
	WRITE_ONCE(bh->hint_stopping, false);
}
