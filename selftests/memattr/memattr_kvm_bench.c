// SPDX-License-Identifier: GPL-2.0-only
/*
 * memattr against KVM's own memory attributes, side by side in one guest.
 *
 *   kvm:     KVM_SET_MEMORY_ATTRIBUTES on a KVM_X86_SW_PROTECTED_VM whose
 *            data memslot is over a guest_memfd (private) and anonymous
 *            memory (shared)
 *   memattr: MEMATTR_SET_ATTRIBUTES on an object of the same size whose
 *            shared mapping is the data memslot of a default-type VM
 *   per_gfn: the same with MEMATTR_CREATE_PER_GFN (KVM's per-GFN xarray
 *            re-created inside memattr), shown without a target
 *
 * Every VM (lib/vmk_kvm.h) has a one-page code slot at GPA 0 and the data
 * slot at DATA_GPA.  Before the timed conversions of a case, the vCPU runs
 * and reads one word of each page the case converts (up to TOUCH_MAX pages
 * for the whole range), so that KVM holds stage-2 mappings of them: each
 * conversion to private has to invalidate a running guest's mappings (the
 * vCPU is between two KVM_RUNs while the ioctl runs).  memattr's zap goes
 * through the MMU notifiers to KVM; KVM's own ioctl zaps the range itself.
 *
 *   whole_16g:       16 GiB data slot; the whole range to private, then to
 *                    shared (private -> shared zeroes memattr's cached
 *                    pages, which KVM's anonymous shared memory does not):
 *                    time per conversion, the mean of the two
 *   stripes_2m_1g:   every other 2 MiB of the first 1 GiB to private, one
 *                    call each, the first page of each mapped before
 *   stripes_4k_64m:  every other 4 KiB page of the first 64 MiB to private,
 *                    one call each, every one of them mapped before (a
 *                    smaller range than memattr_bench's 1 GiB, so that the
 *                    guest can map every page it converts)
 *
 * Targets (issue: memattr under a real KVM guest): the whole range at least
 * 10^4x faster than KVM, 2 MiB stripes at least 50x, single pages no slower
 * (memattr time / KVM time at most 1.0).  Without a target, to show where
 * the time goes: the whole range's two directions apart, and the stripes
 * with no page mapped (no invalidation to do).  Each figure is the median
 * of ROUNDS rounds, each measuring all three in the same guest.
 */
#include <sys/mman.h>
#include <time.h>

#include "memattr_util.h"
#include "vmk_bench.h"
#include "vmk_kvm.h"

#define GIB		(1024ULL * 1024 * 1024)
#define MIB		(1024ULL * 1024)
#define PG		0x1000u
#define ROUNDS		3
#define DATA_GPA	GIB		/* in reach of the 32-bit guest */
#define TOUCH_MAX	64		/* pages mapped for the whole range */
#define PORT_DONE	0x10
#define KVM_BASELINE	"KVM_SET_MEMORY_ATTRIBUTES on a KVM_X86_SW_PROTECTED_VM"

/*
 * Read one word every EDX bytes of [ESI, EDI), then report on PORT_DONE
 * (32-bit, hand-assembled; check with objdump -D -b binary -m i386).
 */
static const unsigned char guest_code[] = {
	0x8b, 0x06,			/* 00: mov  eax, [esi]	*/
	0x01, 0xd6,			/* 02: add  esi, edx	*/
	0x39, 0xfe,			/* 04: cmp  esi, edi	*/
	0x72, 0xf8,			/* 06: jb   00		*/
	0xe7, PORT_DONE,		/* 08: out  0x10, eax	*/
	0xf4,				/* 0a: hlt		*/
};

enum side { KVM, MEMATTR, PER_GFN, SIDES };

static const char * const side_name[SIDES] = { "kvm", "memattr", "per_gfn" };

struct vm_side {
	enum side side;
	struct vmk_vm vm;
	void *code;
	char *data;		/* the data slot's user memory */
	__u64 size;
	int fd;			/* guest_memfd or memattr object */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	printf("# %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(1);
}

static void side_create(struct vm_side *s, enum side side, __u64 size)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->side = side;
	s->size = size;
	err = vmk_vm_create_type(&s->vm, side == KVM ? KVM_X86_SW_PROTECTED_VM : 0);
	if (err)
		die("KVM_CREATE_VM", -err);
	s->code = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->code == MAP_FAILED)
		die("mmap code", errno);
	memcpy(s->code, guest_code, sizeof(guest_code));
	err = vmk_vm_memslot(&s->vm, 0, 0, PG, s->code);
	if (err)
		die("code memslot", -err);

	if (side == KVM) {
		s->fd = vmk_vm_guest_memfd(&s->vm, size);
		if (s->fd < 0)
			die("KVM_CREATE_GUEST_MEMFD", -s->fd);
		s->data = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (s->data == MAP_FAILED)
			die("mmap shared memory", errno);
		/* 4 KiB mappings, as memattr's object has. */
		madvise(s->data, size, MADV_NOHUGEPAGE);
		err = vmk_vm_memslot_gmem(&s->vm, 1, DATA_GPA, size, s->data,
					  s->fd);
		if (err)
			die("KVM_SET_USER_MEMORY_REGION2 over guest_memfd", -err);
	} else {
		s->fd = ma_create(size, side == PER_GFN ? MEMATTR_CREATE_PER_GFN : 0);
		if (s->fd < 0)
			die("MEMATTR_CREATE", -s->fd);
		s->data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       s->fd, 0);
		if (s->data == MAP_FAILED)
			die("mmap object", errno);
		err = vmk_vm_memslot(&s->vm, 1, DATA_GPA, size, s->data);
		if (err)
			die("KVM_SET_USER_MEMORY_REGION over the object", -err);
	}
	err = vmk_vcpu_create(&s->vm, 0);
	if (err)
		die("vCPU", -err);
}

static void side_destroy(struct vm_side *s)
{
	vmk_vm_destroy(&s->vm);
	munmap(s->data, s->size);
	munmap(s->code, PG);
	close(s->fd);
}

/* Convert [off, off + len) of the data slot; exits on failure. */
static void convert(struct vm_side *s, __u64 off, __u64 len, int private)
{
	int err;

	if (s->side == KVM)
		err = vmk_vm_set_attributes(&s->vm, DATA_GPA + off, len,
					    private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
	else
		err = ma_set(s->fd, off, len, private ? MA_PRIVATE : 0);
	if (err)
		die(s->side == KVM ? "KVM_SET_MEMORY_ATTRIBUTES" :
				     "MEMATTR_SET_ATTRIBUTES", -err);
}

/* The guest reads one word every @stride bytes of [off, off + len). */
static void touch(struct vm_side *s, __u64 off, __u64 len, __u64 stride)
{
	struct kvm_regs regs = {
		.rip = 0,
		.rsi = DATA_GPA + off,
		.rdi = DATA_GPA + off + len,
		.rdx = stride,
	};
	int err;

	err = vmk_vcpu_set_regs(&s->vm, &regs);
	if (err)
		die("KVM_SET_REGS", -err);
	err = vmk_vcpu_run(&s->vm);
	if (err)
		die("KVM_RUN", -err);
	if (!vmk_vcpu_at_io(&s->vm, PORT_DONE, KVM_EXIT_IO_OUT)) {
		printf("# %s: guest stopped with exit reason %u\n",
		       side_name[s->side], s->vm.run->exit_reason);
		exit(1);
	}
}

/*
 * 16 GiB whole: microseconds of the conversion to private (*@priv) and back
 * to shared (*@shared).
 */
static void bench_whole(enum side side, double *priv, double *shared)
{
	__u64 size = 16 * GIB;
	struct vm_side s;
	double t0;

	side_create(&s, side, size);
	touch(&s, 0, TOUCH_MAX * PG, PG);
	t0 = now();
	convert(&s, 0, size, 1);
	*priv = (now() - t0) * 1e6;
	t0 = now();
	convert(&s, 0, size, 0);
	*shared = (now() - t0) * 1e6;
	side_destroy(&s);
}

/*
 * Every other @stripe bytes of [0, @span) to private, one call each, after
 * the guest mapped (@mapped) the first page of each stripe that converts
 * (every page for 4 KiB stripes); microseconds per conversion.
 */
static double bench_stripes(enum side side, __u64 stripe, __u64 span,
			    bool mapped)
{
	struct vm_side s;
	__u64 off, n = 0;
	double t0, t;

	side_create(&s, side, 16 * GIB);
	if (mapped)
		touch(&s, 0, span, stripe == PG ? PG : 2 * stripe);
	t0 = now();
	for (off = 0; off < span; off += 2 * stripe, n++)
		convert(&s, off, stripe, 1);
	t = now() - t0;
	side_destroy(&s);
	return t * 1e6 / n;
}

struct figure {
	double us[SIDES][ROUNDS];
};

static void measure(struct figure *f, int k, __u64 stripe, __u64 span,
		    bool mapped)
{
	enum side i;

	for (i = 0; i < SIDES; i++)
		f->us[i][k] = bench_stripes(i, stripe, span, mapped);
}

/*
 * The figures of @f: KVM's time over memattr's (@slowdown: memattr's over
 * KVM's), against @target unless @kind is VMK_INFO; each side's time; KVM's
 * time over the per-GFN store's.
 */
static void report(const char *name, struct figure *f, enum vmk_target kind,
		   bool slowdown, double target)
{
	double ratio[ROUNDS], gfn[ROUNDS];
	char n[96];
	int k, i;

	for (k = 0; k < ROUNDS; k++) {
		ratio[k] = slowdown ? f->us[MEMATTR][k] / f->us[KVM][k] :
				      f->us[KVM][k] / f->us[MEMATTR][k];
		gfn[k] = f->us[KVM][k] / f->us[PER_GFN][k];
	}
	snprintf(n, sizeof(n), "memattr_kvm.%s%s", name,
		 slowdown ? ".memattr_over_kvm" : "");
	vmk_bench_figure(n, "x", ratio, ROUNDS, kind, target, KVM_BASELINE);
	for (i = 0; i < SIDES; i++) {
		snprintf(n, sizeof(n), "memattr_kvm.%s.%s_us", name, side_name[i]);
		vmk_bench_figure(n, "us/conversion", f->us[i], ROUNDS, VMK_INFO,
				 0, NULL);
	}
	snprintf(n, sizeof(n), "memattr_kvm.%s.kvm_over_per_gfn", name);
	vmk_bench_figure(n, "x", gfn, ROUNDS, VMK_INFO, 0,
			 "memattr's per-GFN xarray store");
}

int main(void)
{
	static struct figure whole, priv, shared, s2m, s4k, s2m_cold, s4k_cold;
	enum side i;
	int types, k;

	vmk_kvm_require();
	vmk_require_paths((const char *[]){ MA_DEV, NULL });
	types = vmk_kvm_cap(KVM_CAP_VM_TYPES);
	if (types < 0 || !(types & (1 << KVM_X86_SW_PROTECTED_VM))) {
		ksft_print_header();
		ksft_exit_skip("KVM_CAP_VM_TYPES is %#x, without KVM_X86_SW_PROTECTED_VM: %s\n",
			       types < 0 ? 0 : types,
			       "does the collection say kvm = sw_protected? (scripts/kvm-ref)");
	}
	if (ma_page() != PG || ma_set_backend("none")) {
		printf("# needs 4 KiB pages and the none backend\n");
		return 1;
	}
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; i < SIDES; i++) {
			bench_whole(i, &priv.us[i][k], &shared.us[i][k]);
			whole.us[i][k] = (priv.us[i][k] + shared.us[i][k]) / 2;
		}
		measure(&s2m, k, 2 * MIB, GIB, true);
		measure(&s4k, k, PG, 64 * MIB, true);
		measure(&s2m_cold, k, 2 * MIB, GIB, false);
		measure(&s4k_cold, k, PG, 64 * MIB, false);
		printf("# round %d, kvm / memattr us: whole %.0f / %.0f, ",
		       k, whole.us[KVM][k], whole.us[MEMATTR][k]);
		printf("2m %.1f / %.1f, 4k %.2f / %.2f\n", s2m.us[KVM][k],
		       s2m.us[MEMATTR][k], s4k.us[KVM][k], s4k.us[MEMATTR][k]);
		fflush(stdout);
	}
	report("whole_16g", &whole, VMK_AT_LEAST, false, 1e4);
	report("stripes_2m_1g", &s2m, VMK_AT_LEAST, false, 50);
	report("stripes_4k_64m", &s4k, VMK_AT_MOST, true, 1.0);
	/* Where the time goes, without a target. */
	report("whole_16g.to_private", &priv, VMK_INFO, false, 0);
	report("whole_16g.to_shared", &shared, VMK_INFO, false, 0);
	report("stripes_2m_1g.unmapped", &s2m_cold, VMK_INFO, false, 0);
	report("stripes_4k_64m.unmapped", &s4k_cold, VMK_INFO, true, 0);
	return 0;
}
