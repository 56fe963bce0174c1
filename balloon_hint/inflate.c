// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint: the balloon proper.
 *
 * Inflate and deflate towards the host's target (config num_pages) with
 * the balloon page API, so ballooned pages stay movable and compaction can
 * migrate them; the stats virtqueue; deflate on OOM.
 */
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "balloon_hint.h"

/* Sleep before retrying an inflate that found no free page. */
#define BH_OUT_OF_PUFF_MS	200
/* Sleep before retrying a deflate that found every page isolated. */
#define BH_ISOLATED_MS		10

void bh_balloon_ack(struct virtqueue *vq)
{
	struct bh_dev *bh = vq->vdev->priv;

	wake_up(&bh->acked);
}

/* Hand pfns[0..num_pfns) to the host on @vq and wait until it used them. */
static void bh_tell_host(struct bh_dev *bh, struct virtqueue *vq)
{
	struct scatterlist sg;
	unsigned int len;
	int err;

	lockdep_assert_held(&bh->balloon_lock);
	sg_init_one(&sg, bh->pfns, sizeof(bh->pfns[0]) * bh->num_pfns);
	/* The queue is empty here: every message is waited for. */
	err = virtqueue_add_outbuf(vq, &sg, 1, bh, GFP_KERNEL);
	if (err) {
		dev_err_ratelimited(&bh->vdev->dev, "balloon message lost: %d\n",
				    err);
		return;
	}
	virtqueue_kick(vq);
	wait_event(bh->acked, virtqueue_get_buf(vq, &len));
}

static void bh_set_pfns(struct bh_dev *bh, struct page *page)
{
	u32 pfn = page_to_pfn(page) * BH_PAGES_PER_PAGE;
	unsigned int i;

	for (i = 0; i < BH_PAGES_PER_PAGE; i++)
		bh->pfns[bh->num_pfns + i] = cpu_to_virtio32(bh->vdev, pfn + i);
	bh->num_pfns += BH_PAGES_PER_PAGE;
}

/*
 * Without DEFLATE_ON_OOM the host may use ballooned memory for good, so the
 * pages leave MemTotal; with it they stay counted, being ours to take back.
 */
static bool bh_adjust_managed(struct bh_dev *bh)
{
	return !virtio_has_feature(bh->vdev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
}

/*
 * Tell the host how many pages the balloon holds ("actual", what QMP
 * query-balloon reports).  Under balloon_lock, right after the message that
 * changed the count, so the size work and the OOM notifier cannot write
 * their counts in the wrong order, and the host's view trails the balloon
 * by one message at most.
 */
static void bh_update_actual(struct bh_dev *bh)
{
	u32 actual = bh->num_pages;

	lockdep_assert_held(&bh->balloon_lock);
	virtio_cwrite_le(bh->vdev, struct virtio_balloon_config, actual,
			 &actual);
}

/*
 * Allocate balloon pages for up to @num 4 KiB pages onto @pages.
 * Return: the number of 4 KiB pages allocated.
 */
static size_t bh_fill_alloc(struct list_head *pages, size_t num)
{
	struct page *page;
	size_t n;

	for (n = 0; n < num; n += BH_PAGES_PER_PAGE) {
		page = balloon_page_alloc();
		if (!page)
			break;
		list_add(&page->lru, pages);
	}
	return n;
}

/*
 * Put @pages in the balloon and tell the host, in one message.
 * Return: the number of 4 KiB pages inflated.
 */
static unsigned int bh_fill_commit(struct bh_dev *bh, struct list_head *pages)
{
	struct page *page, *next;
	unsigned int done;

	mutex_lock(&bh->balloon_lock);
	bh->num_pfns = 0;
	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		vmk_balloon_enqueue(&bh->b_dev_info, page, bh_adjust_managed(bh));
		bh_set_pfns(bh, page);
		bh->num_pages += BH_PAGES_PER_PAGE;
	}
	done = bh->num_pfns;
	if (done) {
		bh_tell_host(bh, bh->inflate_vq);
		bh_update_actual(bh);
	}
	mutex_unlock(&bh->balloon_lock);
	atomic64_add(done, &bh->st.inflated);
	return done;
}

/* Inflate what can be had of @num pages now; the size work comes back. */
static unsigned int bh_fill(struct bh_dev *bh, size_t num)
{
	LIST_HEAD(pages);

	num = min_t(size_t, num, BH_PFNS_MAX);
	if (bh_fill_alloc(&pages, num) < num) {
		dev_info_ratelimited(&bh->vdev->dev,
				     "out of puff: no free page to inflate\n");
		msleep(BH_OUT_OF_PUFF_MS);
	}
	return bh_fill_commit(bh, &pages);
}

/**
 * bh_inflate_now - inflate exactly @num 4 KiB pages in the caller's context
 * @bh: the device
 * @num: pages, 1 to BH_PFNS_MAX, a whole number of pages
 *
 * The debug trigger (debugfs "balloon", N): all or nothing, in one message.
 * When a page cannot be had, the pages allocated so far are freed and the
 * host hears nothing.  The balloon may end up above the host's target; the
 * size work moves it back at the next config change.
 *
 * Return: 0, -EINVAL for a bad @num, -ENOMEM when no page was inflated.
 */
int bh_inflate_now(struct bh_dev *bh, unsigned int num)
{
	struct page *page, *next;
	LIST_HEAD(pages);

	if (!num || num > BH_PFNS_MAX || num % BH_PAGES_PER_PAGE)
		return -EINVAL;
	if (bh_fill_alloc(&pages, num) < num) {
		list_for_each_entry_safe(page, next, &pages, lru) {
			list_del(&page->lru);
			put_page(page);
		}
		return -ENOMEM;
	}
	bh_fill_commit(bh, &pages);
	return 0;
}

/**
 * bh_leak - deflate up to @num 4 KiB pages
 * @bh: the device
 * @num: pages wanted back
 *
 * With MUST_TELL_HOST the host must hear of the pages before the guest
 * touches them, so the deflate message always goes out before the pages
 * are freed (harmless when the feature is off).  Pages that compaction has
 * isolated for migration cannot be taken now: fewer (possibly none) come
 * back, and the caller retries.
 *
 * Return: the number of 4 KiB pages deflated.
 */
unsigned int bh_leak(struct bh_dev *bh, size_t num)
{
	struct page *page, *next;
	unsigned int done;
	LIST_HEAD(pages);

	num = min_t(size_t, num, BH_PFNS_MAX);
	mutex_lock(&bh->balloon_lock);
	num = min_t(size_t, num, bh->num_pages);
	bh->num_pfns = 0;
	while (bh->num_pfns < num) {
		page = balloon_page_dequeue(&bh->b_dev_info);
		if (!page)
			break;
		bh_set_pfns(bh, page);
		list_add(&page->lru, &pages);
		bh->num_pages -= BH_PAGES_PER_PAGE;
	}
	done = bh->num_pfns;
	if (done)
		bh_tell_host(bh, bh->deflate_vq);
	list_for_each_entry_safe(page, next, &pages, lru) {
		list_del(&page->lru);
		/* Drops the balloon's reference. */
		vmk_balloon_release(page, bh_adjust_managed(bh));
	}
	if (done)
		bh_update_actual(bh);
	mutex_unlock(&bh->balloon_lock);
	atomic64_add(done, &bh->st.deflated);
	return done;
}

/**
 * bh_leak_all - give the whole balloon back (device removal)
 * @bh: the device, its work items already cancelled
 *
 * Pages isolated by compaction come back to the balloon list (migrated or
 * put back) soon after; wait for them rather than leave pages that would
 * point at a freed device.
 */
void bh_leak_all(struct bh_dev *bh)
{
	while (READ_ONCE(bh->num_pages))
		if (!bh_leak(bh, BH_PFNS_MAX))
			msleep(BH_ISOLATED_MS);
}

/**
 * bh_deflate_now - deflate @num 4 KiB pages in the caller's context
 * @bh: the device
 * @num: pages, a whole number of pages, at most the balloon's
 *
 * The debug trigger (debugfs "balloon", -N), which undoes bh_inflate_now().
 * Waits for pages compaction has isolated, as bh_leak_all() does; stops
 * early only when the size work emptied the balloon meanwhile.
 *
 * Return: 0 or -EINVAL for a bad @num.
 */
int bh_deflate_now(struct bh_dev *bh, unsigned int num)
{
	unsigned int done;

	if (!num || num % BH_PAGES_PER_PAGE || num > READ_ONCE(bh->num_pages))
		return -EINVAL;
	while (num && READ_ONCE(bh->num_pages)) {
		done = bh_leak(bh, num);
		if (!done)
			msleep(BH_ISOLATED_MS);
		num -= min(done, num);
	}
	return 0;
}

static s64 bh_towards_target(struct bh_dev *bh)
{
	u32 target;

	virtio_cread_le(bh->vdev, struct virtio_balloon_config, num_pages,
			&target);
	/* Legacy devices may ask for a count that is not a whole page. */
	target = ALIGN(target, BH_PAGES_PER_PAGE);
	return (s64)target - bh->num_pages;
}

void bh_size_work(struct work_struct *work)
{
	struct bh_dev *bh = container_of(work, struct bh_dev, size_work);
	unsigned int done;
	s64 diff;

	bh_wakeup_begin(bh, BH_WAKE_SIZE);
	diff = bh_towards_target(bh);
	if (diff > 0) {
		diff -= bh_fill(bh, diff);
	} else if (diff < 0) {
		done = bh_leak(bh, -diff);
		/* Every page left is isolated: let compaction finish. */
		if (!done)
			msleep(BH_ISOLATED_MS);
		diff += done;
	}
	/* One message per pass; come back for the rest, still awake. */
	if (diff)
		bh_queue_awake(bh, work, BH_WAKE_SIZE);
	bh_wakeup_end(bh);
}

int bh_oom_notify(struct notifier_block *nb, unsigned long dummy, void *parm)
{
	struct bh_dev *bh = container_of(nb, struct bh_dev, oom_nb);
	unsigned long *freed = parm;
	unsigned int n;

	n = bh_leak(bh, BH_OOM_PAGES) / BH_PAGES_PER_PAGE;
	atomic64_add(n * BH_PAGES_PER_PAGE, &bh->st.oom_deflated);
	*freed += n;
	return NOTIFY_OK;
}

/*
 * Compaction moves a ballooned page: the host learns of the new page
 * (inflate) before it forgets the old one (deflate), so it never sees the
 * balloon shrink.  Returns -EAGAIN rather than wait for an inflate or
 * deflate in progress; compaction will retry.  The balloon list and the
 * page references are the balloon core's business where it does them
 * (see <vmemkit/compat.h>).
 */
static int bh_migratepage(struct balloon_dev_info *info, struct page *newpage,
			  struct page *page, enum migrate_mode mode)
{
	struct bh_dev *bh = container_of(info, struct bh_dev, b_dev_info);

	if (!mutex_trylock(&bh->balloon_lock))
		return -EAGAIN;

	vmk_balloon_migrate_insert(info, newpage, page, bh_adjust_managed(bh));
	bh->num_pfns = 0;
	bh_set_pfns(bh, newpage);
	bh_tell_host(bh, bh->inflate_vq);
	bh->num_pfns = 0;
	bh_set_pfns(bh, page);
	bh_tell_host(bh, bh->deflate_vq);
	mutex_unlock(&bh->balloon_lock);

	vmk_balloon_migrate_release(page);
	atomic64_inc(&bh->st.migrated);
	return 0;
}

void bh_balloon_init(struct bh_dev *bh)
{
	mutex_init(&bh->balloon_lock);
	vmk_balloon_init(&bh->b_dev_info, bh_migratepage, bh_adjust_managed(bh));
	bh->oom_nb.notifier_call = bh_oom_notify;
}

static unsigned int bh_put_stat(struct bh_dev *bh, unsigned int i, u16 tag,
				u64 val)
{
	bh->stats[i].tag = cpu_to_virtio16(bh->vdev, tag);
	bh->stats[i].val = cpu_to_virtio64(bh->vdev, val);
	return i + 1;
}

#ifdef CONFIG_VM_EVENT_COUNTERS
/*
 * The entries that come from VM events (and, on kernels that keep them per
 * node, reclaim's scan and steal counts), from stats[@i] on; returns the
 * index after the last one set.  The same tags and sources as in-tree.
 */
static unsigned int bh_stats_events(struct bh_dev *bh, unsigned int i)
{
	unsigned long events[NR_VM_EVENT_ITEMS];
	unsigned long stall = 0;
	unsigned int zid;

	all_vm_events(events);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_SWAP_IN,
			(u64)events[PSWPIN] << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_SWAP_OUT,
			(u64)events[PSWPOUT] << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_MAJFLT, events[PGMAJFAULT]);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_MINFLT, events[PGFAULT]);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_OOM_KILL, events[OOM_KILL]);

	/* Direct reclaim entered, for an allocation in any zone. */
	for (zid = 0; zid < MAX_NR_ZONES; zid++)
		stall += events[ALLOCSTALL_NORMAL - ZONE_NORMAL + zid];
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_ALLOC_STALL, stall);

	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_ASYNC_SCAN,
			(u64)vmk_reclaim_count(events, PGSCAN_KSWAPD) << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_DIRECT_SCAN,
			(u64)vmk_reclaim_count(events, PGSCAN_DIRECT) << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_ASYNC_RECLAIM,
			(u64)vmk_reclaim_count(events, PGSTEAL_KSWAPD) << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_DIRECT_RECLAIM,
			(u64)vmk_reclaim_count(events, PGSTEAL_DIRECT) << PAGE_SHIFT);

#ifdef CONFIG_HUGETLB_PAGE
	/* Huge pages allocated for the pool from the buddy allocator. */
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_HTLB_PGALLOC,
			events[HTLB_BUDDY_PGALLOC]);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_HTLB_PGFAIL,
			events[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
	return i;
}
#else
static unsigned int bh_stats_events(struct bh_dev *bh, unsigned int i)
{
	return i;
}
#endif

/* Fill stats[] from the VM counters; returns how many entries are set. */
static unsigned int bh_stats_fill(struct bh_dev *bh)
{
	unsigned int i;
	struct sysinfo si;

	i = bh_stats_events(bh, 0);
	si_meminfo(&si);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_MEMFREE,
			(u64)si.freeram << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_MEMTOT,
			(u64)si.totalram << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_AVAIL,
			(u64)si_mem_available() << PAGE_SHIFT);
	i = bh_put_stat(bh, i, VIRTIO_BALLOON_S_CACHES,
			(u64)global_node_page_state(NR_FILE_PAGES) << PAGE_SHIFT);
	return i;
}

static int bh_stats_send(struct bh_dev *bh)
{
	struct scatterlist sg;
	unsigned int n = bh_stats_fill(bh);
	int err;

	sg_init_one(&sg, bh->stats, sizeof(bh->stats[0]) * n);
	err = virtqueue_add_outbuf(bh->stats_vq, &sg, 1, bh, GFP_KERNEL);
	if (err)
		return err;
	virtqueue_kick(bh->stats_vq);
	atomic64_inc(&bh->st.stats_sent);
	return 0;
}

/* The device needs one buffer in the queue to ask for statistics later. */
int bh_stats_prime(struct bh_dev *bh)
{
	return bh_stats_send(bh);
}

/* The host used our buffer: it wants fresh statistics. */
void bh_stats_request(struct virtqueue *vq)
{
	struct bh_dev *bh = vq->vdev->priv;

	bh_queue_awake(bh, &bh->stats_work, BH_WAKE_STATS);
}

void bh_stats_work(struct work_struct *work)
{
	struct bh_dev *bh = container_of(work, struct bh_dev, stats_work);
	unsigned int len;

	bh_wakeup_begin(bh, BH_WAKE_STATS);
	if (virtqueue_get_buf(bh->stats_vq, &len) && bh_stats_send(bh))
		dev_err_ratelimited(&bh->vdev->dev, "stats buffer lost\n");
	bh_wakeup_end(bh);
}
