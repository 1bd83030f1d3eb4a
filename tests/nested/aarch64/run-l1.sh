#!/usr/bin/env bash
# Boots the aarch64 L1 Linux (Debian arm64 kernel, KVM host in nVHE mode)
# under QEMU TCG on a virt machine with EL2 (virtualization=on) and the GIC
# version asked for, and streams its serial console (ttyAMA0) to stdout.
#
# usage: run-l1.sh INITRAMFS TIMEOUT_S GIC_VERSION [extra qemu args...]
#   GIC_VERSION  2 (GIC-400 class, as on a Raspberry Pi 4) or 3
# With stdin a terminal, keystrokes go to L1's console (Ctrl-A x quits);
# otherwise QEMU reads /dev/null and leaves the caller's stdin alone.
# Exit status: QEMU's; 124 when TIMEOUT_S passed (QEMU is then killed).
# The kernel comes from $NESTED_CACHE (default <repo>/build/nested/cache-aarch64).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

[ $# -ge 3 ] || {
	echo "usage: $0 INITRAMFS TIMEOUT_S GIC_VERSION [extra qemu args...]" >&2
	exit 2
}
initrd=$1 secs=$2 gic=$3
shift 3
cache=${NESTED_CACHE:-$repo/build/nested/cache-aarch64}
qemu=${QEMU:-qemu-system-aarch64}

command -v "$qemu" >/dev/null || { echo "run-l1: no $qemu (apt-get install qemu-system-arm)" >&2; exit 1; }
[ -f "$initrd" ] || { echo "run-l1: no initramfs at $initrd" >&2; exit 1; }
case $gic in
2 | 3) ;;
*) echo "run-l1: GIC_VERSION must be 2 or 3, not '$gic'" >&2; exit 2 ;;
esac
"$here/l1-kernel.sh" "$cache"

# kvm-arm.mode=nvhe: the Cortex-A72 has no VHE, and TCG's EL2 runs KVM's
# hypervisor part there. panic=-1: a panicking L1 ends QEMU (-no-reboot).
cmd=(timeout -k 10 "$secs" "$qemu" -M "virt,virtualization=on,gic-version=$gic"
	-accel tcg -cpu cortex-a72 -smp 2 -m 1536 -nographic -no-reboot
	-kernel "$cache/Image" -initrd "$initrd"
	-append "console=ttyAMA0 kvm-arm.mode=nvhe quiet panic=-1" "$@")
if [ -t 0 ]; then
	# --foreground keeps QEMU in the terminal's foreground process group, so
	# it may read the terminal and put it in raw mode.
	exec "${cmd[0]}" --foreground "${cmd[@]:1}"
fi
exec "${cmd[@]}" </dev/null
