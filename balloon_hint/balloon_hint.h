/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * balloon_hint: private definitions shared by the driver's files.
 *
 * One struct bh_dev per bound virtio balloon device.  The driver keeps
 * three independent activities, each with its own lock:
 *   - the balloon proper (inflate/deflate, page migration): balloon_lock;
 *   - free page hinting (one round at a time, in hint_work): hint_lock
 *     guards the list of held blocks, which the shrinker also drains,
 *     hint_vq_lock the free page virtqueue;
 *   - free page reporting, serialised by mm/page_reporting.c itself.
 */
#ifndef BALLOON_HINT_PRIV_H
#define BALLOON_HINT_PRIV_H

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/mmzone.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/page_reporting.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <vmemkit/compat.h>

/* The device speaks in 4 KiB pages whatever PAGE_SIZE is. */
#define BH_PAGES_PER_PAGE	(PAGE_SIZE >> VIRTIO_BALLOON_PFN_SHIFT)
/* PFNs per inflate/deflate message: one 1 KiB buffer, as in-tree. */
#define BH_PFNS_MAX		256
/* Pages deflated per OOM notification when DEFLATE_ON_OOM is on. */
#define BH_OOM_PAGES		256
#define BH_NR_ORDERS		(MAX_PAGE_ORDER + 1)
/* Bit in hint_flags: config changed since cmd_id_received was read. */
#define BH_CMD_ID_STALE		0
/*
 * Bit in hint_flags: DONE was answered and no round started since, so a
 * held block is freed as soon as its hints are back (bh_hint_reap_work).
 * Changed and tested under hint_lock where a round counts its blocks.
 */
#define BH_HINT_RELEASE		1
/* Work items that hold the wakeup source (wakeup_owed). */
#define BH_WAKE_SIZE		BIT(0)
#define BH_WAKE_STATS		BIT(1)

/**
 * struct bh_stats - counters exported in debugfs (see uapi balloon_hint.h)
 *
 * All are atomic64 so the shrinker, the work items and debugfs readers can
 * touch them without a lock.
 */
struct bh_stats {
	atomic64_t rounds;
	atomic64_t cmd_ids;
	atomic64_t cmd_id_reads;
	atomic64_t mid_round_reads;
	atomic64_t stop_seen;
	atomic64_t done_seen;
	atomic64_t id_changed_mid_round;
	atomic64_t pressure_stops;
	atomic64_t vq_full;
	atomic64_t host_stalls;
	atomic64_t alloc_fail_order[BH_NR_ORDERS];
	atomic64_t blocks_order[BH_NR_ORDERS];
	atomic64_t bytes_hinted;
	atomic64_t rehinted_blocks;
	atomic64_t helper_blocks;
	atomic64_t report_hinted_bytes;
	atomic64_t kicks;
	atomic64_t stops_sent;
	atomic64_t returned_done;
	atomic64_t returned_shrinker;
	atomic64_t returned_oom;
	atomic64_t returned_remove;
	atomic64_t reports;
	atomic64_t reported_bytes;
	atomic64_t inflated;
	atomic64_t deflated;
	atomic64_t oom_deflated;
	atomic64_t migrated;
	atomic64_t stats_sent;
};

struct bh_dev {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq, *deflate_vq, *stats_vq, *hint_vq,
			 *report_vq;
	/* The queues exist: set up at probe and restore, not yet torn down. */
	bool vqs_live;
	/*
	 * No live queues: none set up yet, or the device was reset
	 * (teardown), so the host forgot every buffer and will answer none.
	 * Set right after the reset, before page reporting ends (its
	 * callback then stops waiting for the host) and the queues are
	 * deleted; cleared once setup made them, before reporting
	 * registers.  Written under hint_vq_lock, so that the shrinker,
	 * which stays registered across a freeze, never takes buffers from
	 * deleted queues; bh_report() reads it with READ_ONCE.
	 */
	bool vqs_dead;

	/*
	 * Runs size_work, stats_work, hint_work and hint_reap_work; freezable
	 * for suspend.
	 */
	struct workqueue_struct *wq;
	struct work_struct size_work;
	struct work_struct stats_work;
	struct work_struct hint_work;
	struct work_struct hint_reap_work;

	/* Protects stop_update: no work is queued once it is set. */
	spinlock_t stop_lock;
	bool stop_update;

	/*
	 * Protects wakeup_owed and wakeup_held.  From a host request (a config
	 * change, a statistics request) until the work item answering it is
	 * done, the device's wakeup source (when user space enabled it in
	 * power/wakeup) keeps the system from suspending, as in-tree.
	 * Nests inside stop_lock.
	 */
	spinlock_t wakeup_lock;
	unsigned int wakeup_owed;	/* BH_WAKE_* work items not yet done */
	bool wakeup_held;		/* pm_stay_awake() not yet relaxed */

	/* Woken by the inflate, deflate and reporting virtqueue callbacks. */
	wait_queue_head_t acked;

	/* Protects num_pages, pfns[], num_pfns and the inflate/deflate vqs. */
	struct mutex balloon_lock;
	struct balloon_dev_info b_dev_info;
	unsigned int num_pages;
	unsigned int num_pfns;
	__virtio32 pfns[BH_PFNS_MAX];
	struct notifier_block oom_nb;

	/* Only touched by stats_work (and probe, before it can run). */
	struct virtio_balloon_stat stats[VIRTIO_BALLOON_S_NR];

	/*
	 * Free page hinting.  cmd_id_active, cmd_id_stop and hint_last_id
	 * belong to whoever holds hint_round_lock (hint_work, or the debug
	 * trigger bh_hint_now()) and to remove, which runs after hint_work is
	 * cancelled and the trigger's debugfs file is gone.  While a
	 * round allocates, hint_helper_work (queued and flushed by hint_work)
	 * allocates blocks on another CPU; the two share hint_vq under
	 * hint_vq_lock.  cmd_id_received caches the id in config: written
	 * only by the holder of hint_round_lock, which re-reads config when
	 * config_changed set BH_CMD_ID_STALE in hint_flags; the helper reads
	 * it.
	 */
	struct mutex hint_round_lock;	/* one answer to the host at a time */
	/*
	 * Protects hint_list and, in each block on it, page->private: the
	 * block's order and how many of its hints are queued (hint.c,
	 * bh_block_get()).  hint_held and hint_inflight change only under
	 * it.  Nests inside hint_vq_lock; taken by the shrinker.
	 */
	spinlock_t hint_lock;
	struct list_head hint_list;	/* held blocks */
	atomic_long_t hint_held;	/* pages on hint_list */
	atomic_long_t hint_inflight;	/* of those, with a hint queued */
	atomic_t hint_pressure;		/* the shrinker ran during this round */
	atomic_t hint_cut;		/* why this round's blocks ended early */
	wait_queue_head_t hint_wait;	/* hint_vq callback */
	atomic_t hint_vq_events;	/* hint_vq callbacks so far */
	bool hint_stopping;		/* remove or freeze: end the round */
	__virtio32 cmd_id_active;
	__virtio32 cmd_id_stop;
	/*
	 * Protects hint_vq, start_inflight, hint_open (between our start
	 * and stop markers; also read locklessly by the virtqueue callback),
	 * hint_pending (blocks added since the last kick) and
	 * report_hints_out (hints of reported blocks the host has not
	 * returned): hint_helper_work, free page reporting and
	 * hint_reap_work use hint_vq beside hint_work.  Never held while
	 * waiting for the host, nor while notifying it; the shrinker and
	 * the OOM notifier only try it.
	 */
	struct mutex hint_vq_lock;
	bool start_inflight;
	bool hint_open;
	unsigned int hint_pending;
	unsigned int report_hints_out;
	struct workqueue_struct *hint_helper_wq;
	struct work_struct hint_helper_work;
	u32 hint_helper_id;		/* the round the helper works for */
	int hint_helper_err;		/* why the helper stopped */
	bool hint_helper_quit;		/* hint_work ended the round early */
	u32 hint_last_id;
	u32 cmd_id_received;
	unsigned long hint_flags;
	struct shrinker *shrinker;
	struct notifier_block hint_oom_nb;

	struct page_reporting_dev_info pr_dev_info;
	bool reporting;
	atomic64_t report_inflight;	/* bytes in the report under way */

	struct bh_stats st;
	struct dentry *debugfs;
};

/* module parameters (core.c) */
extern unsigned int bh_hint_min_order;
extern unsigned int bh_hint_batch;
extern bool bh_hint_rehint;
extern unsigned int bh_hint_stall_ms;
extern bool bh_hint_helper;
extern bool bh_debug_triggers;

/* core.c */
void bh_queue(struct bh_dev *bh, struct work_struct *work);
void bh_queue_awake(struct bh_dev *bh, struct work_struct *work,
		    unsigned int wake);
void bh_wakeup_begin(struct bh_dev *bh, unsigned int wake);
void bh_wakeup_end(struct bh_dev *bh);

/* inflate.c: balloon, stats virtqueue, OOM deflate, page migration */
void bh_balloon_init(struct bh_dev *bh);
void bh_size_work(struct work_struct *work);
void bh_stats_work(struct work_struct *work);
int bh_stats_prime(struct bh_dev *bh);
void bh_stats_request(struct virtqueue *vq);
void bh_balloon_ack(struct virtqueue *vq);
unsigned int bh_leak(struct bh_dev *bh, size_t num);
void bh_leak_all(struct bh_dev *bh);
int bh_inflate_now(struct bh_dev *bh, unsigned int num);
int bh_deflate_now(struct bh_dev *bh, unsigned int num);
int bh_oom_notify(struct notifier_block *nb, unsigned long dummy, void *parm);

/* hint.c: free page hinting and its shrinker */
void bh_hint_work(struct work_struct *work);
void bh_hint_helper_work(struct work_struct *work);
void bh_hint_now(struct bh_dev *bh);
void bh_hint_vq_done(struct virtqueue *vq);
/* The shrinker and the OOM notifier that give held blocks back. */
int bh_hint_shrinker_register(struct bh_dev *bh);
void bh_hint_shrinker_unregister(struct bh_dev *bh);
void bh_hint_stop(struct bh_dev *bh);
void bh_hint_resume(struct bh_dev *bh);
unsigned int bh_hint_reported(struct bh_dev *bh, struct scatterlist *sgl,
			      unsigned int nents);
void bh_hint_reported_wait(struct bh_dev *bh);
unsigned long bh_hint_release(struct bh_dev *bh, unsigned long nr,
			      atomic64_t *counter);
unsigned long bh_hint_release_reset(struct bh_dev *bh);
void bh_hint_reap_work(struct work_struct *work);

/* report.c: free page reporting */
int bh_report_register(struct bh_dev *bh);
void bh_report_unregister(struct bh_dev *bh);

/* debugfs.c */
int __init bh_debugfs_init(void);
void bh_debugfs_exit(void);
void bh_debugfs_add(struct bh_dev *bh);
void bh_debugfs_remove(struct bh_dev *bh);

#endif /* BALLOON_HINT_PRIV_H */
