// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark guest itself, reported as benchmark figures so that
 * runner_selftest can check both the guest and the reporting: the kernel
 * runs the production command line (none of the test guests' debug
 * options), every vCPU is online although the guest booted on one, and a
 * figure that misses its target is reported MISSED.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmk_bench.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char * const debug_opts[] = {
	"slub_debug", "kfence.sample_interval", "init_on_free",
	"panic_on_warn", "softlockup_panic",
};

int main(void)
{
	double cpus[3], opts[3], miss[3] = { 1, 2, 3 };
	char cmdline[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");
	unsigned int i, found = 0;
	int r;

	if (!f || !fgets(cmdline, sizeof(cmdline), f)) {
		perror("/proc/cmdline");
		return 1;
	}
	fclose(f);
	for (i = 0; i < ARRAY_SIZE(debug_opts); i++)
		found += !!strstr(cmdline, debug_opts[i]);
	/* Three readings each, as every figure with a target needs. */
	for (i = 0; i < 3; i++) {
		cpus[i] = sysconf(_SC_NPROCESSORS_ONLN);
		opts[i] = found;
	}
	r = vmk_bench_figure("runner.cpus_online", "cpus", cpus, 3,
			     VMK_AT_LEAST, 2, NULL);
	r |= vmk_bench_figure("runner.debug_options", "options", opts, 3,
			      VMK_AT_MOST, 0, NULL);
	vmk_bench_figure("runner.missed_on_purpose", "x", miss, 3,
			 VMK_AT_LEAST, 10, "nothing");
	vmk_bench_figure("runner.info_only", "x", miss, 3, VMK_INFO, 0, NULL);
	return r;
}
