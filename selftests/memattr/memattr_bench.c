// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr benchmark: the range store against the per-GFN xarray baseline
 * (KVM's layout), measured in the same guest with no platform backend.
 *
 *   whole:      convert a 16 GiB object (4M GFNs) whole, private then shared
 *   stripes_4k: every other 4 KiB page of 1 GiB to private, one call each
 *   stripes_2m: every other 2 MiB of 1 GiB to private, one call each
 *               (both stripe cases time the two stores side by side, in
 *               alternating blocks of calls)
 *   retries:    faults on one half of an object while the other half is
 *               converted (fault retries; target 0)
 *
 * Attribute-state memory is the growth of the objects in use in the
 * memattr_leaf (range store) and radix_tree_node (per-GFN xarray)
 * slabs while the attributes are set.
 *
 * Each figure is the median of ROUNDS rounds, each of which measures both
 * stores (vmk_bench.h).  Targets (issue: memattr performance): whole 16 GiB
 * at least 10^4x faster than per-GFN, 2 MiB stripes at least 50x, 4 KiB
 * stripes no slower (range/per-GFN time at most 1.0), no fault retries from
 * disjoint conversions, and state proportional to runs, not to the size:
 * at most 64 bytes per run with 131072 runs (4 KiB stripes; a run takes 16
 * bytes in a leaf) and at most one page for a whole 16 GiB object (one run).
 * (With 256 runs, 2 MiB stripes, the leaves come from the store's reserve
 * and the slab does not grow: that figure is shown without a target.)
 */
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "memattr_util.h"
#include "vmk_bench.h"

#define GIB (1024ULL * 1024 * 1024)
#define ROUNDS 3
#define BASELINE "the per-GFN xarray store"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long read_ll(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The slabs the attribute stores allocate from: range, per-GFN. */
static const char * const store_cache[2] = {
	"memattr_leaf", "radix_tree_node"
};

/*
 * Bytes of objects in use in slab @cache (object size without slub_debug
 * metadata).  Waits a little first so RCU frees of an earlier object have
 * landed.
 */
static long long cache_bytes(const char *cache)
{
	char objects[128], size[128];

	usleep(200000);
	snprintf(objects, sizeof(objects), "/sys/kernel/slab/%s/objects", cache);
	snprintf(size, sizeof(size), "/sys/kernel/slab/%s/object_size", cache);
	return read_ll(objects) * read_ll(size);
}

/* The same over both stores' slabs. */
static long long slab_bytes(void)
{
	return cache_bytes(store_cache[0]) + cache_bytes(store_cache[1]);
}

static int create(__u64 size, int per_gfn)
{
	int fd = ma_create(size, per_gfn ? MEMATTR_CREATE_PER_GFN : 0);

	if (fd < 0) {
		fprintf(stderr, "MEMATTR_CREATE: %s\n", strerror(-fd));
		exit(1);
	}
	return fd;
}

static void set(int fd, __u64 addr, __u64 size, __u64 attrs)
{
	int ret = ma_set(fd, addr, size, attrs);

	if (ret) {
		fprintf(stderr, "SET [%#llx, +%#llx): %s\n",
			(unsigned long long)addr, (unsigned long long)size,
			strerror(-ret));
		exit(1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double us;		/* per conversion */
	long long bytes;	/* attribute state while set */
	long long entries;	/* store entries while set */
};

/* Whole-object conversions of 16 GiB: median of @reps private+shared pairs. */
static struct result bench_whole(int per_gfn, int reps)
{
	__u64 size = 16 * GIB;
	double t[2 * 16];
	struct result r;
	long long b0;
	int fd, i;

	fd = create(size, per_gfn);
	b0 = slab_bytes();
	for (i = 0; i < reps; i++) {
		double t0 = now();

		set(fd, 0, size, MA_PRIVATE);
		t[2 * i] = now() - t0;
		if (!i) {
			r.bytes = slab_bytes() - b0;
			r.entries = ma_stat(per_gfn ? "gfn_entries" : "runs");
		}
		t0 = now();
		set(fd, 0, size, 0);
		t[2 * i + 1] = now() - t0;
	}
	close(fd);
	qsort(t, 2 * reps, sizeof(t[0]), cmp_double);
	r.us = t[reps] * 1e6;
	return r;
}

/*
 * Every other @stripe bytes of 1 GiB to private, one call per stripe, in a
 * range-store object (@r[0]) and a per-GFN one (@r[1]) side by side: the
 * calls go in STRIPE_BLOCKS blocks, each block's calls to one object then
 * the same calls to the other, the first object alternating from block to
 * block, and each store's time is the sum of its blocks.  Timed one after
 * the other, the two stores met different host loads (TCG on a shared
 * host), which moved the 4 KiB ratio from 0.91 to 1.58 between the rounds
 * of one guest.
 */
#define STRIPE_BLOCKS 64

static void bench_stripes(__u64 stripe, struct result r[2])
{
	__u64 size = GIB, n = size / (2 * stripe), blk, i, end;
	__u64 per = (n + STRIPE_BLOCKS - 1) / STRIPE_BLOCKS;
	double t[2] = { 0, 0 }, t0;
	long long b0[2];
	int fd[2], k, s;

	for (s = 0; s < 2; s++) {
		fd[s] = create(size, s);
		b0[s] = cache_bytes(store_cache[s]);
	}
	for (blk = 0; blk * per < n; blk++) {
		end = (blk + 1) * per;
		if (end > n)
			end = n;
		for (k = 0; k < 2; k++) {
			s = k ^ (blk & 1);
			t0 = now();
			for (i = blk * per; i < end; i++)
				set(fd[s], i * 2 * stripe, stripe, MA_PRIVATE);
			t[s] += now() - t0;
		}
	}
	for (s = 0; s < 2; s++) {
		r[s].us = t[s] * 1e6 / n;
		r[s].bytes = cache_bytes(store_cache[s]) - b0[s];
		r[s].entries = ma_stat(s ? "gfn_entries" : "runs");
	}
	for (s = 0; s < 2; s++)
		close(fd[s]);
}

/* Attribute-state bytes per store entry. */
static double per_entry(struct result r)
{
	return r.entries > 0 ? (double)r.bytes / r.entries : 0;
}

/* One round's figures of a pair of measurements, range and per-GFN. */
struct pair_runs {
	double speedup[ROUNDS];		/* per-GFN time / range time */
	double slowdown[ROUNDS];	/* range time / per-GFN time */
	double rng_us[ROUNDS], gfn_us[ROUNDS];
	double rng_b[ROUNDS], gfn_b[ROUNDS];	/* state bytes per entry */
	double rng_total[ROUNDS];		/* range store state bytes */
	double runs[ROUNDS];			/* range store entries */
};

static void record(struct pair_runs *p, int k, struct result rng,
		   struct result gfn)
{
	p->speedup[k] = gfn.us / rng.us;
	p->slowdown[k] = rng.us / gfn.us;
	p->rng_us[k] = rng.us;
	p->gfn_us[k] = gfn.us;
	p->rng_b[k] = per_entry(rng);
	p->rng_total[k] = rng.bytes;
	p->gfn_b[k] = per_entry(gfn);
	p->runs[k] = rng.entries;
}

/* The time and state figures of @p, all without a target. */
static void report_info(const char *name, struct pair_runs *p)
{
	char n[96];

	snprintf(n, sizeof(n), "memattr.%s.range_us", name);
	vmk_bench_figure(n, "us/conversion", p->rng_us, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(n, sizeof(n), "memattr.%s.per_gfn_us", name);
	vmk_bench_figure(n, "us/conversion", p->gfn_us, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(n, sizeof(n), "memattr.%s.range_runs", name);
	vmk_bench_figure(n, "runs", p->runs, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(n, sizeof(n), "memattr.%s.range_bytes_per_run", name);
	vmk_bench_figure(n, "B", p->rng_b, ROUNDS, VMK_INFO, 0, NULL);
	snprintf(n, sizeof(n), "memattr.%s.per_gfn_bytes_per_gfn", name);
	vmk_bench_figure(n, "B", p->gfn_b, ROUNDS, VMK_INFO, 0, NULL);
}

struct retry_arg {
	int fd;
	__u64 pages;
	int stop;
	unsigned long conversions;
};

static void *retry_converter(void *p)
{
	struct retry_arg *a = p;
	unsigned int seed = 1;
	__u64 first, nr;

	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		first = rand_r(&seed) % (a->pages / 2);
		nr = 1 + rand_r(&seed) % (a->pages / 2 - first);
		set(a->fd, first * ma_page(), nr * ma_page(), MA_PRIVATE);
		set(a->fd, first * ma_page(), nr * ma_page(), 0);
		a->conversions += 2;
	}
	return NULL;
}

/*
 * Faults on the upper half while the lower half is converted for @secs;
 * returns the fault retries.
 */
static double bench_retries(double secs)
{
	struct retry_arg a = { .pages = 1024 };
	__u64 pg = ma_page(), i, half;
	long long r0, f0, retries, faults;
	char *map;
	pthread_t t;
	double t0;

	a.fd = create(a.pages * pg, 0);
	map = mmap(NULL, a.pages * pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		   a.fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	half = a.pages / 2;
	r0 = ma_stat("fault_retries");
	f0 = ma_stat("faults");
	pthread_create(&t, NULL, retry_converter, &a);
	for (t0 = now(); now() - t0 < secs;) {
		for (i = half; i < a.pages; i++)
			(void)__atomic_load_n(&map[i * pg], __ATOMIC_RELAXED);
		madvise(map + half * pg, half * pg, MADV_DONTNEED);
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	retries = ma_stat("fault_retries") - r0;
	faults = ma_stat("faults") - f0;
	printf("# disjoint conversions: %lu conversions, ", a.conversions);
	printf("%lld faults elsewhere, %lld fault retries\n", faults, retries);
	munmap(map, a.pages * pg);
	close(a.fd);
	return retries;
}

int main(void)
{
	static struct pair_runs whole, s4k, s2m;
	double retries[ROUNDS];
	struct result r[2];
	int k;

	if (ma_set_backend("none")) {
		fprintf(stderr, "cannot select the none backend\n");
		return 1;
	}
	for (k = 0; k < ROUNDS; k++) {
		record(&whole, k, bench_whole(0, 8), bench_whole(1, 1));
		bench_stripes(4096, r);
		record(&s4k, k, r[0], r[1]);
		bench_stripes(2 << 20, r);
		record(&s2m, k, r[0], r[1]);
		retries[k] = bench_retries(1.0);
	}

	vmk_bench_figure("memattr.whole_16g", "x", whole.speedup, ROUNDS,
			 VMK_AT_LEAST, 1e4, BASELINE);
	vmk_bench_figure("memattr.stripes_2m_1g", "x", s2m.speedup, ROUNDS,
			 VMK_AT_LEAST, 50, BASELINE);
	vmk_bench_figure("memattr.stripes_4k_1g.range_over_per_gfn", "x",
			 s4k.slowdown, ROUNDS, VMK_AT_MOST, 1.0, BASELINE);
	vmk_bench_figure("memattr.disjoint_fault_retries", "retries", retries,
			 ROUNDS, VMK_AT_MOST, 0, NULL);
	vmk_bench_figure("memattr.stripes_4k_1g.state_bytes_per_run", "B",
			 s4k.rng_b, ROUNDS, VMK_AT_MOST, 64, NULL);
	vmk_bench_figure("memattr.whole_16g.state_bytes", "B",
			 whole.rng_total, ROUNDS, VMK_AT_MOST, 4096, NULL);
	report_info("whole_16g", &whole);
	report_info("stripes_4k_1g", &s4k);
	report_info("stripes_2m_1g", &s2m);
	ma_set_backend("none");
	return 0;
}
