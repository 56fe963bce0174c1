/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal VMM for selftests, on the KVM API alone: one VM, memory slots
 * over any user mapping, one vCPU started in 32-bit flat protected mode
 * without paging (every segment base 0, limit 4 GiB), no in-kernel irqchip,
 * interrupts off.  Guest code is a few hand-assembled bytes that talk to the
 * VMM through port I/O exits.
 *
 * VMK_REQUIRE_KVM() skips the whole program, the kselftest way, when the
 * guest cannot run KVM: the CPU model has neither AMD SVM nor Intel VMX
 * (the runner's guests use QEMU's -cpu max, which has SVM under TCG), or
 * /dev/kvm is absent (the collection does not say kvm = yes, so kvm_amd or
 * kvm_intel is not loaded).
 */
#ifndef VMK_KVM_H
#define VMK_KVM_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kselftest.h"
#include "vmk_require.h"

/*
 * Added in 6.8, after the host's headers (Debian 12's are 6.1's): KVM's own
 * memory attributes, guest_memfd and the software-protected VM type.
 */
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT	39
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_USER_MEMORY2		231
#define KVM_CAP_MEMORY_ATTRIBUTES	233
#define KVM_CAP_GUEST_MEMFD		234
#define KVM_CAP_VM_TYPES		235

struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};

#define KVM_MEM_GUEST_MEMFD		4u	/* 1 << 2 */
#define KVM_SET_USER_MEMORY_REGION2	_IOW(KVMIO, 0x49, \
					     struct kvm_userspace_memory_region2)

struct kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};

#define KVM_SET_MEMORY_ATTRIBUTES	_IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#define KVM_MEMORY_ATTRIBUTE_PRIVATE	8ull	/* 1 << 3 */

struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};

#define KVM_CREATE_GUEST_MEMFD		_IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_SW_PROTECTED_VM		1
#endif

#define VMK_KVM_DEV		"/dev/kvm"
#define VMK_X86_CR0_PE		0x1u
#define VMK_X86_CR0_ET		0x10u
#define VMK_X86_CR0_NE		0x20u
#define VMK_X86_RFLAGS_FIXED	0x2u	/* bit 1 always reads 1 */

/* Whether @flag is a word of the "flags" line of /proc/cpuinfo. */
static inline bool vmk_cpu_has(const char *flag)
{
	char line[4096], *tok, *save;
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (tok = strtok_r(line, " \t\n", &save); tok && !found;
		     tok = strtok_r(NULL, " \t\n", &save))
			found = !strcmp(tok, flag);
		break;
	}
	fclose(f);
	return found;
}

static inline void vmk_kvm_require(void)
{
	if (vmk_require_listing())
		return;
	if (!vmk_cpu_has("svm") && !vmk_cpu_has("vmx")) {
		ksft_print_header();
		ksft_exit_skip("no svm or vmx in /proc/cpuinfo: this CPU model cannot run KVM\n");
	}
	if (access(VMK_KVM_DEV, F_OK)) {
		int err = errno;

		ksft_print_header();
		ksft_exit_skip("%s: %s (kvm_amd or kvm_intel not loaded: %s)\n",
			       VMK_KVM_DEV, strerror(err),
			       "does the collection say kvm = yes?");
	}
}

#define VMK_REQUIRE_KVM()						\
static void __attribute__((constructor)) vmk_require_kvm_ctor(void)	\
{									\
	vmk_kvm_require();						\
}

struct vmk_vm {
	int kvm;		/* /dev/kvm */
	int vm;
	int vcpu;		/* the one vCPU, or -1 */
	struct kvm_run *run;	/* the vCPU's shared page(s) */
	size_t run_size;
};

/* No VM yet: what vmk_vm_destroy() leaves, and may be given again. */
static inline void vmk_vm_init(struct vmk_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm = -1;
	vm->vm = -1;
	vm->vcpu = -1;
}

/*
 * Open /dev/kvm and create an empty VM of @type (0: the default,
 * KVM_X86_SW_PROTECTED_VM: KVM's own memory attributes and guest_memfd);
 * returns 0 or -errno.
 */
static inline int vmk_vm_create_type(struct vmk_vm *vm, unsigned long type)
{
	int err;

	vmk_vm_init(vm);
	vm->kvm = open(VMK_KVM_DEV, O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		return -errno;
	if (ioctl(vm->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		err = -EINVAL;
		goto err_kvm;
	}
	vm->vm = ioctl(vm->kvm, KVM_CREATE_VM, type);
	if (vm->vm < 0) {
		err = -errno;
		goto err_kvm;
	}
	return 0;

err_kvm:
	close(vm->kvm);
	vm->kvm = -1;
	return err;
}

/* Open /dev/kvm and create an empty VM of the default type. */
static inline int vmk_vm_create(struct vmk_vm *vm)
{
	return vmk_vm_create_type(vm, 0);
}

/* KVM_CHECK_EXTENSION of @cap on /dev/kvm: its value, or -errno. */
static inline int vmk_kvm_cap(int cap)
{
	int kvm = open(VMK_KVM_DEV, O_RDWR | O_CLOEXEC);
	int ret;

	if (kvm < 0)
		return -errno;
	ret = ioctl(kvm, KVM_CHECK_EXTENSION, cap);
	if (ret < 0)
		ret = -errno;
	close(kvm);
	return ret;
}

/* Slot @slot: guest-physical [@gpa, @gpa + @size) is user memory @hva. */
static inline int vmk_vm_memslot(struct vmk_vm *vm, __u32 slot, __u64 gpa,
				 __u64 size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (__u64)(unsigned long)hva,
	};

	return ioctl(vm->vm, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

/*
 * Slot @slot over user memory @hva for shared pages and guest_memfd @gmem
 * (from offset 0) for private ones.
 */
static inline int vmk_vm_memslot_gmem(struct vmk_vm *vm, __u32 slot,
				      __u64 gpa, __u64 size, void *hva,
				      int gmem)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (__u64)(unsigned long)hva,
		.guest_memfd = gmem,
	};

	return ioctl(vm->vm, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

/* A guest_memfd of @size bytes for this VM: the fd, or -errno. */
static inline int vmk_vm_guest_memfd(struct vmk_vm *vm, __u64 size)
{
	struct kvm_create_guest_memfd g = { .size = size };
	int fd = ioctl(vm->vm, KVM_CREATE_GUEST_MEMFD, &g);

	return fd < 0 ? -errno : fd;
}

/* KVM_SET_MEMORY_ATTRIBUTES of guest-physical [@gpa, @gpa + @size). */
static inline int vmk_vm_set_attributes(struct vmk_vm *vm, __u64 gpa,
					__u64 size, __u64 attributes)
{
	struct kvm_memory_attributes a = {
		.address = gpa,
		.size = size,
		.attributes = attributes,
	};

	return ioctl(vm->vm, KVM_SET_MEMORY_ATTRIBUTES, &a) ? -errno : 0;
}

/*
 * Create the vCPU and put it in 32-bit flat protected mode (CS 32-bit
 * code, the other segments data, base 0, limit 4 GiB, no paging), at @rip
 * with interrupts off.  Returns 0 or -errno.
 */
static inline int vmk_vcpu_create(struct vmk_vm *vm, __u32 rip)
{
	struct kvm_segment code = {
		.limit = 0xffffffff, .selector = 0x8, .type = 0xb,
		.present = 1, .db = 1, .s = 1, .g = 1,
	}, data = code;
	struct kvm_regs regs = { .rip = rip, .rflags = VMK_X86_RFLAGS_FIXED };
	struct kvm_sregs sregs;
	long size;
	int err;

	vm->vcpu = ioctl(vm->vm, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		return -errno;
	size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (long)sizeof(*vm->run))
		return size < 0 ? -errno : -EINVAL;
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu, 0);
	if (vm->run == MAP_FAILED) {
		err = -errno;
		vm->run = NULL;
		return err;
	}
	vm->run_size = size;
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	data.selector = 0x10;
	data.type = 0x3;
	sregs.cs = code;
	sregs.ds = data;
	sregs.es = data;
	sregs.fs = data;
	sregs.gs = data;
	sregs.ss = data;
	sregs.cr0 = VMK_X86_CR0_PE | VMK_X86_CR0_ET | VMK_X86_CR0_NE;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs))
		return -errno;
	return ioctl(vm->vcpu, KVM_SET_REGS, &regs) ? -errno : 0;
}

static inline void vmk_vm_destroy(struct vmk_vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu >= 0)
		close(vm->vcpu);
	if (vm->vm >= 0)
		close(vm->vm);
	if (vm->kvm >= 0)
		close(vm->kvm);
	vmk_vm_init(vm);
}

/* KVM_RUN once; returns 0 (see vm->run->exit_reason) or -errno. */
static inline int vmk_vcpu_run(struct vmk_vm *vm)
{
	return ioctl(vm->vcpu, KVM_RUN, 0) ? -errno : 0;
}

/*
 * Whether the last exit was a 4-byte port I/O of @port in direction @dir
 * (KVM_EXIT_IO_IN or KVM_EXIT_IO_OUT).
 */
static inline bool vmk_vcpu_at_io(const struct vmk_vm *vm, __u16 port,
				  __u8 dir)
{
	const struct kvm_run *r = vm->run;

	return r->exit_reason == KVM_EXIT_IO && r->io.port == port &&
	       r->io.direction == dir && r->io.size == 4 && r->io.count == 1;
}

/* The 4 bytes of the last port I/O exit: OUT's value, IN's answer. */
static inline __u32 *vmk_vcpu_io_data(const struct vmk_vm *vm)
{
	return (__u32 *)((char *)vm->run + vm->run->io.data_offset);
}

/* Set the general registers (all others zero) and RIP; returns 0 or -errno. */
static inline int vmk_vcpu_set_regs(struct vmk_vm *vm, const struct kvm_regs *in)
{
	struct kvm_regs regs = *in;

	regs.rflags = VMK_X86_RFLAGS_FIXED;
	return ioctl(vm->vcpu, KVM_SET_REGS, &regs) ? -errno : 0;
}

#endif /* VMK_KVM_H */
