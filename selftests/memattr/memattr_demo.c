// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr demo: a 1 GiB guest-memory object, a few conversions, what the
 * mapping sees, and the module's counters.
 */
#include <sys/mman.h>

#include "memattr_util.h"

static void show_runs(int fd, __u64 len)
{
	struct memattr_run runs[8];
	__u32 nr = 8, i;
	int more = 0;

	if (ma_get(fd, 0, len, runs, &nr, &more))
		return;
	for (i = 0; i < nr; i++)
		printf("  [0x%09llx, +0x%09llx) %s\n",
		       (unsigned long long)runs[i].address,
		       (unsigned long long)runs[i].size,
		       runs[i].attributes & MA_PRIVATE ? "private" : "shared");
	if (more)
		printf("  ...\n");
}

int main(void)
{
	__u64 pg = ma_page(), size = 1ULL << 30, v = 0;
	__u64 *p;
	char *map;
	int fd;

	ma_probe_init();
	ma_set_backend("sw_rmp");
	fd = ma_create(size, 0);
	if (fd < 0) {
		fprintf(stderr, "MEMATTR_CREATE: %s\n", strerror(-fd));
		return 1;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	p = (__u64 *)(map + 256 * pg);
	*p = 0x1234;
	printf("memattr: 1 GiB object, page 256 written (0x%llx) while shared\n",
	       (unsigned long long)*p);

	ma_set(fd, 0, size, MA_PRIVATE);
	ma_set(fd, 512 * pg, 512 * pg, 0);
	ma_set(fd, 1024 * pg, 512 * pg, 0);
	printf("whole object private, then [2 MiB, 6 MiB) shared in two calls (merged):\n");
	show_runs(fd, size);
	printf("read of private page 256: %s\n",
	       ma_probe_read(p, &v) ? "SIGBUS" : "no SIGBUS (bug)");
	ma_set(fd, 0, size, 0);
	printf("back to shared: page 256 reads 0x%llx (zeroed on private -> shared)\n",
	       ma_probe_read(p, &v) ? ~0ULL : (unsigned long long)v);
	printf("counters: objects %lld conversions %lld pages_converted %lld ",
	       ma_stat("objects"), ma_stat("conversions"),
	       ma_stat("pages_converted"));
	printf("faults %lld hook_commit %lld\n", ma_stat("faults"),
	       ma_stat("hook_commit"));
	munmap(map, size);
	close(fd);
	return 0;
}
