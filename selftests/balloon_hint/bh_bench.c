// SPDX-License-Identifier: GPL-2.0-only
/*
 * Migration cost with whatever balloon driver the collection loaded
 * (balloon_hint, the in-tree virtio_balloon, or none), measured by the
 * host: fill 1.5 GiB with a non-zero pattern and free it, then migrate at
 * QEMU's default bandwidth; then the same with the freed memory scattered
 * in 2 MiB pieces between pieces still in use.  With balloon_hint, the
 * driver's counters (blocks per order, rounds, re-hints, helper blocks)
 * follow each figure, to tell what was hinted.
 */
#include "bh_common_migrate.h"

#define BB_FILL		(1536ULL * BH_MIB)
#define BB_CHUNK	(2ULL * BH_MIB)

/* MiB first hinted by balloon_hint since @since (-1 for other drivers). */
static long long bb_hinted_mib(long long since)
{
	long long now = bh_stat("bytes_hinted");

	return now < 0 ? -1 : (now - since) / (long long)BH_MIB;
}

static void bb_report(const char *name, const char *drv, struct bh_mig *m,
		      long long hinted0)
{
	printf("%-10s %-15s %6llu MiB sent %8llu normal %8llu duplicate %7llu ms\n",
	       name, drv, m->transferred / BH_MIB, m->normal, m->duplicate,
	       m->total_ms);
	printf("VMK-BENCH {\"name\":\"balloon_migrate_%s\",\"driver\":\"%s\",",
	       name, drv);
	printf("\"transferred_mib\":%llu,\"normal_pages\":%llu,",
	       m->transferred / BH_MIB, m->normal);
	printf("\"duplicate_pages\":%llu,\"total_ms\":%llu,", m->duplicate,
	       m->total_ms);
	printf("\"hinted_mib\":%lld}\n", bb_hinted_mib(hinted0));
	fflush(stdout);
}

int main(void)
{
	const char *drv = bh_driver_name();
	size_t len = BB_FILL + BB_CHUNK, off;
	long long hinted0;
	struct bh_mig m;
	char *raw, *p;
	int fd;

	fd = vmk_host_open();
	if (fd < 0) {
		printf("no host channel\n");
		return 1;
	}

	p = bh_fill(BB_FILL);
	if (!p)
		return 1;
	munmap(p, BB_FILL);
	sleep(1);
	hinted0 = bh_stat("bytes_hinted");
	if (bh_migrate(fd, &m))
		return 1;
	bb_report("plain", drv, &m, hinted0);
	bh_log_stats("after the plain migration");
	/* Let DONE arrive and the hinted memory go back before round two. */
	sleep(3);
	if (bh_stat("held_pages") > 0)
		bh_wait_stat_le("held_pages", 0, 60);

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return 1;
	p = (char *)(((unsigned long)raw + BB_CHUNK - 1) & ~(BB_CHUNK - 1));
	madvise(p, BB_FILL, MADV_HUGEPAGE);
	for (off = 0; off < BB_FILL; off += 4096)
		memset(p + off, 0x5a ^ (int)(off >> 12), 64);
	for (off = 0; off < BB_FILL; off += 2 * BB_CHUNK)
		munmap(p + off, BB_CHUNK);
	sleep(1);
	hinted0 = bh_stat("bytes_hinted");
	if (bh_migrate(fd, &m))
		return 1;
	bb_report("fragmented", drv, &m, hinted0);
	bh_log_stats("after the fragmented migration");
	munmap(raw, len);
	close(fd);
	return 0;
}
