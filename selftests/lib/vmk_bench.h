/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Benchmark figures with their targets.
 *
 * A benchmark measures each figure several times (at least
 * VMK_BENCH_MIN_RUNS) and hands the values to vmk_bench_figure(), which
 * prints the median with the spread of the runs and, for a figure with a
 * target, MET or MISSED:
 *
 *   # stce.map_unmap_64m.v1: median 3.61 x (min 3.40, max 3.80, 5 runs), target >= 1.5: MET
 *   VMK-BENCH {"name":"stce.map_unmap_64m.v1","unit":"x","median":3.61,...}
 *
 * The runner collects the VMK-BENCH lines into out/<kernel>/bench.json and
 * ends `make bench` with the list of figures that missed their targets.
 * A ratio's baseline (what it is measured against, in the same guest) is
 * named in the line, so that a figure can be read on its own.
 */
#ifndef VMK_BENCH_H
#define VMK_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VMK_BENCH_MIN_RUNS	3
#define VMK_BENCH_MAX_RUNS	64

enum vmk_target {
	VMK_INFO,	/* a figure without a target (a baseline, a size) */
	VMK_AT_LEAST,	/* met when the median is >= the target */
	VMK_AT_MOST,	/* met when the median is <= the target */
};

static inline int vmk_bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of @n values (0 for none); @v is left as it was. */
static inline double vmk_median(const double *v, int n)
{
	double s[VMK_BENCH_MAX_RUNS];

	if (n <= 0)
		return 0;
	if (n > VMK_BENCH_MAX_RUNS)
		n = VMK_BENCH_MAX_RUNS;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), vmk_bench_cmp);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * Print figure @name: the median of @n runs @v in @unit, their spread and,
 * unless @kind is VMK_INFO, whether the median meets @target.  @baseline
 * names what a ratio is against (NULL for none).  A figure with a target
 * and fewer than VMK_BENCH_MIN_RUNS runs is MISSED: one run says nothing
 * about a noisy guest.  Returns 0 when met or without a target, 1 when
 * missed.
 */
static inline int vmk_bench_figure(const char *name, const char *unit,
				   const double *v, int n, enum vmk_target kind,
				   double target, const char *baseline)
{
	const char *status = "INFO", *why = "";
	double lo, hi, med;
	int i, missed = 0;

	if (n > VMK_BENCH_MAX_RUNS)
		n = VMK_BENCH_MAX_RUNS;
	med = vmk_median(v, n);
	lo = n ? v[0] : 0;
	hi = lo;
	for (i = 1; i < n; i++) {
		if (v[i] < lo)
			lo = v[i];
		if (v[i] > hi)
			hi = v[i];
	}
	if (kind != VMK_INFO) {
		missed = kind == VMK_AT_LEAST ? !(med >= target) :
						!(med <= target);
		if (n < VMK_BENCH_MIN_RUNS) {
			missed = 1;
			why = " (too few runs)";
		}
		status = missed ? "MISSED" : "MET";
	}

	printf("# %s: median %.4g %s (min %.4g, max %.4g, %d runs)", name, med,
	       unit, lo, hi, n);
	if (baseline)
		printf(" against %s", baseline);
	if (kind != VMK_INFO)
		printf(", target %s %g: %s%s", kind == VMK_AT_LEAST ? ">=" : "<=",
		       target, status, why);
	printf("\n");

	printf("VMK-BENCH {\"name\":\"%s\",\"unit\":\"%s\",", name, unit);
	printf("\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,", med, lo, hi);
	printf("\"runs\":%d,\"values\":[", n);
	for (i = 0; i < n; i++)
		printf("%s%.6g", i ? "," : "", v[i]);
	printf("]");
	if (baseline)
		printf(",\"baseline\":\"%s\"", baseline);
	if (kind != VMK_INFO)
		printf(",\"target\":{\"cmp\":\"%s\",\"value\":%.6g}",
		       kind == VMK_AT_LEAST ? ">=" : "<=", target);
	printf(",\"status\":\"%s\"}\n", status);
	fflush(stdout);
	return missed;
}

#endif /* VMK_BENCH_H */
