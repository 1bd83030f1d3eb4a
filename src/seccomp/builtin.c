/*
 * ember's own allow-lists, one per thread kind, as data: each entry names a syscall, the
 * argument values it may take where that matters, and why the thread needs it. Names are
 * libseccomp's; a name an arch lacks ("open" on arm64 and riscv64, which have only
 * "openat") is skipped there, so one table serves every arch. Anything else traps: the
 * SIGSYS handler logs the syscall and ember exits 148.
 */
#define _GNU_SOURCE /* MREMAP_MAYMOVE */
#include <asm/ioctls.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "arch_defs.h"
#include "policy.h"
#include "../util/util.h"

#define ALLOW(name, why) { .syscall = (name), .reason = (why) }
/* (name) when argument (i), an int, equals (v). */
#define ALLOW_EQ(name, i, v, why)                                                                  \
	{ .syscall = (name), .nr_args = 1,                                                         \
	  .args = { { .index = (i), .dword = true, .op = SECCOMP_OP_EQ, .val = (v) } },            \
	  .reason = (why) }
/* (name) when argument (i) has none of the bits of (bits). */
#define ALLOW_CLEAR(name, i, bits, why)                                                            \
	{ .syscall = (name), .nr_args = 1,                                                         \
	  .args = { { .index = (i), .dword = true, .op = SECCOMP_OP_MASKED_EQ, .mask = (bits),     \
		      .val = 0 } },                                                                \
	  .reason = (why) }
/* An ioctl request, named in its reason. */
#define IOCTL(req, why) ALLOW_EQ("ioctl", 1, (req), #req ": " why)
/* The same as an element of an X-macro list (ARCH_SNAPSHOT_IOCTLS). */
#define IOCTL_ITEM(req, why) ALLOW_EQ("ioctl", 1, (req), #req ": " why),

/* What every thread does whatever its job: memory, locks, logging, signals, exiting. */
#define COMMON_RULES                                                                               \
	ALLOW("read", "eventfds, timerfds, the stop and request queues"),                          \
	ALLOW("write", "log lines, eventfds, serial output, the fault report"),                    \
	ALLOW("close", "file descriptors the thread is done with"),                                \
	ALLOW("futex", "mutexes and condition variables: logger, API queue, vCPU parking"),        \
	ALLOW_CLEAR("mmap", 2, PROT_EXEC, "the allocator's arenas; never executable"),             \
	ALLOW_CLEAR("mprotect", 2, PROT_EXEC, "the allocator's arenas; never executable"),         \
	ALLOW("munmap", "the allocator returning memory"),                                         \
	ALLOW_EQ("mremap", 3, MREMAP_MAYMOVE, "the allocator growing a large block (realloc)"),    \
	ALLOW("brk", "the allocator's main arena"),                                                \
	ALLOW_EQ("madvise", 2, MADV_DONTNEED, "the allocator and thread exit giving pages back"),  \
	ALLOW("rt_sigprocmask", "blocking signals around critical sections"),                      \
	ALLOW("rt_sigreturn", "returning from the vCPU kick handler"),                             \
	ALLOW("clock_gettime", "timestamps, where the vDSO falls back to the kernel"),             \
	ALLOW("gettimeofday", "timestamps, where the vDSO falls back to the kernel"),              \
	ALLOW("restart_syscall", "resuming a sleep a signal interrupted"),                         \
	ALLOW_EQ("prctl", 0, PR_GET_NAME, "the thread name in log lines"),                         \
	ALLOW("sched_yield", "spinning briefly on a contended lock"),                              \
	ALLOW("exit", "a thread ending"),                                                          \
	ALLOW("exit_group", "the process ending, including after a fault")

/* Waiting on file descriptors; arm64 and riscv64 have only the p-variant. */
#define EVENT_LOOP_RULES                                                                           \
	ALLOW("epoll_wait", "the event loop"),                                                     \
	ALLOW("epoll_pwait", "the event loop")

/* What the device models do on whichever thread drives them (the VMM's, or a vCPU's). */
#define DEVICE_RULES                                                                               \
	ALLOW("epoll_ctl", "a device watching or unwatching its descriptors"),                     \
	ALLOW("poll", "a vsock connection's state, without waiting"),                              \
	ALLOW("ppoll", "a vsock connection's state, without waiting"),                             \
	ALLOW("getpid", "pthread_kill, to kick a vCPU out of KVM_RUN"),                            \
	ALLOW("gettid", "pthread_kill"),                                                           \
	ALLOW("tgkill", "kicking a vCPU out of KVM_RUN to stop or pause it")

/* Raising and wiring interrupts, from device models on any thread. */
#define IRQ_RULES                                                                                  \
	IOCTL(KVM_IRQ_LINE, "a device raising or lowering its interrupt line"),                    \
	IOCTL(KVM_INTERRUPT, "riscv64's emulated PLIC interrupting a hart"),                       \
	IOCTL(KVM_IRQFD, "a virtio device's interrupt, wired when the driver starts it"),          \
	IOCTL(KVM_IOEVENTFD, "a virtqueue's notify register, wired when the driver starts it"),    \
	ALLOW("eventfd2", "a virtqueue's notifier or interrupt, made when the driver starts it"),   \
	ALLOW("timerfd_create", "a device's timer, made when the driver starts it"),               \
	ALLOW("timerfd_settime", "rate limiters, balloon statistics, vsock retries"),              \
	IOCTL(TUNSETOFFLOAD, "virtio-net: the offloads the guest driver accepted")

static const struct seccomp_rule vmm_rules[] = {
	COMMON_RULES,
	EVENT_LOOP_RULES,
	DEVICE_RULES,
	IRQ_RULES,
	ALLOW("readv", "virtio-net receive, vsock"),
	ALLOW("writev", "virtio-net transmit on a TAP"),
	ALLOW("preadv", "virtio-blk reads without io_uring"),
	ALLOW("pwritev", "virtio-blk writes without io_uring"),
	ALLOW("fdatasync", "virtio-blk flushes without io_uring"),
	ALLOW("fsync", "virtio-blk flushes without io_uring"),
	ALLOW("io_uring_enter", "virtio-blk requests through io_uring"),
	ALLOW("getrandom", "virtio-rng; a snapshot's temporary file names"),
	ALLOW_EQ("socket", 0, AF_UNIX, "vsock: connecting to the host's UDS_PATH_PORT"),
	ALLOW("connect", "vsock: connecting to the host's UDS_PATH_PORT"),
	ALLOW("accept4", "vsock: host programs connecting to UDS_PATH"),
	ALLOW("sendmsg", "vsock: data to a host program; virtio-net: frames to a switch port"),
	ALLOW("sendto", "vsock: data to a host program (send)"),
	ALLOW("recvfrom", "vsock: data from a host program; virtio-net: frames from a switch"),
	ALLOW("shutdown", "vsock: the guest closing its end"),
	ALLOW("openat", "PATCH /drives: opening the new backing file"),
	ALLOW("open", "PATCH /drives: opening the new backing file"),
	ALLOW("fstat", "PATCH /drives: the new backing file's size"),
	ALLOW("newfstatat", "PATCH /drives: the new backing file's size"),
	ALLOW("statx", "PATCH /drives: the new backing file's size"),
	ALLOW("lseek", "PATCH /drives: the new backing file's size"),
	IOCTL(BLKGETSIZE64, "PATCH /drives: a block device's size"),
	ALLOW("mincore", "the exit report: guest RAM resident"),
	ALLOW_EQ("getrusage", 0, RUSAGE_SELF, "the exit report: peak RSS, CPU time"),
	ALLOW("unlink", "removing the API, console and vsock sockets at exit"),
	ALLOW("unlinkat", "removing the vsock socket at exit"),
	IOCTL(TCGETS, "the console: the terminal's settings"),
	IOCTL(TCSETS, "the console: restoring the terminal at exit"),
	IOCTL(TCSETSW, "the console: restoring the terminal at exit"),
	IOCTL(TCSETSF, "the console: restoring the terminal at exit"),
	/* PUT /snapshot/create: the state from KVM, then two files written and renamed. */
	ARCH_SNAPSHOT_IOCTLS(IOCTL_ITEM)
	IOCTL(KVM_GET_DIRTY_LOG, "snapshot: the pages the guest wrote, for a Diff"),
	ALLOW("ftruncate", "snapshot: the memory file's size"),
	ALLOW("pwrite64", "snapshot: guest pages into the memory file"),
	ALLOW("rename", "snapshot: a finished file over the old one"),
	ALLOW("renameat", "snapshot: a finished file over the old one"),
	ALLOW("renameat2", "snapshot: a finished file over the old one"),
};

static const struct seccomp_rule api_rules[] = {
	COMMON_RULES,
	EVENT_LOOP_RULES,
	ALLOW("epoll_ctl", "watching and unwatching API connections"),
	ALLOW("accept4", "API clients connecting"),
	ALLOW("recvfrom", "API requests (recv)"),
	ALLOW("sendto", "API replies (send)"),
};

static const struct seccomp_rule vcpu_rules[] = {
	COMMON_RULES,
	DEVICE_RULES,
	IRQ_RULES,
	IOCTL(KVM_RUN, "running the guest"),
	/* The guest's IER writes: the machine is built (and restored) before any filter. */
	IOCTL(KVM_REGISTER_COALESCED_MMIO, "the UART queueing THR writes while the guest polls"),
	IOCTL(KVM_UNREGISTER_COALESCED_MMIO, "the UART: THR writes exit while THRI is on"),
	/* A driver starting or resetting a device runs its activation here, on the MMIO write. */
	ALLOW("readv", "virtio-vsock: host data that waited for the driver"),
	ALLOW("sendmsg", "virtio-vsock: answers owed to host programs when the driver starts"),
	ALLOW("shutdown", "virtio-vsock: host connections closed by a device reset"),
	ALLOW("io_uring_enter", "virtio-blk: a device reset waits for its requests in flight"),
};

static struct seccomp_filter builtin_filter(const struct seccomp_rule *rules, size_t n)
{
	return (struct seccomp_filter){
		.default_action = { SECCOMP_ACT_TRAP, 0 },
		.filter_action = { SECCOMP_ACT_ALLOW, 0 },
		.rules = rules,
		.nr_rules = n,
	};
}

void seccomp_policy_builtin(struct seccomp_policy *p)
{
	p->filters[SECCOMP_VMM] = builtin_filter(vmm_rules, ARRAY_SIZE(vmm_rules));
	p->filters[SECCOMP_API] = builtin_filter(api_rules, ARRAY_SIZE(api_rules));
	p->filters[SECCOMP_VCPU] = builtin_filter(vcpu_rules, ARRAY_SIZE(vcpu_rules));
	p->owned = NULL;
}
