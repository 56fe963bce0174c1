// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hinted migration loses nothing: the guest migrates to a real
 * destination QEMU (started by the runner with -incoming on a unix socket,
 * on this machine) and goes on running there; every page it had is checked.
 *
 * Before the migration the test fills anonymous memory and a file in the
 * page cache with pseudo-random data and keeps a checksum of every page;
 * it frees a large region (contiguous, or fragmented into 2 MiB pieces)
 * so that the driver has plenty to hint.  While the migration runs, one
 * thread keeps rewriting part of the memory (updating the checksums); free
 * page reporting and the driver's helper CPU run as they always do.
 *
 * With "bh_dest.pressure=1" on the kernel command line (the hidden
 * collection balloon_hint_dest_pressure) another thread also keeps
 * allocating and freeing memory during the migration, so that the balloon's
 * shrinker takes hinted blocks back mid-round.  After the guest resumes at
 * the destination, every page of the memory and of the file must match its
 * checksum.  A page the driver hinted while it was in use is not sent, and
 * reads back as zeroes (or stale) at the destination.  Every collection of
 * this program sets exact_dirty_sync: under QEMU 7.2's TCG the destination's
 * kernel crashed otherwise, with any driver or none (balloon_hint/README.md).
 *
 * The same program runs with the in-tree virtio_balloon as a control
 * (collection balloon_hint_dest_control) and with no balloon driver at all
 * (balloon_hint_dest_nodriver: nothing is hinted): a failure there too
 * points at the test, QEMU or the kernel rather than at balloon_hint.
 */
#include <pthread.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "bh_util.h"
#include "bh_common_migrate.h"
#include "vmk_require.h"

/*
 * Skip the whole program, the kselftest way, outside a vmemkit guest: the
 * migrations are the runner's, asked for on its host channel.
 */
static void __attribute__((constructor)) bh_dest_require_host(void)
{
	bh_require_host();
}

#define BH_MB		((long long)BH_MIB)
#define BH_PAGE		4096
#define BH_CHECKED	(256 * BH_MB)	/* anonymous memory checked */
#define BH_HOT		(16 * BH_MB)	/* of it, rewritten during migrations */
#define BH_FILE		(64 * BH_MB)	/* page cache checked */
#define BH_FREED	(768 * BH_MB)	/* dirtied and freed before migrating */
#define BH_PRESSURE	(64 * BH_MB)	/* allocated and freed, over and over */
#define BH_MIGRATIONS	2		/* source -> destination -> another */
#define BH_FILE_PATH	"/tmp/bh_dest.data"

/* Flags and counters one thread sets and another reads. */
#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

struct bh_checked {
	__u8 *mem;
	__u64 *sum;		/* per page of @mem, written with the page */
	__u64 *file_sum;
	int stop;		/* LOAD/STORE */
	unsigned long rewrites, pressure_rounds;	/* LOAD/STORE */
	int pressure_err;
};

/* Fill a page with data derived from @seed; returns its checksum. */
static __u64 bh_page_fill(void *page, __u64 seed)
{
	__u64 *w = page, x = seed * 0x9e3779b97f4a7c15ULL | 1, sum = 0;
	unsigned int i;

	for (i = 0; i < BH_PAGE / sizeof(*w); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
		sum = (sum ^ x) * 0x100000001b3ULL;
	}
	return sum;
}

static __u64 bh_page_sum(const void *page)
{
	const __u64 *w = page;
	__u64 sum = 0;
	unsigned int i;

	for (i = 0; i < BH_PAGE / sizeof(*w); i++)
		sum = (sum ^ w[i]) * 0x100000001b3ULL;
	return sum;
}

static bool bh_page_zero(const void *page)
{
	const __u64 *w = page;
	unsigned int i;

	for (i = 0; i < BH_PAGE / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

/* Rewrite the hot pages round and round, a page per step, gently. */
static void *bh_rewriter(void *arg)
{
	struct bh_checked *c = arg;
	unsigned long n = LOAD(c->rewrites), page;

	while (!LOAD(c->stop)) {
		page = n % (BH_HOT / BH_PAGE);
		c->sum[page] = bh_page_fill(c->mem + page * BH_PAGE,
					    (1ULL << 40) + n);
		STORE(c->rewrites, ++n);
		/* At most 16 pages per ms: the migration must converge. */
		if (!(n % 16))
			usleep(1000);
	}
	return NULL;
}

/* Whether the kernel command line asks for the pressure thread. */
static bool bh_dest_pressure(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	return !!strstr(line, "bh_dest.pressure=1");
}

/* Allocate, touch and free memory over and over: the shrinker's work. */
static void *bh_pressure(void *arg)
{
	struct bh_checked *c = arg;
	char *p;

	while (!LOAD(c->stop)) {
		p = bh_fill(BH_PRESSURE);
		if (!p) {
			c->pressure_err = errno;
			break;
		}
		munmap(p, BH_PRESSURE);
		STORE(c->pressure_rounds, c->pressure_rounds + 1);
	}
	return NULL;
}

FIXTURE(dest) {
	int host;
	struct bh_checked c;
	char *raw;
	size_t kept;
};

FIXTURE_VARIANT(dest) {
	bool fragmented;
};

FIXTURE_VARIANT_ADD(dest, plain) {
	.fragmented = false,
};

FIXTURE_VARIANT_ADD(dest, fragmented) {
	.fragmented = true,
};

FIXTURE_SETUP(dest)
{
	struct bh_checked *c = &self->c;
	__u8 page[BH_PAGE];
	size_t i;
	int fd;

	self->host = vmk_host_open();
	ASSERT_LE(0, self->host) TH_LOG("host channel: %s", strerror(-self->host));
	c->mem = mmap(NULL, BH_CHECKED, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c->mem);
	c->sum = calloc(BH_CHECKED / BH_PAGE, sizeof(*c->sum));
	c->file_sum = calloc(BH_FILE / BH_PAGE, sizeof(*c->file_sum));
	ASSERT_TRUE(c->sum && c->file_sum);
	for (i = 0; i < BH_CHECKED / BH_PAGE; i++)
		c->sum[i] = bh_page_fill(c->mem + i * BH_PAGE, i);
	fd = open(BH_FILE_PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", BH_FILE_PATH, strerror(errno));
	for (i = 0; i < BH_FILE / BH_PAGE; i++) {
		c->file_sum[i] = bh_page_fill(page, (1ULL << 32) + i);
		ASSERT_EQ(BH_PAGE, write(fd, page, BH_PAGE));
	}
	close(fd);
	ASSERT_EQ(0, bh_make_free_memory(variant->fragmented, BH_FREED,
					 &self->raw, &self->kept));
}

FIXTURE_TEARDOWN(dest)
{
	if (self->raw)
		munmap(self->raw, self->kept);
	unlink(BH_FILE_PATH);
	munmap(self->c.mem, BH_CHECKED);
	free(self->c.sum);
	free(self->c.file_sum);
	if (self->host >= 0)
		close(self->host);
}

/*
 * Pages of the memory and of the file that do not match their checksums;
 * the first one is logged, and whether it reads back as zeroes.
 */
static long bh_verify(struct __test_metadata *_metadata, struct bh_checked *c)
{
	__u8 page[BH_PAGE];
	long bad = 0;
	size_t i;
	int fd;

	for (i = 0; i < BH_CHECKED / BH_PAGE; i++) {
		if (bh_page_sum(c->mem + i * BH_PAGE) == c->sum[i])
			continue;
		if (!bad++)
			TH_LOG("memory page %zu differs (%s)", i,
			       bh_page_zero(c->mem + i * BH_PAGE) ?
			       "zeroes" : "other data");
	}
	fd = open(BH_FILE_PATH, O_RDONLY);
	if (fd < 0) {
		TH_LOG("%s: %s", BH_FILE_PATH, strerror(errno));
		return bad + 1;
	}
	for (i = 0; i < BH_FILE / BH_PAGE; i++) {
		if (pread(fd, page, BH_PAGE, i * BH_PAGE) != BH_PAGE) {
			TH_LOG("file page %zu: short read", i);
			bad++;
			break;
		}
		if (bh_page_sum(page) == c->file_sum[i])
			continue;
		if (!bad++)
			TH_LOG("file page %zu differs (%s)", i,
			       bh_page_zero(page) ? "zeroes" : "other data");
	}
	close(fd);
	return bad;
}

TEST_F_TIMEOUT(dest, every_page_arrives, 400)
{
	bool ours = !strcmp(bh_driver_name(), "balloon_hint");
	long long hinted0 = ours ? bh_stat("bytes_hinted") : 0;
	long long shrunk0 = ours ? bh_stat("returned_shrinker") : 0;
	unsigned long long transferred, duplicate, src, dst;
	bool pressure = bh_dest_pressure();
	unsigned long rewrites;
	struct bh_checked *c = &self->c;
	char resp[BH_RESP_LEN];
	pthread_t t[2];
	int i, err;

	TH_LOG("driver %s, %s free memory%s", bh_driver_name(),
	       variant->fragmented ? "fragmented" : "contiguous",
	       pressure ? ", memory pressure" : "");
	ASSERT_EQ(0, bh_set_bandwidth(self->host, BH_DEFAULT_BW));
	ASSERT_EQ(0, bh_verify(_metadata, c)) TH_LOG("wrong before migrating");
	for (i = 0; i < BH_MIGRATIONS; i++) {
		STORE(c->stop, 0);
		ASSERT_EQ(0, pthread_create(&t[0], NULL, bh_rewriter, c));
		if (pressure)
			ASSERT_EQ(0, pthread_create(&t[1], NULL, bh_pressure,
						    c));
		rewrites = LOAD(c->rewrites);
		err = bh_host(self->host, resp,
			      "{\"op\":\"migrate\",\"dest\":true,\"timeout\":240}");
		/* The guest now runs in the destination QEMU. */
		STORE(c->stop, 1);
		pthread_join(t[0], NULL);
		if (pressure)
			pthread_join(t[1], NULL);
		ASSERT_EQ(0, err) TH_LOG("migration %d: %s", i + 1, resp);
		ASSERT_EQ(0, vmk_json_u64(resp, "transferred", &transferred));
		ASSERT_EQ(0, vmk_json_u64(resp, "duplicate", &duplicate));
		ASSERT_EQ(0, vmk_json_u64(resp, "source-pid", &src));
		ASSERT_EQ(0, vmk_json_u64(resp, "destination-pid", &dst));
		TH_LOG("migration %d: QEMU %llu -> %llu, %llu MiB sent",
		       i + 1, src, dst, transferred / BH_MIB);
		TH_LOG("%llu duplicate pages, %lu pages rewritten, %lu pressure rounds",
		       duplicate, LOAD(c->rewrites) - rewrites,
		       LOAD(c->pressure_rounds));
		EXPECT_NE(src, dst) TH_LOG("still in the same QEMU");
		EXPECT_LT(rewrites, LOAD(c->rewrites))
			TH_LOG("nothing was rewritten during the migration");
		EXPECT_EQ(0, c->pressure_err)
			TH_LOG("pressure: %s", strerror(c->pressure_err));
		EXPECT_EQ(0, bh_verify(_metadata, c))
			TH_LOG("pages lost in migration %d", i + 1);
	}
	if (ours) {
		TH_LOG("balloon_hint hinted %lld MiB; the shrinker took back %lld pages",
		       (bh_stat("bytes_hinted") - hinted0) / BH_MB,
		       bh_stat("returned_shrinker") - shrunk0);
		EXPECT_LT(hinted0, bh_stat("bytes_hinted"))
			TH_LOG("nothing was hinted: the migration proved nothing");
	}
}

TEST_HARNESS_MAIN
