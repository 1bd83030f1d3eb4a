#!/usr/bin/env bash
# Installs the Debian packages ember needs to build, test and demo.
# Idempotent: skips apt entirely when everything is already there.
set -eu
pkgs=(
	build-essential make gcc libc6-dev      # the VMM and the tiny guests
	clang                                   # libFuzzer targets (make fuzz)
	libcmocka-dev                           # unit tests
	libfdt-dev device-tree-compiler         # unit tests check ember's own FDT blobs with them
	acpica-tools                            # unit tests decompile ember's own ACPI tables with iasl
	liburing-dev                            # virtio-blk I/O (liburing.a for the static build)
	libjansson-dev                          # --config-file JSON (libjansson.a for the static build)
	libhttp-parser-dev                      # the API server's HTTP/1.1 parser
	libseccomp-dev                          # seccomp filters (libseccomp.a for the static build)
	liblzma-dev                             # the snapshot state file's CRC64 (lzma_crc64)
	qemu-system-x86                         # the nested tier's L1 (TCG) and the peer VMM
	qemu-system-arm                         # the arm64 nested tier's L1 (TCG, virtualization=on)
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross  # make ARCH=aarch64 (static arm64 ember)
	qemu-system-misc opensbi                # the riscv64 nested tier's L1 (TCG, h=true)
	gcc-riscv64-linux-gnu libc6-dev-riscv64-cross  # make ARCH=riscv64 (static riscv64 ember)
	dpkg-dev cmake                          # tools/cross-libs.sh builds its riscv64 libraries
	gperf                                   # ... and libseccomp's syscall table with it
	linux-source-6.1 flex bison bc libssl-dev  # the riscv64 L2 kernel with vsock (tests/nested/riscv64)
	busybox-static cpio xz-utils zstd       # initramfs for L1 and L2 guests
	e2fsprogs iproute2                      # ext4 disk images; network namespaces and TAPs
	ca-certificates                         # apt-get download of the L1 kernel
	python3                                 # bench scripts
	python3-pytest python3-jsonschema python3-yaml  # API integration tests against the spec
	util-linux procps                       # script(1), ps
	time                                    # GNU time: emberctl's peak memory in the fleet churn test
)
# The static arm64 build links these arm64 libraries, installed beside the host's through
# multiarch. (libhttp-parser-dev cannot be: tools/cross-libs.sh unpacks its arm64 package.)
arm64_pkgs=(libjansson-dev liburing-dev libseccomp-dev liblzma-dev)

native=$(dpkg --print-architecture)
# Whether package $1 is installed for an architecture matching the pattern $2.
installed() {
	dpkg-query -W -f='${Architecture} ${Status}\n' "$1" 2>/dev/null |
		grep -qE "^($2) install ok installed"
}
missing=()
for p in "${pkgs[@]}"; do
	installed "$p" "$native|all" || missing+=("$p:$native")
done
for p in "${arm64_pkgs[@]}"; do
	installed "$p" arm64 || missing+=("$p:arm64")
done
# Debian 12 has no riscv64 port: tools/cross-libs.sh builds the riscv64 build's libraries
# from Debian's source packages, which needs deb-src entries beside the deb ones.
has_deb_src() {
	grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}
need_src=0
has_deb_src || need_src=1
[ ${#missing[@]} -eq 0 ] && [ "$need_src" = 0 ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
if [ "$need_src" = 1 ]; then
	echo "deps: adding deb-src entries (/etc/apt/sources.list.d/ember-src.*) for the riscv64 libraries" >&2
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && sed 's/^Types: *deb *$/Types: deb-src/' "$f" && echo
	done | $SUDO tee /etc/apt/sources.list.d/ember-src.sources >/dev/null
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list |
			$SUDO tee /etc/apt/sources.list.d/ember-src.list >/dev/null
	fi
fi
dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
$SUDO apt-get update -q >/dev/null
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
