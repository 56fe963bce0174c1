/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bh_fakedev: private definitions of the fake virtio balloon device.
 *
 * One struct bfd_dev at a time, created and removed from debugfs
 * (control.c).  It is a virtio device with its own config ops (device.c)
 * whose queues are ordinary split virtqueues made by vring_create_virtqueue;
 * the device side of each ring is parsed by ring.c on every notification.
 */
#ifndef BH_FAKEDEV_PRIV_H
#define BH_FAKEDEV_PRIV_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "bh_fakedev.h"

/* Queue kinds: their index in the driver's find_vqs() array. */
enum bfd_kind {
	BFD_VQ_INFLATE,
	BFD_VQ_DEFLATE,
	BFD_VQ_STATS,
	BFD_VQ_HINT,
	BFD_VQ_REPORT,
	BFD_VQ_MAX
};

enum bfd_mode {
	BFD_CONSUME,
	BFD_HOLD,
	BFD_IGNORE,
};

/* Entries of the inflate, deflate and stats queues (QEMU's size). */
#define BFD_QSIZE_BALLOON	128
/*
 * Segments a buffer may have: one for the balloon queues, up to
 * PAGE_REPORTING_CAPACITY (32) for a free page report.
 */
#define BFD_MAX_SEGS		32

/**
 * struct bfd_seg - one descriptor of a buffer
 * @addr: guest physical address
 * @len: bytes
 * @write: device-writable (an in-buffer for the driver)
 */
struct bfd_seg {
	u64 addr;
	u32 len;
	bool write;
};

/**
 * struct bfd_buf - a buffer taken off the available ring
 * @head: index of its first descriptor (its id in the used ring)
 * @nsegs: descriptors in the chain
 * @seg: the descriptors
 */
struct bfd_buf {
	u16 head;
	unsigned int nsegs;
	struct bfd_seg seg[BFD_MAX_SEGS];
};

/**
 * struct bfd_held - a buffer the device took and has not returned
 * @head: its id in the used ring
 * @bytes: its length
 */
struct bfd_held {
	u16 head;
	u32 bytes;
};

/**
 * struct bfd_vq - device side of one virtqueue
 * @bfd: the device
 * @vq: the driver's virtqueue
 * @kind: &enum bfd_kind
 * @mode: &enum bfd_mode
 * @last_avail: next available ring entry to read
 * @used_idx: next used ring entry to write
 * @held: buffers taken in BFD_HOLD mode, @nheld of them (room for the
 *        whole ring)
 * @nheld: number of @held entries
 * @held_bytes: their total length
 * @seen: buffers taken off the ring
 * @used: buffers returned
 * @broken: the driver published a malformed buffer; parsing stopped
 * @dead: the device was reset since the driver set this queue up: a
 *        device forgets its queues on reset, so nothing here is looked at
 *        again (the driver must delete it and find its queues anew)
 * @work: parses the ring when the notifier may not sleep, the driver
 *        became ready or a mode changed
 *
 * All but @bfd, @vq, @kind and @work are protected by bfd_dev.lock.
 */
struct bfd_vq {
	struct bfd_dev *bfd;
	struct virtqueue *vq;
	enum bfd_kind kind;
	enum bfd_mode mode;
	u16 last_avail;
	u16 used_idx;
	struct bfd_held *held;
	unsigned int nheld;
	u64 held_bytes;
	u64 seen;
	u64 used;
	bool broken;
	bool dead;
	struct work_struct work;
};

/**
 * struct bfd_hint - what the free page virtqueue showed
 * @in_round: a start marker came and its stop marker did not yet
 * @round_id: id of the last start marker
 * @blocks: blocks (writable buffers) seen
 * @bytes: their total length
 * @start_markers: start markers seen
 * @stale_starts: start markers whose id was not in config then
 * @stop_markers: stop markers seen
 * @outside_round: blocks seen with no round open (a protocol error)
 * @dup_blocks: blocks overlapping a block of the same round
 * @bad_buffers: buffers that were neither a marker nor a well-formed,
 *               aligned, power-of-two block of RAM
 * @round_set: start pfn -> order of each block of the current round
 * @trigger_left: blocks to go before @trigger_id is written; 0 when unarmed
 * @trigger_id: command id the trigger writes
 * @stop_trigger: write @stop_trigger_id at the next stop marker
 * @stop_trigger_id: command id that trigger writes
 * @triggers: triggers fired (both kinds)
 * @pause_left: blocks to go before the device pauses; 0 when unarmed
 * @pause_due: the notification being served pauses once it is served
 * @paused: a pause is under way (read without the lock by the waiter)
 * @pauses: pauses begun
 * @min_order: smallest order of a block seen (-1 before the first)
 * @markers: the marker log (0 stop, else a start marker's id)
 * @nmarkers: markers logged
 * @markers_lost: markers that did not fit
 *
 * Protected by bfd_dev.lock.
 */
struct bfd_hint {
	bool in_round;
	u32 round_id;
	u64 blocks;
	u64 bytes;
	u64 start_markers;
	u64 stale_starts;
	u64 stop_markers;
	u64 outside_round;
	u64 dup_blocks;
	u64 bad_buffers;
	struct xarray round_set;
	unsigned int trigger_left;
	u32 trigger_id;
	bool stop_trigger;
	u32 stop_trigger_id;
	u64 triggers;
	unsigned int pause_left;
	bool pause_due;
	bool paused;
	u64 pauses;
	int min_order;
	u32 markers[BFD_MARKERS_MAX];
	unsigned int nmarkers;
	u64 markers_lost;
};

/**
 * struct bfd_dev - the fake balloon device
 * @vdev: the virtio device (its release frees this struct)
 * @cfg_lock: protects @cfg and @status, which config ops may read from
 *            any context
 * @cfg: device config space
 * @status: device status byte
 * @features: balloon features offered
 * @hint_qsize: entries of the free page virtqueue
 * @report_qsize: entries of the free page reporting virtqueue
 * @lock: protects the device side of the queues (bfd_vq fields), @hint,
 *        @modes and the counters below; taken by ring work and control
 * @vqs: the device side of each queue, NULL where the driver made none
 * @modes: mode of each queue kind, kept over resets
 * @hint: free page virtqueue state
 * @resume_wait: woken when a pause ends
 * @inflate_pfns: pfns the driver put in the balloon
 * @deflate_pfns: pfns it took back
 * @deflate_unowned: of those, pfns whose page had no reference left when
 *                   the deflate message arrived (freed before the host
 *                   was told)
 * @stats_bufs: statistics buffers received
 * @stats: the entries of the last well-formed one, @nstats of them
 * @nstats: number of @stats entries
 * @stats_bad: statistics buffers that were not a whole number of entries
 *             (at most BFD_STATS_MAX) in one segment the device may read
 * @report_bufs: free page reports received
 * @report_blocks: blocks in them
 * @report_bytes: their total length
 * @report_min_order: smallest order of a reported block (-1 before one)
 * @config_changes: config change notifications raised
 * @resets: device resets
 * @probes: find_vqs calls (one per driver probe or restore)
 * @suspends: suspend/resume cycles run (``suspend``)
 * @ring_errors: queues that stopped on a malformed buffer
 */
struct bfd_dev {
	struct virtio_device vdev;

	spinlock_t cfg_lock;		/* protects cfg and status */
	struct virtio_balloon_config cfg;
	u8 status;

	u64 features;
	unsigned int hint_qsize;
	unsigned int report_qsize;

	struct mutex lock;		/* the queues' device side, hint, counters */
	struct bfd_vq *vqs[BFD_VQ_MAX];
	enum bfd_mode modes[BFD_VQ_MAX];
	struct bfd_hint hint;
	wait_queue_head_t resume_wait;
	u64 inflate_pfns;
	u64 deflate_pfns;
	u64 deflate_unowned;
	u64 stats_bufs;
	struct virtio_balloon_stat stats[BFD_STATS_MAX];
	unsigned int nstats;
	u64 stats_bad;
	u64 report_bufs;
	u64 report_blocks;
	u64 report_bytes;
	int report_min_order;
	u64 config_changes;
	u64 resets;
	u64 probes;
	u64 suspends;
	u64 ring_errors;
};

/* device.c */
struct bfd_dev *bfd_create(struct device *parent, u64 features,
			   unsigned int hint_qsize, unsigned int report_qsize);
void bfd_remove(struct bfd_dev *bfd);
int bfd_suspend(struct bfd_dev *bfd);
void bfd_set_cmd_id(struct bfd_dev *bfd, u32 id, bool notify);
void bfd_set_target(struct bfd_dev *bfd, u32 pages);
void bfd_set_mode(struct bfd_dev *bfd, enum bfd_kind kind,
		  enum bfd_mode mode);
void bfd_arm_trigger(struct bfd_dev *bfd, unsigned int blocks, u32 id);
void bfd_arm_stop_trigger(struct bfd_dev *bfd, u32 id);
void bfd_arm_pause(struct bfd_dev *bfd, unsigned int blocks);
void bfd_resume(struct bfd_dev *bfd);
int bfd_request_stats(struct bfd_dev *bfd);
bool bfd_driver_ok(struct bfd_dev *bfd);
void bfd_buf_taken(struct bfd_vq *q, const struct bfd_buf *buf);
int __init bfd_device_init(void);
void bfd_device_exit(void);

/* ring.c: the device side of a split virtqueue */
void bfd_ring_process(struct bfd_vq *q);
void bfd_ring_work(struct work_struct *work);
void bfd_ring_return_held(struct bfd_vq *q);

#endif /* BH_FAKEDEV_PRIV_H */
