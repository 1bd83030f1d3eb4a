#!/usr/bin/env bash
# Boots the riscv64 L1 Linux (a KVM host: the CPU has the H extension) under
# QEMU TCG on a virt machine with the interrupt controller asked for, and
# streams its serial console (ttyS0) to stdout.
#
# usage: run-l1.sh INITRAMFS TIMEOUT_S IRQCHIP [extra qemu args...]
#   IRQCHIP  plic: -M virt and Linux 6.1 (KVM with a PLIC the VMM emulates)
#            aia:  -M virt,aia=aplic-imsic and Linux 6.12 (KVM's in-kernel AIA)
# environment:
#   NESTED_IMAGE_PLIC  default ${EMBER_SHARED:-<repo>/../shared}/guest/riscv64/Image
#   NESTED_IMAGE_AIA   default ${EMBER_SHARED:-<repo>/../shared}/guest/riscv64-6.12/Image
#   NESTED_AIA_DT_FIX  1 (default): boot the aia L1 with QEMU's own device tree
#                      changed as described below; 0: unchanged
#   NESTED_AIA_GUESTS  IMSIC guest files per hart (QEMU's aia-guests; its
#                      default, 0, leaves L1's KVM to emulate the L2's IMSIC)
# With stdin a terminal, keystrokes go to L1's console (Ctrl-A x quits);
# otherwise QEMU reads /dev/null and leaves the caller's stdin alone.
# Exit status: QEMU's; 124 when TIMEOUT_S passed (QEMU is then killed).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

[ $# -ge 3 ] || {
	echo "usage: $0 INITRAMFS TIMEOUT_S IRQCHIP [extra qemu args...]" >&2
	exit 2
}
initrd=$1 secs=$2 irqchip=$3
shift 3
shared=${EMBER_SHARED:-$repo/../shared}
qemu=${QEMU:-qemu-system-riscv64}

command -v "$qemu" >/dev/null || { echo "run-l1: no $qemu (apt-get install qemu-system-misc)" >&2; exit 1; }
[ -f "$initrd" ] || { echo "run-l1: no initramfs at $initrd" >&2; exit 1; }
case $irqchip in
plic) machine=virt image=${NESTED_IMAGE_PLIC:-$shared/guest/riscv64/Image} ;;
aia) machine=virt,aia=aplic-imsic${NESTED_AIA_GUESTS:+,aia-guests=$NESTED_AIA_GUESTS} image=${NESTED_IMAGE_AIA:-$shared/guest/riscv64-6.12/Image} ;;
*) echo "run-l1: IRQCHIP must be plic or aia, not '$irqchip'" >&2; exit 2 ;;
esac
[ -f "$image" ] || { echo "run-l1: no kernel at $image" >&2; exit 1; }

qemu_args=(-M "$machine" -accel tcg -cpu "rv64,h=true" -smp 2 -m 1024)
dtb_args=()
# QEMU 7.2's APLIC in MSI mode re-raises a level-triggered source each time
# Linux 6.12 writes its number to setipnum_le at the end of the handler (as
# the AIA spec suggests), line high or not: an interrupt storm. The goldfish
# RTC's handler always says handled, so one L1 CPU takes interrupts forever
# (seen: RCU stalls, 2 of 5 L1 boots never reaching /init). The UART's says
# unhandled, so Linux disables its IRQ after 100000 of them, and the console
# then drains only when written to or polled at 10 Hz (output lost at power
# off). So the aia L1 gets QEMU's device tree with the RTC disabled and the
# UART's interrupt edge-triggered (5 of 5 boots fine, no storm).
if [ "$irqchip" = aia ] && [ "${NESTED_AIA_DT_FIX:-1}" = 1 ]; then
	if command -v fdtput >/dev/null; then
		# Beside the initramfs (this script ends in exec: no trap to remove a temporary).
		dtb=$initrd.dtb
		"$qemu" "${qemu_args[@]}" -M "$machine,dumpdtb=$dtb" -nographic >/dev/null 2>&1 </dev/null ||
			{ echo "run-l1: $qemu could not dump its device tree" >&2; exit 1; }
		fdtput -t x "$dtb" /soc/serial@10000000 interrupts a 1 # 0xa: its source; 1: edge, rising
		fdtput -t s "$dtb" /soc/rtc@101000 status disabled
		dtb_args=(-dtb "$dtb")
	else
		echo "run-l1: no fdtput (apt-get install device-tree-compiler): the aia L1 gets QEMU's device tree, with its interrupt storms" >&2
	fi
fi

# -bios default: QEMU's OpenSBI, whose system reset ends QEMU when L1 powers
# off. panic=-1: a panicking L1 ends QEMU too (-no-reboot).
cmd=(timeout -k 10 "$secs" "$qemu" "${qemu_args[@]}" "${dtb_args[@]}"
	-nographic -no-reboot -bios default -kernel "$image" -initrd "$initrd"
	-append "console=ttyS0 quiet panic=-1" "$@")
if [ -t 0 ]; then
	# --foreground keeps QEMU in the terminal's foreground process group, so
	# it may read the terminal and put it in raw mode.
	exec "${cmd[0]}" --foreground "${cmd[@]:1}"
fi
exec "${cmd[@]}" </dev/null
