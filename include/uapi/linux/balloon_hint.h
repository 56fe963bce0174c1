/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * balloon_hint: statistics of the virtio balloon driver with free page
 * hinting.
 *
 * The driver has no ioctl interface; the device is driven by the host
 * (QEMU's balloon command, migration) and module parameters.  What it did
 * is visible in debugfs, one "name value" line per counter, values in
 * decimal, in BALLOON_HINT_DEBUGFS_DIR/<virtio device>/stats.
 */
#ifndef _UAPI_LINUX_BALLOON_HINT_H
#define _UAPI_LINUX_BALLOON_HINT_H

#define BALLOON_HINT_DEBUGFS_DIR	"/sys/kernel/debug/balloon_hint"
#define BALLOON_HINT_STATS_FILE		"stats"
/* Debug triggers beside the stats file (module parameter debug_triggers=1). */
#define BALLOON_HINT_BALLOON_FILE	"balloon"
#define BALLOON_HINT_HINT_FILE		"hint"

/**
 * DOC: statistics
 *
 * Balloon:
 *
 * - ``features``: virtio feature bits negotiated with the device.
 * - ``balloon_pages``: 4 KiB pages in the balloon now.  The "actual" the
 *   host reads (QMP query-balloon) follows once the inflate or deflate
 *   message carrying the last change has been answered: wait for the
 *   host's value, not for this one, to know what the host sees.
 * - ``inflated``, ``deflated``: 4 KiB pages ever given to / taken back
 *   from the host; ``oom_deflated``: of those deflated, how many by the
 *   OOM notifier (DEFLATE_ON_OOM); ``migrated``: ballooned pages moved by
 *   compaction; ``stats_sent``: buffers sent on the stats virtqueue.
 *
 * Free page hinting (a *round* is one command id from the host):
 *
 * - ``hint_cmd_id``: the command id last read from config, once per config
 *   change (0 STOP, 1 DONE).
 * - ``held_pages``: pages allocated for hinting and not yet returned.
 * - ``inflight_pages``: of those, pages in blocks with a hint the host has
 *   not returned yet (or one about to be queued).  The driver frees none
 *   of them before the host returns the hint, except when the device is
 *   reset (removal, suspend): not on DONE, not under memory pressure.
 * - ``rounds``: rounds answered with a start marker; ``cmd_ids``: new
 *   command ids seen (a round is skipped when the previous start marker is
 *   still unused after hint_stall_ms); ``cmd_id_reads``: times the id was
 *   read from config (once per config change); ``mid_round_reads``: of
 *   those, the reads a round under way made (a config change came while it
 *   allocated; the round goes on when config shows its id or STOP);
 *   ``stop_seen``,
 *   ``done_seen``: STOP and DONE values seen between rounds (STOP read
 *   during a round does not end it: QEMU shows STOP for as long as a round
 *   runs); ``stops_sent``: rounds ended with a stop marker.
 * - ``id_changed_mid_round``: rounds a newer id replaced before they had
 *   hinted everything (the new id's round starts at once);
 *   ``pressure_stops``: rounds cut short because the shrinker ran;
 *   ``vq_full``: times the free page virtqueue had no room;
 *   ``host_stalls``: rounds abandoned because the host returned no
 *   buffer for hint_stall_ms (and, while a report waits for the hints
 *   of its blocks, each hint_stall_ms the host returned none).
 * - ``blocks_order_N``: blocks of order N hinted for the first time;
 *   ``alloc_fail_order_N``: allocations of order N that found no block
 *   (the driver then tries order N-1, down to hint_min_order);
 *   ``bytes_hinted``: bytes of those first hints; ``rehinted_blocks``:
 *   held blocks hinted again in a later round; ``helper_blocks``: first
 *   hints allocated by the round's helper on a second CPU (module
 *   parameter hint_helper).
 * - ``report_hinted_bytes``: bytes of blocks that free page reporting
 *   isolated while a round was open, hinted as well (they are not held,
 *   so they count neither in ``bytes_hinted`` nor in ``held_pages``).
 * - ``kicks``: notifications sent on the free page virtqueue.
 * - ``returned_done``, ``returned_shrinker``, ``returned_remove``: pages
 *   given back to the allocator because the host wrote DONE, because of
 *   memory pressure, or because the device went away (removal, or the
 *   reset of a suspend: see .freeze in the README).  They grow block
 *   by block, so at any moment ``held_pages`` plus the three is every
 *   page ever allocated for hinting (``bytes_hinted`` / page size); once
 *   DONE has been handled and the host returned every hint,
 *   ``held_pages`` is 0 (blocks whose hints come back after DONE are
 *   freed then, and count in ``returned_done``).  ``returned_oom``: the
 *   part of ``returned_shrinker`` given back by the OOM notifier, the
 *   page allocator's last call before it kills a task.
 *
 * Free page reporting:
 *
 * - ``reporting``: 1 when registered with the page reporting core;
 *   ``reports``: scatterlists reported; ``reported_bytes``: their size.
 * - ``report_inflight_bytes``: size of the report the host is handling
 *   now (0 when none).  The core takes those free blocks off the free
 *   lists until the host is done (up to 32 blocks of pageblock order or
 *   more), so MemFree is lower by this much meanwhile.  When the blocks
 *   were hinted too (``report_hinted_bytes``), the host is done once it
 *   returned those hints as well.
 */

/**
 * DOC: debug triggers
 *
 * With the module parameter ``debug_triggers=1`` (off by default; for
 * tests) two write-only files sit beside the stats file.  Each makes the
 * driver act at once, in the context of the task that writes it, instead
 * of in the driver's work items: what the action allocates is allocated by
 * that task, so fault injection through its /proc/thread-self/fail-nth
 * reaches it.  They act behind the host's back only as far as said here.
 *
 * - ``balloon``: write a signed count of 4 KiB pages (decimal or 0x-hex),
 *   a whole number of the guest's pages.  N from 1 to 256: the driver
 *   allocates N pages, puts them in the balloon and tells the host in one
 *   inflate message, all or nothing.  The balloon may then hold more than
 *   the host's target; the driver moves it back at the next config
 *   change.  -N, N at most ``balloon_pages``: the driver deflates N pages
 *   (fewer only when it moved to the host's target meanwhile).
 * - ``hint``: write anything: the driver reads the free page hint command
 *   id from config and answers it, as it does on a config change (a
 *   round, DONE or STOP; nothing when the id was answered already), on the
 *   writer's CPU only (no helper), and returns once the round ended.  A
 *   newer id that ended the round is answered by the driver's work item,
 *   as after a config change.  A
 *   round has no error to report: it ends its blocks when no more can be
 *   allocated, as always, and what it did shows in the statistics.
 *
 * Errors (write(2) returns -1 with errno):
 *
 * - ``EINVAL`` (``balloon``): the count is not a number, does not fit, or
 *   is out of the ranges above (0 included).
 * - ``EFAULT`` (``balloon``): the count could not be read from the
 *   caller's buffer.
 * - ``ENOMEM`` (``balloon``, N > 0): not all N pages could be allocated;
 *   none was inflated and the host was told nothing.
 */

#endif /* _UAPI_LINUX_BALLOON_HINT_H */
