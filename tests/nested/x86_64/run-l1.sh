#!/usr/bin/env bash
# Boots the L1 Linux (Debian cloud kernel, KVM host) under QEMU TCG with an
# AMD CPU model that has SVM, and streams its serial console to stdout.
#
# usage: run-l1.sh INITRAMFS TIMEOUT_S [extra qemu args...]
# With stdin a terminal, keystrokes go to L1's ttyS0 (QEMU's escape is
# Ctrl-A; Ctrl-A x quits). Otherwise QEMU gets /dev/null as stdin and
# leaves the caller's stdin and terminal alone.
# Exit status: QEMU's; 124 when TIMEOUT_S passed (QEMU is then killed).
# The L1 kernel comes from $NESTED_CACHE (default <repo>/build/nested/cache).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

[ $# -ge 2 ] || {
	echo "usage: $0 INITRAMFS TIMEOUT_S [extra qemu args...]" >&2
	exit 2
}
initrd=$1 secs=$2
shift 2
cache=${NESTED_CACHE:-$repo/build/nested/cache}
qemu=${QEMU:-qemu-system-x86_64}

command -v "$qemu" >/dev/null || { echo "run-l1: no $qemu (apt-get install qemu-system-x86)" >&2; exit 1; }
[ -f "$initrd" ] || { echo "run-l1: no initramfs at $initrd" >&2; exit 1; }
"$here/l1-kernel.sh" "$cache"

# `-cpu max` makes the L2 kernel stall after pid_max (TESTBED.md): EPYC-Rome.
# This is -nographic without its side effect of SeaBIOS writing its banner and
# terminal resets (ESC c, clear screen) to the serial line: no display, no
# VGA, no NIC (no iPXE ROM), and the serial muxed with the monitor on stdio
# (Ctrl-A is the escape key, as with -nographic).
args=(-accel tcg -cpu EPYC-Rome -smp 2 -m 2048
	-display none -vga none -nic none -serial mon:stdio -no-reboot
	-kernel "$cache/l1/vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 quiet panic=-1")

# TCG lacks some EPYC-Rome features; QEMU warns about each one, twice.
exec 2> >(grep --line-buffered -v "TCG doesn't support requested feature" >&2)

if [ -t 0 ]; then
	# timeout(1) puts itself in a new process group; --foreground keeps QEMU
	# in the terminal's foreground group so it may read it and set raw mode.
	exec timeout --foreground -k 10 "$secs" "$qemu" "${args[@]}" "$@"
else
	# No terminal: QEMU must not read (or set O_NONBLOCK on) our stdin. EOF
	# on /dev/null only closes its input side; the VM keeps running.
	exec timeout -k 10 "$secs" "$qemu" "${args[@]}" "$@" </dev/null
fi
