// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark target: a process holding 1 GiB of written anonymous memory.
 * Prints the region's address on stdout once it is filled, then sleeps
 * until killed, so checkpoint tools can dump it.
 */
#include "ckpt_test.h"

#define REGION	(1024UL * 1024 * 1024)

int main(void)
{
	char *raw, *base;
	size_t off;

	raw = mmap(NULL, REGION + (2UL << 20), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return 1;
	base = (char *)(((uintptr_t)raw + (2UL << 20) - 1) &
			~((2UL << 20) - 1));
	memset(base, 0x5a, REGION);
	for (off = 0; off < REGION; off += PG)
		*(__u64 *)(base + off) = off;
	printf("%lx\n", (unsigned long)base);
	fflush(stdout);
	for (;;)
		pause();
}
