// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr under concurrency, with the sw_rmp backend WARNing on any host
 * access to a private page:
 *
 * - reader threads fault random pages while converter threads flip random
 *   ranges of their own halves of the object between private and shared.
 *   Per page, the converter keeps a generation: odd while a conversion cycle
 *   is under way, even (2e) in shared epoch e, whose data is pattern(p, e).
 *   A read that stayed within one even generation must not SIGBUS; a read
 *   that returned data must return 0 or data of an epoch no older than the
 *   one it started in (older data survived a private period: not zeroed, or
 *   a mapping not zapped).  Converters also check that each page raises
 *   SIGBUS while private (a read through a stale PTE would not: readers
 *   cannot tell it, as the page is zeroed in place on its way back) and
 *   reads 0 right after turning shared.
 * - faults on pages that no conversion touches never retry while disjoint
 *   conversions run.
 *
 * Both run a few seconds, bounded by the clock, not by an iteration count.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <stdarg.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

#define NR_PAGES	256	/* converted: two halves, one per converter */
#define NR_QUIET	64	/* never converted, after them */
#define NR_CONVERTERS	2
#define NR_READERS	2
#define RUN_SECONDS	3

struct stress {
	int fd;
	__u64 pg;
	char *map;
	__u64 gen[NR_PAGES];
	int stop;
	int failed;
	/* results */
	unsigned long reads, sigbus, cycles;
	char error[256];
};

static __u64 pattern(__u64 page, __u64 epoch)
{
	return (1ULL << 63) | (page << 32) | epoch;
}

static __u64 *page_word(struct stress *s, __u64 page)
{
	return (__u64 *)(s->map + page * s->pg);
}

/* Record the first failure and stop every thread. */
static void __printf(2, 3) fail(struct stress *s, const char *fmt, ...)
{
	va_list ap;

	if (!__atomic_exchange_n(&s->failed, 1, __ATOMIC_ACQ_REL)) {
		va_start(ap, fmt);
		vsnprintf(s->error, sizeof(s->error), fmt, ap);
		va_end(ap);
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
}

static int stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

struct worker {
	struct stress *s;
	unsigned int id;
	unsigned int seed;
};

static void *converter(void *p)
{
	struct worker *w = p;
	struct stress *s = w->s;
	__u64 base = w->id * (NR_PAGES / NR_CONVERTERS), first, nr, i, v;

	while (!stopped(s)) {
		first = base + rand_r(&w->seed) % (NR_PAGES / NR_CONVERTERS);
		nr = 1 + rand_r(&w->seed) % 16;
		if (first + nr > base + NR_PAGES / NR_CONVERTERS)
			nr = base + NR_PAGES / NR_CONVERTERS - first;
		for (i = first; i < first + nr; i++)
			__atomic_add_fetch(&s->gen[i], 1, __ATOMIC_ACQ_REL);
		if (ma_set_pages(s->fd, first, nr, MA_PRIVATE)) {
			fail(s, "conversion of [%llu, +%llu) failed", first, nr);
			break;
		}
		/*
		 * Each page was written (so mapped) at the end of the last
		 * cycle that covered it: a read now goes through a stale
		 * PTE unless the conversion zapped it, and would return
		 * data that zeroing on the way back hides.
		 */
		for (i = first; i < first + nr; i++) {
			if (!ma_probe_read(page_word(s, i), &v)) {
				fail(s, "page %llu read %#llx while private",
				     i, v);
				return NULL;
			}
		}
		if (ma_set_pages(s->fd, first, nr, 0)) {
			fail(s, "conversion of [%llu, +%llu) failed", first, nr);
			break;
		}
		for (i = first; i < first + nr; i++) {
			__u64 g = __atomic_add_fetch(&s->gen[i], 1,
							__ATOMIC_ACQ_REL);

			if (ma_probe_read(page_word(s, i), &v)) {
				fail(s, "page %llu SIGBUS right after turning shared", i);
				return NULL;
			}
			if (v) {
				fail(s, "page %llu kept %#llx after private -> shared",
				     i, v);
				return NULL;
			}
			ma_probe_write(page_word(s, i), pattern(i, g / 2));
		}
		__atomic_add_fetch(&s->cycles, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reader(void *p)
{
	struct worker *w = p;
	struct stress *s = w->s;
	__u64 page, g1, g2, v;
	unsigned long reads = 0, sigbus = 0;

	while (!stopped(s)) {
		page = rand_r(&w->seed) % NR_PAGES;
		g1 = __atomic_load_n(&s->gen[page], __ATOMIC_ACQUIRE);
		if (ma_probe_read(page_word(s, page), &v)) {
			g2 = __atomic_load_n(&s->gen[page], __ATOMIC_ACQUIRE);
			sigbus++;
			if (g1 == g2 && !(g1 & 1))
				fail(s, "shared page %llu raised SIGBUS (gen %llu)",
				     page, g1);
			continue;
		}
		reads++;
		if (!v)
			continue;
		if (((v >> 32) & 0x7fffffff) != page)
			fail(s, "page %llu holds page %llu's data %#llx",
			     page, (v >> 32) & 0x7fffffff, v);
		else if (2 * (v & 0xffffffff) < (g1 & ~1ULL))
			fail(s, "page %llu: stale data %#llx at gen %llu", page, v, g1);
	}
	__atomic_add_fetch(&s->reads, reads, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->sigbus, sigbus, __ATOMIC_RELAXED);
	return NULL;
}

/* Fault every quiet page again and again. */
static void *quiet_reader(void *p)
{
	struct worker *w = p;
	struct stress *s = w->s;
	char *quiet = s->map + NR_PAGES * s->pg;
	unsigned long reads = 0;
	__u64 i, v;

	while (!stopped(s)) {
		for (i = 0; i < NR_QUIET; i++) {
			if (ma_probe_read((__u64 *)(quiet + i * s->pg), &v)) {
				fail(s, "quiet page %llu raised SIGBUS", i);
				return NULL;
			}
			reads++;
		}
		madvise(quiet, NR_QUIET * s->pg, MADV_DONTNEED);
	}
	__atomic_add_fetch(&s->reads, reads, __ATOMIC_RELAXED);
	return NULL;
}

FIXTURE(stress) {
	struct stress s;
};

FIXTURE_VARIANT(stress) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(stress, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(stress, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

FIXTURE_SETUP(stress)
{
	struct stress *s = &self->s;
	__u64 size;

	ma_probe_init();
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	s->pg = ma_page();
	size = (NR_PAGES + NR_QUIET) * s->pg;
	s->fd = ma_create(size, variant->flags);
	ASSERT_LE(0, s->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-s->fd));
	s->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	ASSERT_NE(MAP_FAILED, s->map);
}

FIXTURE_TEARDOWN(stress)
{
	munmap(self->s.map, (NR_PAGES + NR_QUIET) * self->s.pg);
	close(self->s.fd);
}

/* Run @nr_readers threads of @read_fn next to the converters. */
static void run(struct __test_metadata *_metadata, struct stress *s,
		void *(*read_fn)(void *), unsigned int nr_readers)
{
	struct worker w[NR_CONVERTERS + NR_READERS];
	pthread_t t[NR_CONVERTERS + NR_READERS];
	unsigned int i, n = NR_CONVERTERS + nr_readers;

	for (i = 0; i < n; i++) {
		w[i] = (struct worker){ s, i, 0x5eed + i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL,
					    i < NR_CONVERTERS ? converter : read_fn,
					    &w[i]));
	}
	for (i = 0; i < RUN_SECONDS * 10 && !stopped(s); i++)
		usleep(100000);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	ASSERT_STREQ("", s->error);
	ASSERT_LT(0, s->cycles) TH_LOG("no conversion ran");
	ASSERT_LT(0, s->reads) TH_LOG("no read ran");
}

TEST_F_TIMEOUT(stress, faults_race_conversions, 60)
{
	long long retries = ma_stat("fault_retries");

	run(_metadata, &self->s, reader, NR_READERS);
	TH_LOG("%lu cycles, %lu reads, %lu SIGBUS, %lld fault retries",
	       self->s.cycles, self->s.reads, self->s.sigbus,
	       ma_stat("fault_retries") - retries);
	EXPECT_LT(0, self->s.sigbus) TH_LOG("readers never met a private page");
}

TEST_F_TIMEOUT(stress, disjoint_conversions_cause_no_retries, 60)
{
	long long retries = ma_stat("fault_retries");
	long long faults = ma_stat("faults");

	run(_metadata, &self->s, quiet_reader, NR_READERS);
	EXPECT_EQ(retries, ma_stat("fault_retries"))
		TH_LOG("faults on quiet pages retried");
	EXPECT_LT(faults + 2 * NR_QUIET, ma_stat("faults"))
		TH_LOG("quiet pages were not faulted again");
	TH_LOG("%lu cycles, %lld faults", self->s.cycles,
	       ma_stat("faults") - faults);
}

TEST_HARNESS_MAIN
