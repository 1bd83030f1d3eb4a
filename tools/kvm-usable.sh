#!/usr/bin/env bash
# Whether this host has a KVM that the tiers on /dev/kvm can use: exit 0 if /dev/kvm is a
# character device that answers KVM_GET_API_VERSION with 12; else exit 1 and say why on
# standard output. It never creates /dev/kvm (a shell's `exec 3<>/dev/kvm` would make an
# empty regular file there when the device is missing).
if [ ! -e /dev/kvm ]; then
	said=$(dmesg 2>/dev/null | grep -m 1 -o 'kvm-pvm.*not binding')
	echo "no /dev/kvm${said:+ (the kernel log says: $said)}"
	exit 1
fi
if [ ! -c /dev/kvm ]; then
	echo "/dev/kvm is not a character device ($(stat -c %F /dev/kvm))"
	exit 1
fi
# KVM_GET_API_VERSION is _IO(0xAE, 0x00).
if ! python3 -c 'import fcntl, os, sys
fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
sys.exit(0 if fcntl.ioctl(fd, 0xAE00) == 12 else 1)' 2>/dev/null; then
	echo "/dev/kvm does not answer KVM_GET_API_VERSION with 12"
	exit 1
fi
exit 0
