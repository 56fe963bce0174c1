// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault-injection sweeps (fail-nth, KERNEL=debug): every container
 * operation that allocates or copies from user memory is run with its 1st,
 * 2nd, ... fault point failing until it runs through.  Each failure must
 * return an errno the uAPI documents for it (ENOMEM, EFAULT) and leave
 * nothing behind: no pin (debugfs pinned_pages, VmPin), no locked_vm
 * charge (VmLck), no TCE in use, registered region, window, container or
 * attached group (debugfs), no IOMMU entry (an edu DMA to the IOVA does
 * not land); and the same call without injection must then work as on a
 * fresh container.  A failure absorbed inside the kernel (the call
 * succeeded anyway) is checked as a success and undone.
 */
#include <stddef.h>

#include "kselftest_harness.h"
#include "stce_lib.h"
#include "vmk_failnth.h"
#include "vmk_require.h"

VMK_REQUIRE("/dev/vfio/vfio", STCE_DEBUGFS)

#define NPAGES		4
/*
 * v1 MAP_DMA of up to 16 pages pins into an array on the stack; the big
 * sweep maps more, so the module pins through a page array instead.
 */
#define BIG_MAP_PAGES	24
#define IOVA_SRC	0x10000ULL
/*
 * MAP_DMA step @n maps its pages (NPAGES or BIG_MAP_PAGES) at an IOVA
 * where the IOMMU has no page table yet (tables stay once allocated, and
 * a fail-nth sweep only works if every step reaches the same points):
 * from two pages below a 4 MiB boundary, so a second table is allocated
 * part-way through the range (and, 4 MiB
 * aligned, a second leaf of the module's TCE table).  Inside the 2 GiB
 * default window and below edu's 28-bit reach.
 */
#define MAP_IOVA(n)	((((__u64)(n) % 28 + 2) << 22) - 2 * STCE_PAGE)
/* More than one page-array chunk of pinned pages. */
#define BIG_PAGES	520

/* What a failed call must leave as it was, as far as userspace sees. */
struct state {
	long pinned;		/* debugfs pinned_pages */
	long containers;	/* debugfs nr_containers */
	long vmlck;		/* VmLck, pages */
	long vmpin;		/* VmPin, pages */
	long groups;		/* totals over debugfs containers */
	long windows;
	long tces;
	long mems;
	long mem_mapped;
};

static const struct {
	const char *name;
	size_t off;
} state_fields[] = {
#define F(f) { #f, offsetof(struct state, f) }
	F(pinned), F(containers), F(vmlck), F(vmpin), F(groups), F(windows),
	F(tces), F(mems), F(mem_mapped),
#undef F
};

static long state_get(const struct state *s, unsigned int i)
{
	return *(const long *)((const char *)s + state_fields[i].off);
}

static void snapshot(struct state *s)
{
	char line[256];
	const char *t;
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->pinned = stce_counter("pinned_pages");
	s->containers = stce_counter("nr_containers");
	s->vmlck = vmk_vmlck_pages();
	s->vmpin = vmk_status_pages("VmPin");
	f = fopen(STCE_DEBUGFS "containers", "r");
	if (!f) {
		s->groups = -1;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "  group ", 8))
			s->groups++;
		if (!strncmp(line, "  window ", 9)) {
			s->windows++;
			t = strstr(line, " tces ");
			if (t)
				s->tces += strtol(t + 6, NULL, 10);
		}
		if (!strncmp(line, "  mem ", 6)) {
			s->mems++;
			t = strstr(line, " mapped ");
			if (t)
				s->mem_mapped += strtol(t + 8, NULL, 10);
		}
	}
	fclose(f);
}

/*
 * Whether @now equals @then with @d added field by field (NULL: nothing
 * added); else describe the first difference in @why.
 */
static bool state_is(const struct state *then, const struct state *d,
		     char *why, size_t len)
{
	struct state now;
	long want;
	unsigned int i;

	snapshot(&now);
	for (i = 0; i < ARRAY_SIZE(state_fields); i++) {
		want = state_get(then, i) + (d ? state_get(d, i) : 0);
		if (state_get(&now, i) != want) {
			snprintf(why, len, "%s is %ld, want %ld",
				 state_fields[i].name, state_get(&now, i),
				 want);
			return false;
		}
	}
	return true;
}

/* The errnos the uAPI documents for a failed allocation or user copy. */
static bool injected_errno(int err)
{
	return err == ENOMEM || err == EFAULT;
}

/*
 * Copy a pattern RAM -> edu -> RAM through @d, from the page mapped at
 * IOVA_SRC (@buf) to the one after it; whether it arrived.
 */
static bool edu_copy(struct stce_dev *d, __u8 *buf, __u8 seed)
{
	stce_fill(buf, EDU_DMA_LEN, seed);
	memset(buf + STCE_PAGE, 0, STCE_PAGE);
	return !edu_dma(d, IOVA_SRC, false, EDU_DMA_LEN) &&
	       !edu_dma(d, IOVA_SRC + STCE_PAGE, true, EDU_DMA_LEN) &&
	       !memcmp(buf, buf + STCE_PAGE, EDU_DMA_LEN);
}

/* What each sweep's fixture holds. */
struct sweep {
	struct stce_dev d;	/* the first edu device */
	struct stce_dev d1;	/* the second one (join only) */
	struct vmk_failnth fn;
	int c;			/* the container, or -1 */
	__u8 *buf;
	__u64 iova;		/* map: this step's IOVA; v2: the window's */
	unsigned int npages;	/* map: pages each MAP_DMA maps */
	bool to_iommu;		/* map: end at the IOMMU stage (map_big) */
	bool v1;		/* the container is VFIO_SPAPR_TCE_IOMMU */
	struct state s0;	/* what a failed call must leave as it was */
};

/*
 * The calls that undo (UNMAP_DMA, UNREGISTER_MEMORY, TCE_REMOVE): each
 * step first does what the call undoes; a failed call must leave it all
 * in place and working (@check), a successful one must leave s0.
 */
struct undo_op {
	const char *name;
	int (*redo)(struct sweep *sw);	/* 0 or -errno */
	int (*undo)(struct sweep *sw);	/* 0 or -errno */
	void (*check)(struct __test_metadata *_metadata, struct sweep *sw,
		      int n);
	/* optional: what was undone is gone where the device looks too */
	void (*gone)(struct __test_metadata *_metadata, struct sweep *sw,
		     int n);
};

static void undo_sweep(struct __test_metadata *_metadata, struct sweep *sw,
		       const struct undo_op *op)
{
	int n, ret, injected;
	char why[128];

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		ASSERT_EQ(0, op->redo(sw));
		vmk_failnth_arm(&sw->fn, n);
		ret = op->undo(sw);
		injected = vmk_failnth_disarm(&sw->fn);
		if (!injected)
			ASSERT_EQ(0, ret)
				TH_LOG("%s without injection: %s", op->name,
				       strerror(-ret));
		if (ret) {
			ASSERT_TRUE(injected_errno(-ret))
				TH_LOG("n=%d: %s failed with %s, not ENOMEM/EFAULT",
				       n, op->name, strerror(-ret));
			op->check(_metadata, sw, n);
			ASSERT_EQ(0, op->undo(sw));
		}
		if (op->gone)
			op->gone(_metadata, sw, n);
		ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
			TH_LOG("n=%d: after %s %s", n, op->name, why);
		if (!injected)
			break;
	}
	vmk_failnth_report(op->name, n - 1);
}

/*
 * Open fail-nth and the group of the first edu device (and of the second
 * when @two); false when the kernel has no fault injection (skipped).
 */
static bool sweep_open(struct __test_metadata *_metadata, struct sweep *sw,
		       bool two)
{
	char bdfs[STCE_MAX_EDU][32];

	sw->c = -1;
	sw->d.group_fd = -1;
	sw->d.dev_fd = -1;
	sw->d1.group_fd = -1;
	sw->d1.dev_fd = -1;
	if (vmk_failnth_open(&sw->fn))
		SKIP(return false, "%s", sw->fn.why);
	ASSERT_LE(two ? 2 : 1, stce_find_edus(bdfs, STCE_MAX_EDU))
		TH_LOG("too few edu devices bound to vfio-pci");
	ASSERT_EQ(0, stce_group_open(&sw->d, bdfs[0]));
	if (two)
		ASSERT_EQ(0, stce_group_open(&sw->d1, bdfs[1]));
	return true;
}

static void sweep_close(struct __test_metadata *_metadata, struct sweep *sw)
{
	vmk_failnth_close(&sw->fn);
	stce_dev_close(&sw->d1);
	stce_dev_close(&sw->d);
	if (sw->c >= 0)
		close(sw->c);
	sw->c = -1;
	EXPECT_EQ(0, stce_counter("pinned_pages"))
		TH_LOG("pages still pinned after closing everything");
	EXPECT_EQ(0, stce_counter("nr_containers"));
}

/*
 * MAP_DMA of @npages pages at MAP_IOVA(n), container of sPAPR @type.  buf
 * page 0 is mapped at IOVA_SRC and copied into the edu device's buffer
 * once, so a device write to the first or the last IOVA shows whether an
 * IOMMU entry is there; pages 1..@npages are the ones mapped.
 */
static void map_prepare(struct __test_metadata *_metadata, struct sweep *sw,
			int type, unsigned int npages)
{
	if (!sweep_open(_metadata, sw, false))
		return;
	sw->v1 = type == VFIO_SPAPR_TCE_IOMMU;
	sw->npages = npages;
	sw->c = stce_container_open(&sw->d, type);
	ASSERT_LE(0, sw->c) TH_LOG("VFIO_SET_IOMMU: %s", strerror(-sw->c));
	ASSERT_EQ(0, stce_dev_open(&sw->d));
	sw->buf = stce_buf((npages + 1) * STCE_PAGE);
	ASSERT_NE(NULL, sw->buf);
	if (sw->v1) {
		ASSERT_EQ(0, ioctl(sw->c, VFIO_IOMMU_ENABLE));
	} else {
		ASSERT_EQ(0, stce_reg(sw->c, true, (uintptr_t)sw->buf,
				      (npages + 1) * STCE_PAGE));
	}
	stce_fill(sw->buf, EDU_DMA_LEN, 0x33);
	ASSERT_EQ(0, stce_map(sw->c, (uintptr_t)sw->buf, IOVA_SRC, STCE_PAGE,
			      VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, edu_dma(&sw->d, IOVA_SRC, false, EDU_DMA_LEN));
	snapshot(&sw->s0);
}

FIXTURE(map) {
	struct sweep sw;
};

FIXTURE_VARIANT(map) {
	int type;
};

FIXTURE_VARIANT_ADD(map, v1) {
	.type = VFIO_SPAPR_TCE_IOMMU,
};

FIXTURE_VARIANT_ADD(map, v2) {
	.type = VFIO_SPAPR_TCE_v2_IOMMU,
};

FIXTURE_SETUP(map)
{
	map_prepare(_metadata, &self->sw, variant->type, NPAGES);
}

FIXTURE_TEARDOWN(map)
{
	sweep_close(_metadata, &self->sw);
}

/*
 * An edu write to the first and to the last IOVA of the step from each
 * open device: how many of those writes reached their page (*@landed)
 * and left it all as it was (*@untouched).  Returns how many were made.
 */
static int dma_probe(struct __test_metadata *_metadata, struct sweep *sw,
		     int *landed, int *untouched)
{
	__u64 off[2] = { 0, (sw->npages - 1) * STCE_PAGE };
	struct stce_dev *devs[2] = { &sw->d, &sw->d1 };
	__u8 *dst = sw->buf + STCE_PAGE;
	int i, k, probes = 0;

	*landed = 0;
	*untouched = 0;
	for (k = 0; k < 2; k++) {
		if (devs[k]->dev_fd < 0)
			continue;
		for (i = 0; i < 2; i++, probes++) {
			memset(dst, 0x5a, sw->npages * STCE_PAGE);
			EXPECT_EQ(0, edu_dma(devs[k], sw->iova + off[i], true,
					     EDU_DMA_LEN));
			*landed += !memcmp(dst + off[i], sw->buf, EDU_DMA_LEN);
			*untouched += stce_all_bytes(dst,
						     sw->npages * STCE_PAGE,
						     0x5a);
		}
	}
	return probes;
}

/* The step's mapping is there: TCEs in use, pins, charges and DMA. */
static void check_mapped(struct __test_metadata *_metadata, struct sweep *sw,
			 int n)
{
	struct state d = { .tces = sw->npages };
	int probes, landed, untouched;
	char why[128];

	if (sw->v1) {
		d.pinned = sw->npages;
		d.vmlck = sw->npages;
	} else {
		d.mem_mapped = sw->npages;
	}
	ASSERT_TRUE(state_is(&sw->s0, &d, why, sizeof(why)))
		TH_LOG("n=%d: after a successful MAP_DMA %s", n, why);
	probes = dma_probe(_metadata, sw, &landed, &untouched);
	ASSERT_EQ(probes, landed)
		TH_LOG("n=%d: edu DMA through the new mapping did not land", n);
}

/*
 * A sweep with @sw->to_iommu set ends after the first injected failure
 * that came from the IOMMU stage of MAP_DMA, once the TCEs own their
 * pins: the module's iommu_map_calls counter (read at @calls before the
 * call) moved.  Every later fault point is in that stage too.
 */
static bool iommu_stage(struct sweep *sw, long calls)
{
	return sw->to_iommu && stce_counter("iommu_map_calls") != calls;
}

static void sweep_end(struct sweep *sw, const char *name, int n, bool early)
{
	if (early)
		printf("# sweep %s: %d injection points, up to the first in the IOMMU stage\n",
		       name, n);
	else
		vmk_failnth_report(name, n);
}

static void sweep_map(struct __test_metadata *_metadata, struct sweep *sw,
		      const char *name)
{
	const __u32 rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	__u64 va = (uintptr_t)sw->buf + STCE_PAGE;
	__u64 size = sw->npages * STCE_PAGE;
	int n, ret, injected, probes, landed, untouched;
	bool early = false;
	char why[128];
	long calls;

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		sw->iova = MAP_IOVA(n);
		calls = stce_counter("iommu_map_calls");
		vmk_failnth_arm(&sw->fn, n);
		ret = stce_map(sw->c, va, sw->iova, size, rw);
		injected = vmk_failnth_disarm(&sw->fn);
		early = ret && iommu_stage(sw, calls);
		if (!injected) {
			ASSERT_EQ(0, ret)
				TH_LOG("MAP_DMA without injection: %s",
				       strerror(-ret));
			check_mapped(_metadata, sw, n);
			ASSERT_EQ(0, stce_unmap(sw->c, sw->iova, size));
			break;
		}
		if (ret) {
			ASSERT_TRUE(injected_errno(-ret))
				TH_LOG("n=%d: MAP_DMA failed with %s, not ENOMEM/EFAULT",
				       n, strerror(-ret));
			ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
				TH_LOG("n=%d: a failed MAP_DMA left %s", n, why);
			probes = dma_probe(_metadata, sw, &landed, &untouched);
			ASSERT_EQ(probes, untouched)
				TH_LOG("n=%d: a failed MAP_DMA left an IOMMU entry",
				       n);
			EXPECT_EQ(0, stce_unmap(sw->c, sw->iova, size))
				TH_LOG("n=%d: UNMAP_DMA of the clear range after a failed MAP_DMA",
				       n);
			/* the same map without injection works as if fresh */
			ASSERT_EQ(0, stce_map(sw->c, va, sw->iova, size, rw))
				TH_LOG("n=%d: MAP_DMA again: %s", n,
				       strerror(errno));
		}
		/* mapped, by the injected call (absorbed) or the retry */
		check_mapped(_metadata, sw, n);
		ASSERT_EQ(0, stce_unmap(sw->c, sw->iova, size));
		ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
			TH_LOG("n=%d: after UNMAP_DMA %s", n, why);
		if (early)
			break;
	}
	sweep_end(sw, name, early ? n : n - 1, early);
	ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
		TH_LOG("after the sweep: %s", why);
	probes = dma_probe(_metadata, sw, &landed, &untouched);
	ASSERT_EQ(probes, untouched)
		TH_LOG("DMA still lands after the final UNMAP_DMA");
}

TEST_F(map, sweep)
{
	sweep_map(_metadata, &self->sw,
		  self->sw.v1 ? "map_dma_v1" : "map_dma_v2");
}

static int map_step(struct sweep *sw)
{
	return stce_map(sw->c, (uintptr_t)sw->buf + STCE_PAGE, sw->iova,
			sw->npages * STCE_PAGE,
			VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

static int unmap_step(struct sweep *sw)
{
	return stce_unmap(sw->c, sw->iova, sw->npages * STCE_PAGE);
}

/*
 * After an UNMAP_DMA that returned 0, injected or not, no device write to
 * the range lands: the IOMMU entries are gone, not only the TCEs.
 */
static void check_unmapped(struct __test_metadata *_metadata,
			   struct sweep *sw, int n)
{
	int probes, landed, untouched;

	probes = dma_probe(_metadata, sw, &landed, &untouched);
	ASSERT_EQ(probes, untouched)
		TH_LOG("n=%d: edu DMA still lands after UNMAP_DMA returned 0",
		       n);
}

/*
 * A failed UNMAP_DMA leaves the whole mapping in place and working; one
 * that returns 0 leaves no IOMMU entry behind.
 */
TEST_F(map, unmap_sweep)
{
	struct undo_op op = {
		.name = self->sw.v1 ? "unmap_dma_v1" : "unmap_dma_v2",
		.redo = map_step, .undo = unmap_step, .check = check_mapped,
		.gone = check_unmapped,
	};
	int probes, landed, untouched;

	self->sw.iova = MAP_IOVA(1);
	undo_sweep(_metadata, &self->sw, &op);
	probes = dma_probe(_metadata, &self->sw, &landed, &untouched);
	ASSERT_EQ(probes, untouched)
		TH_LOG("DMA still lands after UNMAP_DMA");
}

/*
 * MAP_DMA over the step's TCEs in use (the same pages again) replaces
 * them.  A failure while pinning or looking up the new pages leaves the
 * old mapping in place and working; one while the IOMMU maps the new
 * entries leaves the range clear (the documented POWER behaviour); never
 * anything else.
 */
static void replace_sweep(struct __test_metadata *_metadata,
			  struct sweep *sw, const char *name)
{
	int n, ret, injected, probes, landed, untouched;
	bool early = false;
	char why[128];
	long calls;

	sw->iova = MAP_IOVA(1);
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		ASSERT_EQ(0, map_step(sw));
		calls = stce_counter("iommu_map_calls");
		vmk_failnth_arm(&sw->fn, n);
		ret = map_step(sw);
		injected = vmk_failnth_disarm(&sw->fn);
		early = ret && iommu_stage(sw, calls);
		if (!injected)
			ASSERT_EQ(0, ret)
				TH_LOG("replacing MAP_DMA without injection: %s",
				       strerror(-ret));
		if (ret) {
			ASSERT_TRUE(injected_errno(-ret))
				TH_LOG("n=%d: replacing MAP_DMA failed with %s, not ENOMEM/EFAULT",
				       n, strerror(-ret));
		}
		if (ret && state_is(&sw->s0, NULL, why, sizeof(why))) {
			probes = dma_probe(_metadata, sw, &landed, &untouched);
			ASSERT_EQ(probes, untouched)
				TH_LOG("n=%d: a range left clear still takes DMA",
				       n);
		} else {
			check_mapped(_metadata, sw, n);
		}
		ASSERT_EQ(0, unmap_step(sw));
		ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
			TH_LOG("n=%d: after UNMAP_DMA %s", n, why);
		if (!injected || early)
			break;
	}
	sweep_end(sw, name, early ? n : n - 1, early);
}

TEST_F(map, replace_sweep)
{
	replace_sweep(_metadata, &self->sw, self->sw.v1 ? "map_dma_replace_v1" :
		      "map_dma_replace_v2");
}

/*
 * v1 MAP_DMA of BIG_MAP_PAGES (more than the module pins on the stack):
 * the pins go through a page array, whose allocations and unwinding the
 * NPAGES sweeps never reach.  v2 MAP_DMA pins nothing, so v1 only.  Once
 * the TCEs hold the pins the page array is gone and what follows, the
 * IOMMU stage, is the NPAGES sweeps' (behind amd-iommu and virtio-iommu,
 * one iommu_map() and its fault points per TCE: a whole sweep of 24
 * TCEs took longer than the harness's 30 s on the debug kernel), so
 * these sweeps end at the first failure in the IOMMU stage.
 */
FIXTURE(map_big) {
	struct sweep sw;
};

FIXTURE_SETUP(map_big)
{
	map_prepare(_metadata, &self->sw, VFIO_SPAPR_TCE_IOMMU, BIG_MAP_PAGES);
	self->sw.to_iommu = true;
}

FIXTURE_TEARDOWN(map_big)
{
	sweep_close(_metadata, &self->sw);
}

TEST_F(map_big, sweep)
{
	sweep_map(_metadata, &self->sw, "map_dma_big_v1");
}

/* An IOMMU that fails to unmap the old TCEs unwinds the page array. */
TEST_F(map_big, replace_sweep)
{
	replace_sweep(_metadata, &self->sw, "map_dma_replace_big_v1");
}

/* v2 only: REGISTER_MEMORY, TCE_CREATE and what undoes them. */
FIXTURE(v2) {
	struct sweep sw;
};

FIXTURE_SETUP(v2)
{
	struct sweep *sw = &self->sw;

	if (!sweep_open(_metadata, sw, false))
		return;
	sw->c = stce_container_open(&sw->d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, sw->c);
	sw->buf = stce_buf(BIG_PAGES * STCE_PAGE);
	ASSERT_NE(NULL, sw->buf);
	snapshot(&sw->s0);
}

FIXTURE_TEARDOWN(v2)
{
	sweep_close(_metadata, &self->sw);
}

static void register_sweep(struct __test_metadata *_metadata,
			   struct sweep *sw, unsigned long pages,
			   const char *name)
{
	__u64 va = (uintptr_t)sw->buf, size = pages * STCE_PAGE;
	struct state reg = { .pinned = pages, .vmlck = pages, .mems = 1 };
	bool claimed = false;
	int n, ret, injected;
	char why[128];

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		vmk_failnth_arm(&sw->fn, n);
		ret = stce_reg(sw->c, true, va, size);
		injected = vmk_failnth_disarm(&sw->fn);
		if (!injected) {
			ASSERT_EQ(0, ret)
				TH_LOG("REGISTER_MEMORY without injection: %s",
				       strerror(-ret));
			ASSERT_TRUE(state_is(&sw->s0, &reg, why, sizeof(why)))
				TH_LOG("registered: %s", why);
			ASSERT_EQ(0, stce_reg(sw->c, false, va, size));
			break;
		}
		if (ret) {
			ASSERT_TRUE(injected_errno(-ret))
				TH_LOG("n=%d: REGISTER_MEMORY failed with %s, not ENOMEM/EFAULT",
				       n, strerror(-ret));
			ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
				TH_LOG("n=%d: a failed REGISTER_MEMORY left %s",
				       n, why);
			/* unclaimed (-EPERM) until a REGISTER succeeded */
			EXPECT_EQ(claimed ? -ENOENT : -EPERM,
				  stce_reg(sw->c, false, va, size))
				TH_LOG("n=%d: UNREGISTER after a failed REGISTER",
				       n);
			/* registering again works as on a fresh container */
			ASSERT_EQ(0, stce_reg(sw->c, true, va, size))
				TH_LOG("n=%d: REGISTER_MEMORY again: %s", n,
				       strerror(errno));
		}
		claimed = true;
		ASSERT_TRUE(state_is(&sw->s0, &reg, why, sizeof(why)))
			TH_LOG("n=%d: registered: %s", n, why);
		ASSERT_EQ(0, stce_reg(sw->c, false, va, size));
		ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
			TH_LOG("n=%d: after UNREGISTER %s", n, why);
	}
	vmk_failnth_report(name, n - 1);
	ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
		TH_LOG("after the sweep: %s", why);
}

TEST_F(v2, register_memory)
{
	register_sweep(_metadata, &self->sw, NPAGES, "register_memory");
}

/* Unwinding pins that span two chunks of the page array. */
TEST_F(v2, register_memory_two_chunks)
{
	register_sweep(_metadata, &self->sw, BIG_PAGES,
		       "register_memory_two_chunks");
}

static int reg_step(struct sweep *sw)
{
	return stce_reg(sw->c, true, (uintptr_t)sw->buf, NPAGES * STCE_PAGE);
}

static int unreg_step(struct sweep *sw)
{
	return stce_reg(sw->c, false, (uintptr_t)sw->buf, NPAGES * STCE_PAGE);
}

static void check_registered(struct __test_metadata *_metadata,
			     struct sweep *sw, int n)
{
	struct state reg = { .pinned = NPAGES, .vmlck = NPAGES, .mems = 1 };
	char why[128];

	ASSERT_TRUE(state_is(&sw->s0, &reg, why, sizeof(why)))
		TH_LOG("n=%d: a failed UNREGISTER left %s", n, why);
	EXPECT_EQ(-EBUSY, reg_step(sw))
		TH_LOG("n=%d: the region is no longer registered", n);
}

/* A failed UNREGISTER_MEMORY leaves the region registered and charged. */
TEST_F(v2, unregister_memory)
{
	const struct undo_op op = {
		.name = "unregister_memory", .redo = reg_step,
		.undo = unreg_step, .check = check_registered,
	};

	undo_sweep(_metadata, &self->sw, &op);
}

static int tce_create(int c, __u64 *start)
{
	struct vfio_iommu_spapr_tce_create cr = {
		.argsz = sizeof(cr), .page_shift = 12,
		.window_size = 1 << 20, .levels = 1,
	};
	int ret = ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, &cr) ? -errno : 0;

	*start = cr.start_addr;
	return ret;
}

static int tce_remove(int c, __u64 start)
{
	struct vfio_iommu_spapr_tce_remove rm = {
		.argsz = sizeof(rm), .start_addr = start,
	};

	return ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, &rm) ? -errno : 0;
}

TEST_F(v2, tce_create)
{
	struct state win = { .windows = 1 };
	struct sweep *sw = &self->sw;
	int n, ret, injected;
	__u64 want, start;
	char why[128];

	/* where the window goes on this container */
	ASSERT_EQ(0, tce_create(sw->c, &want));
	ASSERT_EQ(0, tce_remove(sw->c, want));
	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		start = ~0ULL;
		vmk_failnth_arm(&sw->fn, n);
		ret = tce_create(sw->c, &start);
		injected = vmk_failnth_disarm(&sw->fn);
		if (!injected) {
			ASSERT_EQ(0, ret)
				TH_LOG("TCE_CREATE without injection: %s",
				       strerror(-ret));
			ASSERT_EQ(want, start);
			ASSERT_TRUE(state_is(&sw->s0, &win, why, sizeof(why)))
				TH_LOG("created: %s", why);
			ASSERT_EQ(0, tce_remove(sw->c, start));
			break;
		}
		if (ret) {
			ASSERT_TRUE(injected_errno(-ret))
				TH_LOG("n=%d: TCE_CREATE failed with %s, not ENOMEM/EFAULT",
				       n, strerror(-ret));
			ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
				TH_LOG("n=%d: a failed TCE_CREATE left %s", n,
				       why);
			EXPECT_EQ(-EINVAL, tce_remove(sw->c, want))
				TH_LOG("n=%d: TCE_REMOVE after a failed TCE_CREATE",
				       n);
			/* creating again gives the window it would have */
			ASSERT_EQ(0, tce_create(sw->c, &start))
				TH_LOG("n=%d: TCE_CREATE again: %s", n,
				       strerror(errno));
		}
		ASSERT_EQ(want, start)
			TH_LOG("n=%d: the window moved after a failure", n);
		ASSERT_TRUE(state_is(&sw->s0, &win, why, sizeof(why)))
			TH_LOG("n=%d: created: %s", n, why);
		ASSERT_EQ(0, tce_remove(sw->c, start));
	}
	vmk_failnth_report("tce_create", n - 1);
	ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
		TH_LOG("after the sweep: %s", why);
}

static int create_step(struct sweep *sw)
{
	return tce_create(sw->c, &sw->iova);
}

static int remove_step(struct sweep *sw)
{
	return tce_remove(sw->c, sw->iova);
}

static void check_window(struct __test_metadata *_metadata, struct sweep *sw,
			 int n)
{
	struct state win = { .windows = 1 };
	char why[128];
	__u64 start;

	ASSERT_TRUE(state_is(&sw->s0, &win, why, sizeof(why)))
		TH_LOG("n=%d: a failed TCE_REMOVE left %s", n, why);
	EXPECT_EQ(-ENOSPC, tce_create(sw->c, &start))
		TH_LOG("n=%d: the window is gone after a failed TCE_REMOVE", n);
}

/* A failed TCE_REMOVE leaves the window in place. */
TEST_F(v2, tce_remove)
{
	const struct undo_op op = {
		.name = "tce_remove", .redo = create_step,
		.undo = remove_step, .check = check_window,
	};

	undo_sweep(_metadata, &self->sw, &op);
}

/*
 * Attach: VFIO_GROUP_SET_CONTAINER then VFIO_SET_IOMMU on a fresh
 * container, injection armed over both.  After a failure no container of
 * the module exists and no group is attached (debugfs), the VFIO
 * container has no IOMMU model, and a clean retry attaches.
 */
FIXTURE(attach) {
	struct sweep sw;
};

FIXTURE_VARIANT(attach) {
	int type;
};

FIXTURE_VARIANT_ADD(attach, v1) {
	.type = VFIO_SPAPR_TCE_IOMMU,
};

FIXTURE_VARIANT_ADD(attach, v2) {
	.type = VFIO_SPAPR_TCE_v2_IOMMU,
};

FIXTURE_SETUP(attach)
{
	struct sweep *sw = &self->sw;

	if (!sweep_open(_metadata, sw, false))
		return;
	snapshot(&sw->s0);
	ASSERT_EQ(0, sw->s0.containers);
}

FIXTURE_TEARDOWN(attach)
{
	sweep_close(_metadata, &self->sw);
}

static bool group_in_container(int group_fd)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	return !ioctl(group_fd, VFIO_GROUP_GET_STATUS, &st) &&
	       (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
}

/* Attached: one container of the module with the group and its window. */
static void check_attached(struct __test_metadata *_metadata,
			   struct sweep *sw, int n)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	struct state d = { .containers = 1, .groups = 1, .windows = 1 };
	char why[128];

	ASSERT_TRUE(state_is(&sw->s0, &d, why, sizeof(why)))
		TH_LOG("n=%d: attached: %s", n, why);
	ASSERT_EQ(0, ioctl(sw->c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, &info))
		TH_LOG("n=%d: GET_INFO on the attached container: %s", n,
		       strerror(errno));
	ASSERT_EQ(2048U << 20, info.dma32_window_size);
}

static void detach(struct __test_metadata *_metadata, struct sweep *sw,
		   int n)
{
	char why[128];

	ASSERT_EQ(0, ioctl(sw->d.group_fd, VFIO_GROUP_UNSET_CONTAINER))
		TH_LOG("n=%d: UNSET_CONTAINER: %s", n, strerror(errno));
	close(sw->c);
	sw->c = -1;
	ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
		TH_LOG("n=%d: detached: %s", n, why);
}

TEST_F(attach, sweep)
{
	struct vfio_iommu_spapr_tce_info info = { .argsz = sizeof(info) };
	bool v1 = variant->type == VFIO_SPAPR_TCE_IOMMU;
	struct sweep *sw = &self->sw;
	int n, ret, err, injected;
	char why[128];
	bool set;

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		sw->c = open("/dev/vfio/vfio", O_RDWR);
		ASSERT_LE(0, sw->c);
		vmk_failnth_arm(&sw->fn, n);
		ret = ioctl(sw->d.group_fd, VFIO_GROUP_SET_CONTAINER, &sw->c);
		set = !ret;
		if (set)
			ret = ioctl(sw->c, VFIO_SET_IOMMU, variant->type);
		err = errno;
		injected = vmk_failnth_disarm(&sw->fn);
		if (!injected) {
			ASSERT_EQ(0, ret)
				TH_LOG("attach without injection: %s",
				       strerror(err));
			check_attached(_metadata, sw, n);
			break;
		}
		if (ret) {
			ASSERT_TRUE(injected_errno(err))
				TH_LOG("n=%d: %s failed with %s, not ENOMEM/EFAULT",
				       n, set ? "SET_IOMMU" : "SET_CONTAINER",
				       strerror(err));
			ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
				TH_LOG("n=%d: a failed attach left %s", n, why);
			ASSERT_EQ(set, group_in_container(sw->d.group_fd));
			if (set) {
				/* the container has no IOMMU model */
				EXPECT_EQ(-1, ioctl(sw->c,
						    VFIO_IOMMU_SPAPR_TCE_GET_INFO,
						    &info));
			} else {
				ASSERT_EQ(0, ioctl(sw->d.group_fd,
						   VFIO_GROUP_SET_CONTAINER,
						   &sw->c))
					TH_LOG("n=%d: SET_CONTAINER again: %s",
					       n, strerror(errno));
			}
			ASSERT_EQ(0, ioctl(sw->c, VFIO_SET_IOMMU,
					   variant->type))
				TH_LOG("n=%d: SET_IOMMU again: %s", n,
				       strerror(errno));
		}
		check_attached(_metadata, sw, n);
		detach(_metadata, sw, n);
	}
	vmk_failnth_report(v1 ? "attach_v1" : "attach_v2", n - 1);

	/* the last attach works: the device reaches a mapping */
	sw->buf = stce_buf(2 * STCE_PAGE);
	ASSERT_NE(NULL, sw->buf);
	ASSERT_EQ(0, stce_dev_open(&sw->d));
	if (v1) {
		ASSERT_EQ(0, ioctl(sw->c, VFIO_IOMMU_ENABLE));
	} else {
		ASSERT_EQ(0, stce_reg(sw->c, true, (uintptr_t)sw->buf,
				      2 * STCE_PAGE));
	}
	ASSERT_EQ(0, stce_map(sw->c, (uintptr_t)sw->buf, IOVA_SRC,
			      2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ |
			      VFIO_DMA_MAP_FLAG_WRITE));
	EXPECT_TRUE(edu_copy(&sw->d, sw->buf, 0x77))
		TH_LOG("no DMA through the container attached last");
}

/*
 * A second group joins a v2 container that already has mappings
 * (VFIO_GROUP_SET_CONTAINER, which replays them into its new domain).
 * After a failure the first group and its mappings are as they were and
 * its device still copies through them; the second group is in no
 * container, and a clean retry lets its device use the replayed mappings.
 */
FIXTURE(join) {
	struct sweep sw;
};

FIXTURE_SETUP(join)
{
	struct sweep *sw = &self->sw;

	if (!sweep_open(_metadata, sw, true))
		return;
	sw->npages = NPAGES;
	sw->c = stce_container_open(&sw->d, VFIO_SPAPR_TCE_v2_IOMMU);
	ASSERT_LE(0, sw->c);
	ASSERT_EQ(0, stce_dev_open(&sw->d));
	sw->buf = stce_buf((NPAGES + 1) * STCE_PAGE);
	ASSERT_NE(NULL, sw->buf);
	ASSERT_EQ(0, stce_reg(sw->c, true, (uintptr_t)sw->buf,
			      (NPAGES + 1) * STCE_PAGE));
	ASSERT_EQ(0, stce_map(sw->c, (uintptr_t)sw->buf, IOVA_SRC,
			      2 * STCE_PAGE, VFIO_DMA_MAP_FLAG_READ |
			      VFIO_DMA_MAP_FLAG_WRITE));
	snapshot(&sw->s0);
}

FIXTURE_TEARDOWN(join)
{
	sweep_close(_metadata, &self->sw);
}

TEST_F(join, second_group)
{
	struct state joined = { .groups = 1 };
	struct sweep *sw = &self->sw;
	int n, ret, err, injected;
	char why[128];

	for (n = 1; n < VMK_FAILNTH_MAX; n++) {
		vmk_failnth_arm(&sw->fn, n);
		ret = ioctl(sw->d1.group_fd, VFIO_GROUP_SET_CONTAINER, &sw->c);
		err = errno;
		injected = vmk_failnth_disarm(&sw->fn);
		if (!injected) {
			ASSERT_EQ(0, ret)
				TH_LOG("SET_CONTAINER without injection: %s",
				       strerror(err));
			ASSERT_TRUE(state_is(&sw->s0, &joined, why,
					     sizeof(why)))
				TH_LOG("joined: %s", why);
			break;
		}
		if (ret) {
			ASSERT_TRUE(injected_errno(err))
				TH_LOG("n=%d: SET_CONTAINER failed with %s, not ENOMEM/EFAULT",
				       n, strerror(err));
			ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
				TH_LOG("n=%d: a failed join left %s", n, why);
			ASSERT_FALSE(group_in_container(sw->d1.group_fd))
				TH_LOG("n=%d: the group is in the container", n);
			ASSERT_TRUE(edu_copy(&sw->d, sw->buf, n))
				TH_LOG("n=%d: the first group lost its mappings",
				       n);
			ASSERT_EQ(0, ioctl(sw->d1.group_fd,
					   VFIO_GROUP_SET_CONTAINER, &sw->c))
				TH_LOG("n=%d: SET_CONTAINER again: %s", n,
				       strerror(errno));
		}
		ASSERT_TRUE(state_is(&sw->s0, &joined, why, sizeof(why)))
			TH_LOG("n=%d: joined: %s", n, why);
		ASSERT_EQ(0, ioctl(sw->d1.group_fd, VFIO_GROUP_UNSET_CONTAINER));
		ASSERT_TRUE(state_is(&sw->s0, NULL, why, sizeof(why)))
			TH_LOG("n=%d: after the second group left: %s", n, why);
	}
	vmk_failnth_report("join_v2", n - 1);

	/* both devices copy through the mappings, the second's replayed */
	ASSERT_EQ(0, stce_dev_open(&sw->d1));
	EXPECT_TRUE(edu_copy(&sw->d1, sw->buf, 0x55))
		TH_LOG("no DMA through the replayed mappings");
	EXPECT_TRUE(edu_copy(&sw->d, sw->buf, 0x66))
		TH_LOG("no DMA through the first group's mappings");
}

/*
 * MAP_DMA into two domains: a failure in the second one must take the
 * range out of the first one too; probes from both devices.  Behind
 * virtio-iommu, 51 injection points with up to eight edu DMAs each take
 * about 45 s on the debug kernel under TCG: more than the harness's
 * default 30 s.
 */
TEST_F_TIMEOUT(join, map_two_domains, 180)
{
	struct sweep *sw = &self->sw;

	ASSERT_EQ(0, ioctl(sw->d1.group_fd, VFIO_GROUP_SET_CONTAINER, &sw->c));
	ASSERT_EQ(0, stce_dev_open(&sw->d1));
	/* both edu buffers hold page 0 */
	stce_fill(sw->buf, EDU_DMA_LEN, 0x44);
	ASSERT_EQ(0, edu_dma(&sw->d, IOVA_SRC, false, EDU_DMA_LEN));
	ASSERT_EQ(0, edu_dma(&sw->d1, IOVA_SRC, false, EDU_DMA_LEN));
	snapshot(&sw->s0);
	sweep_map(_metadata, sw, "map_dma_two_domains");
}

TEST_HARNESS_MAIN
