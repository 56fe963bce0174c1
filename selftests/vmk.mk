# SPDX-License-Identifier: GPL-2.0-only
#
# Build rules shared by every selftests/<collection>/Makefile, in the spirit
# of tools/testing/selftests/lib.mk.  A collection Makefile sets
#   TEST_GEN_PROGS   test programs (kselftest harness, one per concern)
#   BENCH_PROGS      benchmark programs run by `make bench`
#   TEST_GEN_PROGS_EXTENDED  helpers the tests exec
# and includes this file.  Every program is one .c file of the same name,
# linked statically so the guest needs no libraries.

VMK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
COLLECTION := $(notdir $(abspath $(CURDIR)))
OUTPUT ?= $(VMK_ROOT)/build/selftests/$(COLLECTION)

ifeq ($(KSRC),)
$(error KSRC is not set: run `make selftests` from the top directory)
endif

CC ?= gcc
# The harness longjmp()s out of failed assertions; the test bodies never use
# their locals after that, so -Wclobbered (part of -Wextra) is only noise.
CFLAGS += -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-clobbered -D_GNU_SOURCE -pthread \
	  -I$(KSRC)/tools/testing/selftests -I$(VMK_ROOT)/include/uapi \
	  -I$(VMK_ROOT)/selftests/lib -I$(CURDIR)
LDFLAGS += -static -pthread
LDLIBS +=

PROGS := $(TEST_GEN_PROGS) $(BENCH_PROGS) $(TEST_GEN_PROGS_EXTENDED)
HDRS := $(wildcard $(CURDIR)/*.h $(VMK_ROOT)/selftests/lib/*.h \
	  $(VMK_ROOT)/include/uapi/linux/*.h)

all: $(addprefix $(OUTPUT)/,$(PROGS))

$(OUTPUT)/%: %.c $(HDRS)
	@mkdir -p $(OUTPUT)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS) -o $@

clean:
	rm -f $(addprefix $(OUTPUT)/,$(PROGS))

.PHONY: all clean
