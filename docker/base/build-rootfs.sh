#!/bin/sh
# Builds a Debian bookworm rootfs with debootstrap, as a tarball the suite imports as a Docker image.
# No container registry is involved: the packages come from Debian's archive.
#   usage: build-rootfs.sh WORKDIR MIRROR   (writes WORKDIR/rootfs.tar)
set -eu
work=$1 mirror=$2
rootfs="$work/rootfs"
rm -rf "$rootfs"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror"
# Keep the image small: package lists and caches are rebuilt by `apt-get update`.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -cf "$work/rootfs.tar" .
rm -rf "$rootfs"
