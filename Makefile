# SPDX-License-Identifier: GPL-2.0-only
#
# vmemkit top-level Makefile.  See README.md; `make help` lists the targets.
#
# Two ways to pick the kernel:
#   KDIR=<build dir>   the developer's path: build (and `make load`) against
#                      that kernel's build tree; nothing is installed or
#                      downloaded, and any distribution with make and gcc works.
#   KERNEL=lts|latest|debug|<tree>  the test set-up (default latest): scripts/setup
#                      makes the kernel ready in $(VMK_CACHE) and describes
#                      it in $(VMK_CACHE)/<name>.mk for the build and the
#                      guest runner.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

VMK_CACHE ?= /var/cache/vmemkit
export VMK_CACHE

PYTHON ?= python3
VMTEST := $(PYTHON) $(TOP)/scripts/vmtest

# Goals that never need the test set-up, and `make load`, which loads into
# the running kernel and so builds against it unless told otherwise.
NOSETUP_GOALS := dkms-install dkms-uninstall unload help
ifneq ($(filter load,$(MAKECMDGOALS)),)
KDIR ?= /lib/modules/$(shell uname -r)/build
endif

ifneq ($(origin KDIR),undefined)
VMK_DEV := 1
KMK :=
else ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out $(NOSETUP_GOALS),$(MAKECMDGOALS)),)
VMK_DEV := 1
KMK :=
endif
endif

ifeq ($(VMK_DEV),)
KERNEL ?= latest
ifneq ($(filter lts latest,$(KERNEL)),)
KMK := $(VMK_CACHE)/$(KERNEL).mk
KSETUP := $(KERNEL)
KMK_DEPS :=
else ifeq ($(KERNEL),debug)
KMK := $(VMK_CACHE)/debug.mk
KSETUP := debug
# A changed config builds (or picks) the debug kernel of that config.
KMK_DEPS := $(TOP)/scripts/kconfig/guest.config $(TOP)/scripts/kconfig/debug.config
else
KTREE := $(abspath $(KERNEL))
ifeq ($(wildcard $(KTREE)/Makefile),)
$(error KERNEL=$(KERNEL) is not lts, latest, debug or a kernel tree)
endif
KMK := $(VMK_CACHE)/trees/$(subst /,_,$(KTREE)).mk
KSETUP := $(KTREE)
# A rebuilt kernel gets its modules installed again.
KMK_DEPS := $(KTREE)/arch/x86/boot/bzImage
endif
-include $(KMK)
KDIR := $(VMK_KDIR)
KSRC ?= $(VMK_KSRC)
endif
export VMK_KERNEL_MK := $(KMK)

# Kernels whose kbuild tools need a newer userland build in a build root.
KRUN := $(if $(VMK_BUILDROOT),$(TOP)/scripts/in-root $(VMK_BUILDROOT))

# Module builds are warning-free under W=1; `make check` adds sparse.
W ?= 1
KMAKE = $(KRUN) $(MAKE) -C $(KDIR) M=$(TOP) W=$(W) $(if $(KSRC),VMK_KSRC=$(KSRC))

.PHONY: all modules selftests setup run shell exec list test test-all bench check \
	load unload clean help FORCE

all: modules

$(VMK_CACHE)/lts.mk $(VMK_CACHE)/latest.mk:
	@$(TOP)/scripts/setup $(basename $(notdir $@))

ifneq ($(KMK_DEPS),)
$(KMK): $(KMK_DEPS)
	@$(TOP)/scripts/setup $(KSETUP)
endif

setup:
	@$(TOP)/scripts/setup $(KSETUP)

tools:
	@$(TOP)/scripts/setup --quiet --tools

modules: $(KMK)
	@test -n "$(KDIR)" || { echo "KDIR is not set; run make setup" >&2; exit 1; }
	+$(KMAKE) modules

selftests: $(KMK)
	@test -n "$(KSRC)" || { echo "selftests need KSRC= (a kernel source tree) or KERNEL=" >&2; exit 1; }
	+$(MAKE) -C $(TOP)/selftests KSRC=$(KSRC) $(if $(VMK_KCONFIG),KCONFIG=$(VMK_KCONFIG))

# Guest targets need the test set-up's description of the kernel.
guest-ready: $(KMK)
	@test -z "$(VMK_DEV)" || { echo "guest targets take KERNEL=lts|latest|debug|<tree>, not KDIR=" >&2; exit 1; }
	@$(TOP)/scripts/setup --quiet --tools

run: guest-ready modules selftests
	$(VMTEST) run

shell: guest-ready modules selftests
	$(VMTEST) shell $(T)

# make exec CMD='...' [T=collection]: one shell command in a guest with the
# modules loaded; its output and its exit status.  CMD goes through the
# environment, so that it keeps its own quotes.
exec: export CMD := $(CMD)
exec: guest-ready modules selftests
	$(VMTEST) exec $(T) -- "$$CMD"

# Collections, programs and test names (no guest).
list: $(KMK) selftests
	@$(VMTEST) list $(T)

test: guest-ready modules selftests
	$(VMTEST) test $(if $(filter-out 0,$(JSON)),--json) $(T)

bench: guest-ready modules selftests
	$(VMTEST) bench $(T)

# Every kernel of the matrix, one after the other; see scripts/test-all.
test-all:
	$(TOP)/scripts/test-all $(if $(T),T="$(T)")

check: $(KMK)
	KDIR=$(KDIR) KSRC=$(KSRC) KRUN="$(KRUN)" $(TOP)/scripts/check

load: modules
	$(TOP)/scripts/load-modules load

unload:
	$(TOP)/scripts/load-modules unload

clean:
	-$(if $(KDIR),$(KMAKE) clean)
	$(if $(KSRC),$(MAKE) -C $(TOP)/selftests KSRC=$(KSRC) clean)
	rm -rf $(TOP)/build $(TOP)/out

help:
	@echo "make [KERNEL=lts|latest|debug|<tree>]  build the modules (default KERNEL=latest)"
	@echo "make KDIR=<build dir>  build against your own kernel; nothing is installed"
	@echo "make run        boot a guest with all five modules and show each at work"
	@echo "make shell [T=collection]  interactive guest shell with the modules loaded"
	@echo "make exec CMD='...' [T=collection]  run one command in a guest; fails when it fails"
	@echo "                (GDB=1 with shell or exec: QEMU waits for gdb on 127.0.0.1:1234)"
	@echo "make list [T=collection]  every collection, program and test name"
	@echo "make test [T=collection[:test]] [JSON=1]  run the kselftest collections in guests"
	@echo "                (KTAP; JSON=1 also writes out/<kernel>/results.json)"
	@echo "make test-all   make test on every kernel of the matrix (what CI runs)"
	@echo "make bench      run the benchmarks in a guest (out/<kernel>/bench.json)"
	@echo "make check      checkpatch --strict, sparse and W=1 over the tree"
	@echo "make check-series [M=module] [SET=1]  upstream series against KERNEL= (default latest)"
	@echo "make load|unload  insmod/rmmod on the running kernel (KDIR=...)"
	@echo "make setup      install packages and prepare the kernel in $(VMK_CACHE)"

# Upstream series check (slow: see scripts/check-series) and DKMS packaging
# (scripts/README-dkms.md).  DKMS builds for the running kernel by default.
.PHONY: check-series dkms-install dkms-uninstall tools guest-ready
# The series are taken against the kernel of KERNEL= (default latest, the
# newest source of the matrix, as upstream wants them against mainline).
# SET=1: only the host-side checks of the set of series (no builds).
check-series: $(KMK)
	VMK_KERNEL_MK=$(KMK) $(TOP)/scripts/check-series $(if $(filter-out 0,$(SET)),--set-only) $(M)

dkms-install dkms-uninstall:
	KVER="$(KVER)" KSRC="$(KSRC)" $(TOP)/scripts/dkms $(@:dkms-%=%)
