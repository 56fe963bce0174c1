// SPDX-License-Identifier: GPL-2.0-only
/* A test program that never finishes: the runner must kill and report it. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("TAP version 13\n1..1\n# sleeping forever\n");
	fflush(stdout);
	for (;;)
		pause();
}
