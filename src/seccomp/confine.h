/*
 * Confinement of ember's threads: the policy compiled to one BPF program per thread kind,
 * installed by each thread on itself before it touches guest input, and what a syscall
 * outside the filter does: one log line naming the syscall and the thread, the metrics'
 * seccomp.num_faults, and exit status 148 (Firecracker's). Never continue.
 *
 * A signal handler has no argument to find its instance by, and ember keeps no process
 * state: each confined thread gets an alternate signal stack whose first bytes say which
 * instance and which thread it is, and the SIGSYS handler, running on it, reads them there.
 */
#ifndef EMBER_SECCOMP_CONFINE_H
#define EMBER_SECCOMP_CONFINE_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "../util/log.h"

#define SECCOMP_EXIT_BAD_SYSCALL 148
/* Every vCPU, the API thread and the VMM thread. */
#define SECCOMP_MAX_THREADS	 40
/* Syscall numbers named in fault messages; above it the message gives only the number. */
#define SECCOMP_NAMED_SYSCALLS	 512

struct seccomp_thread_slot;

struct seccomp_filters {
	bool enabled; /* false: --no-seccomp; every call below is a no-op */
	struct sock_fprog progs[SECCOMP_THREADS];
	/* Where a fault is reported: the instance's logger and metrics file (fd, or -1). */
	struct logger *log;
	const int *metrics_fd;
	uint64_t num_faults; /* seccomp.num_faults: at most 1, as a fault ends the process */
	/* Names by number, looked up before any filter so the SIGSYS handler needs no library. */
	char *names[SECCOMP_NAMED_SYSCALLS];
	uint32_t native_arch; /* a fault from another arch's syscall table is said to be so */
	struct seccomp_thread_slot *slots[SECCOMP_MAX_THREADS];
	unsigned int nr_slots;
};

/* The filters off: what --no-seccomp gives. */
void seccomp_filters_init(struct seccomp_filters *f, struct logger *log, const int *metrics_fd);

/*
 * Compile (p) for the arch ember runs on, and turn the filters on. (strict): a syscall
 * name this arch lacks is an error (a user's policy); otherwise it is skipped (the built-in
 * table names both "open" and "openat"). 0, or -errno with (why).
 */
int seccomp_filters_build(struct seccomp_filters *f, const struct seccomp_policy *p, bool strict,
			  char *why, size_t why_len);

/* Process-wide, once: the SIGSYS handler. 0 or -errno. */
int seccomp_signal_setup(void);

/*
 * Confine the calling thread as (kind); fault messages give the thread's name. Sets no_new_privs, the alternate signal
 * stack and unblocks SIGSYS first. 0 or -errno (the thread must not go on to guest input).
 */
int seccomp_thread_enter(struct seccomp_filters *f, enum seccomp_thread kind);

/* Free the programs and the threads' signal stacks; every confined thread but the caller must have ended. */
void seccomp_filters_free(struct seccomp_filters *f);

/* The BPF of one filter, compiled for this arch (compile.c). 0 or -errno with (why). */
int seccomp_compile(const struct seccomp_filter *filter, enum seccomp_thread kind, bool strict,
		    struct sock_fprog *out, char *why, size_t why_len);

/* The AUDIT_ARCH_* value of the arch ember was built for (as a SIGSYS's si_arch says it). */
uint32_t seccomp_native_arch(void);

/* Fill (names)[nr] with this arch's name of syscall nr (malloc'd), NULL where none. */
void seccomp_syscall_names(char **names, size_t n);

#endif
