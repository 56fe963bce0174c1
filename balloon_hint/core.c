// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint: a virtio balloon driver with better free page hinting.
 *
 * It binds the same devices (VIRTIO_ID_BALLOON) as the in-tree
 * virtio_balloon driver and replaces it: load one or the other.  The virtio
 * bus gives a device to whichever driver registered first, so if
 * virtio_balloon already holds every balloon device this module refuses to
 * load (-EBUSY) rather than sit there unbound; see README.md.
 *
 * This file: module parameters, feature negotiation, probe and remove.
 */
#include <linux/device.h>
#include <linux/module.h>
#include <linux/oom.h>
#include <linux/page_reporting.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "balloon_hint.h"

unsigned int bh_hint_min_order = pageblock_order;
module_param_named(hint_min_order, bh_hint_min_order, uint, 0444);
MODULE_PARM_DESC(hint_min_order,
		 "smallest block order hinted (default pageblock order)");

unsigned int bh_hint_batch = 32;
module_param_named(hint_batch, bh_hint_batch, uint, 0444);
MODULE_PARM_DESC(hint_batch, "hinted blocks per virtqueue kick (1-256)");

bool bh_hint_rehint = true;
module_param_named(hint_rehint, bh_hint_rehint, bool, 0444);
MODULE_PARM_DESC(hint_rehint, "hint held blocks again in every new round");

/* Generous: a loaded host may leave the device unserviced for seconds. */
unsigned int bh_hint_stall_ms = 5000;
module_param_named(hint_stall_ms, bh_hint_stall_ms, uint, 0444);
MODULE_PARM_DESC(hint_stall_ms,
		 "end a hint round when the host returns no buffer for this long");

bool bh_hint_helper = true;
module_param_named(hint_helper, bh_hint_helper, bool, 0444);
MODULE_PARM_DESC(hint_helper,
		 "allocate hint blocks on a second CPU too during a round");

/* Off by default: the triggers act behind the host's back (see uapi). */
bool bh_debug_triggers;
module_param_named(debug_triggers, bh_debug_triggers, bool, 0444);
MODULE_PARM_DESC(debug_triggers,
		 "debugfs files that inflate, deflate and hint now, in the writer's context (tests)");

static bool bh_report_enable = true;
module_param_named(report, bh_report_enable, bool, 0444);
MODULE_PARM_DESC(report, "use free page reporting when the device offers it");

enum bh_vq {
	BH_VQ_INFLATE,
	BH_VQ_DEFLATE,
	BH_VQ_STATS,
	BH_VQ_HINT,
	BH_VQ_REPORT,
	BH_VQ_MAX
};

void bh_queue(struct bh_dev *bh, struct work_struct *work)
{
	unsigned long flags;

	spin_lock_irqsave(&bh->stop_lock, flags);
	if (!bh->stop_update)
		queue_work(bh->wq, work);
	spin_unlock_irqrestore(&bh->stop_lock, flags);
}

/* Hold the wakeup source for @wake; stop_lock held. */
static void bh_wakeup_hold(struct bh_dev *bh, unsigned int wake)
{
	unsigned long flags;

	lockdep_assert_held(&bh->stop_lock);
	spin_lock_irqsave(&bh->wakeup_lock, flags);
	bh->wakeup_owed |= wake;
	if (!bh->wakeup_held) {
		bh->wakeup_held = true;
		pm_stay_awake(&bh->vdev->dev);
	}
	spin_unlock_irqrestore(&bh->wakeup_lock, flags);
}

/**
 * bh_queue_awake - queue @work for a host request, holding the system awake
 * @bh: the device
 * @work: size_work or stats_work
 * @wake: its BH_WAKE_* bit
 *
 * The work item calls bh_wakeup_begin() when it starts and bh_wakeup_end()
 * when it is done; the wakeup source is relaxed once no work item is owed.
 * Nothing is queued (or held) once the device is stopping.
 */
void bh_queue_awake(struct bh_dev *bh, struct work_struct *work,
		    unsigned int wake)
{
	unsigned long flags;

	spin_lock_irqsave(&bh->stop_lock, flags);
	if (!bh->stop_update) {
		bh_wakeup_hold(bh, wake);
		queue_work(bh->wq, work);
	}
	spin_unlock_irqrestore(&bh->stop_lock, flags);
}

/*
 * A work item queued by bh_queue_awake() starts: it owes nothing more for
 * @wake, but a request that comes while it runs owes it again.
 */
void bh_wakeup_begin(struct bh_dev *bh, unsigned int wake)
{
	spin_lock_irq(&bh->wakeup_lock);
	bh->wakeup_owed &= ~wake;
	spin_unlock_irq(&bh->wakeup_lock);
}

/* A work item is done: relax the wakeup source if nothing is owed. */
void bh_wakeup_end(struct bh_dev *bh)
{
	spin_lock_irq(&bh->wakeup_lock);
	if (!bh->wakeup_owed && bh->wakeup_held) {
		bh->wakeup_held = false;
		pm_relax(&bh->vdev->dev);
	}
	spin_unlock_irq(&bh->wakeup_lock);
}

/* The work items were cancelled: what they owed is owed no more. */
static void bh_wakeup_drop(struct bh_dev *bh)
{
	spin_lock_irq(&bh->wakeup_lock);
	bh->wakeup_owed = 0;
	spin_unlock_irq(&bh->wakeup_lock);
	bh_wakeup_end(bh);
}

static void bh_config_changed(struct virtio_device *vdev)
{
	struct bh_dev *bh = vdev->priv;

	bh_queue_awake(bh, &bh->size_work, BH_WAKE_SIZE);
	if (bh->hint_vq) {
		set_bit(BH_CMD_ID_STALE, &bh->hint_flags);
		bh_queue(bh, &bh->hint_work);
	}
}

static int bh_init_vqs(struct bh_dev *bh)
{
	struct virtqueue_info info[BH_VQ_MAX] = {};
	struct virtqueue *vqs[BH_VQ_MAX];
	struct virtio_device *vdev = bh->vdev;
	int err;

	/* A NULL name leaves out the queue of a feature not negotiated. */
	info[BH_VQ_INFLATE] = (struct virtqueue_info){ "inflate",
						       bh_balloon_ack };
	info[BH_VQ_DEFLATE] = (struct virtqueue_info){ "deflate",
						       bh_balloon_ack };
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_STATS_VQ))
		info[BH_VQ_STATS] = (struct virtqueue_info){ "stats",
							     bh_stats_request };
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		info[BH_VQ_HINT] = (struct virtqueue_info){ "free_page_vq",
							    bh_hint_vq_done };
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_REPORTING))
		info[BH_VQ_REPORT] = (struct virtqueue_info){ "reporting_vq",
							      bh_balloon_ack };

	err = virtio_find_vqs(vdev, BH_VQ_MAX, vqs, info, NULL);
	if (err)
		return err;
	bh->inflate_vq = vqs[BH_VQ_INFLATE];
	bh->deflate_vq = vqs[BH_VQ_DEFLATE];
	if (info[BH_VQ_STATS].name)
		bh->stats_vq = vqs[BH_VQ_STATS];
	if (info[BH_VQ_HINT].name)
		bh->hint_vq = vqs[BH_VQ_HINT];
	if (info[BH_VQ_REPORT].name)
		bh->report_vq = vqs[BH_VQ_REPORT];
	return 0;
}

static int bh_validate(struct virtio_device *vdev)
{
	/*
	 * PAGE_POISON tells the host what free pages contain.  Without
	 * init_on_free or poisoning they contain garbage and there is nothing
	 * to tell; with either, reporting (which lets the host replace free
	 * pages by zero pages) is only safe when the host was told.
	 */
	if (!want_init_on_free() && !page_poisoning_enabled_static())
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_PAGE_POISON);
	else if (!virtio_has_feature(vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_REPORTING);

	/* Reporting must not allocate: no indirect descriptors. */
	__virtio_clear_bit(vdev, VIRTIO_RING_F_INDIRECT_DESC);
	/* The host reads guest-physical addresses of whole blocks. */
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

/* Tell the host what free pages contain, when it asked (PAGE_POISON). */
static void bh_write_poison(struct bh_dev *bh)
{
	u32 poison = 0;

	if (!virtio_has_feature(bh->vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		return;
	/*
	 * init_on_free leaves zeroes; poisoning leaves PAGE_POISON in every
	 * byte, and the spec's poison_val is that byte in all four (a
	 * repeated byte reads the same in either byte order).
	 */
	if (!want_init_on_free())
		memset(&poison, PAGE_POISON, sizeof(poison));
	virtio_cwrite_le(bh->vdev, struct virtio_balloon_config, poison_val,
			 &poison);
}

/*
 * The device side of the driver, made at probe and again at restore (a
 * reset device has forgotten its queues): the virtqueues, the statistics
 * buffer the host needs in order to ask for statistics, poison_val.
 */
static int bh_device_setup(struct bh_dev *bh)
{
	struct virtio_device *vdev = bh->vdev;
	int err;

	err = bh_init_vqs(bh);
	if (err)
		return err;

	/*
	 * A report is up to PAGE_REPORTING_CAPACITY blocks, one descriptor
	 * each (no indirect descriptors: see bh_validate()).
	 */
	if (bh->report_vq &&
	    virtqueue_get_vring_size(bh->report_vq) < PAGE_REPORTING_CAPACITY) {
		err = -ENOSPC;
		goto err_del_vqs;
	}

	if (bh->stats_vq) {
		err = bh_stats_prime(bh);
		if (err)
			goto err_del_vqs;
	}
	bh_write_poison(bh);
	mutex_lock(&bh->hint_vq_lock);
	WRITE_ONCE(bh->vqs_dead, false);
	mutex_unlock(&bh->hint_vq_lock);
	bh->vqs_live = true;
	return 0;

err_del_vqs:
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	return err;
}

/*
 * Undo bh_device_setup() with the work items stopped: the balloon is given
 * back first, telling the host (it still listens), then the device is reset
 * and nothing is in flight any more.  Page reporting ends only after the
 * reset: its callback may be waiting for the host to return its report or
 * the hints of its blocks, which it must not give up on before the host
 * forgot them; the reset ends that wait.  Nothing to undo after a failed
 * restore.
 */
static void bh_device_teardown(struct bh_dev *bh)
{
	struct virtio_device *vdev = bh->vdev;

	if (!bh->vqs_live)
		return;
	bh_leak_all(bh);
	virtio_reset_device(vdev);
	mutex_lock(&bh->hint_vq_lock);
	WRITE_ONCE(bh->vqs_dead, true);
	mutex_unlock(&bh->hint_vq_lock);
	wake_up(&bh->acked);
	wake_up(&bh->hint_wait);
	bh_report_unregister(bh);
	vdev->config->del_vqs(vdev);
	bh->vqs_live = false;
}

/*
 * Stop the work items (none is queued again until stop_update is cleared)
 * and a running hint round.  Free page reporting goes on until the
 * device is reset (bh_device_teardown()); it hints nothing from now on.
 */
static void bh_quiesce(struct bh_dev *bh)
{
	spin_lock_irq(&bh->stop_lock);
	bh->stop_update = true;
	spin_unlock_irq(&bh->stop_lock);
	bh_hint_stop(bh);
	cancel_work_sync(&bh->size_work);
	cancel_work_sync(&bh->stats_work);
	cancel_work_sync(&bh->hint_work);
	cancel_work_sync(&bh->hint_reap_work);
	bh_wakeup_drop(bh);
}

/* Register for free page reporting when the device and the user want it. */
static int bh_report_start(struct bh_dev *bh)
{
	int err;

	if (!bh->report_vq || !bh_report_enable)
		return 0;
	err = bh_report_register(bh);
	/* Another reporting device (only one may exist) is not fatal. */
	if (err == -EBUSY) {
		dev_warn(&bh->vdev->dev,
			 "page reporting in use elsewhere, not reporting\n");
		return 0;
	}
	return err;
}

/* Let the host in: the work items run again and answer config now. */
static void bh_start(struct bh_dev *bh)
{
	spin_lock_irq(&bh->stop_lock);
	bh->stop_update = false;
	spin_unlock_irq(&bh->stop_lock);
	virtio_device_ready(bh->vdev);
	bh_queue_awake(bh, &bh->size_work, BH_WAKE_SIZE);
	if (bh->hint_vq) {
		set_bit(BH_CMD_ID_STALE, &bh->hint_flags);
		bh_queue(bh, &bh->hint_work);
	}
}

static int bh_probe(struct virtio_device *vdev)
{
	struct bh_dev *bh;
	int err;

	if (!vdev->config->get)
		return -EINVAL;

	bh = kzalloc_obj(*bh, GFP_KERNEL);
	if (!bh)
		return -ENOMEM;
	vdev->priv = bh;
	bh->vdev = vdev;
	spin_lock_init(&bh->stop_lock);
	spin_lock_init(&bh->wakeup_lock);
	init_waitqueue_head(&bh->acked);
	bh_balloon_init(bh);
	spin_lock_init(&bh->hint_lock);
	INIT_LIST_HEAD(&bh->hint_list);
	init_waitqueue_head(&bh->hint_wait);
	mutex_init(&bh->hint_vq_lock);
	/* No queues yet. */
	bh->vqs_dead = true;
	mutex_init(&bh->hint_round_lock);
	INIT_WORK(&bh->hint_helper_work, bh_hint_helper_work);
	INIT_WORK(&bh->size_work, bh_size_work);
	INIT_WORK(&bh->stats_work, bh_stats_work);
	INIT_WORK(&bh->hint_work, bh_hint_work);
	INIT_WORK(&bh->hint_reap_work, bh_hint_reap_work);

	/* Unbound: a hint round may run for seconds beside an inflate. */
	bh->wq = alloc_workqueue("balloon_hint/%s",
				 WQ_UNBOUND | WQ_FREEZABLE | WQ_MEM_RECLAIM, 0,
				 dev_name(&vdev->dev));
	if (!bh->wq) {
		err = -ENOMEM;
		goto err_free_bh;
	}
	/*
	 * Not freezable: hint_work waits for the helper it queued.  Reclaim
	 * safe, as hint_work's queue is.
	 */
	bh->hint_helper_wq = alloc_workqueue("balloon_hint_helper/%s",
					     WQ_UNBOUND | WQ_MEM_RECLAIM, 1,
					     dev_name(&vdev->dev));
	if (!bh->hint_helper_wq) {
		err = -ENOMEM;
		goto err_destroy_wq;
	}

	err = bh_device_setup(bh);
	if (err)
		goto err_destroy_helper_wq;

	if (bh->hint_vq) {
		err = bh_hint_shrinker_register(bh);
		if (err)
			goto err_teardown;
	}

	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) {
		err = register_oom_notifier(&bh->oom_nb);
		if (err)
			goto err_unregister_shrinker;
	}

	err = bh_report_start(bh);
	if (err)
		goto err_unregister_oom;

	bh_debugfs_add(bh);
	/*
	 * The balloon cannot wake the system, but it keeps it awake while it
	 * answers the host, with a wakeup source of its own device rather
	 * than the transport's (whose events it does not nest with), as
	 * in-tree; user space enables it in power/wakeup.
	 */
	device_set_wakeup_capable(&vdev->dev, true);
	bh_start(bh);
	dev_info(&vdev->dev, "balloon_hint bound (features %#llx)\n",
		 vdev->features);
	return 0;

err_unregister_oom:
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		unregister_oom_notifier(&bh->oom_nb);
err_unregister_shrinker:
	if (bh->hint_vq)
		bh_hint_shrinker_unregister(bh);
err_teardown:
	bh_device_teardown(bh);
err_destroy_helper_wq:
	destroy_workqueue(bh->hint_helper_wq);
err_destroy_wq:
	destroy_workqueue(bh->wq);
err_free_bh:
	kfree(bh);
	vdev->priv = NULL;
	return err;
}

static void bh_remove(struct virtio_device *vdev)
{
	struct bh_dev *bh = vdev->priv;
	unsigned long held;

	bh_debugfs_remove(bh);
	bh_quiesce(bh);
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		unregister_oom_notifier(&bh->oom_nb);
	if (bh->hint_vq)
		bh_hint_shrinker_unregister(bh);
	bh_device_teardown(bh);

	/* The device is reset: no hint can be in flight any more. */
	held = bh_hint_release_reset(bh);
	if (held)
		dev_info(&vdev->dev, "released %lu hinted pages on removal\n",
			 held);
	destroy_workqueue(bh->hint_helper_wq);
	destroy_workqueue(bh->wq);
	kfree(bh);
}

#ifdef CONFIG_PM_SLEEP
/*
 * Suspend: the device is reset before the system sleeps (and may be reset
 * again by the host), so everything the host holds is given back now, as
 * at removal: the balloon (deflated, the host told), the hint blocks.
 * The shrinker and the OOM notifier stay: they find nothing to do.  Tasks
 * are frozen by now, so the debug triggers do not run.
 */
static int bh_freeze(struct virtio_device *vdev)
{
	struct bh_dev *bh = vdev->priv;
	unsigned long held;

	bh_quiesce(bh);
	bh_device_teardown(bh);
	held = bh_hint_release_reset(bh);
	if (held)
		dev_info(&vdev->dev, "released %lu hinted pages at freeze\n",
			 held);
	return 0;
}

/* Resume: set the reset device up again, as probe does. */
static int bh_restore(struct virtio_device *vdev)
{
	struct bh_dev *bh = vdev->priv;
	int err;

	err = bh_device_setup(bh);
	if (err)
		return err;
	err = bh_report_start(bh);
	if (err)
		goto err_teardown;
	if (bh->hint_vq)
		bh_hint_resume(bh);
	bh_start(bh);
	return 0;

err_teardown:
	bh_device_teardown(bh);
	return err;
}
#endif

static const struct virtio_device_id bh_id_table[] = {
	{ VIRTIO_ID_BALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int bh_features[] = {
	VIRTIO_BALLOON_F_MUST_TELL_HOST,
	VIRTIO_BALLOON_F_STATS_VQ,
	VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_BALLOON_F_FREE_PAGE_HINT,
	VIRTIO_BALLOON_F_PAGE_POISON,
	VIRTIO_BALLOON_F_REPORTING,
};

static struct virtio_driver bh_driver = {
	.feature_table = bh_features,
	.feature_table_size = ARRAY_SIZE(bh_features),
	.driver.name = KBUILD_MODNAME,
	.id_table = bh_id_table,
	.validate = bh_validate,
	.probe = bh_probe,
	.remove = bh_remove,
	.config_changed = bh_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = bh_freeze,
	.restore = bh_restore,
#endif
};

struct bh_bound {
	unsigned int ours, others;
	char other_drv[32];
};

static int bh_count_bound(struct device *dev, void *data)
{
	struct device_driver *drv = READ_ONCE(dev->driver);
	struct bh_bound *b = data;

	if (dev_to_virtio(dev)->id.device != VIRTIO_ID_BALLOON || !drv)
		return 0;
	if (drv == &bh_driver.driver) {
		b->ours++;
	} else {
		b->others++;
		strscpy(b->other_drv, drv->name, sizeof(b->other_drv));
	}
	return 0;
}

static int __init bh_init(void)
{
	struct bh_bound bound = {};
	int err;

	if (bh_hint_min_order > MAX_PAGE_ORDER || !bh_hint_batch ||
	    bh_hint_batch > 256)
		return -EINVAL;

	bh_debugfs_init();
	err = register_virtio_driver(&bh_driver);
	if (err)
		goto err_debugfs;

	/* Registration probed every free balloon device; who has the rest? */
	bus_for_each_dev(bh_driver.driver.bus, NULL, &bound, bh_count_bound);
	if (bound.others && !bound.ours) {
		pr_err("balloon device already bound to %s: unload it first\n",
		       bound.other_drv);
		err = -EBUSY;
		goto err_unregister;
	}
	return 0;

err_unregister:
	unregister_virtio_driver(&bh_driver);
err_debugfs:
	bh_debugfs_exit();
	return err;
}

static void __exit bh_exit(void)
{
	unregister_virtio_driver(&bh_driver);
	bh_debugfs_exit();
}

module_init(bh_init);
module_exit(bh_exit);
/* No MODULE_DEVICE_TABLE: never autoload in place of virtio_balloon. */
MODULE_DESCRIPTION("virtio balloon driver with free page hinting statistics");
MODULE_LICENSE("GPL");
