// SPDX-License-Identifier: Apache-2.0
/*
 * l2-init.c - /init of the riscv64 L2 guest (the Linux that ember boots inside L1). There is
 * no riscv64 busybox on this test bed, so the checks are done here, in C. Built static by
 * mk-l2-initramfs.sh with -DDISK_MARKER='"..."', the string its disk image starts with.
 *
 * Prints, each on its own line:
 *   L2-CPUS=<n>        "processor" lines in /proc/cpuinfo
 *   L2-DISK-OK         the first bytes of /dev/vda are DISK_MARKER
 *   L2-RNG-OK bytes=64 rng_current=virtio_rng.0
 *   L2-MARKER-OK
 * or L2-FAIL <what> for each failed check; then powers off (SBI system reset, after which
 * the VMM exits 0). It never returns: init exiting would panic the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef DISK_MARKER
#error "build with -DDISK_MARKER='\"...\"' (see mk-l2-initramfs.sh)"
#endif

static void on_alarm(int sig) { (void)sig; } /* only to interrupt a read or drain that hangs */

/* Up to 5 s for a device node that a driver may still be probing. */
static int wait_for(const char *path)
{
	struct timespec t = { 0, 100 * 1000 * 1000 };
	struct stat st;
	for (int i = 0; i < 50; i++) {
		if (!stat(path, &st)) return 0;
		nanosleep(&t, NULL);
	}
	return stat(path, &st);
}

/* Reads up to n bytes of path; a device that never answers is cut off after 10 s (the
 * alarm interrupts the read: no SA_RESTART), so the failure is named rather than left
 * to the run's watchdog in L1. Returns the byte count, or -1. */
static ssize_t read_some(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;
	if (fd < 0) return -1;
	alarm(10);
	while (have < n) {
		ssize_t r = read(fd, buf + have, n - have);
		if (r <= 0) break;
		have += (size_t)r;
	}
	alarm(0);
	close(fd);
	return (ssize_t)have;
}

static int count_cpus(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f) return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "processor", 9)) n++;
	fclose(f);
	return n;
}

int main(void)
{
	static const char want[] = DISK_MARKER;
	char buf[512], cur[64] = "";
	ssize_t n;
	int fd;
	struct sigaction sa = { .sa_handler = on_alarm };

	sigaction(SIGALRM, &sa, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	/* The kernel's /dev/console from the cpio may be missing (no mknod when it was
	 * packed): take stdio from devtmpfs's. */
	if ((fd = open("/dev/console", O_RDWR)) >= 0) {
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		if (fd > 2) close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Like "dmesg -n 1": driver messages would cut into the markers. */
	klogctl(8, NULL, 1);

	printf("L2-CPUS=%d\n", count_cpus());

	if (wait_for("/dev/vda"))
		puts("L2-FAIL disk: no /dev/vda");
	else if ((n = read_some("/dev/vda", buf, sizeof(buf))) < (ssize_t)sizeof(want) - 1)
		printf("L2-FAIL disk: read %zd bytes of /dev/vda (%s)\n", n, strerror(errno));
	else if (memcmp(buf, want, sizeof(want) - 1))
		printf("L2-FAIL disk: sector 0 of /dev/vda does not start with %s\n", want);
	else
		puts("L2-DISK-OK");

	if (wait_for("/dev/hwrng")) {
		puts("L2-FAIL rng: no /dev/hwrng");
	} else {
		n = read_some("/dev/hwrng", buf, 64);
		read_some("/sys/class/misc/hw_random/rng_current", cur, sizeof(cur) - 1);
		cur[strcspn(cur, "\n")] = 0;
		if (n == 64 && !strncmp(cur, "virtio_rng", 10))
			printf("L2-RNG-OK bytes=%zd rng_current=%s\n", n, cur);
		else
			printf("L2-FAIL rng: read %zd bytes of 64 from /dev/hwrng, rng_current=%s\n", n, cur);
	}

	puts("L2-MARKER-OK");
	fflush(stdout);
	/* Power-off does not wait for the UART: let the console's buffer drain first, for at
	 * most 5 s (the alarm interrupts tcdrain). */
	alarm(5);
	tcdrain(1);
	sync();
	reboot(RB_POWER_OFF);
	puts("L2-FAIL poweroff: reboot(RB_POWER_OFF) returned");
	for (;;) pause();
}
