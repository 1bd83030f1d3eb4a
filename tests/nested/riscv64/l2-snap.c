// SPDX-License-Identifier: Apache-2.0
/*
 * l2-snap.c - /snap-init of the riscv64 L2 guest for the snapshot runs (rdinit=/snap-init):
 * a guest that is saved by one ember and goes on in another. Built static by
 * mk-l2-initramfs.sh with -DDISK_MARKER='"..."', like l2-init.c.
 *
 * Before the snapshot it prints
 *   L2-CPUS=<n>
 *   L2-SNAP-READY up=<s> ticks=<n>   a ticker process runs on hart 1 (a counter in shared
 *                                    memory, bumped every 50 ms); the disk and the rng
 *                                    were read once
 * and waits for a line on the console, which only the restoring ember gives it (the
 * first one's stdin is /dev/null). Then:
 *   L2-SNAP-RESTORED up=<s> ticks=<n>    the same process, the uptime not gone back
 *   L2-SNAP-TICKER-OK ticks=<a>..<b>      the ticker went on after the restore (hart 1,
 *                                         its timer), the pid it had before
 *   L2-SNAP-DISK-OK                       a read of the disk that the page cache cannot
 *                                         answer (O_DIRECT) finds the marker
 *   L2-SNAP-RNG-OK bytes=64               new bytes from virtio-rng
 *   L2-SNAP-OK
 * With ember.vsock=1 on the command line (a kernel with a vsock driver, and /bin/vsock_tool
 * from ../tools/vsock_tool.c), the vsock too, as the aarch64 guest checks it: before the
 * snapshot a listener on port 1234 and a connection to the host's port 5002; after the
 * restore that connection must have been reset (L2-HOLD-RESET, the transport-reset event),
 * 1 MiB goes through the host's echo on port 5000 (L2-CLIENT-OK, port 5001 refused) and the
 * host's 1 MiB through the listener (L2-ECHO-DONE), before L2-SNAP-OK.
 * or L2-FAIL <what> for each failed check; then it powers off and the second ember exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef DISK_MARKER
#error "build with -DDISK_MARKER='\"...\"' (see mk-l2-initramfs.sh)"
#endif

static void on_alarm(int sig) { (void)sig; } /* only to interrupt a read that hangs */

static void msleep(long ms)
{
	struct timespec t = { ms / 1000, ms % 1000 * 1000000L };
	while (nanosleep(&t, &t) && errno == EINTR) {}
}

static double uptime(void)
{
	double up = -1;
	FILE *f = fopen("/proc/uptime", "r");
	if (f) {
		if (fscanf(f, "%lf", &up) != 1) up = -1;
		fclose(f);
	}
	return up;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		printf("L2-FAIL pin to cpu %d: %s\n", cpu, strerror(errno));
}

static int wait_for(const char *path)
{
	struct stat st;
	for (int i = 0; i < 50 && stat(path, &st); i++) msleep(100);
	return stat(path, &st);
}

/* The disk's first bytes, read past the page cache: a request the device must answer. */
static int disk_ok(void)
{
	static const char want[] = DISK_MARKER;
	void *buf;
	int fd, ok = 0;
	if (posix_memalign(&buf, 4096, 4096)) return 0;
	fd = wait_for("/dev/vda") ? -1 : open("/dev/vda", O_RDONLY | O_DIRECT);
	if (fd >= 0) {
		alarm(10);
		ok = read(fd, buf, 4096) == 4096 && !memcmp(buf, want, sizeof(want) - 1);
		alarm(0);
		close(fd);
	}
	free(buf);
	return ok;
}

static ssize_t rng_read(char *buf, size_t n)
{
	size_t have = 0;
	int fd = wait_for("/dev/hwrng") ? -1 : open("/dev/hwrng", O_RDONLY);
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

/* /bin/vsock_tool ARGS... in the background; its output on the console, or in out_path. */
static pid_t vsock_tool(const char *out_path, char *const argv[])
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid) return pid;
	if (out_path) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
	}
	execv(argv[0], argv);
	printf("L2-FAIL vsock: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int cmdline_has(const char *word)
{
	char buf[1024];
	ssize_t n;
	int fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0) return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, word) != NULL;
}

/* Whether pid ended within ms milliseconds (it is reaped then). */
static int ended_within(pid_t pid, long ms)
{
	for (long t = 0; t <= ms; t += 100) {
		if (waitpid(pid, NULL, WNOHANG) == pid) return 1;
		msleep(100);
	}
	return 0;
}

static int file_has(const char *path, const char *text)
{
	char buf[512];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0) close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, text) != NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	char line[64], rng1[64], rng2[64];
	volatile unsigned long *ticks;
	unsigned long t0, t1, t2;
	double up0, up1;
	pid_t ticker, echoer = -1, holder = -1;
	int fd, vsock;

	sigaction(SIGALRM, &sa, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	if ((fd = open("/dev/console", O_RDWR)) >= 0) {
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		if (fd > 2) close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	klogctl(8, NULL, 1);
	printf("L2-CPUS=%d\n", count_cpus());

	ticks = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ticks == MAP_FAILED) {
		puts("L2-FAIL mmap");
		goto out;
	}
	ticker = fork();
	if (ticker == 0) {
		pin(1);
		for (;;) {
			msleep(50);
			(*ticks)++;
		}
	}
	pin(0);
	for (int i = 0; i < 100 && *ticks < 5; i++) msleep(50);
	if (*ticks < 5) puts("L2-FAIL ticker: not ticking before the snapshot");
	if (!disk_ok()) puts("L2-FAIL disk: before the snapshot");
	if (rng_read(rng1, sizeof(rng1)) != sizeof(rng1)) puts("L2-FAIL rng: before the snapshot");
	vsock = cmdline_has("ember.vsock=1");
	if (vsock) {
		/* A listener that must outlive the restore, and a connection the restore resets. */
		char *echo[] = { "/bin/vsock_tool", "echo-vsock", "1234", NULL };
		char *hold[] = { "/bin/vsock_tool", "hold-vsock", "2", "5002", NULL };
		echoer = vsock_tool(NULL, echo);
		holder = vsock_tool("/tmp/hold", hold);
		for (int i = 0; i < 100 && !file_has("/tmp/hold", "L2-HOLD-"); i++) msleep(100);
		if (!file_has("/tmp/hold", "L2-HOLD-CONNECTED"))
			puts("L2-FAIL vsock: no connection to host port 5002 before the snapshot");
	}

	up0 = uptime();
	t0 = *ticks;
	printf("L2-SNAP-READY up=%.2f ticks=%lu\n", up0, t0);
	/* Only the restoring ember has input for the console. */
	if (!fgets(line, sizeof(line), stdin)) {
		puts("L2-FAIL console: no line to go on");
		goto out;
	}
	up1 = uptime();
	t1 = *ticks;
	printf("L2-SNAP-RESTORED up=%.2f ticks=%lu\n", up1, t1);
	if (up1 < up0) printf("L2-FAIL uptime: %.2f after the restore, %.2f before\n", up1, up0);
	if (t1 < t0) printf("L2-FAIL ticker: %lu ticks after the restore, %lu before\n", t1, t0);
	msleep(1000);
	t2 = *ticks;
	if (t2 > t1 && !kill(ticker, 0))
		printf("L2-SNAP-TICKER-OK ticks=%lu..%lu pid=%d\n", t1, t2, (int)ticker);
	else
		printf("L2-FAIL ticker: %lu ticks, then %lu a second later (pid %d %s)\n", t1, t2,
		       (int)ticker, kill(ticker, 0) ? "gone" : "there");
	if (disk_ok()) puts("L2-SNAP-DISK-OK");
	else puts("L2-FAIL disk: after the restore");
	if (rng_read(rng2, sizeof(rng2)) != sizeof(rng2))
		puts("L2-FAIL rng: after the restore");
	else if (!memcmp(rng1, rng2, sizeof(rng1)))
		puts("L2-FAIL rng: the same 64 bytes as before");
	else
		puts("L2-SNAP-RNG-OK bytes=64");
	if (vsock) {
		char buf[256];
		char *client[] = { "/bin/vsock_tool", "client-vsock", "2", "5000", "1048576", "5001", NULL };
		if (!ended_within(holder, 5000)) kill(holder, SIGKILL);
		if ((fd = open("/tmp/hold", O_RDONLY)) >= 0) {
			ssize_t n;
			while ((n = read(fd, buf, sizeof(buf))) > 0) fwrite(buf, 1, (size_t)n, stdout);
			close(fd);
		}
		if (!file_has("/tmp/hold", "L2-HOLD-RESET"))
			puts("L2-FAIL vsock: the connection from before the snapshot was not reset");
		/* New connections both ways: 1 MiB through the host's echo on port 5000, every
		 * byte checked, while the host streams through the listener on 1234. */
		pid_t c = vsock_tool(NULL, client);
		int st = 0;
		while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			puts("L2-FAIL vsock: the guest's connection to host port 5000");
		if (!ended_within(echoer, 30000)) {
			puts("L2-FAIL vsock: no connection from the host to port 1234 after the restore");
			kill(echoer, SIGKILL);
		}
	}
	puts("L2-SNAP-OK");
out:
	fflush(stdout);
	alarm(5);
	tcdrain(1);
	sync();
	reboot(RB_POWER_OFF);
	puts("L2-FAIL poweroff: reboot(RB_POWER_OFF) returned");
	for (;;) pause();
}
