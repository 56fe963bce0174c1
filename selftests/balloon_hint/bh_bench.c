// SPDX-License-Identifier: GPL-2.0-only
/*
 * Migration cost with whatever balloon driver the collection loaded
 * (balloon_hint, the in-tree virtio_balloon, or none), measured by the
 * host: fill 1.5 GiB with a non-zero pattern and free it, then migrate at
 * QEMU's default bandwidth; then the same with the freed memory scattered
 * in 2 MiB pieces between pieces still in use.
 */
#include "bh_common_migrate.h"

#define BB_FILL		(1536ULL * BH_MIB)
#define BB_CHUNK	(2ULL * BH_MIB)

static void bb_report(const char *name, const char *drv, struct bh_mig *m)
{
	printf("%-10s %-15s %6llu MiB sent %8llu normal %8llu duplicate %7llu ms\n",
	       name, drv, m->transferred / BH_MIB, m->normal, m->duplicate,
	       m->total_ms);
	printf("VMK-BENCH {\"name\":\"balloon_migrate_%s\",\"driver\":\"%s\","
	       "\"transferred_mib\":%llu,\"normal_pages\":%llu,"
	       "\"duplicate_pages\":%llu,\"total_ms\":%llu,"
	       "\"hinted_mib\":%lld}\n", name, drv, m->transferred / BH_MIB,
	       m->normal, m->duplicate, m->total_ms,
	       bh_stat("bytes_hinted") < 0 ? -1 :
	       bh_stat("bytes_hinted") / (long long)BH_MIB);
	fflush(stdout);
}

int main(void)
{
	const char *drv = bh_driver_name();
	size_t len = BB_FILL + BB_CHUNK, off;
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
	if (bh_migrate(fd, &m))
		return 1;
	bb_report("plain", drv, &m);
	/* Let a DONE arrive and the hinted memory go back before round two. */
	sleep(3);

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
	if (bh_migrate(fd, &m))
		return 1;
	bb_report("fragmented", drv, &m);
	munmap(raw, len);
	close(fd);
	return 0;
}
