/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only fake virtio balloon device (bh_fakedev.ko), shared by the
 * module and the tests of selftests/balloon_hint_fakedev.  Not a stable
 * interface.
 *
 * The module plays the host side of one virtio balloon device on the real
 * virtio bus, so that balloon_hint probes it like any other.  A test drives
 * it through two debugfs files in BFD_DEBUGFS_DIR:
 *
 * BFD_CONTROL_FILE takes one command per write(), words separated by
 * single spaces, numbers in decimal or 0x-hex:
 *
 * - ``create FEATURES QSIZE [RQSIZE]``: register a device offering the
 *   VIRTIO_BALLOON_F_* bits in FEATURES (a mask of BFD_FEATURES; -EINVAL
 *   otherwise) with a free page virtqueue of QSIZE entries and a free page
 *   reporting virtqueue of RQSIZE (default BFD_RQSIZE_DEFAULT) entries,
 *   each a power of two from BFD_QSIZE_MIN to BFD_QSIZE_MAX.  -EEXIST if
 *   one exists.
 * - ``remove``: unregister the device (the driver's remove runs first).
 * - ``cmd_id ID``: write ID to free_page_hint_cmd_id and raise a config
 *   change (ID 1 is DONE, 0 is STOP).  ``cmd_id ID quiet`` writes it
 *   without the config change: the driver sees it only when it reads config
 *   for another reason (its debug trigger "hint" does, in the caller's
 *   context; see include/uapi/linux/balloon_hint.h).
 * - ``mode QUEUE MODE``: QUEUE is inflate, deflate, hint or report; MODE is
 *   ``consume`` (use each buffer at once, and give back any held ones),
 *   ``hold`` (take buffers off the ring and never return them: a host
 *   that stopped answering) or ``ignore`` (leave them in the ring: the
 *   queue fills up).
 * - ``target N``: write N (4 KiB pages) to num_pages, the balloon size
 *   the host asks for, and raise a config change.
 * - ``trigger N ID``: once N more free page blocks have arrived, write ID
 *   to the command id and raise a config change (a new id, or DONE, while
 *   the driver is still allocating).  One shot; N from 1.
 * - ``trigger stop ID``: at the next stop marker, write ID and raise a
 *   config change (a host acting right after a round ended).  One shot,
 *   armed beside a block trigger.
 * - ``trigger N pause``: once N more free page blocks have arrived, hold
 *   the driver in the kick that brought the Nth, in the middle of its
 *   round, until ``resume`` (or the device's removal, a ``suspend``, or
 *   60 s): a point in the round the test knows it is at.  One shot.
 * - ``resume``: end a pause under way (nothing when there is none).
 * - ``suspend``: a suspend/resume cycle as a transport's PM callbacks run
 *   it: virtio_device_freeze() (the driver's .freeze), then
 *   virtio_device_restore(), which resets the device (every queue is
 *   forgotten: a queue the driver does not set up again is never looked
 *   at) and calls the driver's .restore.  -EOPNOTSUPP without
 *   CONFIG_PM_SLEEP; otherwise the error of either step.
 *
 * - ``stats``: give back the statistics buffer the device holds, as QEMU
 *   does when it wants fresh statistics: the driver fills and sends a new
 *   one, which the device takes (BFD_STATS_FILE shows it) and holds in
 *   turn.  -EAGAIN when the device holds none.
 *
 * Every command fails with -ENODEV when no device exists (but create),
 * and changes nothing when it fails.
 *
 * BFD_COUNTERS_FILE reads one "name value" line per counter, values in
 * decimal (see fakedev.h for their meaning).  BFD_MARKERS_FILE reads
 * the markers seen on the free page virtqueue since create, oldest first,
 * one per line: "start ID" or "stop" (at most BFD_MARKERS_MAX; the
 * ``markers_lost`` counter says how many did not fit).  BFD_STATS_FILE
 * reads the entries of the last statistics buffer the driver sent, in its
 * order, one "TAG VALUE" line each, in decimal (at most BFD_STATS_MAX; a
 * buffer that is not a whole number of entries, or longer, counts in
 * ``stats_bad`` and leaves the file as it was).
 */
#ifndef _BH_FAKEDEV_H
#define _BH_FAKEDEV_H

#define BFD_DEBUGFS_DIR		"/sys/kernel/debug/bh_fakedev"
#define BFD_CONTROL_FILE	BFD_DEBUGFS_DIR "/control"
#define BFD_COUNTERS_FILE	BFD_DEBUGFS_DIR "/counters"
#define BFD_MARKERS_FILE	BFD_DEBUGFS_DIR "/markers"
#define BFD_STATS_FILE		BFD_DEBUGFS_DIR "/stats"

/*
 * Balloon features the fake device can offer: MUST_TELL_HOST (bit 0),
 * STATS_VQ (1), DEFLATE_ON_OOM (2), FREE_PAGE_HINT (3), PAGE_POISON (4),
 * REPORTING (5: the reported blocks are counted, nothing is discarded);
 * and BFD_F_LEGACY, not a feature: a legacy device, which offers no
 * VIRTIO_F_VERSION_1 (the rings are then in the guest's byte order; the
 * device writes config little-endian either way, which on x86 is the
 * guest's order too).
 */
#define BFD_F_STATS_VQ		0x02ULL
#define BFD_F_FREE_PAGE_HINT	0x08ULL
#define BFD_F_PAGE_POISON	0x10ULL
#define BFD_F_REPORTING		0x20ULL
#define BFD_F_LEGACY		0x100ULL
#define BFD_FEATURES		0x13fULL

#define BFD_QSIZE_MIN		4
#define BFD_QSIZE_MAX		1024
/* Entries of the reporting virtqueue unless create says (QEMU's size). */
#define BFD_RQSIZE_DEFAULT	32
#define BFD_MARKERS_MAX		256
#define BFD_STATS_MAX		32

#endif /* _BH_FAKEDEV_H */
