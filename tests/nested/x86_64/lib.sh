# Helpers shared by the nested x86_64 scripts; sourced, not run.
# shellcheck shell=bash

# The static busybox that goes into the L1 and L2 initramfs (Debian
# busybox-static installs it as /bin/busybox). $BUSYBOX overrides.
nested_busybox() {
	local bb=${BUSYBOX:-}
	if [ -z "$bb" ]; then
		for bb in /bin/busybox /usr/bin/busybox ""; do
			[ -x "$bb" ] && break
		done
	fi
	if [ -z "$bb" ] || [ ! -x "$bb" ]; then
		echo "nested: no busybox (apt-get install busybox-static)" >&2
		return 1
	fi
	# A dynamic busybox would find no libc in the initramfs.
	if LC_ALL=C readelf -l "$bb" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		echo "nested: $bb is dynamically linked (apt-get install busybox-static)" >&2
		return 1
	fi
	echo "$bb"
}

# nested_rootfs DIR: a minimal root in DIR: busybox with every applet linked,
# the mount points, and the two device nodes the kernel opens before devtmpfs.
nested_rootfs() {
	local dir=$1 bb applet
	bb=$(nested_busybox) || return 1
	mkdir -p "$dir"/bin "$dir"/sbin "$dir"/usr/bin "$dir"/usr/sbin "$dir"/etc \
		"$dir"/proc "$dir"/sys "$dir"/dev "$dir"/tmp "$dir"/root "$dir"/run
	cp "$bb" "$dir/bin/busybox"
	for applet in $("$bb" --list-full); do
		[ -e "$dir/$applet" ] || ln -s /bin/busybox "$dir/$applet"
	done
	# Without /dev/console in the archive, init starts with no stdio. mknod
	# needs root; /init also reopens the console after mounting devtmpfs.
	mknod -m 600 "$dir/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$dir/dev/null" c 1 3 2>/dev/null || true
	echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
	echo 'root:x:0:' >"$dir/etc/group"
}

# nested_cpio DIR OUT: pack DIR as a newc cpio; gzip it when OUT ends in .gz.
nested_cpio() {
	local dir=$1 out=$2 tmp
	tmp=$out.tmp.$$
	mkdir -p "$(dirname "$out")"
	(cd "$dir" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$tmp.cpio"
	case $out in
	*.gz) gzip -n -6 <"$tmp.cpio" >"$tmp" && rm -f "$tmp.cpio" ;;
	*) mv "$tmp.cpio" "$tmp" ;;
	esac
	mv "$tmp" "$out"
}
