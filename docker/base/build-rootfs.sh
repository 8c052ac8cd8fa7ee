#!/bin/sh
# Builds a Debian bookworm rootfs with debootstrap and imports it as a Docker image.
# No container registry is involved: the packages come from Debian's archive.
#   usage: build-rootfs.sh IMAGE_TAG WORKDIR MIRROR
set -eu
tag=$1 work=$2 mirror=$3
rootfs="$work/rootfs"
rm -rf "$rootfs"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror"
# Keep the image small: package lists and caches are rebuilt by `apt-get update`.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$tag"
rm -rf "$rootfs"
