// SPDX-License-Identifier: GPL-2.0-only
/*
 * Races between what moves pages behind the domain file (shrinker reclaim,
 * user memory registration) and streaming mappings plus the userspace
 * device working through the file, each run for a bounded time.
 *
 * A "device" here reads a fresh mapping through the domain mmap right after
 * the map, writes its answer, and the kernel buffer must hold the answer
 * after the unmap; or it keeps writing a live mapping while the range moves
 * to user memory, and no write may be lost.  A stale PTE in the domain file
 * (one that outlives the page its IOVA used to have) shows up as old data
 * or a lost write.  Each test runs for RUN_SECONDS and then on until
 * every thread has made MIN_ROUNDS rounds of progress (at most MAX_SECONDS:
 * how much a thread gets done in a given time is up to the scheduler of a
 * TCG guest, so the time is not what is checked).  Before the fix for these
 * races, reclaim_vs_map and register_vs_device_writes failed within the
 * first second or so of every run.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vit_util.h"
#include "vmk_require.h"

VMK_REQUIRE(VIT_CTL, VIT_CLIENT)

#define BOUNCE		(64 * VIT_PAGE)		/* small: slots are reused */
#define IOVA_LIMIT	((1UL << 20) - 1)
#define RUN_SECONDS	4
#define MAX_SECONDS	15	/* a thread starved this long is a failure */
#define MIN_ROUNDS	100	/* per mapper, before a race may end */
#define MIN_SWITCHES	10	/* user memory switches or reclaim passes */

/* Flags one thread sets and another polls. */
#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

enum stage { ST_NONE, ST_MAP, ST_DEV_READ, ST_UNMAP, ST_READ_BACK };

static const char *const stage_names[] = {
	"-", "map failed", "device read wrong data after map", "unmap failed",
	"wrong data back after unmap",
};

/* State shared by the threads of one test. */
struct race {
	__u8 *dev;		/* the domain mmap */
	__u8 *mem;		/* user bounce memory for the whole region */
	int ctl;
	__u32 id;
	int stop;		/* LOAD/STORE */
	/* Device accesses hold it for read, a memory switch for write. */
	pthread_rwlock_t switch_lock;
	int user;		/* switch_lock: the region is in user memory */
	unsigned long switches;	/* LOAD/STORE: switches or reclaim passes */
	int switch_err;
};

struct mapper {
	struct race *race;
	int cl, cpu;
	unsigned long rounds;	/* LOAD/STORE */
	enum stage failed;	/* ST_NONE while all is well */
	long bad_byte;
	__u64 seed, iova, len;
};

static int mapper_fail(struct mapper *m, enum stage st, long bad)
{
	m->failed = st;
	m->bad_byte = bad;
	STORE(m->race->stop, 1);
	return -1;
}

/* Where the device finds IOVA @iova: the domain file or its own memory. */
static __u8 *dev_view(struct race *r, __u64 iova)
{
	return (r->user ? r->mem : r->dev) + iova;
}

/* One map / device read / device write / unmap / check round. */
static int mapper_round(struct mapper *m, int buf, __u8 *out)
{
	struct race *r = m->race;
	__u64 off = (m->rounds * 97) % 3000, iova = 0;
	long bad;
	int map;

	/* Alternate 1-, 2- and 3-page mappings. */
	m->len = 2000 + (m->rounds % 3) * 3500;
	m->seed = m->cpu * 1000003ULL + m->rounds * 2;
	if (vit_fill(m->cl, buf, off, m->len, m->seed))
		return mapper_fail(m, ST_MAP, -1);
	map = vit_map(m->cl, buf, off, m->len, VIT_DIR_BIDIRECTIONAL, 0, &iova);
	if (map < 0)
		return mapper_fail(m, ST_MAP, map);
	m->iova = iova;

	pthread_rwlock_rdlock(&r->switch_lock);
	bad = vit_check(dev_view(r, iova), m->len, m->seed);
	if (bad == -1)
		vit_put_pattern(dev_view(r, iova), m->len, m->seed + 1);
	pthread_rwlock_unlock(&r->switch_lock);

	if (vit_unmap(m->cl, map, 0))
		return mapper_fail(m, ST_UNMAP, -1);
	if (bad != -1)
		return mapper_fail(m, ST_DEV_READ, bad);
	if (vit_rw(m->cl, VIT_TEST_BUF_READ, buf, off, m->len, out))
		return mapper_fail(m, ST_READ_BACK, -1);
	bad = vit_check(out, m->len, m->seed + 1);
	if (bad != -1)
		return mapper_fail(m, ST_READ_BACK, bad);
	return 0;
}

static void *mapper_run(void *arg)
{
	static __thread __u8 out[3 * VIT_PAGE];
	struct mapper *m = arg;
	cpu_set_t set;
	int buf;

	CPU_ZERO(&set);
	CPU_SET(m->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	buf = vit_buf(m->cl, 3 * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	if (buf < 0) {
		mapper_fail(m, ST_MAP, buf);
		return NULL;
	}
	while (!LOAD(m->race->stop) && !mapper_round(m, buf, out))
		STORE(m->rounds, m->rounds + 1);
	return NULL;
}

/* Reclaim: every shrinker, as often as the guest manages. */
static void *reclaim_run(void *arg)
{
	struct race *r = arg;
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0)
		return NULL;
	while (!LOAD(r->stop)) {
		if (write(fd, "2\n", 2) != 2)
			break;
		STORE(r->switches, r->switches + 1);
	}
	close(fd);
	return NULL;
}

/* User memory in and out for the whole region, between device accesses. */
static void *switch_run(void *arg)
{
	struct race *r = arg;
	unsigned long req;
	int ret;

	while (!LOAD(r->stop)) {
		req = r->user ? VDUSE_IOTLB_UMEM_DEREG : VDUSE_IOTLB_UMEM_REG;
		pthread_rwlock_wrlock(&r->switch_lock);
		ret = vit_umem(r->ctl, req, r->id, 0, BOUNCE,
			       r->user ? NULL : r->mem);
		if (!ret)
			r->user = !r->user;
		pthread_rwlock_unlock(&r->switch_lock);
		if (ret) {
			r->switch_err = ret;
			STORE(r->stop, 1);
			break;
		}
		STORE(r->switches, r->switches + 1);
	}
	return NULL;
}

FIXTURE(race) {
	struct race r;
	struct mapper m[2];
	int dfd;
};

FIXTURE_SETUP(race)
{
	struct race *r = &self->r;
	pthread_rwlockattr_t attr;
	int i;

	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN)) TH_LOG("needs 2 vCPUs");
	r->ctl = open(VIT_CTL, O_RDWR);
	ASSERT_LE(0, r->ctl) TH_LOG("open %s: %s", VIT_CTL, strerror(errno));
	ASSERT_EQ(0, vit_create(r->ctl, IOVA_LIMIT, BOUNCE, &r->id, &self->dfd))
		TH_LOG("create a %lu KiB domain", BOUNCE >> 10);
	r->dev = mmap(NULL, IOVA_LIMIT + 1, PROT_READ | PROT_WRITE, MAP_SHARED,
		      self->dfd, 0);
	ASSERT_NE(MAP_FAILED, r->dev) TH_LOG("mmap domain: %s", strerror(errno));
	r->mem = mmap(NULL, BOUNCE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r->mem);
	pthread_rwlockattr_init(&attr);
	/* The switcher must get its turns against two busy readers. */
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->switch_lock, &attr);
	for (i = 0; i < 2; i++) {
		self->m[i] = (struct mapper){ .race = r, .cpu = i };
		self->m[i].cl = open(VIT_CLIENT, O_RDWR);
		ASSERT_LE(0, self->m[i].cl)
			TH_LOG("open %s: %s", VIT_CLIENT, strerror(errno));
		ASSERT_EQ(0, vit_attach(self->m[i].cl, self->dfd));
	}
}

FIXTURE_TEARDOWN(race)
{
	int i;

	for (i = 0; i < 2; i++)
		close(self->m[i].cl);
	munmap(self->r.dev, IOVA_LIMIT + 1);
	munmap(self->r.mem, BOUNCE);
	close(self->dfd);
	close(self->r.ctl);
}

/* Has every thread of the race made enough progress to end it? */
static bool race_progressed(struct race *r, struct mapper *m)
{
	return LOAD(m[0].rounds) >= MIN_ROUNDS &&
	       LOAD(m[1].rounds) >= MIN_ROUNDS &&
	       LOAD(r->switches) >= MIN_SWITCHES;
}

/*
 * Run both mappers and @other for RUN_SECONDS, and on until each has made
 * its minimum progress (at most MAX_SECONDS), or until a mapper fails; then
 * check every mapper.
 */
static void run_race(struct __test_metadata *_metadata, struct race *r,
		     struct mapper *m, void *(*other)(void *))
{
	struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
	pthread_t t[3];
	int i, n;

	r->switches = 0;
	for (i = 0; i < 2; i++) {
		m[i].rounds = 0;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, mapper_run, &m[i]));
	}
	ASSERT_EQ(0, pthread_create(&t[2], NULL, other, r));
	for (n = 0; n < MAX_SECONDS * 20 && !LOAD(r->stop); n++) {
		if (n >= RUN_SECONDS * 20 && race_progressed(r, m))
			break;
		nanosleep(&tick, NULL);
	}
	STORE(r->stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%.1f s, %lu switches or reclaim passes", n / 20.0, r->switches);
	for (i = 0; i < 2; i++) {
		TH_LOG("mapper %d: %lu rounds", i, m[i].rounds);
		EXPECT_EQ(ST_NONE, m[i].failed)
			TH_LOG("mapper %d round %lu: %s (byte %ld of %llu at %#llx, seed %llu)",
			       i, m[i].rounds, stage_names[m[i].failed],
			       m[i].bad_byte, m[i].len, m[i].iova, m[i].seed);
		EXPECT_LE(MIN_ROUNDS, m[i].rounds)
			TH_LOG("mapper %d starved for %d s", i, MAX_SECONDS);
	}
	EXPECT_LE(MIN_SWITCHES, r->switches)
		TH_LOG("the other thread starved for %d s", MAX_SECONDS);
}

/*
 * Reclaim frees idle bounce pages while the mappers reuse their slots.
 * Whether a scan finds an idle batch while two mappers keep reusing the
 * slots is up to the scheduler: on lts (6.12) under TCG a whole race of
 * RUN_SECONDS often freed nothing (twice in a row on 2026-12-07, the
 * second race then freed 35 pages), while 7.3 freed hundreds.  A race
 * that freed nothing is run again, up to RECLAIM_RACES times, so that
 * reclaim really raced with the mappers.
 */
#define RECLAIM_RACES	6

TEST_F_TIMEOUT(race, reclaim_vs_map, 120)
{
	struct vduse_iotlb_info info;
	int attempt;

	for (attempt = 1; attempt <= RECLAIM_RACES; attempt++) {
		STORE(self->r.stop, 0);
		run_race(_metadata, &self->r, self->m, reclaim_run);
		ASSERT_EQ(0, vit_info(self->r.ctl, self->r.id, &info));
		TH_LOG("race %d: %llu bounce pages reclaimed", attempt,
		       info.out_reclaimed);
		if (info.out_reclaimed)
			break;
	}
	EXPECT_LT(0, info.out_reclaimed) TH_LOG("the shrinker never ran");
	EXPECT_EQ(0, info.out_mappings) TH_LOG("mappings left behind");
}

/* User memory comes and goes while the mappers map and unmap. */
TEST_F_TIMEOUT(race, umem_switch_vs_map, 60)
{
	struct vduse_iotlb_info info;

	run_race(_metadata, &self->r, self->m, switch_run);
	EXPECT_EQ(0, self->r.switch_err)
		TH_LOG("user memory switch failed: %s", strerror(-self->r.switch_err));
	TH_LOG("%lu user memory switches", self->r.switches);
	if (self->r.user)
		ASSERT_EQ(0, vit_umem(self->r.ctl, VDUSE_IOTLB_UMEM_DEREG,
				      self->r.id, 0, BOUNCE, NULL));
	ASSERT_EQ(0, vit_info(self->r.ctl, self->r.id, &info));
	EXPECT_EQ(0, info.out_mappings) TH_LOG("mappings left behind");
	EXPECT_EQ(0, info.out_user_pages) TH_LOG("user pages left behind");
}

#define WRITE_PAGES	16	/* the mapping the device writes during REG */
#define FILL_SEED	7	/* what the kernel put in it */

/* A device writing a live mapping while UMEM_REG moves it. */
struct writer {
	struct race *race;
	int cpu;
	__u64 iova;
	__u64 seed;			/* of the first pass */
	__u64 last[WRITE_PAGES];	/* seed of each page's last write (or fill) */
	int pages_done;			/* LOAD/STORE */
	int reg_done;			/* LOAD/STORE */
	/* The writer's state lives here, where siglongjmp() cannot undo it. */
	unsigned int page;		/* next page to write */
	__u64 pass_seed;		/* seed of this pass */
	int user;			/* SIGBUS seen: writing user memory */
};

static __thread sigjmp_buf writer_jmp;

static void writer_sigbus(int sig)
{
	siglongjmp(writer_jmp, 1);
}

/* Offset @i of the mapping holds vit_pattern(seed, i); so does a page. */
static void put_page_pattern(__u8 *p, unsigned int page, __u64 seed)
{
	unsigned int i;

	for (i = 0; i < VIT_PAGE; i++)
		p[i] = vit_pattern(seed, page * VIT_PAGE + i);
}

/*
 * Write page after page, one new pattern per pass, through the domain file
 * until it answers SIGBUS (the range went to user memory), from then on in
 * user memory.  Stop as soon as UMEM_REG has returned: the last write to
 * each page must be what the page holds, whichever way it went.
 */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct race *r = w->race;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	w->pass_seed = w->seed;
	while (!LOAD(w->reg_done)) {
		if (!w->user && sigsetjmp(writer_jmp, 1))
			w->user = 1;
		put_page_pattern((w->user ? r->mem : r->dev) + w->iova +
				 w->page * VIT_PAGE, w->page, w->pass_seed);
		w->last[w->page] = w->pass_seed;
		STORE(w->pages_done, w->pages_done + 1);
		if (++w->page == WRITE_PAGES) {
			w->page = 0;
			w->pass_seed++;
		}
	}
	return NULL;
}

/* Index of the first page of @p not holding its last write, or -1. */
static int check_writes(const __u8 *p, const struct writer *w)
{
	unsigned int page, i;

	for (page = 0; page < WRITE_PAGES; page++)
		for (i = 0; i < VIT_PAGE; i++)
			if (p[page * VIT_PAGE + i] !=
			    vit_pattern(w->last[page], page * VIT_PAGE + i))
				return page;
	return -1;
}

/*
 * The device keeps writing a live mapping through the domain file while
 * UMEM_REG moves the range to user memory: no write may be lost, neither
 * in user memory after REG nor in the kernel buffer after DEREG and unmap.
 */
TEST_F_TIMEOUT(race, register_vs_device_writes, 60)
{
	struct sigaction sa = { .sa_handler = writer_sigbus }, old;
	struct race *r = &self->r;
	int cl = self->m[0].cl, buf, map, bad, rounds = 0, overlaps = 0, i;
	struct timespec start, now;
	long secs;
	static __u8 out[WRITE_PAGES * VIT_PAGE];
	struct writer w;
	cpu_set_t set;
	pthread_t t;

	buf = vit_buf(cl, WRITE_PAGES * VIT_PAGE, VIT_TEST_BUF_ALLOC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		/*
		 * Every other round the device shares the vCPU of the UMEM_REG
		 * caller and may preempt it inside the switch.
		 */
		w = (struct writer){ .race = r, .cpu = rounds % 2,
				     .seed = FILL_SEED + 1 + rounds * 1000ULL };
		for (i = 0; i < WRITE_PAGES; i++)
			w.last[i] = FILL_SEED;
		ASSERT_EQ(0, vit_fill(cl, buf, 0, WRITE_PAGES * VIT_PAGE, FILL_SEED));
		map = vit_map(cl, buf, 0, WRITE_PAGES * VIT_PAGE,
			      VIT_DIR_BIDIRECTIONAL, 0, &w.iova);
		ASSERT_LE(0, map) TH_LOG("map %lu pages", (unsigned long)WRITE_PAGES);
		ASSERT_EQ(0, pthread_create(&t, NULL, writer_run, &w));
		/* Switch somewhere in the first pass or two. */
		while (LOAD(w.pages_done) < 1 + rounds % WRITE_PAGES)
			sched_yield();
		ASSERT_EQ(0, vit_umem(r->ctl, VDUSE_IOTLB_UMEM_REG, r->id, 0,
				      BOUNCE, r->mem));
		STORE(w.reg_done, 1);
		pthread_join(t, NULL);

		bad = check_writes(r->mem + w.iova, &w);
		ASSERT_EQ(-1, bad)
			TH_LOG("round %d: device write to page %d (seed %llu) lost by UMEM_REG",
			       rounds, bad, bad < 0 ? 0 : w.last[bad]);
		ASSERT_EQ(0, vit_umem(r->ctl, VDUSE_IOTLB_UMEM_DEREG, r->id, 0,
				      BOUNCE, NULL));
		ASSERT_EQ(0, vit_unmap(cl, map, 0));
		ASSERT_EQ(0, vit_rw(cl, VIT_TEST_BUF_READ, buf, 0,
				    WRITE_PAGES * VIT_PAGE, out));
		bad = check_writes(out, &w);
		ASSERT_EQ(-1, bad)
			TH_LOG("round %d: page %d wrong after UMEM_DEREG and unmap",
			       rounds, bad);
		overlaps += w.user;
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
		secs = now.tv_sec - start.tv_sec;
	} while (secs < RUN_SECONDS ||
		 ((rounds < MIN_SWITCHES || !overlaps) && secs < MAX_SECONDS));
	sigaction(SIGBUS, &old, NULL);
	TH_LOG("%d rounds, %d with writes after the switch", rounds, overlaps);
	EXPECT_LE(MIN_SWITCHES, rounds) TH_LOG("starved for %d s", MAX_SECONDS);
	EXPECT_LT(0, overlaps) TH_LOG("the device never wrote across a switch");
}

TEST_HARNESS_MAIN
