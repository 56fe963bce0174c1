// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM's own memory-attribute selftests, from the guest kernel's source
 * (tools/testing/selftests/kvm), as a reference that the nested set-up
 * memattr_kvm relies on (KVM inside the TCG guest, -cpu max) is sound:
 * KVM_X86_SW_PROTECTED_VM, KVM_SET_MEMORY_ATTRIBUTES and guest_memfd under
 * their own tests.
 *
 * scripts/kvm-ref builds them once per source into the cache, static, for
 * kernels whose config has CONFIG_KVM_SW_PROTECTED_VM=y (KERNEL=debug), and
 * memattr's Makefile puts them next to this program as kvm_<name>.  Each
 * test here runs one of them and passes when it exits 0, skips when it
 * exits 4 (KSFT_SKIP, with its reason) and fails otherwise; their output
 * is shown as diagnostics.  Without KVM_X86_SW_PROTECTED_VM in
 * KVM_CAP_VM_TYPES (Debian's kernels) the whole program skips and says so.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_kvm.h"
#include "vmk_require.h"

/* Part of memattr's collection: it runs in memattr's guests only. */
VMK_REQUIRE(MA_DEV)
VMK_REQUIRE_KVM()

/* Run ./kvm_@name; its exit status, or -1 when it could not run. */
static int run_kvm_test(struct __test_metadata *_metadata, const char *name,
			char *skip, size_t skip_len)
{
	char path[256], line[512];
	int pipefd[2], status;
	pid_t pid;
	FILE *out;

	snprintf(path, sizeof(path), "./kvm_%s", name);
	if (access(path, X_OK)) {
		TH_LOG("%s: %s (%s)", path, strerror(errno),
		       "not built: scripts/kvm-ref builds it where the config has CONFIG_KVM_SW_PROTECTED_VM=y");
		return -1;
	}
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	skip[0] = '\0';
	while (out && fgets(line, sizeof(line), out)) {
		char *s = strstr(line, "SKIP");

		line[strcspn(line, "\n")] = '\0';
		printf("#   %s\n", line);
		if (s)
			snprintf(skip, skip_len, "%s", s);
	}
	if (out)
		fclose(out);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		TH_LOG("%s killed by signal %d", path, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static void kvm_test(struct __test_metadata *_metadata, const char *name)
{
	char skip[256];
	int rc = run_kvm_test(_metadata, name, skip, sizeof(skip));

	if (rc == KSFT_SKIP)
		SKIP(return, "kvm_%s: %s", name, skip[0] ? skip : "exited 4 (KSFT_SKIP)");
	ASSERT_EQ(0, rc) TH_LOG("kvm_%s exited %d", name, rc);
}

/* Shared <-> private conversions by the guest (KVM_HC_MAP_GPA_RANGE). */
TEST(private_mem_conversions_test)
{
	kvm_test(_metadata, "private_mem_conversions_test");
}

/* KVM_EXIT_MEMORY_FAULT on private accesses KVM cannot map. */
TEST(private_mem_kvm_exits_test)
{
	kvm_test(_metadata, "private_mem_kvm_exits_test");
}

/* guest_memfd itself, for every VM type (the default and SW_PROTECTED). */
TEST(guest_memfd_test)
{
	kvm_test(_metadata, "guest_memfd_test");
}

/* Skip the program when KVM has no software-protected VM type. */
static void require_sw_protected(void)
{
	int types = vmk_kvm_cap(KVM_CAP_VM_TYPES);

	if (types < 0) {
		ksft_print_header();
		ksft_exit_fail_msg("KVM_CHECK_EXTENSION: %s\n", strerror(-types));
	}
	if (!(types & (1 << KVM_X86_SW_PROTECTED_VM))) {
		ksft_print_header();
		ksft_exit_skip("KVM_CAP_VM_TYPES is %#x, without KVM_X86_SW_PROTECTED_VM: %s\n",
			       types,
			       "this kernel's KVM is built without CONFIG_KVM_SW_PROTECTED_VM (KERNEL=debug has it)");
	}
}

int main(int argc, char **argv)
{
	if (!vmk_require_listing())
		require_sw_protected();
	return test_harness_run(argc, argv);
}
