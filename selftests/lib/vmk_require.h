/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * VMK_REQUIRE(path, ...): skip the whole test program, the kselftest way,
 * when what it tests is absent.
 *
 * Each path (a module's device node, debugfs or sysfs directory) is checked
 * before main(); when one is missing the program prints the KTAP header and
 * "1..0 # SKIP <path>: <error> (module not loaded?)" and exits KSFT_SKIP
 * (4), so that running it outside a guest with the module, or from
 * `make -C tools/testing/selftests run_tests`, skips instead of failing.
 * Asked only to list its tests (the harness's -l, used by `make list`),
 * the program needs nothing and checks nothing.
 */
#ifndef VMK_REQUIRE_H
#define VMK_REQUIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"

/* Whether the command line has "-l" (constructors see no argv). */
static inline bool vmk_require_listing(void)
{
	char args[4096];
	size_t len, i;
	FILE *f;

	f = fopen("/proc/self/cmdline", "r");
	if (!f)
		return false;
	len = fread(args, 1, sizeof(args) - 1, f);
	fclose(f);
	args[len] = '\0';
	/* Arguments are NUL-separated; skip the program's name. */
	for (i = strlen(args) + 1; i < len; i += strlen(args + i) + 1)
		if (!strcmp(args + i, "-l"))
			return true;
	return false;
}

static inline void vmk_require_paths(const char *const *paths)
{
	if (vmk_require_listing())
		return;
	for (; *paths; paths++) {
		if (access(*paths, F_OK)) {
			int err = errno;

			ksft_print_header();
			ksft_exit_skip("%s: %s (module not loaded?)\n", *paths,
				       strerror(err));
		}
	}
}

#define VMK_REQUIRE(...)						\
static void __attribute__((constructor)) vmk_require_ctor(void)	\
{									\
	static const char *const paths[] = { __VA_ARGS__, NULL };	\
									\
	vmk_require_paths(paths);					\
}

#endif /* VMK_REQUIRE_H */
