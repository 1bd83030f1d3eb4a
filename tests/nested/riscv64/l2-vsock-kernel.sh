#!/usr/bin/env bash
# Builds, once, the riscv64 L2 kernel the snapshot run needs to check vsock: the shared
# Linux 6.1 Image's own config (CONFIG) plus CONFIG_VSOCKETS and CONFIG_VIRTIO_VSOCKETS,
# which the shared Image lacks, from Debian's linux-source-6.1 (tools/deps.sh installs it).
# About 8 minutes on 2 cores; cached in OUT_DIR (kept while CONFIG and the source package
# are the same), then instant; checkouts sharing OUT_DIR take turns (a lock beside it).
# Prints nothing; the Image is OUT_DIR/Image.
# usage: l2-vsock-kernel.sh CONFIG OUT_DIR
set -eu
[ $# -eq 2 ] || {
	echo "usage: $0 CONFIG OUT_DIR" >&2
	exit 2
}
config=$1
out=$2
tarball=/usr/src/linux-source-6.1.tar.xz
die() {
	echo "l2-vsock-kernel: $*" >&2
	exit 1
}
[ -f "$tarball" ] || die "no $tarball (apt-get install linux-source-6.1)"
[ -f "$config" ] || die "no kernel config $config"
stamp="$(sha256sum "$config" | cut -c1-64) $(stat -c %s.%Y "$tarball") vsock"
# OUT_DIR may be shared by checkouts (a machine cache): one builds, the others wait for it.
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [ -f "$out/Image" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
tar -C "$out" -xf "$tarball"
src=$out/linux-source-6.1
cp "$config" "$src/.config"
"$src/scripts/config" --file "$src/.config" --enable CONFIG_VSOCKETS --enable CONFIG_VIRTIO_VSOCKETS
make -s -C "$src" ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- olddefconfig
grep -q '^CONFIG_VIRTIO_VSOCKETS=y' "$src/.config" || die "CONFIG_VIRTIO_VSOCKETS did not stay on"
make -s -C "$src" ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- -j"$(nproc)" Image
cp "$src/arch/riscv/boot/Image" "$out/Image"
cp "$src/.config" "$out/config"
rm -rf "$src"
echo "$stamp" >"$out/stamp"
