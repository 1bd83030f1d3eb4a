#!/usr/bin/env bash
# The arm64 libraries that cannot be installed beside their amd64 twins (Debian's
# libhttp-parser-dev is not Multi-Arch: same): downloaded as Debian packages and unpacked
# under DIR, which the aarch64 build adds to its library path.
# usage: tools/cross-libs.sh DIR
set -eu
dir=$1
lib=$dir/usr/lib/aarch64-linux-gnu/libhttp_parser.a
[ -f "$lib" ] && exit 0
mkdir -p "$dir/debs"
(cd "$dir/debs" && apt-get download -q libhttp-parser-dev:arm64 2>&1 >/dev/null | grep -v "unsandboxed" >&2 || true)
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir"
done
[ -f "$lib" ] || {
	echo "cross-libs: no $lib in libhttp-parser-dev:arm64" >&2
	exit 1
}
