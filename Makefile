# SPDX-License-Identifier: GPL-2.0-only
#
# vmemkit top-level Makefile.  See README.md; `make help` lists the targets.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# scripts/setup writes the chosen Debian 6.12 kernel's paths here.
-include $(TOP)/.cache/kernel.mk

KDIR ?= $(VMK_KDIR)
KSRC ?= $(VMK_KSRC)
KVER ?= $(VMK_KVER)
export KSRC KVER

PYTHON ?= python3
VMTEST := $(PYTHON) $(TOP)/scripts/vmtest

# Module builds are warning-free under W=1; `make check` adds sparse.
W ?= 1
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) W=$(W) VMK_KSRC=$(KSRC)

.PHONY: all modules selftests setup run shell test bench check load unload \
	clean help FORCE

all: modules

$(TOP)/.cache/kernel.mk:
	@$(TOP)/scripts/setup

setup:
	@$(TOP)/scripts/setup

modules: $(TOP)/.cache/kernel.mk
	@test -n "$(KDIR)" || { echo "KDIR is not set; run make setup" >&2; exit 1; }
	$(KMAKE) modules

selftests: $(TOP)/.cache/kernel.mk
	$(MAKE) -C $(TOP)/selftests KSRC=$(KSRC)

run: modules selftests
	$(VMTEST) run

shell: modules selftests
	$(VMTEST) shell

test: modules selftests
	$(VMTEST) test $(T)

bench: modules selftests
	$(VMTEST) bench $(T)

check: $(TOP)/.cache/kernel.mk
	$(TOP)/scripts/check

load: modules
	$(TOP)/scripts/load-modules load

unload:
	$(TOP)/scripts/load-modules unload

clean:
	-$(KMAKE) clean
	$(MAKE) -C $(TOP)/selftests clean
	rm -rf $(TOP)/build

help:
	@echo "make run        boot a guest with all five modules and show each at work"
	@echo "make shell      interactive guest shell with the modules loaded"
	@echo "make test [T=collection[:test]]  run the kselftest collections in guests"
	@echo "make bench      run the benchmarks in a guest (out/bench.json)"
	@echo "make check      checkpatch --strict, sparse and W=1 over the tree"
	@echo "make load|unload  insmod/rmmod on the running kernel (KDIR=...)"
	@echo "make setup      install packages and unpack the kernel source"

# Upstream series check (slow: see scripts/check-series) and DKMS packaging
# (scripts/README-dkms.md).  KVER/KSRC pick the kernel and its source.
.PHONY: check-series dkms-install dkms-uninstall
check-series: $(TOP)/.cache/kernel.mk
	$(TOP)/scripts/check-series $(M)

dkms-install dkms-uninstall: $(TOP)/.cache/kernel.mk
	KVER="$(KVER)" KSRC="$(KSRC)" $(TOP)/scripts/dkms $(@:dkms-%=%)
