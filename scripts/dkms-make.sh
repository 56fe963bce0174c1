#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The MAKE command of dkms.conf: build the vmemkit modules against the
# headers of one kernel.  vfio_spapr_tce needs the private header
# drivers/vfio/vfio.h, which only a kernel source tree has; use the tree
# recorded by `make dkms-install` (file ksrc) or an unpacked
# /usr/src/linux-source-*, whichever is the same X.Y.Z version as the kernel.
#
# Usage (from the DKMS build directory): sh ./dkms-make.sh KVER KDIR [clean]
set -eu

kver=$1
kdir=$2
target=${3:-modules}
here=$(pwd)
want=$(echo "$kver" | sed -E 's/^([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/')

src_version() {
	sed -n -E 's/^(VERSION|PATCHLEVEL|SUBLEVEL) = ([0-9]+)$/\2/p' "$1/Makefile" |
		head -3 | paste -sd.
}

# An unpacked source of exactly this version, for vfio.h; the module's
# Kbuild prefers the kernel's own source tree when the build tree has one,
# and stops with a message saying what to install when neither is there.
ksrc=
cands=
[ -f "$here/ksrc" ] && cands=$(cat "$here/ksrc")
for d in /usr/src/linux-source-*; do
	[ -d "$d" ] && cands="$cands $d"
done
for d in $cands; do
	[ -f "$d/drivers/vfio/vfio.h" ] && [ -f "$d/Makefile" ] || continue
	if [ "$(src_version "$d")" = "$want" ]; then
		ksrc=$d
		break
	fi
done

if [ "$target" = clean ]; then
	exec make -C "$kdir" M="$here" clean
fi

exec make -C "$kdir" M="$here" VMK_KSRC="$ksrc" modules
