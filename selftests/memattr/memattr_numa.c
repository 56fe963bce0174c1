// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr pages and NUMA migration, in a guest of two nodes (the
 * memattr_numa collection): move_pages() and mbind(MPOL_MF_MOVE) move no
 * page of an object, private or shared (README, "Private memory").
 *
 * A private page has no PTE, so move_pages() reports it -ENOENT and mbind()
 * finds nothing to queue; a shared page is found and queued, and migration
 * refuses it (the mapping is inaccessible), so move_pages() counts it as
 * not migrated and mbind(MPOL_MF_STRICT) fails with EIO.  What is checked is
 * what user space sees: each page's node (move_pages() with no target) and
 * frame (/proc/self/pagemap, root only) while shared, before and after,
 * private pages once they are shared again.  Anonymous pages beside them,
 * moved by the same calls, show that this guest migrates at all.
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <linux/mempolicy.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)

#define OBJ_PAGES	64
#define PRIV_PAGES	32	/* [0, PRIV_PAGES) private, the rest shared */
#define ANON_PAGES	16

static long sys_move_pages(unsigned long nr, void **pages, const int *nodes,
			   int *status, int flags)
{
	return syscall(__NR_move_pages, 0, nr, pages, nodes, status, flags);
}

static long sys_mbind(void *addr, unsigned long len, int mode,
		      const unsigned long *mask, unsigned long maxnode,
		      unsigned int flags)
{
	return syscall(__NR_mbind, addr, len, mode, mask, maxnode, flags);
}

/* Nodes with memory; fills @nodes with up to two of them. */
static int memory_nodes(int nodes[2])
{
	char path[64];
	int n = 0, i;

	for (i = 0; i < 64 && n < 2; i++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/meminfo", i);
		if (!access(path, R_OK))
			nodes[n++] = i;
	}
	return n;
}

/* move_pages() status (a node or -errno) of each of the @nr pages at @map. */
static int page_nodes(char *map, unsigned int nr, int *node)
{
	void *pages[OBJ_PAGES];
	unsigned int i;

	for (i = 0; i < nr; i++)
		pages[i] = map + i * ma_page();
	return sys_move_pages(nr, pages, NULL, node, 0) ? -errno : 0;
}

/* Ask move_pages() to move each of the @nr pages at @map off @node[i]. */
static long move_away(char *map, unsigned int nr, const int *node,
		      const int nodes[2], int *status)
{
	void *pages[OBJ_PAGES];
	int target[OBJ_PAGES];
	unsigned int i;

	for (i = 0; i < nr; i++) {
		pages[i] = map + i * ma_page();
		target[i] = node[i] == nodes[0] ? nodes[1] : nodes[0];
		status[i] = 1000;	/* no node has this number */
	}
	return sys_move_pages(nr, pages, target, status, MPOL_MF_MOVE);
}

FIXTURE(numa) {
	int fd;
	__u64 pg;
	int nodes[2];
	char *map;
	char *anon;
	__u64 pfn[OBJ_PAGES], pfn2[OBJ_PAGES];
	int node[OBJ_PAGES], node2[OBJ_PAGES];
	__u64 apfn[ANON_PAGES], apfn2[ANON_PAGES];
	int anode[ANON_PAGES], anode2[ANON_PAGES];
};

FIXTURE_VARIANT(numa) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(numa, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(numa, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

/*
 * Every object page written (so allocated and mapped, on the node of the
 * CPU the fault ran on) and its node and frame recorded, then
 * [0, PRIV_PAGES) made private.  The anonymous control pages are first
 * gathered on the first node, so that every one of them can be asked to
 * move to the second.
 */
FIXTURE_SETUP(numa)
{
	unsigned int i;

	self->map = MAP_FAILED;
	self->anon = MAP_FAILED;
	self->fd = -1;
	ma_probe_init();
	if (memory_nodes(self->nodes) < 2)
		SKIP(return, "fewer than two NUMA nodes with memory");
	self->pg = ma_page();
	self->fd = ma_create(OBJ_PAGES * self->pg, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
	self->map = mmap(NULL, OBJ_PAGES * self->pg, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->anon = mmap(NULL, ANON_PAGES * self->pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->anon);
	for (i = 0; i < OBJ_PAGES; i++)
		memset(self->map + i * self->pg, i + 1, self->pg);
	for (i = 0; i < ANON_PAGES; i++)
		memset(self->anon + i * self->pg, i + 1, self->pg);
	ASSERT_EQ(0, ma_read_pfns(self->map, OBJ_PAGES, self->pfn));
	ASSERT_EQ(0, page_nodes(self->map, OBJ_PAGES, self->node));
	/* Each page as if on the second node: move_away() targets the first. */
	for (i = 0; i < ANON_PAGES; i++)
		self->anode[i] = self->nodes[1];
	ASSERT_EQ(0, move_away(self->anon, ANON_PAGES, self->anode, self->nodes,
			       self->anode2));
	ASSERT_EQ(0, ma_read_pfns(self->anon, ANON_PAGES, self->apfn));
	ASSERT_EQ(0, page_nodes(self->anon, ANON_PAGES, self->anode));
	for (i = 0; i < OBJ_PAGES; i++) {
		ASSERT_NE(0, self->pfn[i]) TH_LOG("no PFN (not root?)");
		ASSERT_LE(0, self->node[i]) TH_LOG("page %u: %s", i,
						   strerror(-self->node[i]));
	}
	for (i = 0; i < ANON_PAGES; i++) {
		ASSERT_NE(0, self->apfn[i]);
		ASSERT_EQ(self->nodes[0], self->anode[i])
			TH_LOG("control page %u not gathered on node %d", i,
			       self->nodes[0]);
	}
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, PRIV_PAGES, MA_PRIVATE));
}

FIXTURE_TEARDOWN(numa)
{
	if (self->anon != MAP_FAILED)
		munmap(self->anon, ANON_PAGES * self->pg);
	if (self->map != MAP_FAILED)
		munmap(self->map, OBJ_PAGES * self->pg);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * After an attempt to move them: the anonymous pages moved (so the attempt
 * was real), the shared object pages are on the same node and frame with
 * their data, and the private ones, made shared again (zeroed), too.
 */
static void check_nothing_moved(struct __test_metadata *_metadata,
				struct _test_data_numa *self)
{
	unsigned int i, anon_moved = 0;
	__u64 v;

	ASSERT_EQ(0, ma_read_pfns(self->anon, ANON_PAGES, self->apfn2));
	ASSERT_EQ(0, page_nodes(self->anon, ANON_PAGES, self->anode2));
	for (i = 0; i < ANON_PAGES; i++)
		anon_moved += self->anode2[i] == self->nodes[1] &&
			      self->apfn2[i] != self->apfn[i];
	EXPECT_EQ(ANON_PAGES, anon_moved) TH_LOG("the control did not move");

	ASSERT_EQ(0, page_nodes(self->map, PRIV_PAGES, self->node2));
	for (i = 0; i < PRIV_PAGES; i++)
		EXPECT_EQ(-ENOENT, self->node2[i])
			TH_LOG("private page %u: node status %d", i, self->node2[i]);
	ASSERT_EQ(0, ma_set_pages(self->fd, 0, PRIV_PAGES, 0));
	for (i = 0; i < OBJ_PAGES; i++) {
		EXPECT_EQ(0, ma_probe_read((__u64 *)(self->map + i * self->pg), &v));
		EXPECT_EQ(i < PRIV_PAGES ? 0 : (i + 1) * 0x0101010101010101ULL, v)
			TH_LOG("page %u data", i);
	}
	ASSERT_EQ(0, ma_read_pfns(self->map, OBJ_PAGES, self->pfn2));
	ASSERT_EQ(0, page_nodes(self->map, OBJ_PAGES, self->node2));
	for (i = 0; i < OBJ_PAGES; i++) {
		EXPECT_EQ(self->pfn[i], self->pfn2[i])
			TH_LOG("%s page %u moved: PFN %#llx -> %#llx",
			       i < PRIV_PAGES ? "private" : "shared", i,
			       (unsigned long long)self->pfn[i],
			       (unsigned long long)self->pfn2[i]);
		EXPECT_EQ(self->node[i], self->node2[i])
			TH_LOG("page %u node %d -> %d", i, self->node[i],
			       self->node2[i]);
	}
}

/*
 * move_pages(): the private pages come back -ENOENT (no PTE: nothing
 * found), every shared page is counted as not migrated, and the anonymous
 * pages move.
 */
TEST_F(numa, move_pages_moves_nothing)
{
	int status[OBJ_PAGES];
	unsigned int i;
	long ret;

	ret = move_away(self->map, OBJ_PAGES, self->node, self->nodes, status);
	TH_LOG("move_pages() of the object: %ld (%s)", ret,
	       ret < 0 ? strerror(errno) : "pages not migrated");
	EXPECT_EQ(OBJ_PAGES - PRIV_PAGES, ret)
		TH_LOG("shared pages migrated, or not all refused");
	for (i = 0; i < PRIV_PAGES; i++)
		EXPECT_EQ(-ENOENT, status[i]) TH_LOG("private page %u: %d", i,
						     status[i]);
	ret = move_away(self->anon, ANON_PAGES, self->anode, self->nodes,
			status);
	EXPECT_EQ(0, ret) TH_LOG("move_pages() of anonymous memory: %s",
				 strerror(errno));
	for (i = 0; i < ANON_PAGES; i++)
		EXPECT_EQ(self->nodes[1], status[i]);
	check_nothing_moved(_metadata, self);
}

/*
 * mbind(MPOL_BIND, other node, MPOL_MF_MOVE | MPOL_MF_STRICT): EIO for the
 * object (its shared pages could not be moved; the private ones are not
 * even found), success for the anonymous pages, which move.  The object's
 * pages are all allocated on the first node's CPU or the second's: bind it
 * to each node in turn, so that every page is asked to move once.
 */
TEST_F(numa, mbind_moves_nothing)
{
	unsigned long mask;
	unsigned int i, n;
	long ret;
	int err;

	for (n = 0; n < 2; n++) {
		bool others = false;

		for (i = PRIV_PAGES; i < OBJ_PAGES; i++)
			others |= self->node[i] != self->nodes[n];
		mask = 1UL << self->nodes[n];
		ret = sys_mbind(self->map, OBJ_PAGES * self->pg, MPOL_BIND,
				&mask, sizeof(mask) * 8,
				MPOL_MF_MOVE | MPOL_MF_STRICT);
		err = ret ? -errno : 0;
		TH_LOG("mbind() of the object to node %d: %s (%s)",
		       self->nodes[n], strerror(-err),
		       others ? "shared pages elsewhere" : "all already there");
		EXPECT_EQ(others ? -EIO : 0, err);
	}
	mask = 1UL << self->nodes[1];
	ret = sys_mbind(self->anon, ANON_PAGES * self->pg, MPOL_BIND, &mask,
			sizeof(mask) * 8, MPOL_MF_MOVE | MPOL_MF_STRICT);
	EXPECT_EQ(0, ret) TH_LOG("mbind() of anonymous memory: %s",
				 strerror(errno));
	check_nothing_moved(_metadata, self);
}

TEST_HARNESS_MAIN
