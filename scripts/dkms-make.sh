#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The MAKE command of dkms.conf: build the vmemkit modules against the
# headers of one kernel.  vfio_spapr_tce needs the private header
# drivers/vfio/vfio.h, which only a kernel source tree has; use the tree
# recorded by `make dkms-install` (file ksrc) or an unpacked
# /usr/src/linux-source-*, whichever is the same X.Y.Z version as the kernel
# (or, failing that, the same X.Y, with a warning).
#
# Usage (from the DKMS build directory): sh ./dkms-make.sh KVER KDIR [clean]
set -eu

kver=$1
kdir=$2
target=${3:-modules}
here=$(pwd)
want=$(echo "$kver" | sed -E 's/^([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/')
want_xy=$(echo "$want" | cut -d. -f1,2)

src_version() {
	sed -n -E 's/^(VERSION|PATCHLEVEL|SUBLEVEL) = ([0-9]+)$/\2/p' "$1/Makefile" |
		head -3 | paste -sd.
}

ksrc=
fallback=
cands=
[ -f "$here/ksrc" ] && cands=$(cat "$here/ksrc")
for d in /usr/src/linux-source-*; do
	[ -d "$d" ] && cands="$cands $d"
done
for d in $cands; do
	[ -f "$d/drivers/vfio/vfio.h" ] && [ -f "$d/Makefile" ] || continue
	v=$(src_version "$d")
	if [ "$v" = "$want" ]; then
		ksrc=$d
		break
	fi
	[ -z "$fallback" ] && [ "$(echo "$v" | cut -d. -f1,2)" = "$want_xy" ] && fallback=$d
done
if [ -z "$ksrc" ] && [ -n "$fallback" ]; then
	echo "dkms-make: no $want source tree; using $fallback ($(src_version "$fallback")) for drivers/vfio/vfio.h" >&2
	ksrc=$fallback
fi

# vfio_spapr_tce's Kbuild insists on a source path even to clean.
if [ "$target" = clean ]; then
	exec make -C "$kdir" M="$here" VMK_KSRC="${ksrc:-/nonexistent}" clean
fi

if [ -z "$ksrc" ] && [ -d "$here/vfio_spapr_tce" ]; then
	cat >&2 <<MSG
dkms-make: vfio_spapr_tce needs drivers/vfio/vfio.h from the kernel source
of $kver (version $want), and none was found.  Either
  - install and unpack the source: apt-get install linux-source-$want_xy &&
    tar -C /usr/src -xf /usr/src/linux-source-$want_xy.tar.xz
  - or reinstall with an unpacked tree: make dkms-install KSRC=/path/to/linux
MSG
	exit 1
fi

exec make -C "$kdir" M="$here" VMK_KSRC="$ksrc" modules
