/* Installing the filters thread by thread, and the SIGSYS handler that reports a fault. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"
#include "../util/sigsafe.h"

/* si_code of a SIGSYS from a filter (asm-generic/siginfo.h; glibc's headers lack it). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

/*
 * The alternate signal stack of a confined thread, aligned to its own size, with the slot
 * at its lowest address: the handler, running on it, finds the slot by rounding down the
 * address of one of its locals, without a syscall its thread's filter might not allow.
 * 256 KiB: above what any arch's signal frame needs (arm64's SME state included).
 */
#define SLOT_STACK_BYTES (256 * 1024)
#define SLOT_MAGIC	 0x656d626572736363ull /* "embersc" */

struct seccomp_thread_slot {
	uint64_t magic;
	struct seccomp_filters *owner;
	pid_t tid; /* the thread whose signal stack this is */
	char name[16];
};

void seccomp_filters_init(struct seccomp_filters *f, struct logger *log, const int *metrics_fd)
{
	memset(f, 0, sizeof(*f));
	f->log = log;
	f->metrics_fd = metrics_fd;
}

int seccomp_filters_build(struct seccomp_filters *f, const struct seccomp_policy *p, bool strict,
			  char *why, size_t why_len)
{
	int t, ret;

	for (t = 0; t < SECCOMP_THREADS; t++) {
		ret = seccomp_compile(&p->filters[t], t, strict, &f->progs[t], why, why_len);
		if (ret)
			return ret;
	}
	seccomp_syscall_names(f->names, SECCOMP_NAMED_SYSCALLS);
	f->native_arch = seccomp_native_arch();
	f->enabled = true;
	return 0;
}

/* The metrics file's last line: only what the fault changed, built without the allocator. */
static void report_metrics(struct seccomp_filters *f, uint64_t faults, bool via_writev)
{
	int fd = f->metrics_fd ? __atomic_load_n(f->metrics_fd, __ATOMIC_RELAXED) : -1;
	char text[128];
	struct sigsafe_buf b = { text, sizeof(text), 0 };
	struct timespec ts;

	if (fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	sigsafe_str(&b, "{\"utc_timestamp_ms\":");
	sigsafe_dec(&b, (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, 0);
	sigsafe_str(&b, ",\"seccomp\":{\"num_faults\":");
	sigsafe_dec(&b, faults, 0);
	sigsafe_str(&b, "}}\n");
	sigsafe_write(fd, &b, via_writev); /* a failure changes nothing: the process is ending */
}

static void report_fault(struct seccomp_thread_slot *slot, int nr, uint32_t arch)
{
	struct seccomp_filters *f = slot->owner;
	/* If write was the forbidden call, the report goes out through writev. */
	bool via_writev = arch == f->native_arch && nr == SYS_write;
	uint64_t faults = __atomic_add_fetch(&f->num_faults, 1, __ATOMIC_SEQ_CST);
	char text[256];
	struct sigsafe_buf b = { text, sizeof(text), 0 };

	sigsafe_str(&b, "Shutting down VM after intercepting a bad syscall: ");
	if (arch != f->native_arch)
		sigsafe_str(&b, "another arch's syscall");
	else if (nr >= 0 && nr < SECCOMP_NAMED_SYSCALLS && f->names[nr])
		sigsafe_str(&b, f->names[nr]);
	else
		sigsafe_str(&b, "?");
	sigsafe_str(&b, " (");
	sigsafe_dec(&b, (unsigned long long)nr, 0);
	sigsafe_str(&b, ") in thread ");
	sigsafe_str(&b, slot->name);
	log_error_from_signal(f->log, slot->name, b.p, via_writev);
	report_metrics(f, faults, via_writev);
}

static void on_sigsys(int sig, siginfo_t *si, void *ucontext)
{
	static const char not_seccomp[] = "ember: ERROR: SIGSYS not raised by a seccomp filter\n";
	struct seccomp_thread_slot *slot;
	char here;

	(void)sig;
	(void)ucontext;
	/* Only a filter's SIGSYS is known to run on a confined thread's stack. */
	if (si->si_code != SYS_SECCOMP) {
		if (write(STDERR_FILENO, not_seccomp, sizeof(not_seccomp) - 1) < 0) {
			/* nothing more to say */
		}
		_exit(SECCOMP_EXIT_BAD_SYSCALL);
	}
	slot = (struct seccomp_thread_slot *)((uintptr_t)&here & ~(uintptr_t)(SLOT_STACK_BYTES - 1));
	if (slot->magic == SLOT_MAGIC)
		report_fault(slot, si->si_syscall, si->si_arch);
	_exit(SECCOMP_EXIT_BAD_SYSCALL);
}

int seccomp_signal_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask); /* nothing else runs on this thread once a fault is in */
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* A slot and signal stack for the calling thread, kept in (f) so they can be freed. */
static struct seccomp_thread_slot *slot_new(struct seccomp_filters *f)
{
	unsigned int i = __atomic_fetch_add(&f->nr_slots, 1, __ATOMIC_SEQ_CST);
	struct seccomp_thread_slot *slot;
	uintptr_t start, aligned;
	void *map;

	if (i >= SECCOMP_MAX_THREADS)
		return NULL;
	/* Twice the size, to find an aligned stack inside; the rest goes back at once. */
	map = mmap(NULL, 2 * SLOT_STACK_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	start = (uintptr_t)map;
	aligned = (start + SLOT_STACK_BYTES - 1) & ~(uintptr_t)(SLOT_STACK_BYTES - 1);
	if (aligned > start)
		munmap(map, aligned - start);
	if (aligned + SLOT_STACK_BYTES < start + 2 * SLOT_STACK_BYTES)
		munmap((void *)(aligned + SLOT_STACK_BYTES),
		       start + 2 * SLOT_STACK_BYTES - aligned - SLOT_STACK_BYTES);
	slot = (struct seccomp_thread_slot *)aligned;
	slot->magic = SLOT_MAGIC;
	slot->owner = f;
	slot->tid = (pid_t)syscall(SYS_gettid);
	prctl(PR_GET_NAME, slot->name, 0, 0, 0);
	f->slots[i] = slot;
	return slot;
}

int seccomp_thread_enter(struct seccomp_filters *f, enum seccomp_thread kind)
{
	struct seccomp_thread_slot *slot;
	sigset_t sys;
	stack_t ss;

	if (!f || !f->enabled)
		return 0;
	slot = slot_new(f);
	if (!slot)
		return -ENOMEM;
	/* The handler's stack frame grows down from the top, away from the slot. */
	ss.ss_sp = slot;
	ss.ss_size = SLOT_STACK_BYTES;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0)
		return -errno;
	/* A blocked SIGSYS would make the kernel kill the process without the report. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	/* Without privilege, the kernel takes a filter only from a thread that cannot gain any. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->progs[kind]) < 0)
		return -errno;
	return 0;
}

void seccomp_filters_free(struct seccomp_filters *f)
{
	unsigned int i, n = f->nr_slots < SECCOMP_MAX_THREADS ? f->nr_slots : SECCOMP_MAX_THREADS;
	pid_t self = (pid_t)syscall(SYS_gettid);
	int t;

	/*
	 * The caller's own signal stack stays: it is still confined, and could not switch
	 * that stack off without a syscall its filter may not allow. It goes with the process.
	 */
	for (i = 0; i < n; i++)
		if (f->slots[i] && f->slots[i]->tid != self)
			munmap(f->slots[i], SLOT_STACK_BYTES);
	for (t = 0; t < SECCOMP_THREADS; t++)
		free(f->progs[t].filter);
	for (i = 0; i < SECCOMP_NAMED_SYSCALLS; i++)
		free(f->names[i]);
	memset(f->progs, 0, sizeof(f->progs));
	memset(f->names, 0, sizeof(f->names));
	memset(f->slots, 0, sizeof(f->slots));
	f->nr_slots = 0;
	f->enabled = false;
}
