// SPDX-License-Identifier: GPL-2.0-only
/* What balloon_hint does, in a few lines: balloon, then one migration. */
#include "bh_common_migrate.h"

int main(void)
{
	char resp[BH_RESP_LEN];
	struct bh_mig m;
	int fd = vmk_host_open();
	char *p;

	if (fd < 0 || bh_stat("features") < 0) {
		printf("balloon_hint: no host channel or driver not bound\n");
		return 1;
	}
	printf("balloon_hint bound, features %#llx\n", bh_stat("features"));
	bh_host(fd, resp, BH_QMP("balloon", "\"value\":%llu"),
		1792 * BH_MIB);
	printf("host target 1792 MiB: balloon holds %lld MiB\n",
	       bh_wait_stat_ge("balloon_pages", 65536, 60) * 4096 / (long long)BH_MIB);
	bh_host(fd, resp, BH_QMP("balloon", "\"value\":%llu"),
		2048 * BH_MIB);
	bh_wait_stat_le("balloon_pages", 0, 60);

	p = bh_fill(512 * BH_MIB);
	if (p)
		munmap(p, 512 * BH_MIB);
	if (bh_migrate(fd, &m)) {
		printf("migration failed\n");
		return 1;
	}
	bh_wait_stat_le("held_pages", 0, 60);
	printf("migration: %llu MiB sent, %llu normal, %llu duplicate pages, %llu ms\n",
	       m.transferred / BH_MIB, m.normal, m.duplicate, m.total_ms);
	printf("hinting: %lld rounds, %lld MiB hinted, %lld re-hinted blocks, ",
	       bh_stat("rounds"), bh_stat("bytes_hinted") / (long long)BH_MIB,
	       bh_stat("rehinted_blocks"));
	printf("%lld kicks, %lld MiB returned at DONE\n", bh_stat("kicks"),
	       bh_stat("returned_done") * 4096 / (long long)BH_MIB);
	close(fd);
	return 0;
}
