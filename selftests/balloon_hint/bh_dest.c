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
 * Each case migrates once, or "bh_dest.migrations=N" times (kernel command
 * line: the hidden collections migrate twice).
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
/*
 * Per GiB of guest RAM (a 2 GiB guest has twice these): anonymous memory
 * checked, page cache checked, memory dirtied and freed before migrating.
 */
#define BH_CHECKED	(128 * BH_MB)
#define BH_FILE		(32 * BH_MB)
#define BH_FREED	(384 * BH_MB)
#define BH_HOT		(16 * BH_MB)	/* rewritten during migrations */
#define BH_PRESSURE	(64 * BH_MB)	/* allocated and freed, over and over */
/*
 * Migrations per case (source -> destination -> another ...): one in the
 * default collection, which CI runs; the hidden ones ask for more with
 * "bh_dest.migrations=N".
 */
#define BH_MIGRATIONS	1
#define BH_FILE_PATH	"/tmp/bh_dest.data"

/* Flags and counters one thread sets and another reads. */
#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

struct bh_checked {
	size_t mem_len, file_len;	/* bytes checked */
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

/*
 * The value of "bh_dest.@name=N" on the kernel command line (set by the
 * collection's cmdline), or @def when it is not there.
 */
static long bh_dest_param(const char *name, long def)
{
	char line[4096] = "", key[64], *p;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return def;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	snprintf(key, sizeof(key), "bh_dest.%s=", name);
	for (p = strstr(line, key); p; p = strstr(p + 1, key))
		if (p == line || p[-1] == ' ')
			return strtol(p + strlen(key), NULL, 0);
	return def;
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
	size_t freed;
	double setup_s;
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
	double t0 = bh_now();
	__u8 page[BH_PAGE];
	long long gib;
	size_t i;
	int fd;

	self->host = vmk_host_open();
	ASSERT_LE(0, self->host) TH_LOG("host channel: %s", strerror(-self->host));
	/* RAM in whole GiB: MemTotal is the RAM less what the kernel took. */
	gib = (bh_meminfo("MemTotal") + 512 * BH_MB) / (1024 * BH_MB);
	ASSERT_LT(0, gib) TH_LOG("MemTotal");
	c->mem_len = gib * BH_CHECKED;
	c->file_len = gib * BH_FILE;
	self->freed = gib * BH_FREED;
	c->mem = mmap(NULL, c->mem_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c->mem);
	c->sum = calloc(c->mem_len / BH_PAGE, sizeof(*c->sum));
	c->file_sum = calloc(c->file_len / BH_PAGE, sizeof(*c->file_sum));
	ASSERT_TRUE(c->sum && c->file_sum);
	for (i = 0; i < c->mem_len / BH_PAGE; i++)
		c->sum[i] = bh_page_fill(c->mem + i * BH_PAGE, i);
	fd = open(BH_FILE_PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", BH_FILE_PATH, strerror(errno));
	for (i = 0; i < c->file_len / BH_PAGE; i++) {
		c->file_sum[i] = bh_page_fill(page, (1ULL << 32) + i);
		ASSERT_EQ(BH_PAGE, write(fd, page, BH_PAGE));
	}
	close(fd);
	ASSERT_EQ(0, bh_make_free_memory(variant->fragmented, self->freed,
					 &self->raw, &self->kept));
	self->setup_s = bh_now() - t0;
}

FIXTURE_TEARDOWN(dest)
{
	if (self->raw)
		munmap(self->raw, self->kept);
	unlink(BH_FILE_PATH);
	if (self->c.mem && self->c.mem != MAP_FAILED)
		munmap(self->c.mem, self->c.mem_len);
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

	for (i = 0; i < c->mem_len / BH_PAGE; i++) {
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
	for (i = 0; i < c->file_len / BH_PAGE; i++) {
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
	bool pressure = bh_dest_param("pressure", 0);
	long migrations = bh_dest_param("migrations", BH_MIGRATIONS);
	unsigned long long total_ms;
	double t0;
	unsigned long rewrites;
	struct bh_checked *c = &self->c;
	char resp[BH_RESP_LEN];
	pthread_t t[2];
	int i, err;

	TH_LOG("driver %s, %zu MiB freed (%s)%s, %ld migration(s)",
	       bh_driver_name(), self->freed >> 20,
	       variant->fragmented ? "fragmented" : "contiguous",
	       pressure ? ", memory pressure" : "", migrations);
	TH_LOG("%zu MiB and a %zu MiB file checked; set up in %.1f s",
	       c->mem_len >> 20, c->file_len >> 20, self->setup_s);
	ASSERT_LT(0, migrations) TH_LOG("bh_dest.migrations must be positive");
	ASSERT_EQ(0, bh_set_bandwidth(self->host, BH_DEFAULT_BW));
	ASSERT_EQ(0, bh_verify(_metadata, c)) TH_LOG("wrong before migrating");
	for (i = 0; i < migrations; i++) {
		STORE(c->stop, 0);
		ASSERT_EQ(0, pthread_create(&t[0], NULL, bh_rewriter, c));
		if (pressure)
			ASSERT_EQ(0, pthread_create(&t[1], NULL, bh_pressure,
						    c));
		rewrites = LOAD(c->rewrites);
		t0 = bh_now();
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
		ASSERT_EQ(0, vmk_json_u64(resp, "total-time", &total_ms));
		TH_LOG("migration %d: QEMU %llu -> %llu, %llu MiB sent in %.1f s",
		       i + 1, src, dst, transferred / BH_MIB, total_ms / 1000.0);
		TH_LOG("%.1f s from the request to the answer", bh_now() - t0);
		TH_LOG("%llu duplicate pages, %lu pages rewritten, %lu pressure rounds",
		       duplicate, LOAD(c->rewrites) - rewrites,
		       LOAD(c->pressure_rounds));
		EXPECT_NE(src, dst) TH_LOG("still in the same QEMU");
		EXPECT_LT(rewrites, LOAD(c->rewrites))
			TH_LOG("nothing was rewritten during the migration");
		EXPECT_EQ(0, c->pressure_err)
			TH_LOG("pressure: %s", strerror(c->pressure_err));
		t0 = bh_now();
		EXPECT_EQ(0, bh_verify(_metadata, c))
			TH_LOG("pages lost in migration %d", i + 1);
		TH_LOG("every page checked in %.1f s", bh_now() - t0);
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
