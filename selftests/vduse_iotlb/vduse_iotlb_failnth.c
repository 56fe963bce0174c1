// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault-injection sweeps (issue #14): domain creation, user memory
 * (de)registration and every kind of mapping the test client offers
 * (dma_map_page(), dma_map_sgtable(), the kernel API's
 * vduse_iotlb_map_page(), dma_alloc_coherent(), dma_map_resource()), each
 * made to fail at its 1st, 2nd, ... fault point through
 * /proc/thread-self/fail-nth until it runs clean.  The client's ioctls
 * make the DMA API calls in the calling task, so its fail-nth reaches the
 * module's allocations.  Every failure must be a documented errno and
 * leave nothing behind: no domain, fd or debugfs entry, no registration,
 * pin or locked_vm charge, no mapping, IOVA or bounce page, and nothing
 * new the device can reach through the domain file.
 */
#include <sched.h>

#include "kselftest_harness.h"
#include "vit_util.h"
#include "vmk_failnth.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(64 * VIT_PAGE)		/* 256 KiB */
#define IOVA_LIMIT	((512UL << 10) - 1)	/* 256 KiB coherent */
#define NR_IOVA_PAGES	((IOVA_LIMIT + 1) / VIT_PAGE)
#define VIT_DEBUGFS	"/sys/kernel/debug/vduse_iotlb"
#define DMA_API_DEBUGFS	"/sys/kernel/debug/dma-api"

/* What a failed operation must leave as it was. */
enum {
	S_MAPPINGS, S_KERNEL_PAGES, S_USER_PAGES, S_COHERENT_PAGES,
	S_DOMAINS, S_ALL_MAPPINGS, S_ALL_KERNEL_PAGES, S_ALL_USER_PAGES,
	S_ALL_COHERENT_PAGES, S_VMLCK, S_VMPIN,
	S_PTES,			/* PTEs present in the device's view */
	S_NR,
};

static const char *const snap_names[S_NR] = {
	"INFO mappings", "INFO kernel_pages", "INFO user_pages",
	"INFO coherent_pages", "debugfs domains", "debugfs mappings",
	"debugfs kernel_pages", "debugfs user_pages", "debugfs coherent_pages",
	"VmLck pages", "VmPin pages", "PTEs in the domain mmap",
};

struct snap {
	long long v[S_NR];
};

/* Pages of [@p, @p + @len) with a PTE, without touching them. */
static int count_ptes(void *p, size_t len)
{
	unsigned char vec[NR_IOVA_PAGES];
	size_t i;
	int n = 0;

	if (!p || mincore(p, len, vec))
		return -1;
	for (i = 0; i < len / VIT_PAGE; i++)
		n += vec[i] & 1;
	return n;
}

/* The calling thread on CPU 0: the IOVA caches are per CPU. */
static int pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Make every shrinker run: idle bounce pages go. */
static int shrink_all(void)
{
	return vmk_write_file("/proc/sys/vm/drop_caches", "2\n");
}

/* What every sweep works on: a domain, the client and the device's view. */
struct env {
	struct vmk_failnth fn;
	int ctl, dfd, cl;
	__u32 id;
	__u8 *dev;		/* the domain file, mapped at IOVA 0 */
	long dma_errors;	/* dma-api error_count at set-up, or -1 */
};

static void env_setup(struct __test_metadata *_metadata, struct env *e)
{
	ASSERT_EQ(0, pin_cpu0()) TH_LOG("pin to CPU 0: %s", strerror(errno));
	e->dma_errors = vmk_read_long(DMA_API_DEBUGFS "/error_count");
	e->ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, e->ctl) TH_LOG("open %s: %s", VIT_CTL, strerror(errno));
	ASSERT_EQ(0, vit_create(e->ctl, IOVA_LIMIT, BOUNCE, &e->id, &e->dfd));
	e->cl = open(VIT_CLIENT, O_RDWR);
	ASSERT_LE(0, e->cl) TH_LOG("open %s: %s", VIT_CLIENT, strerror(errno));
	ASSERT_EQ(0, vit_attach(e->cl, e->dfd));
	e->dev = mmap(NULL, IOVA_LIMIT + 1, PROT_READ | PROT_WRITE,
		      MAP_SHARED, e->dfd, 0);
	ASSERT_NE(MAP_FAILED, e->dev) TH_LOG("mmap domain: %s", strerror(errno));
}

static void env_teardown(struct __test_metadata *_metadata, struct env *e)
{
	char disabled[4] = "";
	int fd;

	if (e->fn.fd < 0)
		return;
	vmk_failnth_close(&e->fn);
	close(e->cl);
	munmap(e->dev, IOVA_LIMIT + 1);
	close(e->dfd);
	close(e->ctl);
	/* With CONFIG_DMA_API_DEBUG: nothing to report, and still checking. */
	if (e->dma_errors < 0)
		return;
	EXPECT_EQ(e->dma_errors, vmk_read_long(DMA_API_DEBUGFS "/error_count"))
		TH_LOG("the DMA API debug checks found errors (console)");
	fd = open(DMA_API_DEBUGFS "/disabled", O_RDONLY);
	if (fd >= 0) {
		EXPECT_LT(0, read(fd, disabled, sizeof(disabled) - 1));
		close(fd);
		EXPECT_EQ('N', disabled[0])
			TH_LOG("DMA API debugging switched itself off");
	}
}

FIXTURE(fn) {
	struct env e;
};

FIXTURE_SETUP(fn)
{
	if (vmk_failnth_open(&self->e.fn))
		SKIP(return, "%s", self->e.fn.why);
	env_setup(_metadata, &self->e);
}

FIXTURE_TEARDOWN(fn)
{
	env_teardown(_metadata, &self->e);
}

static void take(struct __test_metadata *_metadata, struct env *e,
		 struct snap *s)
{
	struct vduse_iotlb_info info;

	ASSERT_EQ(0, vit_info(e->ctl, e->id, &info));
	s->v[S_MAPPINGS] = info.out_mappings;
	s->v[S_KERNEL_PAGES] = info.out_kernel_pages;
	s->v[S_USER_PAGES] = info.out_user_pages;
	s->v[S_COHERENT_PAGES] = info.out_coherent_pages;
	s->v[S_DOMAINS] = vmk_read_key(VIT_GLOBAL_STATS, "domains");
	s->v[S_ALL_MAPPINGS] = vmk_read_key(VIT_GLOBAL_STATS, "mappings");
	s->v[S_ALL_KERNEL_PAGES] = vmk_read_key(VIT_GLOBAL_STATS,
						"kernel_pages");
	s->v[S_ALL_USER_PAGES] = vmk_read_key(VIT_GLOBAL_STATS, "user_pages");
	s->v[S_ALL_COHERENT_PAGES] = vmk_read_key(VIT_GLOBAL_STATS,
						  "coherent_pages");
	s->v[S_VMLCK] = vmk_vmlck_pages();
	s->v[S_VMPIN] = vmk_status_pages("VmPin");
	s->v[S_PTES] = count_ptes(e->dev, IOVA_LIMIT + 1);
}

/* After a failure at fault point @n: everything as in @a. */
static void same(struct __test_metadata *_metadata, struct env *e,
		 const struct snap *a, int n, const char *what)
{
	long long was, now;
	const char *name;
	struct snap b;
	int i;

	take(_metadata, e, &b);
	for (i = 0; i < S_NR; i++) {
		was = a->v[i];
		now = b.v[i];
		name = snap_names[i];
		EXPECT_EQ(was, now)
			TH_LOG("%s failed at point %d: %s %lld -> %lld", what,
			       n, name, was, now);
	}
}

/* Every page of [@iova, @iova + @len) is SIGBUS in the device's view. */
static void unreachable(struct __test_metadata *_metadata,
			struct env *e, __u64 iova, __u64 len, int n,
			const char *what)
{
	__u64 p;

	for (p = iova & ~(VIT_PAGE - 1); p < iova + len; p += VIT_PAGE)
		EXPECT_EQ(-1, vit_probe(e->dev + p))
			TH_LOG("%s failed at point %d: IOVA 0x%llx reachable",
			       what, n, (unsigned long long)p);
}

/*
 * Domain creation: after a failure no fd, no domain (module count and
 * debugfs), and the next domain gets the id and fd the first one had.
 */
TEST_F(fn, create)
{
	struct env *e = &self->e;
	int dirs, fds, dfd, dfd0, n, ret, injected;
	__u32 id, id0;
	struct snap s;

	ASSERT_EQ(0, vit_create(e->ctl, IOVA_LIMIT, BOUNCE, &id0, &dfd0));
	ASSERT_EQ(0, vit_destroy(e->ctl, id0));
	ASSERT_EQ(0, close(dfd0));
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take(_metadata, e, &s);
		dirs = vmk_count_dir(VIT_DEBUGFS);
		fds = vmk_count_dir("/proc/self/fd");
		id = ~0U;
		dfd = -1;
		vmk_failnth_arm(&e->fn, n);
		ret = vit_create(e->ctl, IOVA_LIMIT, BOUNCE, &id, &dfd);
		injected = vmk_failnth_disarm(&e->fn);
		if (!injected || !ret) {
			ASSERT_EQ(0, ret);
			EXPECT_EQ(id0, id) TH_LOG("point %d: a domain left", n);
			EXPECT_EQ(dfd0, dfd) TH_LOG("point %d: an fd left", n);
			if (!injected)
				break;
			ASSERT_EQ(0, vit_destroy(e->ctl, id));
			ASSERT_EQ(0, close(dfd));
			continue;
		}
		ASSERT_TRUE(ret == -ENOMEM || ret == -EFAULT)
			TH_LOG("create failed at point %d with %s", n,
			       strerror(-ret));
		same(_metadata, e, &s, n, "create");
		EXPECT_EQ(dirs, vmk_count_dir(VIT_DEBUGFS))
			TH_LOG("point %d: debugfs entries", n);
		EXPECT_EQ(fds, vmk_count_dir("/proc/self/fd"))
			TH_LOG("point %d: an fd left", n);
		EXPECT_EQ(-ENOENT, vit_destroy(e->ctl, id0))
			TH_LOG("point %d: id %u names a domain", n, id0);
	}
	vmk_failnth_report("create", n - 1);
	ASSERT_EQ(0, vit_destroy(e->ctl, id));
	ASSERT_EQ(0, close(dfd));
}

#define UMEM_PAGES	4
#define UMEM_IOVA	(BOUNCE - UMEM_PAGES * VIT_PAGE)

/* User memory for UMEM_IOVA, written so that every page is there. */
static __u8 *umem_alloc(void)
{
	__u8 *mem = mmap(NULL, UMEM_PAGES * VIT_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return NULL;
	memset(mem, 0x5a, UMEM_PAGES * VIT_PAGE);
	return mem;
}

/*
 * The registered range works: a one-page mapping (the IOVA allocator
 * hands out the top of the region first) bounces through @mem.
 */
static void umem_works(struct __test_metadata *_metadata,
		       struct env *e, __u8 *mem)
{
	__u64 iova = 0;
	int buf, map;

	buf = vit_buf(e->cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(e->cl, buf, 0, VIT_PAGE, 3));
	map = vit_map(e->cl, buf, 0, VIT_PAGE, VIT_DIR_TO_DEVICE, 0, &iova);
	ASSERT_LE(0, map);
	ASSERT_LE(UMEM_IOVA, iova);
	EXPECT_EQ(-1, vit_check(mem + iova - UMEM_IOVA, VIT_PAGE, 3))
		TH_LOG("the mapping did not bounce through user memory");
	ASSERT_EQ(0, vit_unmap(e->cl, map, 0));
	ASSERT_EQ(0, vit_rw(e->cl, VIT_TEST_BUF_FREE, buf, 0, 0, NULL));
}

/* UMEM_REG (of @mem) or UMEM_DEREG of the range at UMEM_IOVA. */
static int umem_call(struct env *e, bool reg, __u8 *mem)
{
	return vit_umem(e->ctl, reg ? VDUSE_IOTLB_UMEM_REG :
			VDUSE_IOTLB_UMEM_DEREG, e->id, UMEM_IOVA,
			UMEM_PAGES * VIT_PAGE, reg ? mem : NULL);
}

/*
 * UMEM_REG (@reg) or UMEM_DEREG: after a failed REG nothing is registered
 * (DEREG says ENOENT), pinned or charged, and registering again succeeds;
 * after a failed DEREG the range is still registered, charged and in use.
 */
static void umem_sweep(struct __test_metadata *_metadata, struct env *e,
		       bool reg)
{
	const char *what = reg ? "UMEM_REG" : "UMEM_DEREG";
	int n, ret, injected;
	struct snap s;
	__u8 *mem;

	mem = umem_alloc();
	ASSERT_NE(NULL, mem);
	if (!reg)
		ASSERT_EQ(0, umem_call(e, true, mem));
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take(_metadata, e, &s);
		vmk_failnth_arm(&e->fn, n);
		ret = umem_call(e, reg, mem);
		injected = vmk_failnth_disarm(&e->fn);
		if (!injected)
			break;
		if (!ret) {
			ASSERT_EQ(0, umem_call(e, !reg, mem));
			continue;
		}
		ASSERT_TRUE(ret == -ENOMEM || ret == -EFAULT)
			TH_LOG("%s failed at point %d with %s", what, n,
			       strerror(-ret));
		same(_metadata, e, &s, n, what);
		if (!reg) {
			umem_works(_metadata, e, mem);
			continue;
		}
		EXPECT_EQ(-ENOENT, umem_call(e, false, mem))
			TH_LOG("point %d: a range is registered", n);
		ASSERT_EQ(0, umem_call(e, true, mem))
			TH_LOG("point %d: registering again", n);
		ASSERT_EQ(0, umem_call(e, false, mem));
	}
	vmk_failnth_report(reg ? "reg_umem" : "dereg_umem", n - 1);
	ASSERT_EQ(0, ret);
	take(_metadata, e, &s);
	EXPECT_EQ(reg ? UMEM_PAGES : 0, s.v[S_USER_PAGES]);
	if (reg) {
		umem_works(_metadata, e, mem);
		ASSERT_EQ(0, umem_call(e, false, mem));
	}
	munmap(mem, UMEM_PAGES * VIT_PAGE);
}

TEST_F(fn, reg_umem)
{
	umem_sweep(_metadata, &self->e, true);
}

TEST_F(fn, dereg_umem)
{
	umem_sweep(_metadata, &self->e, false);
}

FIXTURE(map) {
	struct env e;
};

FIXTURE_SETUP(map)
{
	if (vmk_failnth_open(&self->e.fn))
		SKIP(return, "%s", self->e.fn.why);
	env_setup(_metadata, &self->e);
}

FIXTURE_TEARDOWN(map)
{
	env_teardown(_metadata, &self->e);
}

/* A kind of streaming mapping the client makes. */
struct map_kind {
	const char *name;	/* the sweep's, in its report */
	__u32 op;		/* VIT_TEST_MAP, _MAP_SG or _RAW_MAP */
	__u32 dir;
	__u32 flags;
	__u32 count;		/* scatterlist entries */
};

FIXTURE_VARIANT(map) {
	struct map_kind k;
};

FIXTURE_VARIANT_ADD(map, page_to_device) {
	.k = { .name = "map_page_to_device",
	       .op = VIT_TEST_MAP, .dir = VIT_DIR_TO_DEVICE },
};

FIXTURE_VARIANT_ADD(map, page_from_device) {
	.k = { .name = "map_page_from_device",
	       .op = VIT_TEST_MAP, .dir = VIT_DIR_FROM_DEVICE },
};

FIXTURE_VARIANT_ADD(map, page_bidirectional) {
	.k = { .name = "map_page_bidirectional",
	       .op = VIT_TEST_MAP, .dir = VIT_DIR_BIDIRECTIONAL },
};

FIXTURE_VARIANT_ADD(map, page_skip_cpu_sync) {
	.k = { .name = "map_page_skip_cpu_sync",
	       .op = VIT_TEST_MAP, .dir = VIT_DIR_TO_DEVICE,
	       .flags = VIT_TEST_F_SKIP_SYNC },
};

FIXTURE_VARIANT_ADD(map, sg_to_device) {
	.k = { .name = "map_sg_to_device",
	       .op = VIT_TEST_MAP_SG, .dir = VIT_DIR_TO_DEVICE, .count = 3 },
};

FIXTURE_VARIANT_ADD(map, sg_from_device) {
	.k = { .name = "map_sg_from_device",
	       .op = VIT_TEST_MAP_SG, .dir = VIT_DIR_FROM_DEVICE, .count = 3 },
};

FIXTURE_VARIANT_ADD(map, raw_to_device) {
	.k = { .name = "map_raw_to_device",
	       .op = VIT_TEST_RAW_MAP, .dir = VIT_DIR_TO_DEVICE },
};

FIXTURE_VARIANT_ADD(map, raw_from_device) {
	.k = { .name = "map_raw_from_device",
	       .op = VIT_TEST_RAW_MAP, .dir = VIT_DIR_FROM_DEVICE },
};

/* The swept mapping: three pages and a bit, at an odd offset. */
#define MAP_OFF		100
#define MAP_LEN		(3 * VIT_PAGE + 300)
#define MAP_BUF		(5 * VIT_PAGE)

static int map_op(int cl, const struct map_kind *v, int buf,
		  __u64 *iova)
{
	struct vit_test_cmd c = {
		.op = v->op, .id = buf, .offset = MAP_OFF, .length = MAP_LEN,
		.dir = v->dir, .flags = v->flags, .count = v->count,
	};
	int ret = vit_op(cl, &c);

	if (ret)
		return ret;
	*iova = c.out_iova;
	return c.out_id;
}

/*
 * The DMA API debug code tracks the first cacheline of each mapping that
 * the device may write in a radix tree that allocates with GFP_ATOMIC,
 * and switches itself off for good when that fails.  A FROM_DEVICE
 * mapping of one cacheline of every buffer page keeps the tree's node for
 * that page, so the swept mappings' inserts allocate nothing and the sweep
 * injects only into the module and its client.
 */
static void pin_debug_nodes(struct __test_metadata *_metadata, int cl,
			    int buf)
{
	__u64 iova, p;

	for (p = 0; p < MAP_BUF; p += VIT_PAGE)
		ASSERT_LE(0, vit_map(cl, buf, p, 64, VIT_DIR_FROM_DEVICE, 0,
				     &iova));
}

/*
 * The IOVA space is whole: one-page mappings fill every free streaming
 * page (IOVA page 0 is never handed out), then go again.
 */
static void iova_space_whole(struct __test_metadata *_metadata,
			     struct env *e, int buf)
{
	struct vduse_iotlb_info info;
	int maps[BOUNCE / VIT_PAGE];
	__u64 iova, expect;
	int i, n = 0;

	ASSERT_EQ(0, vit_info(e->ctl, e->id, &info));
	expect = BOUNCE / VIT_PAGE - 1 - info.out_mappings;
	while ((maps[n] = vit_map(e->cl, buf, 0, 1, VIT_DIR_TO_DEVICE, 0,
				  &iova)) >= 0)
		n++;
	EXPECT_EQ(-ENOSPC, maps[n]);
	EXPECT_EQ(expect, n) TH_LOG("IOVA pages lost");
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, vit_unmap(e->cl, maps[i], 0));
}

/* The final mapping carries its data in its direction. */
static void map_works(struct __test_metadata *_metadata,
		      struct env *e, const struct map_kind *v,
		      int buf, int map, __u64 iova)
{
	/* A scatterlist's first entry is what its IOVA names. */
	__u64 len = v->count ? MAP_LEN / v->count : MAP_LEN;
	__u8 *tmp = malloc(len);

	ASSERT_NE(NULL, tmp);
	if (v->flags & VIT_TEST_F_SKIP_SYNC)
		ASSERT_EQ(0, vit_sync(e->cl, map, 0, MAP_LEN, v->dir, 0));
	if (v->dir == VIT_DIR_TO_DEVICE) {
		EXPECT_EQ(-1, vit_check(e->dev + iova, len, 5))
			TH_LOG("the device does not see the data");
	} else {
		vit_put_pattern(e->dev + iova, len, 6);
	}
	ASSERT_EQ(0, vit_unmap(e->cl, map, 0));
	if (v->dir != VIT_DIR_TO_DEVICE) {
		ASSERT_EQ(0, vit_rw(e->cl, VIT_TEST_BUF_READ, buf, MAP_OFF,
				    len, tmp));
		EXPECT_EQ(-1, vit_check(tmp, len, 6))
			TH_LOG("the device's data did not arrive");
		ASSERT_EQ(0, vit_fill(e->cl, buf, MAP_OFF, MAP_LEN, 5));
	}
	free(tmp);
}

/*
 * Streaming maps of every kind: after a failure no mapping, no new bounce
 * page, nothing reachable in the device's view, and the IOVA it would have
 * had is free (the next mapping gets it: the IOVA caches are LIFO and
 * this thread stays on one CPU).  A scatterlist's entries come back from
 * the caches in another order, so for those only the IOVA space as a
 * whole is checked, at the end.
 */
TEST_F_TIMEOUT(map, sweep, 120)
{
	struct env *e = &self->e;
	bool exact = variant->k.op != VIT_TEST_MAP_SG;
	int buf, map, n, ret, injected;
	__u64 iova, iova0;
	struct snap s, s2;

	buf = vit_buf(e->cl, MAP_BUF, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, vit_fill(e->cl, buf, MAP_OFF, MAP_LEN, 5));
	pin_debug_nodes(_metadata, e->cl, buf);
	map = map_op(e->cl, &variant->k, buf, &iova0);
	ASSERT_LE(0, map);
	ASSERT_EQ(0, vit_unmap(e->cl, map, 0));
	/* Cold slots: every attempt allocates its bounce pages. */
	ASSERT_EQ(0, shrink_all());
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take(_metadata, e, &s);
		iova = ~0ULL;
		vmk_failnth_arm(&e->fn, n);
		map = map_op(e->cl, &variant->k, buf, &iova);
		injected = vmk_failnth_disarm(&e->fn);
		if (!injected || map >= 0) {
			ASSERT_LE(0, map);
			if (exact)
				EXPECT_EQ(iova0, iova)
					TH_LOG("point %d: IOVA 0x%llx, not 0x%llx",
					       n, (unsigned long long)iova,
					       (unsigned long long)iova0);
			if (!injected)
				break;
			ASSERT_EQ(0, vit_unmap(e->cl, map, 0));
			ASSERT_EQ(0, shrink_all());
			continue;
		}
		ret = map;
		ASSERT_TRUE(ret == -ENOMEM || ret == -EFAULT ||
			    (ret == -ENOSPC && variant->k.op == VIT_TEST_MAP))
			TH_LOG("map failed at point %d with %s", n,
			       strerror(-ret));
		/*
		 * The client's copy of the results back comes after the
		 * mapping and is undone by an unmap, which keeps the bounce
		 * pages as any unmap does: they must be idle ones.
		 */
		take(_metadata, e, &s2);
		if (ret == -EFAULT && s2.v[S_KERNEL_PAGES] != s.v[S_KERNEL_PAGES])
			ASSERT_EQ(0, shrink_all());
		same(_metadata, e, &s, n, "map");
		if (exact)
			unreachable(_metadata, e, iova0, MAP_LEN, n, "map");
		EXPECT_EQ(s.v[S_PTES], count_ptes(e->dev, IOVA_LIMIT + 1))
			TH_LOG("point %d: probing mapped a page", n);
	}
	vmk_failnth_report(variant->k.name, n - 1);
	map_works(_metadata, e, &variant->k, buf, map, iova);
	iova_space_whole(_metadata, e, buf);
}

/*
 * dma_alloc_coherent(): after a failure no coherent page, nothing
 * reachable, and the next allocation gets the IOVA the first one had.
 */
TEST_F(fn, coherent)
{
	struct env *e = &self->e;
	int coh, n, injected;
	__u64 len = 2 * VIT_PAGE + 100, iova, iova0;
	struct vit_test_cmd c;
	struct snap s;

	c = (struct vit_test_cmd){ .op = VIT_TEST_COH_ALLOC, .length = len };
	ASSERT_EQ(0, vit_op(e->cl, &c));
	iova0 = c.out_iova;
	ASSERT_EQ(0, vit_rw(e->cl, VIT_TEST_BUF_FREE, c.out_id, 0, 0, NULL));
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take(_metadata, e, &s);
		c = (struct vit_test_cmd){ .op = VIT_TEST_COH_ALLOC,
					   .length = len };
		vmk_failnth_arm(&e->fn, n);
		coh = vit_op(e->cl, &c);
		injected = vmk_failnth_disarm(&e->fn);
		if (!injected || !coh) {
			ASSERT_EQ(0, coh);
			EXPECT_EQ(iova0, c.out_iova)
				TH_LOG("point %d: IOVA 0x%llx, not 0x%llx", n,
				       (unsigned long long)c.out_iova,
				       (unsigned long long)iova0);
			if (!injected)
				break;
			ASSERT_EQ(0, vit_rw(e->cl, VIT_TEST_BUF_FREE,
					    c.out_id, 0, 0, NULL));
			continue;
		}
		ASSERT_TRUE(coh == -ENOMEM || coh == -EFAULT)
			TH_LOG("coherent alloc failed at point %d with %s", n,
			       strerror(-coh));
		same(_metadata, e, &s, n, "coherent alloc");
		unreachable(_metadata, e, iova0, len, n, "coherent alloc");
	}
	vmk_failnth_report("coherent", n - 1);
	iova = c.out_iova;
	ASSERT_EQ(0, vit_fill(e->cl, c.out_id, 0, len, 7));
	EXPECT_EQ(-1, vit_check(e->dev + iova, len, 7))
		TH_LOG("the device does not see the coherent buffer");
	ASSERT_EQ(0, vit_rw(e->cl, VIT_TEST_BUF_FREE, c.out_id, 0, 0, NULL));
}

/* dma_map_resource(): refused, whatever fails on the way. */
TEST_F(fn, map_resource)
{
	struct env *e = &self->e;
	struct vit_test_cmd c;
	int buf, n, ret, injected;
	struct snap s;

	buf = vit_buf(e->cl, VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		take(_metadata, e, &s);
		c = (struct vit_test_cmd){ .op = VIT_TEST_MAP_RESOURCE,
					   .id = buf, .length = VIT_PAGE,
					   .dir = VIT_DIR_TO_DEVICE };
		vmk_failnth_arm(&e->fn, n);
		ret = vit_op(e->cl, &c);
		injected = vmk_failnth_disarm(&e->fn);
		if (!injected)
			break;
		ASSERT_TRUE(ret == -ENOSPC || ret == -EFAULT)
			TH_LOG("map_resource at point %d: %s", n,
			       strerror(-ret));
		same(_metadata, e, &s, n, "map_resource");
	}
	vmk_failnth_report("map_resource", n - 1);
	EXPECT_EQ(-ENOSPC, ret) TH_LOG("MMIO mapping not refused");
}

TEST_HARNESS_MAIN
