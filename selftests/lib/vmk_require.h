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
 */
#ifndef VMK_REQUIRE_H
#define VMK_REQUIRE_H

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"

static inline void vmk_require_paths(const char *const *paths)
{
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
