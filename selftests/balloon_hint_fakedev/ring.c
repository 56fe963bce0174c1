// SPDX-License-Identifier: GPL-2.0-only
/*
 * bh_fakedev: the device side of a split virtqueue (virtio 1.x, 2.7).
 *
 * The driver's virtio_ring code owns the ring memory; vring_create_virtqueue
 * allocated it and virtqueue_get_vring() shows it to us.  Like a device we
 * read the available ring, follow each descriptor chain, then publish used
 * elements and call the driver back with vring_interrupt().  No feature that
 * changes the ring layout is offered (no EVENT_IDX, no INDIRECT_DESC, no
 * packed ring), so this is all the parsing needed.
 */
#include <linux/interrupt.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "fakedev.h"

/*
 * Take the next available buffer into @buf.
 * Return: 1 when one was taken, 0 when the ring is empty, -EPROTO when the
 * driver published something no device can accept.
 */
static int bfd_ring_pop(struct bfd_vq *q, struct bfd_buf *buf)
{
	const struct vring *vr = virtqueue_get_vring(q->vq);
	struct virtio_device *vdev = q->vq->vdev;
	unsigned int num = vr->num;
	struct bfd_seg *seg;
	u16 avail, i, flags;

	avail = virtio16_to_cpu(vdev, READ_ONCE(vr->avail->idx));
	if (avail == q->last_avail)
		return 0;
	if ((u16)(avail - q->last_avail) > num)
		return -EPROTO;
	/* The entry is valid only once the index covering it was seen. */
	smp_rmb();
	i = virtio16_to_cpu(vdev, READ_ONCE(vr->avail->ring[q->last_avail &
							      (num - 1)]));
	buf->head = i;
	buf->nsegs = 0;
	for (;;) {
		if (i >= num || buf->nsegs == BFD_MAX_SEGS)
			return -EPROTO;
		flags = virtio16_to_cpu(vdev, vr->desc[i].flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return -EPROTO;
		seg = &buf->seg[buf->nsegs++];
		seg->addr = virtio64_to_cpu(vdev, vr->desc[i].addr);
		seg->len = virtio32_to_cpu(vdev, vr->desc[i].len);
		seg->write = flags & VRING_DESC_F_WRITE;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = virtio16_to_cpu(vdev, vr->desc[i].next);
	}
	q->last_avail++;
	return 1;
}

/* Publish buffer @head as used, having written @len bytes into it. */
static void bfd_ring_push(struct bfd_vq *q, u16 head, u32 len)
{
	const struct vring *vr = virtqueue_get_vring(q->vq);
	struct virtio_device *vdev = q->vq->vdev;
	struct vring_used_elem *e;

	e = &vr->used->ring[q->used_idx & (vr->num - 1)];
	e->id = cpu_to_virtio32(vdev, head);
	e->len = cpu_to_virtio32(vdev, len);
	q->used_idx++;
	/* The element before the index that makes it the driver's. */
	smp_wmb();
	WRITE_ONCE(vr->used->idx, cpu_to_virtio16(vdev, q->used_idx));
	q->used++;
}

/* Call the driver back, unless it asked for no interrupts. */
static void bfd_ring_interrupt(struct bfd_vq *q)
{
	const struct vring *vr = virtqueue_get_vring(q->vq);
	unsigned long flags;

	/* Read the driver's flag only after our used index is visible. */
	smp_mb();
	if (virtio16_to_cpu(q->vq->vdev, READ_ONCE(vr->avail->flags)) &
	    VRING_AVAIL_F_NO_INTERRUPT)
		return;
	/* It is an interrupt handler: run it as one would run. */
	local_irq_save(flags);
	vring_interrupt(0, q->vq);
	local_irq_restore(flags);
}

/**
 * bfd_ring_return_held - give back every buffer held in BFD_HOLD mode
 * @q: the queue, bfd_dev.lock held
 */
void bfd_ring_return_held(struct bfd_vq *q)
{
	unsigned int i;

	lockdep_assert_held(&q->bfd->lock);
	if (!q->nheld)
		return;
	for (i = 0; i < q->nheld; i++)
		bfd_ring_push(q, q->held[i].head, 0);
	q->nheld = 0;
	q->held_bytes = 0;
	bfd_ring_interrupt(q);
}

static u32 bfd_buf_bytes(const struct bfd_buf *buf)
{
	u32 bytes = 0;
	unsigned int i;

	for (i = 0; i < buf->nsegs; i++)
		bytes += buf->seg[i].len;
	return bytes;
}

/**
 * bfd_ring_process - take what the driver made available, as the mode says
 * @q: the queue
 *
 * Runs on every notification (and when the driver becomes ready or a mode
 * changes).  A queue whose ring is corrupt is left alone until reset.
 */
void bfd_ring_process(struct bfd_vq *q)
{
	struct bfd_dev *bfd = q->bfd;
	bool used = false;
	struct bfd_buf buf;
	int ret;

	mutex_lock(&bfd->lock);
	if (!bfd_driver_ok(bfd) || q->broken || q->dead ||
	    q->mode == BFD_IGNORE)
		goto out_unlock;
	while ((ret = bfd_ring_pop(q, &buf)) > 0) {
		q->seen++;
		bfd_buf_taken(q, &buf);
		if (q->mode == BFD_CONSUME) {
			/* Balloon buffers are only read: nothing written. */
			bfd_ring_push(q, buf.head, 0);
			used = true;
		} else {
			/* A ring never has more buffers than entries. */
			if (q->nheld == virtqueue_get_vring_size(q->vq)) {
				ret = -EPROTO;
				break;
			}
			q->held[q->nheld].head = buf.head;
			q->held[q->nheld].bytes = bfd_buf_bytes(&buf);
			q->held_bytes += q->held[q->nheld].bytes;
			q->nheld++;
		}
	}
	if (ret < 0) {
		q->broken = true;
		bfd->ring_errors++;
	}
	if (used)
		bfd_ring_interrupt(q);
out_unlock:
	mutex_unlock(&bfd->lock);
}

void bfd_ring_work(struct work_struct *work)
{
	bfd_ring_process(container_of(work, struct bfd_vq, work));
}
