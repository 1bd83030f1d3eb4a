#!/usr/bin/env bash
# Generic code must not test the architecture: that belongs behind src/arch/arch.h.
set -u
cd "$(dirname "$0")/.."
hits=$(grep -rnE '#\s*(if|ifdef|ifndef|elif).*(__x86_64__|__i386__|__aarch64__|__arm__|__riscv|CONFIG_X86|CONFIG_ARM)' \
	src/main.c src/usage.c src/vmm src/virtio src/devices src/machine src/api src/config src/jailer src/snaptools src/ctl src/util 2>/dev/null)
if [ -n "$hits" ]; then
	echo "$hits" >&2
	echo "FAIL: lint/no-arch-ifdefs-in-generic-code"
	exit 1
fi
echo "PASS: lint/no-arch-ifdefs-in-generic-code"
