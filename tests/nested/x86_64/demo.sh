#!/usr/bin/env bash
# The nested demo (`make demo` on a host without vmx/svm): boots an L1 Linux
# under QEMU TCG, and inside it ember boots the L2 guest with 2 vCPUs.
# With stdin a terminal, the L2 guest runs an interactive shell and your
# keystrokes reach it: host tty -> QEMU stdio -> L1 ttyS0 -> ember -> L2
# ttyS0 -> shell. Otherwise it runs a short scripted session and ends.
#
# usage: demo.sh EMBER_STATIC_BIN
# environment: NESTED_CACHE (L1 kernel cache), NESTED_EXTRA_PAYLOAD (more
#   files for L1's /payload), DEMO_KERNEL=vmlinux|bzImage (default vmlinux),
#   DEMO_BOOT_ARGS (the guest's command line; empty: ember's default)
# Exit status: ember's, as reported from inside L1 (1 if it never reported).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/build/nested
cache=${NESTED_CACHE:-$repo/build/nested/cache}
export NESTED_CACHE=$cache
guest=${NESTED_GUEST_DIR:-$repo/../shared/guest/x86_64}
kernel=${DEMO_KERNEL:-vmlinux}

[ $# -eq 1 ] || {
	echo "usage: $0 EMBER_STATIC_BIN" >&2
	exit 2
}
ember=$1

die() {
	echo "demo: $*" >&2
	exit 1
}
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
[ -f "$ember" ] || die "no ember binary at $ember"
[ -f "$guest/$kernel" ] || die "no L2 kernel $guest/$kernel"

if [ -t 0 ]; then
	mode=demo-interactive
	l1_timeout=7200
else
	mode=demo-scripted
	l1_timeout=600
fi

mkdir -p "$out"
log=$out/demo.log
"$here/l1-kernel.sh" "$cache" >"$log" 2>&1 || die "could not obtain the L1 kernel (see $log)"
payload=$out/payload-demo
rm -rf "$payload"
mkdir -p "$payload"
ln -s "$guest/$kernel" "$payload/$kernel"
if [ -n "${NESTED_EXTRA_PAYLOAD:-}" ]; then
	for f in "$NESTED_EXTRA_PAYLOAD"/*; do
		ln -s "$(cd "$(dirname "$f")" && pwd)/${f##*/}" "$payload/${f##*/}"
	done
fi
"$here/mk-l2-initramfs.sh" "$payload/l2-demo.cpio.gz" "$mode" >>"$log" 2>&1 ||
	die "could not build the L2 initramfs (see $log)"

# ember's default command line plus `quiet`, so the guest's shell is not lost
# in its boot log. DEMO_BOOT_ARGS= (empty) leaves ember's default.
boot_args=${DEMO_BOOT_ARGS-console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet}
cmd="/bin/ember --kernel /payload/$kernel --initrd /payload/l2-demo.cpio.gz --vcpus 2 --memory 256"
[ -z "$boot_args" ] || cmd="$cmd --boot-args '$boot_args'"
script=$out/l1-demo.sh
if [ "$mode" = demo-interactive ]; then
	# ember gets L1's serial line as its controlling terminal (setsid gives
	# it a session, cttyhack opens the console's real tty), so it can put it
	# in raw mode and pass every key, Ctrl-C included, to the guest.
	cat >"$script" <<EOS
#!/bin/sh
echo "L1: starting: ember ${cmd#/bin/ember }"
setsid cttyhack $cmd
echo
echo "DEMO-EMBER-RC=\$?"
EOS
else
	cat >"$script" <<EOS
#!/bin/sh
echo "L1: starting: ember ${cmd#/bin/ember }"
$cmd </dev/null &
pid=\$!
( sleep 300; kill \$pid 2>/dev/null && : >/tmp/timedout; sleep 5; kill -9 \$pid 2>/dev/null ) &
wd=\$!
wait \$pid
rc=\$?
kill \$wd 2>/dev/null
[ -e /tmp/timedout ] && { echo "L1: ember did not end in 300 s, killed it"; rc=124; }
echo
echo "DEMO-EMBER-RC=\$rc"
EOS
fi
initrd=$out/l1-demo.cpio
"$here/mk-l1-initramfs.sh" "$initrd" "$ember" "$script" "$payload" >>"$log" 2>&1 ||
	die "could not build the L1 initramfs (see $log)"

if grep -q -w -E 'vmx|svm' /proc/cpuinfo; then
	why="running the demo inside a nested QEMU L1 Linux (TCG)"
else
	why="this CPU has no vmx/svm; running the demo inside a nested QEMU L1 Linux (TCG)"
fi
if [ "$mode" = demo-interactive ]; then
	echo "ember: $why, expect ~30 s to a shell; type 'poweroff' to end it (Ctrl-A x kills QEMU)"
else
	echo "ember: $why, expect under a minute (stdin is not a terminal: scripted session)"
fi

# The console goes to the terminal as it comes (no line buffering: the
# guest's prompt has no newline) and to the log.
rc=0
echo "=== demo $mode, $(date -u +%FT%TZ) ===" >>"$log"
"$here/run-l1.sh" "$initrd" "$l1_timeout" | tee -a "$log" || rc=$?
status=$(tr -d '\r' <"$log" | sed -n 's/^DEMO-EMBER-RC=\([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$status" ]; then
	if ! grep -q -a 'L1-STARTED' "$log"; then
		echo "demo: L1 did not start (QEMU status $rc); log in $log" >&2
	elif [ "$rc" = 124 ]; then
		echo "demo: timed out after ${l1_timeout}s; log in $log" >&2
	else
		echo "demo: ember's status never came back from L1 (QEMU status $rc); log in $log" >&2
	fi
	exit 1
fi
echo "demo: ember exited $status (log in $log)"
exit "$status"
