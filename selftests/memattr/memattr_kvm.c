// SPDX-License-Identifier: GPL-2.0-only
/*
 * A KVM guest on memattr memory.  A minimal VMM (KVM API only, no QEMU:
 * lib/vmk_kvm.h) backs its guest's RAM with a memattr object's shared
 * mapping through KVM_SET_USER_MEMORY_REGION, GPA = object offset, and runs
 * hand-assembled 32-bit guest code that reads and writes guest memory and
 * reports through port I/O exits.
 *
 * - Shared pages are shared: the guest reads what the host wrote, the host
 *   reads what the guest wrote.
 * - A conversion to private zaps the object's user mappings, and with them,
 *   through the MMU notifiers, KVM's stage-2 (NPT/EPT) mappings of the
 *   range.  The guest's next access to it faults in KVM, KVM's GUP of the
 *   HVA gets SIGBUS from memattr's fault handler, and KVM_RUN fails with
 *   EFAULT (kvm_handle_error_pfn(): KVM_PFN_ERR_FAULT), exit_reason left at
 *   KVM_EXIT_UNKNOWN, on 6.12 and 7.3 alike: no KVM_EXIT_MEMORY_FAULT (KVM
 *   fills that only for its own private memory) and no MMIO exit.  The
 *   vCPU stays at the faulting instruction; everything else of the guest
 *   keeps working, both after a conversion between two KVM_RUNs (with the
 *   page mapped by an earlier access) and during one (the guest spinning
 *   on the page).
 * - Back to shared, the guest reads zeroes (the same instruction, re-run).
 * - Conversions racing with a running vCPU: no read ever returns data of a
 *   state the range was not in during that KVM_RUN.
 *
 * Each test runs against the range store and the per-GFN baseline, with
 * the sw_rmp backend, which WARNs (failing the run) on a host access to a
 * private page.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "memattr_util.h"
#include "vmk_kvm.h"
#include "vmk_require.h"

VMK_REQUIRE(MA_DEV)
VMK_REQUIRE_KVM()

/*
 * Guest memory: the whole object, 16 pages from GPA 0.  Page 0 holds the
 * code, page 1 the spin loop's counter and the sweep's control word, pages
 * 2-15 data.
 */
#define OBJ_PAGES	16
#define PG		0x1000u
#define COUNTER_GPA	0x1000u
#define CONTROL_GPA	0x1100u
#define CONTROL_MAGIC	0xc0ffee11u
#define DATA_FIRST	2

/* Ports of the guest code. */
#define PORT_CMD	0x10	/* IN: GPA to read, or GPA | 1 to write */
#define PORT_VALUE	0x11	/* OUT: a value read */
#define PORT_WDATA	0x12	/* IN: the value to write */
#define PORT_WDONE	0x13	/* OUT: the value written */
#define PORT_CHANGED	0x14	/* OUT: spin read a value other than ECX */
#define PORT_BADCTL	0x15	/* OUT: the sweep's control word changed */

/* Entry points in page 0. */
#define RIP_CMD		0x00
#define RIP_SPIN	0x20
#define RIP_SWEEP	0x30

/*
 * The guest code, 32-bit (CS.D = 1), hand-assembled; check with
 * objdump -D -b binary -m i386.
 */
static const unsigned char guest_code[] = {
	/* 00: command loop: read or write one word where the VMM says. */
	0xe5, 0x10,			/* 00: in    eax, 0x10		*/
	0x89, 0xc3,			/* 02: mov   ebx, eax		*/
	0x83, 0xe3, 0xfc,		/* 04: and   ebx, ~3		*/
	0xa8, 0x01,			/* 07: test  al, 1		*/
	0x75, 0x06,			/* 09: jnz   11			*/
	0x8b, 0x03,			/* 0b: mov   eax, [ebx]		*/
	0xe7, 0x11,			/* 0d: out   0x11, eax		*/
	0xeb, 0xef,			/* 0f: jmp   00			*/
	0xe5, 0x12,			/* 11: in    eax, 0x12		*/
	0x89, 0x03,			/* 13: mov   [ebx], eax		*/
	0xe7, 0x13,			/* 15: out   0x13, eax		*/
	0xeb, 0xe7,			/* 17: jmp   00			*/
	0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,	/* 19: nop	*/
	/*
	 * 20: spin without exits while [ebx] == ecx, counting iterations
	 * at [ebp]; report any other value, then halt.
	 */
	0x8b, 0x03,			/* 20: mov   eax, [ebx]		*/
	0x39, 0xc8,			/* 22: cmp   eax, ecx		*/
	0x75, 0x05,			/* 24: jne   2b			*/
	0xff, 0x45, 0x00,		/* 26: inc   dword [ebp]	*/
	0xeb, 0xf5,			/* 29: jmp   20			*/
	0xe7, 0x14,			/* 2b: out   0x14, eax		*/
	0xf4,				/* 2d: hlt			*/
	0x90, 0x90,			/* 2e: nop			*/
	/*
	 * 30: sweep: report word 0 of each page of [esi, edi), one exit per
	 * read, round and round; between reads check that [ebp] == ecx,
	 * else report it and halt.
	 */
	0x89, 0xf3,			/* 30: mov   ebx, esi		*/
	0x8b, 0x03,			/* 32: mov   eax, [ebx]		*/
	0xe7, 0x11,			/* 34: out   0x11, eax		*/
	0x39, 0x4d, 0x00,		/* 36: cmp   [ebp], ecx		*/
	0x75, 0x0c,			/* 39: jne   47			*/
	0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, /* 3b: add ebx, 0x1000	*/
	0x39, 0xfb,			/* 41: cmp   ebx, edi		*/
	0x72, 0xed,			/* 43: jb    32			*/
	0xeb, 0xe9,			/* 45: jmp   30			*/
	0x8b, 0x45, 0x00,		/* 47: mov   eax, [ebp]		*/
	0xe7, 0x15,			/* 4a: out   0x15, eax		*/
	0xf4,				/* 4c: hlt			*/
};

FIXTURE(kvm) {
	int fd;
	char *map;
	struct vmk_vm vm;
};

FIXTURE_VARIANT(kvm) {
	__u32 flags;
};

FIXTURE_VARIANT_ADD(kvm, range) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(kvm, per_gfn) {
	.flags = MEMATTR_CREATE_PER_GFN,
};

FIXTURE_SETUP(kvm)
{
	int err;

	vmk_vm_init(&self->vm);
	ASSERT_EQ(PG, ma_page()) TH_LOG("the guest code assumes 4 KiB pages");
	ASSERT_EQ(0, ma_set_backend("sw_rmp"));
	self->fd = ma_create(OBJ_PAGES * PG, variant->flags);
	ASSERT_LE(0, self->fd) TH_LOG("MEMATTR_CREATE: %s", strerror(-self->fd));
	self->map = mmap(NULL, OBJ_PAGES * PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	memcpy(self->map, guest_code, sizeof(guest_code));

	err = vmk_vm_create(&self->vm);
	ASSERT_EQ(0, err) TH_LOG("KVM_CREATE_VM: %s", strerror(-err));
	err = vmk_vm_memslot(&self->vm, 0, 0, OBJ_PAGES * PG, self->map);
	ASSERT_EQ(0, err) TH_LOG("KVM_SET_USER_MEMORY_REGION over the object: %s",
				 strerror(-err));
	err = vmk_vcpu_create(&self->vm, RIP_CMD);
	ASSERT_EQ(0, err) TH_LOG("vCPU: %s", strerror(-err));
}

FIXTURE_TEARDOWN(kvm)
{
	vmk_vm_destroy(&self->vm);
	munmap(self->map, OBJ_PAGES * PG);
	close(self->fd);
}

/*
 * The word at guest-physical @gpa, through the VMM's mapping.  Plain
 * accesses are ordered with the guest's by the KVM_RUN ioctls around them;
 * words the guest changes during a KVM_RUN are read with __atomic_load_n().
 */
static __u32 *host_word(char *map, __u32 gpa)
{
	return (__u32 *)(map + gpa);
}

static __u32 pattern(__u32 gpa)
{
	return 0x7a000000u ^ (gpa * 2654435761u);
}

static void log_exit(struct __test_metadata *_metadata, struct vmk_vm *vm)
{
	struct kvm_run *r = vm->run;

	if (r->exit_reason == KVM_EXIT_IO)
		TH_LOG("exit: IO %s port 0x%x size %u count %u",
		       r->io.direction == KVM_EXIT_IO_IN ? "in" : "out",
		       r->io.port, r->io.size, r->io.count);
	else
		TH_LOG("exit: reason %u", r->exit_reason);
}

/* KVM_RUN, which must succeed and stop at a 4-byte @dir access of @port. */
static void run_to_io(struct __test_metadata *_metadata, struct vmk_vm *vm,
		      __u16 port, __u8 dir)
{
	int err = vmk_vcpu_run(vm);

	ASSERT_EQ(0, err) TH_LOG("KVM_RUN: %s", strerror(-err));
	if (!vmk_vcpu_at_io(vm, port, dir)) {
		log_exit(_metadata, vm);
		ASSERT_TRUE(vmk_vcpu_at_io(vm, port, dir))
			TH_LOG("expected %s on port 0x%x",
			       dir == KVM_EXIT_IO_IN ? "in" : "out", port);
	}
}

/* Set the registers (all others zero) and start at @rip. */
static void set_regs(struct __test_metadata *_metadata, struct vmk_vm *vm,
		     __u32 rip, __u32 rbx, __u32 rcx, __u32 rbp, __u32 rsi,
		     __u32 rdi)
{
	struct kvm_regs regs = {
		.rip = rip, .rbx = rbx, .rcx = rcx, .rbp = rbp, .rsi = rsi,
		.rdi = rdi,
	};
	int err = vmk_vcpu_set_regs(vm, &regs);

	ASSERT_EQ(0, err) TH_LOG("KVM_SET_REGS: %s", strerror(-err));
}

/* (Re)start the command loop: the vCPU waits for a command. */
static void cmd_start(struct __test_metadata *_metadata, struct vmk_vm *vm)
{
	set_regs(_metadata, vm, RIP_CMD, 0, 0, 0, 0, 0);
	run_to_io(_metadata, vm, PORT_CMD, KVM_EXIT_IO_IN);
}

/*
 * KVM_RUN through the access the guest is at.  Returns KVM_RUN's -errno
 * (the vCPU is then at the faulting instruction), or 0 once the guest
 * reported the access on @port (*@val: the value read or written) and
 * waits for the next command.
 */
static int run_access(struct __test_metadata *_metadata, struct vmk_vm *vm,
		      __u16 port, __u32 gpa, __u32 *val)
{
	int err = vmk_vcpu_run(vm);

	if (err)
		return err;
	if (!vmk_vcpu_at_io(vm, port, KVM_EXIT_IO_OUT)) {
		log_exit(_metadata, vm);
		ASSERT_TRUE(0) TH_LOG("the access to GPA 0x%x not reported", gpa);
	}
	*val = *vmk_vcpu_io_data(vm);
	run_to_io(_metadata, vm, PORT_CMD, KVM_EXIT_IO_IN);
	return 0;
}

/* The guest reads the word at @gpa into *@val: 0 or KVM_RUN's -errno. */
static int guest_read(struct __test_metadata *_metadata, struct vmk_vm *vm,
		      __u32 gpa, __u32 *val)
{
	*vmk_vcpu_io_data(vm) = gpa;
	return run_access(_metadata, vm, PORT_VALUE, gpa, val);
}

/* The guest writes @val at @gpa: 0 or KVM_RUN's -errno. */
static int guest_write(struct __test_metadata *_metadata, struct vmk_vm *vm,
		       __u32 gpa, __u32 val)
{
	__u32 done;

	*vmk_vcpu_io_data(vm) = gpa | 1;
	run_to_io(_metadata, vm, PORT_WDATA, KVM_EXIT_IO_IN);
	*vmk_vcpu_io_data(vm) = val;
	return run_access(_metadata, vm, PORT_WDONE, gpa, &done);
}

/* The guest must read @want at @gpa. */
static void guest_reads(struct __test_metadata *_metadata, struct vmk_vm *vm,
			__u32 gpa, __u32 want)
{
	__u32 v = 0;
	int err = guest_read(_metadata, vm, gpa, &v);

	ASSERT_EQ(0, err) TH_LOG("guest read of GPA 0x%x: KVM_RUN %s", gpa,
				 strerror(-err));
	ASSERT_EQ(want, v) TH_LOG("guest read GPA 0x%x", gpa);
}

/*
 * What KVM_RUN does when the guest touches a private page: fails with
 * EFAULT, exit_reason still KVM_EXIT_UNKNOWN (see the top of this file).
 */
static void assert_memory_fault(struct __test_metadata *_metadata,
				struct vmk_vm *vm, int err, __u32 gpa)
{
	ASSERT_EQ(-EFAULT, err)
		TH_LOG("guest access to private GPA 0x%x: KVM_RUN returned %s, not EFAULT",
		       gpa, err ? strerror(-err) : "success (stale mapping)");
	if (vm->run->exit_reason != KVM_EXIT_UNKNOWN)
		log_exit(_metadata, vm);
	ASSERT_EQ(KVM_EXIT_UNKNOWN, vm->run->exit_reason)
		TH_LOG("KVM_RUN's EFAULT came with an exit reason");
}

TEST_F(kvm, guest_and_host_share_pages)
{
	__u32 gpa, p;

	for (p = DATA_FIRST; p < OBJ_PAGES; p++) {
		*host_word(self->map, p * PG) = pattern(p * PG);
		*host_word(self->map, p * PG + PG - 4) = pattern(p * PG + PG - 4);
	}
	cmd_start(_metadata, &self->vm);
	for (p = DATA_FIRST; p < OBJ_PAGES; p++) {
		guest_reads(_metadata, &self->vm, p * PG, pattern(p * PG));
		guest_reads(_metadata, &self->vm, p * PG + PG - 4, pattern(p * PG + PG - 4));
		gpa = p * PG + PG / 2;
		ASSERT_EQ(0, guest_write(_metadata, &self->vm, gpa, ~pattern(gpa)));
	}
	for (p = DATA_FIRST; p < OBJ_PAGES; p++) {
		gpa = p * PG + PG / 2;
		EXPECT_EQ(~pattern(gpa), *host_word(self->map, gpa))
			TH_LOG("host does not see the guest's write at GPA 0x%x", gpa);
	}
}

/*
 * Page 5 mapped in KVM by a guest read, then converted between two
 * KVM_RUNs: reads and writes of it fail with EFAULT, its neighbours work,
 * and once shared again the faulting read, re-run, reads zero.
 */
TEST_F(kvm, private_between_runs)
{
	const __u32 gpa = 5 * PG, below = 4 * PG, above = 6 * PG;
	__u32 v = 0;
	int err;

	*host_word(self->map, gpa) = pattern(gpa);
	*host_word(self->map, gpa + PG - 4) = pattern(gpa + PG - 4);
	*host_word(self->map, below) = pattern(below);
	*host_word(self->map, above) = pattern(above);
	cmd_start(_metadata, &self->vm);
	guest_reads(_metadata, &self->vm, gpa, pattern(gpa));
	guest_reads(_metadata, &self->vm, below, pattern(below));
	guest_reads(_metadata, &self->vm, above, pattern(above));

	ASSERT_EQ(0, ma_set(self->fd, gpa, PG, MA_PRIVATE));
	err = guest_read(_metadata, &self->vm, gpa, &v);
	assert_memory_fault(_metadata, &self->vm, err, gpa);
	/* The vCPU retries the same read: the same exit, no stale data. */
	err = vmk_vcpu_run(&self->vm);
	assert_memory_fault(_metadata, &self->vm, err, gpa);

	/* The rest of the guest is undisturbed. */
	cmd_start(_metadata, &self->vm);
	guest_reads(_metadata, &self->vm, below, pattern(below));
	guest_reads(_metadata, &self->vm, above, pattern(above));
	ASSERT_EQ(0, guest_write(_metadata, &self->vm, above + 4, 0x600d));
	EXPECT_EQ(0x600d, *host_word(self->map, above + 4));
	err = guest_write(_metadata, &self->vm, gpa + 8, 0xbad);
	assert_memory_fault(_metadata, &self->vm, err, gpa + 8);

	/*
	 * Shared again: a read that faulted, re-run once the page is shared,
	 * reads zero, as do the page's other words.
	 */
	cmd_start(_metadata, &self->vm);
	err = guest_read(_metadata, &self->vm, gpa, &v);
	assert_memory_fault(_metadata, &self->vm, err, gpa);
	ASSERT_EQ(0, ma_set(self->fd, gpa, PG, 0));
	run_to_io(_metadata, &self->vm, PORT_VALUE, KVM_EXIT_IO_OUT);
	EXPECT_EQ(0, *vmk_vcpu_io_data(&self->vm))
		TH_LOG("the faulting read, re-run on the shared page, read old data");
	run_to_io(_metadata, &self->vm, PORT_CMD, KVM_EXIT_IO_IN);
	guest_reads(_metadata, &self->vm, gpa + PG - 4, 0);
	guest_reads(_metadata, &self->vm, below, pattern(below));
	EXPECT_EQ(0, *host_word(self->map, gpa));
}

struct spin {
	struct vmk_vm *vm;
	int err;		/* KVM_RUN's result */
	int done;		/* KVM_RUN returned; atomic */
};

static void *spin_vcpu(void *arg)
{
	struct spin *s = arg;

	s->err = vmk_vcpu_run(s->vm);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A cap on waiting for the guest, not a rate: TCG under load is slow. */
#define WAIT_CAP_S	60

/*
 * End a KVM_RUN stuck in guest mode (a test that already failed): without
 * its memory slot the guest's next access exits to userspace.
 */
static void stop_vcpu(struct vmk_vm *vm, char *map, pthread_t t)
{
	vmk_vm_memslot(vm, 0, 0, 0, map);
	pthread_join(t, NULL);
}

/* The spin loop's iterations so far (the guest increments it). */
static __u32 loops(__u32 *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/*
 * The guest spins reading page 7 inside one KVM_RUN, counting iterations
 * at COUNTER_GPA.  Converting the page to private makes that KVM_RUN fail
 * with EFAULT; had KVM kept its mapping, the guest would go on reading the
 * old value, which the counter shows (two more iterations after the
 * conversion returned: one whose read came after it).
 */
TEST_F_TIMEOUT(kvm, private_while_running, 2 * WAIT_CAP_S + 30)
{
	const __u32 gpa = 7 * PG, val = pattern(gpa);
	__u32 *counter = host_word(self->map, COUNTER_GPA);
	struct spin s = { .vm = &self->vm };
	__u32 before, after = 0;
	pthread_t t;
	double end;

	*host_word(self->map, gpa) = val;
	*counter = 0;
	set_regs(_metadata, &self->vm, RIP_SPIN, gpa, val, COUNTER_GPA, 0, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, spin_vcpu, &s));
	for (end = now() + WAIT_CAP_S; !loops(counter) && now() < end;) {
		if (__atomic_load_n(&s.done, __ATOMIC_ACQUIRE))
			break;
		usleep(1000);
	}
	if (!loops(counter)) {
		stop_vcpu(&self->vm, self->map, t);
		log_exit(_metadata, &self->vm);
		ASSERT_NE(0, loops(counter))
			TH_LOG("the guest never looped (KVM_RUN: %s)",
			       s.err ? strerror(-s.err) : "no error");
	}

	ASSERT_EQ(0, ma_set(self->fd, gpa, PG, MA_PRIVATE));
	before = loops(counter);
	for (end = now() + WAIT_CAP_S; now() < end; usleep(1000)) {
		after = loops(counter);
		if (__atomic_load_n(&s.done, __ATOMIC_ACQUIRE) ||
		    after - before >= 2)
			break;
	}
	if (!__atomic_load_n(&s.done, __ATOMIC_ACQUIRE)) {
		stop_vcpu(&self->vm, self->map, t);
		ASSERT_GT(2, after - before)
			TH_LOG("%s (%u more loops)",
			       "the guest went on reading the page after it turned private",
			       after - before);
		ASSERT_TRUE(0) TH_LOG("KVM_RUN did not return in %d s", WAIT_CAP_S);
	}
	pthread_join(t, NULL);
	assert_memory_fault(_metadata, &self->vm, s.err, gpa);
	EXPECT_GE(1, loops(counter) - before)
		TH_LOG("the guest read the page after it turned private");

	/* Shared again: the same read, re-run, sees zero. */
	ASSERT_EQ(0, ma_set(self->fd, gpa, PG, 0));
	run_to_io(_metadata, &self->vm, PORT_CHANGED, KVM_EXIT_IO_OUT);
	EXPECT_EQ(0, *vmk_vcpu_io_data(&self->vm))
		TH_LOG("the read that faulted, re-run on the shared page, read old data");
	EXPECT_EQ(0, memcmp(self->map, guest_code, sizeof(guest_code)));
}

/*
 * The race: the VMM thread runs the sweep over RACE_PAGES pages, one read
 * per KVM_RUN, while a converter thread cycles the pages through private,
 * shared (zeroes) and a new generation of host-written values.  The
 * converter publishes each step's number when it starts (started) and
 * when it has finished (done); a KVM_RUN that began with done = lo and
 * ended seeing started = hi can only have seen the states lo..hi.  After
 * each step the converter waits until a whole KVM_RUN ran in the new state,
 * so every state is met at least RACE_CYCLES times; the rest of the time
 * conversions race with KVM_RUNs in flight.
 */
#define RACE_FIRST	8
#define RACE_PAGES	4
#define RACE_CYCLES	64

struct race {
	int fd;
	char *map;
	unsigned long started, done;	/* steps; atomic */
	unsigned long seen;		/* done at the start of a finished KVM_RUN */
	int stop;			/* atomic */
	char error[128];		/* the converter's, or "" */
};

static __u32 generation(unsigned long k)
{
	return 0x5a000000u | (__u32)k;
}

/* Step s: 3k+1 private, 3k+2 shared (zero), 3k+3 generation k+1 written. */
static bool read_valid(unsigned long lo, unsigned long hi, __u32 v)
{
	unsigned long x;

	for (x = lo; x <= hi; x++) {
		if (x % 3 == 0 && v == generation(x / 3))
			return true;
		if (x % 3 == 2 && v == 0)
			return true;
	}
	return false;
}

static bool fault_valid(unsigned long lo, unsigned long hi)
{
	unsigned long x;

	for (x = lo; x <= hi; x++)
		if (x % 3 == 1)
			return true;
	return false;
}

static void race_write(struct race *r, __u32 val)
{
	unsigned int i;

	for (i = 0; i < RACE_PAGES; i++)
		*host_word(r->map, (RACE_FIRST + i) * PG) = val;
}

static void *converter(void *arg)
{
	struct race *r = arg;
	unsigned long s = 0;
	int err = 0;
	double end;

	while (s < 3 * RACE_CYCLES && !err) {
		s++;
		__atomic_store_n(&r->started, s, __ATOMIC_SEQ_CST);
		if (s % 3 == 1)
			err = ma_set(r->fd, RACE_FIRST * PG, RACE_PAGES * PG, MA_PRIVATE);
		else if (s % 3 == 2)
			err = ma_set(r->fd, RACE_FIRST * PG, RACE_PAGES * PG, 0);
		else
			race_write(r, generation(s / 3));
		if (err) {
			snprintf(r->error, sizeof(r->error), "step %lu: SET: %s",
				 s, strerror(-err));
			break;
		}
		__atomic_store_n(&r->done, s, __ATOMIC_SEQ_CST);
		for (end = now() + WAIT_CAP_S;
		     __atomic_load_n(&r->seen, __ATOMIC_ACQUIRE) < s; sched_yield()) {
			if (now() > end) {
				snprintf(r->error, sizeof(r->error),
					 "step %lu: no KVM_RUN in %d s", s, WAIT_CAP_S);
				err = -ETIMEDOUT;
				break;
			}
		}
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(kvm, conversions_race_running_vcpu, 4 * WAIT_CAP_S)
{
	struct race r = { .fd = self->fd, .map = self->map };
	unsigned long lo, hi, reads = 0, zeroes = 0, faults = 0, bad = 0;
	pthread_t t;
	__u32 v;
	int err;

	race_write(&r, generation(0));
	*host_word(self->map, CONTROL_GPA) = CONTROL_MAGIC;
	set_regs(_metadata, &self->vm, RIP_SWEEP, 0, CONTROL_MAGIC, CONTROL_GPA,
		 RACE_FIRST * PG, (RACE_FIRST + RACE_PAGES) * PG);
	ASSERT_EQ(0, pthread_create(&t, NULL, converter, &r));
	while (!__atomic_load_n(&r.stop, __ATOMIC_ACQUIRE)) {
		lo = __atomic_load_n(&r.done, __ATOMIC_SEQ_CST);
		err = vmk_vcpu_run(&self->vm);
		hi = __atomic_load_n(&r.started, __ATOMIC_SEQ_CST);
		if (err == -EFAULT && self->vm.run->exit_reason == KVM_EXIT_UNKNOWN) {
			faults++;
			if (!fault_valid(lo, hi) && !bad++)
				TH_LOG("EFAULT in states %lu..%lu, all shared", lo, hi);
		} else if (!err && vmk_vcpu_at_io(&self->vm, PORT_VALUE, KVM_EXIT_IO_OUT)) {
			v = *vmk_vcpu_io_data(&self->vm);
			reads++;
			zeroes += !v;
			if (!read_valid(lo, hi, v) && !bad++)
				TH_LOG("read 0x%x in states %lu..%lu: stale", v, lo, hi);
		} else {
			if (err)
				TH_LOG("KVM_RUN: %s", strerror(-err));
			else if (vmk_vcpu_at_io(&self->vm, PORT_BADCTL, KVM_EXIT_IO_OUT))
				TH_LOG("the guest saw the control word change to 0x%x",
				       *vmk_vcpu_io_data(&self->vm));
			else
				log_exit(_metadata, &self->vm);
			/* Let the converter finish without waiting. */
			__atomic_store_n(&r.seen, ~0UL, __ATOMIC_RELEASE);
			pthread_join(t, NULL);
			ASSERT_TRUE(0) TH_LOG("unexpected end of KVM_RUN");
		}
		__atomic_store_n(&r.seen, lo, __ATOMIC_RELEASE);
	}
	pthread_join(t, NULL);
	ASSERT_STREQ("", r.error);
	TH_LOG("%d cycles: %lu reads (%lu zero), %lu EFAULT", RACE_CYCLES,
	       reads, zeroes, faults);
	EXPECT_EQ(0, bad) TH_LOG("%lu reads or faults of a state the range was not in",
				 bad);
	/* Each state held for a whole KVM_RUN at least once per cycle. */
	EXPECT_LE(RACE_CYCLES, faults);
	EXPECT_LE(RACE_CYCLES, zeroes);
	EXPECT_LE(2 * RACE_CYCLES, reads);
	EXPECT_EQ(CONTROL_MAGIC, *host_word(self->map, CONTROL_GPA));
	EXPECT_EQ(0, memcmp(self->map, guest_code, sizeof(guest_code)));
}

TEST_HARNESS_MAIN
