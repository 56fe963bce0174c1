// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every write made while the guest migrates reaches the destination: the
 * kernel's (pwrite() into a memfd: the kernel copies into the page cache
 * through its direct map) and user space's (stores into anonymous memory),
 * with no balloon driver involved.
 *
 * Two threads rewrite 16 pages each, page after page, round after round,
 * as fast as they can (as the kernel rewrites its stacks), while the
 * runner migrates the guest to a real destination QEMU (twice).
 * Every page carries its index and the round that wrote it, and a pattern
 * derived from both; the writer records the round in an array.  Before
 * each write the writer reads the page back, and after each migration
 * every page is read once more: a page older than its record lost a write
 * of the kernel (memfd) or of user space (anonymous memory); a record
 * older than its page lost a write to the record array (user space).
 * Reading before each write catches a write lost in the migration when the
 * writer comes back to the page at the destination, before it covers the
 * loss with the next round.
 *
 * Under QEMU 7.2's TCG the aligned fast path of the dirty bitmap sync
 * (cpu_physical_memory_sync_dirty_bitmap()) clears the migration bits
 * without re-arming the vCPUs' TLB entries, so a store through an entry
 * that already marked its page dirty can mark nothing after the sync
 * (fixed upstream in QEMU 9.0 by 03bfc2188f06).  There, this program's
 * destinations crash in some runs (hrtimers on the writers' stacks),
 * though no page it checks has been found stale yet.  Guest RAM that
 * is not a multiple of 256 KiB takes the page-by-page sync, which re-arms
 * the entries: collection balloon_hint_dirty, see balloon_hint/README.md.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "bh_util.h"
#include "vmk_require.h"

static void __attribute__((constructor)) bh_dirty_require_host(void)
{
	bh_require_host();
}

#define BH_PAGE		4096
#define BH_AREA		(16 * BH_PAGE)
#define BH_PAGES	(BH_AREA / BH_PAGE)
#define BH_MIGRATIONS	2

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* Writes lost, by what the pages hold against their records. */
struct bh_lost {
	long stale;	/* the page is older than its record */
	long record;	/* the record is older than its page */
	long torn;	/* the page is no page the writer wrote */
};

struct bh_writer {
	bool kernel;		/* pwrite() into @fd, or stores into @mem */
	int fd;
	__u64 *mem;
	__u64 *seq;		/* round that last wrote each page */
	unsigned long n;	/* pages written; LOAD/STORE */
	int stop;		/* LOAD/STORE */
	int err;
	struct bh_lost lost;	/* seen by the writer; read after join */
};

/* Page @idx as round @seq writes it: index, round, then a pattern. */
static void bh_page_make(__u64 *w, __u64 idx, __u64 seq)
{
	__u64 x = (idx << 32 ^ seq) * 0x9e3779b97f4a7c15ULL | 1;
	unsigned int i;

	w[0] = idx;
	w[1] = seq;
	for (i = 2; i < BH_PAGE / sizeof(*w); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

/* The round that wrote page @idx, or -1 if the page is torn or foreign. */
static long long bh_page_seq(const __u64 *w, __u64 idx)
{
	__u64 want[BH_PAGE / sizeof(__u64)];

	if (w[0] != idx)
		return -1;
	bh_page_make(want, idx, w[1]);
	return memcmp(w, want, BH_PAGE) ? -1 : (long long)w[1];
}

/*
 * Whether page @idx of @wr holds what the writer last wrote there (or
 * nothing yet); what was lost is counted in @l.
 */
static void bh_classify(struct bh_writer *wr, size_t idx, struct bh_lost *l)
{
	__u64 buf[BH_PAGE / sizeof(__u64)];
	const __u64 *w = buf;
	long long s;

	if (!wr->seq[idx])
		return;
	if (wr->kernel) {
		if (pread(wr->fd, buf, BH_PAGE, idx * BH_PAGE) != BH_PAGE) {
			l->torn++;
			return;
		}
	} else {
		w = wr->mem + idx * (BH_PAGE / sizeof(__u64));
	}
	s = bh_page_seq(w, idx);
	if (s < 0)
		l->torn++;
	else if ((__u64)s < wr->seq[idx])
		l->stale++;
	else if ((__u64)s > wr->seq[idx])
		l->record++;
}

/*
 * Rewrite the pages round after round; before each write, check that the
 * page still holds the last write.  That catches a write lost in the
 * migration at the destination's first look, before the writer covers it
 * with the next round.
 */
static void *bh_write(void *arg)
{
	struct bh_writer *wr = arg;
	__u64 buf[BH_PAGE / sizeof(__u64)];
	unsigned long n = LOAD(wr->n), page;
	__u64 seq;

	while (!LOAD(wr->stop)) {
		page = n % BH_PAGES;
		seq = n / BH_PAGES + 1;
		bh_classify(wr, page, &wr->lost);
		if (wr->kernel) {
			bh_page_make(buf, page, seq);
			if (pwrite(wr->fd, buf, BH_PAGE,
				   page * BH_PAGE) != BH_PAGE) {
				wr->err = errno ? errno : EIO;
				break;
			}
		} else {
			bh_page_make(wr->mem + page * (BH_PAGE / sizeof(__u64)),
				     page, seq);
		}
		wr->seq[page] = seq;
		STORE(wr->n, ++n);
	}
	return NULL;
}

/* Every page, once the writer has stopped. */
static void bh_check(struct bh_writer *wr, struct bh_lost *l)
{
	size_t i;

	for (i = 0; i < BH_PAGES; i++)
		bh_classify(wr, i, l);
}

FIXTURE(dirty) {
	int host;
	struct bh_writer w[2];
};

FIXTURE_SETUP(dirty)
{
	struct bh_writer *k = &self->w[0], *u = &self->w[1];

	self->host = vmk_host_open();
	ASSERT_LE(0, self->host) TH_LOG("host channel: %s", strerror(-self->host));
	k->kernel = true;
	k->fd = memfd_create("bh_dirty", MFD_CLOEXEC);
	ASSERT_LE(0, k->fd);
	ASSERT_EQ(0, ftruncate(k->fd, BH_AREA));
	u->fd = -1;
	u->mem = mmap(NULL, BH_AREA, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u->mem);
	k->seq = calloc(BH_PAGES, sizeof(*k->seq));
	u->seq = calloc(BH_PAGES, sizeof(*u->seq));
	ASSERT_TRUE(k->seq && u->seq);
}

FIXTURE_TEARDOWN(dirty)
{
	struct bh_writer *k = &self->w[0], *u = &self->w[1];

	if (k->fd >= 0)
		close(k->fd);
	if (u->mem && u->mem != MAP_FAILED)
		munmap(u->mem, BH_AREA);
	free(k->seq);
	free(u->seq);
	if (self->host >= 0)
		close(self->host);
}

TEST_F_TIMEOUT(dirty, every_write_arrives, 400)
{
	static const char *const who[] = { "kernel (memfd)", "user (anon)" };
	unsigned long long src, dst, ms, sent;
	char resp[BH_RESP_LEN];
	unsigned long n0[2];
	struct bh_lost l;
	pthread_t t[2];
	int m, i, err;

	ASSERT_EQ(0, bh_set_bandwidth(self->host, BH_DEFAULT_BW));
	for (m = 0; m < BH_MIGRATIONS; m++) {
		for (i = 0; i < 2; i++) {
			STORE(self->w[i].stop, 0);
			memset(&self->w[i].lost, 0, sizeof(self->w[i].lost));
			n0[i] = LOAD(self->w[i].n);
			ASSERT_EQ(0, pthread_create(&t[i], NULL, bh_write,
						    &self->w[i]));
		}
		err = bh_host(self->host, resp,
			      "{\"op\":\"migrate\",\"dest\":true,\"timeout\":240}");
		for (i = 0; i < 2; i++) {
			STORE(self->w[i].stop, 1);
			pthread_join(t[i], NULL);
		}
		ASSERT_EQ(0, err) TH_LOG("migration %d: %s", m + 1, resp);
		ASSERT_EQ(0, vmk_json_u64(resp, "source-pid", &src));
		ASSERT_EQ(0, vmk_json_u64(resp, "destination-pid", &dst));
		ASSERT_EQ(0, vmk_json_u64(resp, "total-time", &ms));
		ASSERT_EQ(0, vmk_json_u64(resp, "transferred", &sent));
		TH_LOG("migration %d: QEMU %llu -> %llu, %llu MiB sent in %llu ms",
		       m + 1, src, dst, sent / BH_MIB, ms);
		EXPECT_NE(src, dst) TH_LOG("still in the same QEMU");
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, self->w[i].err)
				TH_LOG("%s: %s", who[i], strerror(self->w[i].err));
			l = self->w[i].lost;
			bh_check(&self->w[i], &l);
			TH_LOG("migration %d, %s: %lu pages written",
			       m + 1, who[i], LOAD(self->w[i].n) - n0[i]);
			TH_LOG("lost: %ld page writes, %ld record writes; %ld torn",
			       l.stale, l.record, l.torn);
			EXPECT_LT(n0[i], LOAD(self->w[i].n))
				TH_LOG("%s wrote nothing during the migration", who[i]);
			EXPECT_EQ(0, l.stale + l.record + l.torn)
				TH_LOG("%s: writes lost in migration %d", who[i], m + 1);
		}
	}
}

TEST_HARNESS_MAIN
