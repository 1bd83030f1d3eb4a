#!/usr/bin/env bash
# Fetches what the aarch64 nested tier runs: Debian's generic arm64 6.1 kernel
# (the L1 KVM host under QEMU TCG, and also the L2 guest that ember boots),
# the kernel modules each of them needs, and a static arm64 busybox.
#
# usage: l1-kernel.sh [CACHE_DIR]          (default: build/nested/cache-aarch64)
# leaves: CACHE_DIR/Image          the uncompressed arm64 Image ("ARM\x64" at 56)
#         CACHE_DIR/busybox        static arm64 busybox (busybox-static:arm64)
#         CACHE_DIR/modules/*.ko   plain, uncompressed
#         CACHE_DIR/l1.modules     the .ko names L1 loads, in load order
#         CACHE_DIR/l2.modules     the same for the L2 guest
#         CACHE_DIR/config, CACHE_DIR/VERSION
#         CACHE_DIR/wanted         the driver list below, as this cache was made for
# Which drivers are modules is read from the package's config-*: a driver
# built in needs nothing; a module is taken with what its depends= names.
# Idempotent: does nothing when those files are already there, made for the
# same driver list (a cache from an older list is fetched again).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"
cache=${1:-build/nested/cache-aarch64}

# The drivers each level needs: LEVEL CONFIG_SYMBOL MODULE (module file name).
# L1 needs KVM for /dev/kvm, and tun for the TAP of the MMDS runs. L2 needs
# virtio over MMIO with its blk and rng devices, the 16550 console (ns16550a in
# the device tree, ttyS0) and the PL031 clock that ember describes,
# virtio-vsock (the snapshot runs) and virtio-net (the MMDS runs).
wanted="
l1 KVM kvm
l1 TUN tun
l2 VIRTIO virtio
l2 VIRTIO_MMIO virtio_mmio
l2 VIRTIO_BLK virtio_blk
l2 HW_RANDOM rng-core
l2 HW_RANDOM_VIRTIO virtio-rng
l2 SERIAL_8250 8250
l2 SERIAL_OF_PLATFORM of_serial
l2 RTC_DRV_PL031 rtc-pl031
l2 VSOCKETS vsock
l2 VIRTIO_VSOCKETS vmw_vsock_virtio_transport
l2 VIRTIO_NET virtio_net
"

have_all() {
	local lst m
	[ -s "$cache/Image" ] && [ -s "$cache/busybox" ] || return 1
	[ "$(cat "$cache/wanted" 2>/dev/null)" = "$(printf '%s' "$wanted")" ] || return 1
	for lst in l1 l2; do
		[ -f "$cache/$lst.modules" ] || return 1
		while read -r m; do
			[ -s "$cache/modules/$m" ] || return 1
		done <"$cache/$lst.modules"
	done
}
have_all && exit 0

die() {
	echo "l1-kernel: $*" >&2
	exit 1
}
for t in apt-get apt-cache dpkg-deb; do
	command -v $t >/dev/null || die "no $t on this host"
done

# The newest linux-image-6.1.0-<abi>-arm64 (the signed generic flavour) apt
# knows for arm64. (Without dpkg --add-architecture arm64 it knows none.)
pkg=$(nested_apt_newest '^linux-image-6\.1\.0-[0-9]+-arm64$') || die "apt-get update failed"
[ -n "$pkg" ] || die "apt knows no linux-image-6.1.0-*-arm64 (dpkg --add-architecture arm64 && apt-get update)"

mkdir -p "$cache"
dl=$(mktemp -d "$cache/dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
echo "l1-kernel: downloading $pkg:arm64 and busybox-static:arm64" >&2
nested_apt_unpack "$pkg:arm64" "$dl/k" || die "could not fetch $pkg:arm64"
nested_apt_unpack busybox-static:arm64 "$dl/bb" || die "could not fetch busybox-static:arm64"

new=$cache.new
rm -rf "$new"
mkdir -p "$new/modules"

kimgs=("$dl"/k/boot/vmlinuz-*)
kimg=${kimgs[0]}
[ -f "$kimg" ] || die "$pkg has no /boot/vmlinuz-*"
kver=${kimg##*/vmlinuz-}
# Debian ships arm64's vmlinuz as the plain Image; older or other builds
# gzip it, and a VMM loads only the uncompressed one.
if gzip -t "$kimg" 2>/dev/null; then
	gzip -dc "$kimg" >"$new/Image"
else
	cp "$kimg" "$new/Image"
fi
[ "$(dd if="$new/Image" bs=1 skip=56 count=4 2>/dev/null)" = $'ARM\x64' ] ||
	die "$kimg is not an arm64 Image (no ARM\\x64 magic at offset 56)"
cp "$dl/k/boot/config-$kver" "$new/config"
[ -x "$dl/bb/bin/busybox" ] || die "busybox-static:arm64 has no /bin/busybox"
cp "$dl/bb/bin/busybox" "$new/busybox"

# The package has no modules.dep (depmod runs when it is installed): the
# dependencies come from each module's .modinfo "depends=" entry.
mroot=$dl/k/lib/modules/$kver
# ko NAME: the path of module NAME as modules.order has it, without any
# compression suffix (in names, dashes and underscores are the same).
ko() {
	local want=${1//-/_} rel base
	while read -r rel; do
		base=${rel##*/}
		base=${base%.ko*}
		if [ "${base//-/_}" = "$want" ]; then
			echo "$mroot/$rel"
			return 0
		fi
	done <"$mroot/modules.order"
	return 1
}
# unpack FILE OUT: a module, decompressed if it is.
unpack() {
	case $1 in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -q -dc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) die "unknown module format: $1" ;;
	esac
}
# add NAME LIST: NAME's dependencies, then NAME, onto LIST (once each).
add() {
	local name=$1 list=$2 path file dep deps c
	path=$(ko "$name") || die "$pkg has no module $name"
	for c in "" .xz .zst .gz; do
		[ -f "$path$c" ] && { path=$path$c; break; }
	done
	[ -f "$path" ] || die "$pkg lists $name but has no file for it"
	file=${path##*/}
	file=${file%.ko*}.ko
	grep -q -x -F "$file" "$list" 2>/dev/null && return 0
	[ -s "$new/modules/$file" ] || unpack "$path" "$new/modules/$file"
	deps=$(tr '\0' '\n' <"$new/modules/$file" | sed -n 's/^depends=//p' | head -n 1)
	for dep in ${deps//,/ }; do
		add "$dep" "$list"
	done
	echo "$file" >>"$list"
}

: >"$new/l1.modules"
: >"$new/l2.modules"
while read -r level sym mod; do
	[ -n "$level" ] || continue
	case $(sed -n "s/^CONFIG_$sym=//p" "$new/config") in
	y) echo "l1-kernel: $level: CONFIG_$sym=y (built in)" >&2 ;;
	m)
		echo "l1-kernel: $level: CONFIG_$sym=m ($mod)" >&2
		add "$mod" "$new/$level.modules"
		;;
	*) die "$pkg has no CONFIG_$sym: the $level guest cannot use it" ;;
	esac
done <<<"$wanted"

echo "$pkg $kver" >"$new/VERSION"
printf '%s' "$wanted" >"$new/wanted"
rm -rf "$cache.old"
[ ! -d "$cache" ] || mv "$cache" "$cache.old"
mv "$new" "$cache"
rm -rf "$cache.old"
echo "l1-kernel: $pkg ($kver) in $cache; L1 modules: $(tr '\n' ' ' <"$cache/l1.modules"); L2 modules: $(tr '\n' ' ' <"$cache/l2.modules")" >&2
