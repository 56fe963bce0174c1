// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr benchmark: the range store against the per-GFN xarray baseline
 * (KVM's layout), measured in the same guest with no platform backend.
 *
 *   whole:      convert a 16 GiB object (4M GFNs) whole, private then shared
 *   stripes_4k: every other 4 KiB page of 1 GiB to private, one call each
 *   stripes_2m: every other 2 MiB of 1 GiB to private, one call each
 *   retries:    faults on one half of an object while the other half is
 *               converted (fault retries; target 0)
 *
 * Attribute-state memory is the growth of the objects in use in the
 * memattr_leaf (range store) and radix_tree_node (per-GFN xarray)
 * slabs while the attributes are set.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "memattr_util.h"

#define GIB (1024ULL * 1024 * 1024)

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

/*
 * Bytes of objects in use in the slabs an attribute store allocates from
 * (object size without slub_debug metadata).  Waits a little first so RCU
 * frees of an earlier object have landed.
 */
static long long slab_bytes(void)
{
	static const char * const caches[] = {
		"memattr_leaf", "radix_tree_node"
	};
	char objects[128], size[128];
	long long total = 0;
	unsigned int i;

	usleep(200000);
	for (i = 0; i < 2; i++) {
		snprintf(objects, sizeof(objects), "/sys/kernel/slab/%s/objects",
			 caches[i]);
		snprintf(size, sizeof(size), "/sys/kernel/slab/%s/object_size",
			 caches[i]);
		total += read_ll(objects) * read_ll(size);
	}
	return total;
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

/* Every other @stripe bytes of 1 GiB to private, one call per stripe. */
static struct result bench_stripes(int per_gfn, __u64 stripe)
{
	__u64 size = GIB, addr, n = 0;
	struct result r;
	long long b0;
	double t0;
	int fd;

	fd = create(size, per_gfn);
	b0 = slab_bytes();
	t0 = now();
	for (addr = 0; addr < size; addr += 2 * stripe, n++)
		set(fd, addr, stripe, MA_PRIVATE);
	r.us = (now() - t0) * 1e6 / n;
	r.bytes = slab_bytes() - b0;
	r.entries = ma_stat(per_gfn ? "gfn_entries" : "runs");
	close(fd);
	return r;
}

/* Attribute-state bytes per store entry. */
static double per_entry(struct result r)
{
	return r.entries > 0 ? (double)r.bytes / r.entries : 0;
}

static void report(const char *name, const char *what, struct result rng,
		   struct result gfn, const char *target)
{
	printf("%s: range %.1f us/conversion (%lld entries, %lld KiB, %.0f B each), ",
	       what, rng.us, rng.entries, rng.bytes / 1024, per_entry(rng));
	printf("per-GFN %.1f us/conversion (%lld entries, %lld KiB, %.0f B each), ",
	       gfn.us, gfn.entries, gfn.bytes / 1024, per_entry(gfn));
	printf("per-GFN/range time %.2fx\n", gfn.us / rng.us);
	printf("VMK-BENCH {\"name\":\"memattr_%s\",\"unit\":\"us_per_conversion\",",
	       name);
	printf("\"range_us\":%.2f,\"per_gfn_us\":%.2f,", rng.us, gfn.us);
	printf("\"per_gfn_over_range\":%.3f,\"range_over_per_gfn\":%.3f,",
	       gfn.us / rng.us, rng.us / gfn.us);
	printf("\"range_entries\":%lld,\"per_gfn_entries\":%lld,",
	       rng.entries, gfn.entries);
	printf("\"range_state_bytes\":%lld,\"per_gfn_state_bytes\":%lld,",
	       rng.bytes, gfn.bytes);
	printf("\"range_bytes_per_entry\":%.1f,\"per_gfn_bytes_per_entry\":%.1f,",
	       per_entry(rng), per_entry(gfn));
	printf("\"target\":\"%s\"}\n", target);
	fflush(stdout);
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

/* Faults on the upper half while the lower half is converted for @secs. */
static void bench_retries(double secs)
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
	printf("disjoint conversions: %lu conversions, %lld faults elsewhere, ",
	       a.conversions, faults);
	printf("%lld fault retries (target 0)\n", retries);
	printf("VMK-BENCH {\"name\":\"memattr_disjoint_fault_retries\",");
	printf("\"unit\":\"retries\",\"retries\":%lld,\"faults\":%lld,",
	       retries, faults);
	printf("\"conversions\":%lu,\"target\":\"0\"}\n", a.conversions);
	munmap(map, a.pages * pg);
	close(a.fd);
}

int main(void)
{
	struct result rng, gfn;

	if (ma_set_backend("none")) {
		fprintf(stderr, "cannot select the none backend\n");
		return 1;
	}
	rng = bench_whole(0, 16);
	gfn = bench_whole(1, 1);
	report("whole_16g", "16 GiB whole", rng, gfn, "per_gfn_over_range >= 100");

	rng = bench_stripes(0, 4096);
	gfn = bench_stripes(1, 4096);
	report("stripes_4k_1g", "4 KiB stripes over 1 GiB", rng, gfn,
	       "range_over_per_gfn <= 1.2");

	rng = bench_stripes(0, 2 << 20);
	gfn = bench_stripes(1, 2 << 20);
	report("stripes_2m_1g", "2 MiB stripes over 1 GiB", rng, gfn,
	       "state proportional to runs");

	bench_retries(2.0);
	ma_set_backend("sw_rmp");
	return 0;
}
