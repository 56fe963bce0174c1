// SPDX-License-Identifier: GPL-2.0-only
/*
 * bh_fakedev: a virtio balloon device with its own transport.
 *
 * The device registers on the real virtio bus with config ops of its own,
 * so the balloon driver probes it through the ordinary virtio core: feature
 * negotiation, status, config space and virtqueues made by
 * vring_create_virtqueue.  VIRTIO_F_ACCESS_PLATFORM is never offered, so
 * the rings carry guest physical addresses, as with QEMU.  The device asks
 * for no balloon unless a test sets a target, holds the one statistics buffer as
 * QEMU does when nobody polls, and plays the free page hinting host as a
 * test tells it to (control.c): that is what it is for.
 */
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <vmemkit/compat.h>

#include "fakedev.h"

/* Runs every queue's ring work; a reclaim-safe queue, as for a device. */
static struct workqueue_struct *bfd_wq;
/* A pause nobody ends gives up after this long (a test that died). */
#define BFD_PAUSE_MAX_S		60

static struct bfd_dev *to_bfd(struct virtio_device *vdev)
{
	return container_of(vdev, struct bfd_dev, vdev);
}

bool bfd_driver_ok(struct bfd_dev *bfd)
{
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&bfd->cfg_lock, flags);
	ok = bfd->status & VIRTIO_CONFIG_S_DRIVER_OK;
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
	return ok;
}

static void bfd_get(struct virtio_device *vdev, unsigned int offset,
		    void *buf, unsigned int len)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	unsigned long flags;

	/* Beyond the config space reads as zero. */
	if (offset > sizeof(bfd->cfg) || len > sizeof(bfd->cfg) - offset) {
		memset(buf, 0, len);
		return;
	}
	spin_lock_irqsave(&bfd->cfg_lock, flags);
	memcpy(buf, (u8 *)&bfd->cfg + offset, len);
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
}

/* The driver may write "actual" and "poison_val"; the rest is the host's. */
static void bfd_set(struct virtio_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	struct virtio_balloon_config tmp;
	unsigned long flags;

	if (offset > sizeof(tmp) || len > sizeof(tmp) - offset)
		return;
	spin_lock_irqsave(&bfd->cfg_lock, flags);
	tmp = bfd->cfg;
	memcpy((u8 *)&tmp + offset, buf, len);
	bfd->cfg.actual = tmp.actual;
	bfd->cfg.poison_val = tmp.poison_val;
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
}

static u8 bfd_get_status(struct virtio_device *vdev)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	unsigned long flags;
	u8 status;

	spin_lock_irqsave(&bfd->cfg_lock, flags);
	status = bfd->status;
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
	return status;
}

static void bfd_set_status(struct virtio_device *vdev, u8 status)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	unsigned long flags;
	unsigned int i;
	u8 old;

	spin_lock_irqsave(&bfd->cfg_lock, flags);
	old = bfd->status;
	bfd->status = status;
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);

	/* Buffers made available before DRIVER_OK are looked at now. */
	if ((status & ~old) & VIRTIO_CONFIG_S_DRIVER_OK) {
		mutex_lock(&bfd->lock);
		for (i = 0; i < BFD_VQ_MAX; i++)
			if (bfd->vqs[i])
				queue_work(bfd_wq, &bfd->vqs[i]->work);
		mutex_unlock(&bfd->lock);
	}
}

/*
 * Forget everything the driver gave: held buffers, ring positions, the
 * round in progress.  Once this returns no ring work runs any more (each
 * pass holds bfd->lock and checks DRIVER_OK), so no callback reaches the
 * driver after its reset.
 */
static void bfd_reset(struct virtio_device *vdev)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	unsigned long flags;
	struct bfd_vq *q;
	unsigned int i;

	spin_lock_irqsave(&bfd->cfg_lock, flags);
	bfd->status = 0;
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);

	mutex_lock(&bfd->lock);
	for (i = 0; i < BFD_VQ_MAX; i++) {
		q = bfd->vqs[i];
		if (!q)
			continue;
		q->nheld = 0;
		q->held_bytes = 0;
		q->last_avail = 0;
		q->used_idx = 0;
		q->broken = false;
		q->dead = true;
	}
	bfd->hint.in_round = false;
	bfd->hint.trigger_left = 0;
	bfd->hint.stop_trigger = false;
	bfd->hint.pause_left = 0;
	bfd->hint.pause_due = false;
	xa_destroy(&bfd->hint.round_set);
	bfd->resets++;
	mutex_unlock(&bfd->lock);
}

/*
 * A pause armed with "trigger N pause" that the notification just served
 * made due: hold the driver in its kick, in the middle of its round, until
 * "resume", the device's removal or a suspend cycle, or BFD_PAUSE_MAX_S.
 * Waits without bfd->lock, so that the test reads the counters and acts
 * meanwhile; the driver's other paths (the shrinker) run too, and those
 * that need its free page virtqueue wait for the kick to return.
 */
static void bfd_pause_point(struct bfd_dev *bfd)
{
	mutex_lock(&bfd->lock);
	if (!bfd->hint.pause_due) {
		mutex_unlock(&bfd->lock);
		return;
	}
	bfd->hint.pause_due = false;
	WRITE_ONCE(bfd->hint.paused, true);
	bfd->hint.pauses++;
	mutex_unlock(&bfd->lock);

	wait_event_timeout(bfd->resume_wait, !READ_ONCE(bfd->hint.paused),
			   BFD_PAUSE_MAX_S * HZ);
	mutex_lock(&bfd->lock);
	WRITE_ONCE(bfd->hint.paused, false);
	mutex_unlock(&bfd->lock);
}

/*
 * Like QEMU serving a notification in the vCPU thread that wrote it, the
 * ring is processed before the kick returns when the driver may sleep (the
 * balloon driver kicks from process context, never under RCU), so a test
 * knows exactly which buffers the host had seen when it acted; otherwise
 * on the workqueue.
 */
static bool bfd_notify(struct virtqueue *vq)
{
	struct bfd_vq *q = vq->priv;

	if (preemptible()) {
		bfd_ring_process(q);
		bfd_pause_point(q->bfd);
	} else {
		queue_work(bfd_wq, &q->work);
	}
	return true;
}

static void bfd_del_vqs(struct virtio_device *vdev)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	struct bfd_vq *q;
	unsigned int i;

	for (i = 0; i < BFD_VQ_MAX; i++) {
		mutex_lock(&bfd->lock);
		q = bfd->vqs[i];
		bfd->vqs[i] = NULL;
		mutex_unlock(&bfd->lock);
		if (!q)
			continue;
		cancel_work_sync(&q->work);
		vring_del_virtqueue(q->vq);
		kfree(q->held);
		kfree(q);
	}
}

static int bfd_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			struct virtqueue *vqs[],
			struct virtqueue_info vqs_info[],
			struct irq_affinity *desc)
{
	struct bfd_dev *bfd = to_bfd(vdev);
	unsigned int i, index = 0, num;
	struct virtqueue *vq;
	struct bfd_vq *q;
	int err;

	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!vqs_info[i].name)
			continue;
		if (i >= BFD_VQ_MAX) {
			err = -EINVAL;
			goto err_del_vqs;
		}
		if (i == BFD_VQ_HINT)
			num = bfd->hint_qsize;
		else if (i == BFD_VQ_REPORT)
			num = bfd->report_qsize;
		else
			num = BFD_QSIZE_BALLOON;
		q = kzalloc_obj(*q, GFP_KERNEL);
		if (!q) {
			err = -ENOMEM;
			goto err_del_vqs;
		}
		q->held = kcalloc(num, sizeof(*q->held), GFP_KERNEL);
		if (!q->held) {
			err = -ENOMEM;
			goto err_free_q;
		}
		vq = vring_create_virtqueue(index++, num, SMP_CACHE_BYTES, vdev,
					    true, false, vqs_info[i].ctx,
					    bfd_notify, vqs_info[i].callback,
					    vqs_info[i].name);
		if (!vq) {
			err = -ENOMEM;
			goto err_free_held;
		}
		vq->priv = q;
		q->vq = vq;
		q->bfd = bfd;
		q->kind = i;
		INIT_WORK(&q->work, bfd_ring_work);
		mutex_lock(&bfd->lock);
		/* QEMU keeps the stats buffer until it wants statistics. */
		q->mode = i == BFD_VQ_STATS ? BFD_HOLD : bfd->modes[i];
		bfd->vqs[i] = q;
		mutex_unlock(&bfd->lock);
		vqs[i] = vq;
	}
	mutex_lock(&bfd->lock);
	bfd->probes++;
	mutex_unlock(&bfd->lock);
	return 0;

err_free_held:
	kfree(q->held);
err_free_q:
	kfree(q);
err_del_vqs:
	bfd_del_vqs(vdev);
	return err;
}

/* A legacy device offers no VIRTIO_F_VERSION_1 (BFD_F_LEGACY). */
static u64 bfd_get_features(struct virtio_device *vdev)
{
	u64 features = to_bfd(vdev)->features;

	if (features & BFD_F_LEGACY)
		return features & ~BFD_F_LEGACY;
	return BIT_ULL(VIRTIO_F_VERSION_1) | features;
}

static int bfd_finalize_features(struct virtio_device *vdev)
{
	vring_transport_features(vdev);
	if (vdev->features & ~bfd_get_features(vdev))
		return -EINVAL;
	return 0;
}

static const char *bfd_bus_name(struct virtio_device *vdev)
{
	return "bh_fakedev";
}

static const struct virtio_config_ops bfd_config_ops = {
	.get = bfd_get,
	.set = bfd_set,
	.get_status = bfd_get_status,
	.set_status = bfd_set_status,
	.reset = bfd_reset,
	.find_vqs = bfd_find_vqs,
	.del_vqs = bfd_del_vqs,
	.get_features = bfd_get_features,
	.finalize_features = bfd_finalize_features,
	.bus_name = bfd_bus_name,
};

/* Write the command id to config, telling nobody. */
static void bfd_store_cmd_id(struct bfd_dev *bfd, u32 id)
{
	unsigned long flags;

	spin_lock_irqsave(&bfd->cfg_lock, flags);
	bfd->cfg.free_page_hint_cmd_id = cpu_to_le32(id);
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
}

/* Write the command id and tell the driver; bfd->lock held. */
static void bfd_write_cmd_id(struct bfd_dev *bfd, u32 id)
{
	lockdep_assert_held(&bfd->lock);
	bfd_store_cmd_id(bfd, id);
	bfd->config_changes++;
	virtio_config_changed(&bfd->vdev);
}

static u32 bfd_read_cmd_id(struct bfd_dev *bfd)
{
	unsigned long flags;
	u32 id;

	spin_lock_irqsave(&bfd->cfg_lock, flags);
	id = le32_to_cpu(bfd->cfg.free_page_hint_cmd_id);
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
	return id;
}

static void bfd_log_marker(struct bfd_hint *h, u32 val)
{
	if (h->nmarkers < BFD_MARKERS_MAX)
		h->markers[h->nmarkers++] = val;
	else
		h->markers_lost++;
}

/* A device-readable segment of guest RAM, @seg->len bytes long. */
static bool bfd_seg_unreadable(const struct bfd_seg *seg)
{
	return seg->write || !seg->len || !pfn_valid(PHYS_PFN(seg->addr)) ||
	       !pfn_valid(PHYS_PFN(seg->addr + seg->len - 1));
}

/* Is [pfn, pfn + 2^order) part of a block already hinted in this round? */
static bool bfd_round_overlaps(struct xarray *set, unsigned long pfn,
			       unsigned int order)
{
	unsigned long idx = pfn;
	unsigned int o;
	void *entry;

	/* A block of the same size or smaller inside it. */
	if (xa_find(set, &idx, pfn + (1UL << order) - 1, XA_PRESENT))
		return true;
	/* A larger block around it: blocks are aligned to their size. */
	for (o = order + 1; o <= MAX_PAGE_ORDER; o++) {
		entry = xa_load(set, ALIGN_DOWN(pfn, 1UL << o));
		if (entry && xa_to_value(entry) >= o)
			return true;
	}
	return false;
}

/* A free page block: whole pages of RAM, a power of two, aligned to it. */
static void bfd_hint_block(struct bfd_dev *bfd, const struct bfd_seg *seg)
{
	struct bfd_hint *h = &bfd->hint;
	unsigned long pfn = PHYS_PFN(seg->addr), pages;
	unsigned int order;

	pages = seg->len >> PAGE_SHIFT;
	if (!pages || !is_power_of_2(seg->len) ||
	    !IS_ALIGNED(seg->addr, seg->len) || !pfn_valid(pfn) ||
	    !pfn_valid(pfn + pages - 1)) {
		h->bad_buffers++;
		return;
	}
	order = ilog2(pages);
	if (h->min_order < 0 || order < h->min_order)
		h->min_order = order;
	h->blocks++;
	h->bytes += seg->len;
	if (!h->in_round)
		h->outside_round++;
	if (bfd_round_overlaps(&h->round_set, pfn, order))
		h->dup_blocks++;
	/* A block left out on -ENOMEM only weakens the duplicate check. */
	else
		xa_store(&h->round_set, pfn, xa_mk_value(order), GFP_KERNEL);

	if (h->trigger_left && !--h->trigger_left) {
		h->triggers++;
		bfd_write_cmd_id(bfd, h->trigger_id);
	}
	if (h->pause_left && !--h->pause_left)
		h->pause_due = true;
}

/* A start (the round's id) or stop (STOP) marker: a 4-byte out-buffer. */
static void bfd_hint_marker(struct bfd_dev *bfd, const struct bfd_seg *seg)
{
	struct bfd_hint *h = &bfd->hint;
	__virtio32 *p;
	u32 val;

	if (!pfn_valid(PHYS_PFN(seg->addr)) ||
	    offset_in_page(seg->addr) + seg->len > PAGE_SIZE) {
		h->bad_buffers++;
		return;
	}
	p = phys_to_virt(seg->addr);
	val = virtio32_to_cpu(&bfd->vdev, READ_ONCE(*p));
	bfd_log_marker(h, val);
	if (val == VIRTIO_BALLOON_CMD_ID_STOP) {
		h->stop_markers++;
		h->in_round = false;
		if (h->stop_trigger) {
			h->stop_trigger = false;
			h->triggers++;
			bfd_write_cmd_id(bfd, h->stop_trigger_id);
		}
		return;
	}
	h->start_markers++;
	if (val != bfd_read_cmd_id(bfd))
		h->stale_starts++;
	h->in_round = true;
	h->round_id = val;
	xa_destroy(&h->round_set);
}

/*
 * A deflate message: with MUST_TELL_HOST the host hears of the pages
 * before the guest uses them, so each page must still be the balloon's
 * (hold a reference) when the message arrives.  The driver kicks from
 * process context, and the ring is read before the kick returns
 * (bfd_notify()), so this sees the pages as they are when the driver
 * tells.  A page with no reference was freed before the host was told.
 */
static void bfd_deflate_check(struct bfd_dev *bfd, const struct bfd_seg *seg)
{
	const __virtio32 *pfns;
	unsigned long pfn;
	unsigned int i, n = seg->len / sizeof(u32);

	if (bfd_seg_unreadable(seg))
		return;
	pfns = phys_to_virt(seg->addr);
	for (i = 0; i < n; i++) {
		pfn = virtio32_to_cpu(&bfd->vdev, READ_ONCE(pfns[i])) >>
		      (PAGE_SHIFT - VIRTIO_BALLOON_PFN_SHIFT);
		if (!pfn_valid(pfn) || !page_ref_count(pfn_to_page(pfn)))
			bfd->deflate_unowned++;
	}
}

/* A statistics buffer: keep a copy of its entries for BFD_STATS_FILE. */
static void bfd_stats(struct bfd_dev *bfd, const struct bfd_buf *buf)
{
	const struct bfd_seg *seg = &buf->seg[0];

	bfd->stats_bufs++;
	if (buf->nsegs != 1 || bfd_seg_unreadable(seg) ||
	    seg->len % sizeof(bfd->stats[0]) || seg->len > sizeof(bfd->stats)) {
		bfd->stats_bad++;
		return;
	}
	memcpy(bfd->stats, phys_to_virt(seg->addr), seg->len);
	bfd->nstats = seg->len / sizeof(bfd->stats[0]);
}

/* A free page report: blocks of free memory, counted and left alone. */
static void bfd_report(struct bfd_dev *bfd, const struct bfd_buf *buf)
{
	const struct bfd_seg *seg;
	unsigned int i;
	int order;

	bfd->report_bufs++;
	for (i = 0; i < buf->nsegs; i++) {
		seg = &buf->seg[i];
		order = get_order(seg->len);
		if (bfd->report_min_order < 0 || order < bfd->report_min_order)
			bfd->report_min_order = order;
		bfd->report_blocks++;
		bfd->report_bytes += seg->len;
	}
}

/**
 * bfd_buf_taken - act on a buffer the ring work took off the ring
 * @q: its queue, bfd_dev.lock held
 * @buf: the buffer
 */
void bfd_buf_taken(struct bfd_vq *q, const struct bfd_buf *buf)
{
	struct bfd_dev *bfd = q->bfd;
	const struct bfd_seg *seg = &buf->seg[0];

	lockdep_assert_held(&bfd->lock);
	switch (q->kind) {
	case BFD_VQ_INFLATE:
		bfd->inflate_pfns += seg->len / sizeof(u32);
		break;
	case BFD_VQ_DEFLATE:
		bfd->deflate_pfns += seg->len / sizeof(u32);
		bfd_deflate_check(bfd, seg);
		break;
	case BFD_VQ_STATS:
		bfd_stats(bfd, buf);
		break;
	case BFD_VQ_HINT:
		if (buf->nsegs != 1)
			bfd->hint.bad_buffers++;
		else if (!seg->write && seg->len == sizeof(u32))
			bfd_hint_marker(bfd, seg);
		else if (seg->write)
			bfd_hint_block(bfd, seg);
		else
			bfd->hint.bad_buffers++;
		break;
	case BFD_VQ_REPORT:
		bfd_report(bfd, buf);
		break;
	default:
		break;
	}
}

void bfd_set_cmd_id(struct bfd_dev *bfd, u32 id, bool notify)
{
	mutex_lock(&bfd->lock);
	if (notify)
		bfd_write_cmd_id(bfd, id);
	else
		bfd_store_cmd_id(bfd, id);
	mutex_unlock(&bfd->lock);
}

void bfd_set_target(struct bfd_dev *bfd, u32 pages)
{
	unsigned long flags;

	mutex_lock(&bfd->lock);
	spin_lock_irqsave(&bfd->cfg_lock, flags);
	bfd->cfg.num_pages = cpu_to_le32(pages);
	spin_unlock_irqrestore(&bfd->cfg_lock, flags);
	bfd->config_changes++;
	virtio_config_changed(&bfd->vdev);
	mutex_unlock(&bfd->lock);
}

void bfd_set_mode(struct bfd_dev *bfd, enum bfd_kind kind, enum bfd_mode mode)
{
	struct bfd_vq *q;

	mutex_lock(&bfd->lock);
	bfd->modes[kind] = mode;
	q = bfd->vqs[kind];
	if (q) {
		q->mode = mode;
		if (mode == BFD_CONSUME && bfd_driver_ok(bfd))
			bfd_ring_return_held(q);
		/* Whatever waits in the ring is taken as the new mode says. */
		queue_work(bfd_wq, &q->work);
	}
	mutex_unlock(&bfd->lock);
}

void bfd_arm_trigger(struct bfd_dev *bfd, unsigned int blocks, u32 id)
{
	mutex_lock(&bfd->lock);
	bfd->hint.trigger_left = blocks;
	bfd->hint.trigger_id = id;
	mutex_unlock(&bfd->lock);
}

void bfd_arm_stop_trigger(struct bfd_dev *bfd, u32 id)
{
	mutex_lock(&bfd->lock);
	bfd->hint.stop_trigger = true;
	bfd->hint.stop_trigger_id = id;
	mutex_unlock(&bfd->lock);
}

void bfd_arm_pause(struct bfd_dev *bfd, unsigned int blocks)
{
	mutex_lock(&bfd->lock);
	bfd->hint.pause_left = blocks;
	mutex_unlock(&bfd->lock);
}

/*
 * Give back the held statistics buffer: the driver's callback asks for
 * fresh statistics.  0, or -EAGAIN when the device holds no buffer.
 */
int bfd_request_stats(struct bfd_dev *bfd)
{
	struct bfd_vq *q;
	int err = 0;

	mutex_lock(&bfd->lock);
	q = bfd->vqs[BFD_VQ_STATS];
	if (!q || q->dead || !q->nheld || !bfd_driver_ok(bfd))
		err = -EAGAIN;
	else
		bfd_ring_return_held(q);
	mutex_unlock(&bfd->lock);
	return err;
}

/* End a pause under way, if any. */
void bfd_resume(struct bfd_dev *bfd)
{
	mutex_lock(&bfd->lock);
	WRITE_ONCE(bfd->hint.paused, false);
	mutex_unlock(&bfd->lock);
	wake_up(&bfd->resume_wait);
}

/*
 * Disarm any pause and end one under way: the driver's remove and .freeze
 * wait for its round, which must not sit in a pause meanwhile.
 */
static void bfd_no_pause(struct bfd_dev *bfd)
{
	mutex_lock(&bfd->lock);
	bfd->hint.pause_left = 0;
	bfd->hint.pause_due = false;
	mutex_unlock(&bfd->lock);
	bfd_resume(bfd);
}

/**
 * bfd_suspend - a suspend/resume cycle of the device
 * @bfd: the device
 *
 * What a transport's PM callbacks do around a system sleep, with the
 * device lock held as the PM core holds it: the driver's .freeze, then a
 * device reset and the driver's .restore (virtio_device_restore() does
 * both).  The reset makes every queue dead: a driver that does not set its
 * queues up again waits for them forever.
 *
 * Return: 0, -EOPNOTSUPP without CONFIG_PM_SLEEP, or the error of .freeze
 * (the device then runs on) or of the restore.
 */
int bfd_suspend(struct bfd_dev *bfd)
{
#ifdef CONFIG_PM_SLEEP
	struct device *dev = &bfd->vdev.dev;
	int err;

	bfd_no_pause(bfd);
	device_lock(dev);
	err = virtio_device_freeze(&bfd->vdev);
	if (!err)
		err = virtio_device_restore(&bfd->vdev);
	device_unlock(dev);
	mutex_lock(&bfd->lock);
	bfd->suspends++;
	mutex_unlock(&bfd->lock);
	return err;
#else
	return -EOPNOTSUPP;
#endif
}

static void bfd_release(struct device *dev)
{
	struct bfd_dev *bfd = to_bfd(dev_to_virtio(dev));

	xa_destroy(&bfd->hint.round_set);
	mutex_destroy(&bfd->lock);
	kfree(bfd);
}

/**
 * bfd_create - register a fake balloon device
 * @parent: its parent device
 * @features: VIRTIO_BALLOON_F_* bits to offer, within BFD_FEATURES
 * @hint_qsize: entries of the free page virtqueue
 * @report_qsize: entries of the free page reporting virtqueue
 *
 * A bound balloon driver probes it before this returns.
 *
 * Return: the device or an ERR_PTR().
 */
struct bfd_dev *bfd_create(struct device *parent, u64 features,
			   unsigned int hint_qsize, unsigned int report_qsize)
{
	struct bfd_dev *bfd;
	int err;

	bfd = kzalloc_obj(*bfd, GFP_KERNEL);
	if (!bfd)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&bfd->cfg_lock);
	mutex_init(&bfd->lock);
	init_waitqueue_head(&bfd->resume_wait);
	xa_init(&bfd->hint.round_set);
	bfd->features = features;
	bfd->hint_qsize = hint_qsize;
	bfd->report_qsize = report_qsize;
	bfd->hint.min_order = -1;
	bfd->report_min_order = -1;
	bfd->vdev.dev.parent = parent;
	bfd->vdev.dev.release = bfd_release;
	bfd->vdev.config = &bfd_config_ops;
	bfd->vdev.id.device = VIRTIO_ID_BALLOON;

	err = register_virtio_device(&bfd->vdev);
	if (err) {
		put_device(&bfd->vdev.dev);
		return ERR_PTR(err);
	}
	return bfd;
}

/* Unregister @bfd: the driver's remove runs, then the device is freed. */
void bfd_remove(struct bfd_dev *bfd)
{
	bfd_no_pause(bfd);
	unregister_virtio_device(&bfd->vdev);
}

int __init bfd_device_init(void)
{
	bfd_wq = alloc_workqueue("bh_fakedev", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return bfd_wq ? 0 : -ENOMEM;
}

void bfd_device_exit(void)
{
	destroy_workqueue(bfd_wq);
}
