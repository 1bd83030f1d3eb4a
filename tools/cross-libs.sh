#!/usr/bin/env bash
# The target-architecture libraries a cross build links that Debian cannot install beside
# the host's, made from Debian packages under DIR (DIR/lib, DIR/include):
#   aarch64: libhttp-parser-dev:arm64 is not Multi-Arch: same, so its package is unpacked
#            (jansson, liburing and libseccomp come through multiarch, see tools/deps.sh);
#   riscv64: Debian 12 has no riscv64 port, so jansson, http-parser, liburing and libseccomp
#            (and xz-utils' liblzma) are built with riscv64-linux-gnu-gcc from their Debian source packages (deb-src
#            needed).
# usage: tools/cross-libs.sh ARCH DIR
set -eu
arch=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
die() {
	echo "cross-libs: $*" >&2
	exit 1
}
# apt drops to the _apt user to download, who could not write into DIR: stay root.
apt_quiet() { apt-get -q -o APT::Sandbox::User=root "$@" >/dev/null; }

aarch64_libs() {
	local lib=$dir/usr/lib/aarch64-linux-gnu/libhttp_parser.a deb
	[ -f "$lib" ] && return 0
	mkdir -p "$dir/debs"
	(cd "$dir/debs" && apt_quiet download libhttp-parser-dev:arm64) ||
		die "apt-get download libhttp-parser-dev:arm64 failed"
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir"
	done
	[ -f "$lib" ] || die "no $lib in libhttp-parser-dev:arm64"
}

riscv64_libs() {
	local cc=riscv64-linux-gnu-gcc src=$dir/src out=$dir/lib inc=$dir/include
	[ -f "$out/libjansson.a" ] && [ -f "$out/libhttp_parser.a" ] && [ -f "$out/liburing.a" ] &&
		[ -f "$out/libseccomp.a" ] && [ -f "$out/liblzma.a" ] && return 0
	command -v "$cc" >/dev/null || die "no $cc (apt-get install gcc-riscv64-linux-gnu)"
	rm -rf "$src" && mkdir -p "$src" "$out" "$inc"
	(cd "$src" && apt_quiet source --download-only jansson http-parser liburing libseccomp xz-utils) ||
		die "apt-get source failed: Debian's deb-src lines are needed (tools/deps.sh adds them)"
	# (apt checked the files against Debian's signed index; dpkg-source, without the
	# uploaders' keys, can only warn that it cannot check the .dsc signatures.)
	(cd "$src" && for d in *.dsc; do dpkg-source -x -q "$d" >/dev/null 2>&1; done)

	# http-parser: one C file.
	"$cc" -O2 -c "$src"/http-parser-*/http_parser.c -o "$src/http_parser.o"
	riscv64-linux-gnu-ar rcs "$out/libhttp_parser.a" "$src/http_parser.o"
	cp "$src"/http-parser-*/http_parser.h "$inc/"

	# liburing: its own configure, then only the static library.
	(cd "$src"/liburing-*/ && ./configure --cc="$cc" >/dev/null && make -s -C src liburing.a >/dev/null 2>&1)
	cp "$src"/liburing-*/src/liburing.a "$out/"
	cp -r "$src"/liburing-*/src/include/. "$inc/"

	# jansson: CMake, static, no docs or tests.
	cmake -S "$src"/jansson-*/ -B "$src/jansson-build" -DCMAKE_SYSTEM_NAME=Linux \
		-DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release -DJANSSON_BUILD_DOCS=OFF \
		-DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF >/dev/null 2>&1
	make -s -C "$src/jansson-build" jansson >/dev/null
	cp "$src/jansson-build/lib/libjansson.a" "$out/"
	cp "$src"/jansson-build/include/*.h "$inc/"

	# libseccomp: autoconf, static only. Debian patches syscalls.csv, so make regenerates the
	# syscall name table from it with gperf (named: it runs on the build host). configure's
	# stderr is dropped for libtool's harmless warning about the host's unprefixed mt(1).
	(cd "$src"/libseccomp-*/ && ./configure --host=riscv64-linux-gnu CC="$cc" CFLAGS=-O2 \
		GPERF=gperf --enable-static --disable-shared --disable-python >/dev/null 2>&1 &&
		make -s -C src libseccomp.la >/dev/null 2>&1) ||
		die "libseccomp build failed (see config.log under $src)"
	cp "$src"/libseccomp-*/src/.libs/libseccomp.a "$out/"
	cp "$src"/libseccomp-*/include/seccomp.h "$src"/libseccomp-*/include/seccomp-syscalls.h "$inc/"

	# liblzma (xz-utils), for its CRC64 alone: autoconf, static, the library only.
	(cd "$src"/xz-utils-*/ && ./configure --host=riscv64-linux-gnu CC="$cc" CFLAGS=-O2 \
		--enable-static --disable-shared --disable-xz --disable-xzdec --disable-lzmadec \
		--disable-lzmainfo --disable-lzma-links --disable-scripts --disable-doc \
		--disable-nls >/dev/null 2>&1 &&
		make -s -C src/liblzma liblzma.la >/dev/null 2>&1) ||
		die "liblzma build failed (see config.log under $src)"
	cp "$src"/xz-utils-*/src/liblzma/.libs/liblzma.a "$out/"
	cp -r "$src"/xz-utils-*/src/liblzma/api/. "$inc/"
}

case $arch in
aarch64) aarch64_libs ;;
riscv64) riscv64_libs ;;
*) die "no cross libraries for $arch" ;;
esac
