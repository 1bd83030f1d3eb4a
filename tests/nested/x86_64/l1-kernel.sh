#!/usr/bin/env bash
# Fetches the Debian cloud kernel that serves as the nested tier's L1 (KVM host
# under QEMU TCG), the three modules L1 needs for /dev/kvm on an AMD CPU, and
# tun for the TAP devices of virtio-net tests, loop to read back disk images.
# The same kernel, unmodified, is also the "stock" L2 guest: it has virtio-mmio
# and virtio-blk only as modules, so their modules are kept too, with the
# modules they depend on, in the order to load them.
#
# usage: l1-kernel.sh [CACHE_DIR]          (default: build/nested/cache)
# leaves: CACHE_DIR/l1/vmlinuz, CACHE_DIR/l1/config (the package's /boot/config-*)
#         CACHE_DIR/l1/modules/{irqbypass,kvm,kvm-amd,tun,loop}.ko   (plain, uncompressed)
#         CACHE_DIR/l1/l2-modules/*.ko and l2-modules/order: the stock L2's
#           modules, order lists their names, each after those it depends on
# Idempotent: does nothing when those files are already there.
set -eu

cache=${1:-build/nested/cache}
l1=$cache/l1
mods="irqbypass kvm kvm-amd tun loop"
# What the stock L2 loads; the modules they depend on are found in the package.
l2_mods="virtio_mmio virtio_blk"

have_all() {
	local m
	[ -s "$l1/vmlinuz" ] && [ -s "$l1/config" ] && [ -s "$l1/l2-modules/order" ] || return 1
	for m in $mods; do
		[ -s "$l1/modules/$m.ko" ] || return 1
	done
	while read -r m; do
		[ -s "$l1/l2-modules/$m.ko" ] || return 1
	done <"$l1/l2-modules/order"
}
have_all && exit 0

die() {
	echo "l1-kernel: $*" >&2
	exit 1
}
command -v apt-get >/dev/null || die "no apt-get on this host"
command -v dpkg-deb >/dev/null || die "no dpkg-deb on this host"

# The newest linux-image-6.1.0-<abi>-cloud-amd64 apt knows about.
newest_pkg() {
	apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null |
		awk '{ print $1 }' | sort -V | tail -n 1
}
pkg=$(newest_pkg)
if [ -z "$pkg" ]; then
	echo "l1-kernel: no cloud kernel in the apt lists, running apt-get update" >&2
	apt-get update -q >/dev/null 2>&1 || die "apt-get update failed"
	pkg=$(newest_pkg)
fi
[ -n "$pkg" ] || die "apt knows no linux-image-6.1.0-*-cloud-amd64 package"

mkdir -p "$cache"
dl=$(mktemp -d "$cache/dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
echo "l1-kernel: downloading $pkg" >&2
# apt-get download writes into the current directory. As root, apt drops to
# the _apt user for the download, which then cannot write to a root-owned
# directory; the sandbox option keeps it root.
(cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
	die "apt-get download $pkg failed"
debs=("$dl"/*.deb)
deb=${debs[0]}
[ -f "$deb" ] || die "apt-get download $pkg left no .deb"
dpkg-deb -x "$deb" "$dl/x" || die "dpkg-deb -x $deb failed"

kimgs=("$dl"/x/boot/vmlinuz-*)
kimg=${kimgs[0]}
[ -f "$kimg" ] || die "$pkg has no /boot/vmlinuz-*"
kver=${kimg##*/vmlinuz-}
mdir=$dl/x/lib/modules/$kver/kernel

# unpack REL OUT: the package's module REL (path under kernel/, no suffix), plain.
unpack() {
	local rel=$1 out=$2
	if [ -f "$mdir/$rel.ko" ]; then
		cp "$mdir/$rel.ko" "$out"
	elif [ -f "$mdir/$rel.ko.xz" ]; then
		xz -dc "$mdir/$rel.ko.xz" >"$out"
	elif [ -f "$mdir/$rel.ko.zst" ]; then
		zstd -q -dc "$mdir/$rel.ko.zst" >"$out"
	elif [ -f "$mdir/$rel.ko.gz" ]; then
		gzip -dc "$mdir/$rel.ko.gz" >"$out"
	else
		die "$pkg has no $rel.ko[.xz|.zst|.gz]"
	fi
}

rm -rf "$l1.new"
mkdir -p "$l1.new/modules" "$l1.new/l2-modules"
cp "$kimg" "$l1.new/vmlinuz"
cp "$dl/x/boot/config-$kver" "$l1.new/config" || die "$pkg has no /boot/config-$kver"
for rel in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd drivers/net/tun drivers/block/loop; do
	unpack "$rel" "$l1.new/modules/${rel##*/}.ko"
done

# The stock L2's modules. The package has no modules.dep (depmod runs when it is
# installed), so each module's own "depends=" field (in its .modinfo section)
# gives what must be loaded before it. Module names use "_" where file names
# may use "-".
declare -A relpath=() state=()
while read -r f; do
	f=${f#"$mdir"/}
	f=${f%.ko*}
	m=${f##*/}
	relpath[${m//-/_}]=$f
done < <(find "$mdir" -name '*.ko*')
order=()
# visit NAME: appends NAME to order after everything it depends on.
visit() {
	local m=$1 dep deps
	case ${state[$m]:-} in
	loaded) return 0 ;;
	busy) die "module dependency loop at $m" ;;
	esac
	[ -n "${relpath[$m]:-}" ] || die "$pkg has no module $m (built in? see its modules.builtin)"
	state[$m]=busy
	unpack "${relpath[$m]}" "$l1.new/l2-modules/$m.ko"
	deps=$(tr '\0' '\n' <"$l1.new/l2-modules/$m.ko" | sed -n 's/^depends=//p' | head -n 1)
	for dep in ${deps//,/ }; do
		visit "${dep//-/_}"
	done
	state[$m]=loaded
	order+=("$m")
}
for m in $l2_mods; do
	visit "$m"
done
printf '%s\n' "${order[@]}" >"$l1.new/l2-modules/order"
echo "$pkg $kver" >"$l1.new/VERSION"
rm -rf "$l1"
mv "$l1.new" "$l1"
echo "l1-kernel: $pkg ($kver) in $l1" >&2
