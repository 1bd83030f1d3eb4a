#!/usr/bin/env bash
# `make demo`: boot a Linux microVM under ember and show its serial console.
# With a terminal on stdin: a busybox shell (type `poweroff` to leave). Without one: a short
# scripted session that ends by itself. On a host without vmx/svm the demo runs inside a
# nested QEMU (TCG) Linux that has a real KVM, because Linux cannot boot on such a /dev/kvm.
set -eu
cd "$(dirname "$0")/.."
kernel=${EMBER_DEMO_KERNEL:-../shared/guest/x86_64/bzImage}
mode=demo-scripted
[ -t 0 ] && mode=demo-interactive

make -s -j2 all STATIC=1 >/dev/null
make -s -j2 all >/dev/null
if [ ! -r "$kernel" ]; then
	echo "ember demo: no guest kernel at $kernel (set EMBER_DEMO_KERNEL)" >&2
	exit 1
fi

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
	mkdir -p build/demo
	tests/nested/x86_64/mk-l2-initramfs.sh "build/demo/l2-$mode.cpio.gz" "$mode" >/dev/null
	echo "ember demo: booting $kernel on 2 vCPUs (${mode#demo-})"
	exec build/ember --kernel "$kernel" --initrd "build/demo/l2-$mode.cpio.gz" \
		--vcpus 2 --memory 256
fi
echo "ember demo: this CPU has no vmx/svm flag, so Linux cannot boot on its /dev/kvm;" \
	"running the same demo inside a nested QEMU (TCG) Linux with KVM (about a minute)."
exec tests/nested/x86_64/demo.sh build/ember-static
