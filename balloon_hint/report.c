// SPDX-License-Identifier: GPL-2.0-only
/*
 * balloon_hint: free page reporting (VIRTIO_BALLOON_F_REPORTING).
 *
 * mm/page_reporting.c isolates free blocks of at least pageblock order and
 * hands them to us a scatterlist at a time; the host discards their backing
 * (QEMU: MADV_DONTNEED), which lowers its RSS.  The blocks return to the
 * free lists when we return, so we wait for the host to use the buffer,
 * and for it to return the hints of those blocks, if they were hinted
 * (hint.c, bh_hint_reported()).
 * Only one page reporting device may exist in the system: registration
 * fails with -EBUSY otherwise and the driver runs without reporting.
 */
#include <linux/scatterlist.h>
#include <linux/sizes.h>

#include "balloon_hint.h"

/*
 * The smallest block reported.  Said explicitly: 0 meant "the core's
 * default" on older kernels, but is order 0, every free page, on 7.x
 * (where the default is PAGE_REPORTING_ORDER_UNSPECIFIED).  The pageblock
 * order, as the core would pick, except with 64 KiB pages, where a
 * pageblock is 512 MiB and free memory seldom has one: order 5, 2 MiB, as
 * in-tree.
 */
#if PAGE_SIZE == SZ_64K
#define BH_REPORT_ORDER	5
#else
#define BH_REPORT_ORDER	pageblock_order
#endif

/*
 * The host returned the report (*@used), or forgot it: the device was
 * reset, and the driver is going away or to sleep.
 */
static bool bh_report_done(struct bh_dev *bh, bool *used)
{
	unsigned int len;

	if (virtqueue_get_buf(bh->report_vq, &len))
		*used = true;
	return *used || READ_ONCE(bh->vqs_dead);
}

static int bh_report(struct page_reporting_dev_info *pr,
		     struct scatterlist *sg, unsigned int nents)
{
	struct bh_dev *bh = container_of(pr, struct bh_dev, pr_dev_info);
	struct scatterlist *s;
	unsigned int hinted, i;
	bool used = false;
	u64 bytes = 0;
	int err;

	/* Between the device's reset and the end of reporting. */
	if (READ_ONCE(bh->vqs_dead))
		return -ENODEV;
	for_each_sg(sg, s, nents, i)
		bytes += s->length;
	/*
	 * Off the free lists (out of MemFree) until we return, and already
	 * while the hint below waits for the hint queue.
	 */
	atomic64_set(&bh->report_inflight, bytes);
	/* Free now: worth a hint if the host is collecting them. */
	hinted = bh_hint_reported(bh, sg, nents);
	/*
	 * Indirect descriptors are off (see bh_validate) and we wait for each
	 * report, so the queue is empty and adding allocates nothing.
	 */
	err = virtqueue_add_inbuf(bh->report_vq, sg, nents, bh,
				  GFP_NOWAIT | __GFP_NOWARN);
	if (!err) {
		virtqueue_kick(bh->report_vq);
		wait_event(bh->acked, bh_report_done(bh, &used));
		if (used) {
			atomic64_inc(&bh->st.reports);
			atomic64_add(bytes, &bh->st.reported_bytes);
		} else {
			err = -ENODEV;
		}
	}
	/*
	 * The blocks go back to the free lists when we return: not while
	 * the host may still act on their hints.
	 */
	if (hinted)
		bh_hint_reported_wait(bh);
	atomic64_set(&bh->report_inflight, 0);
	return err;
}

int bh_report_register(struct bh_dev *bh)
{
	int err;

	bh->pr_dev_info.report = bh_report;
	bh->pr_dev_info.order = BH_REPORT_ORDER;
	err = page_reporting_register(&bh->pr_dev_info);
	if (err)
		return err;
	bh->reporting = true;
	return 0;
}

void bh_report_unregister(struct bh_dev *bh)
{
	if (bh->reporting)
		page_reporting_unregister(&bh->pr_dev_info);
	bh->reporting = false;
}
