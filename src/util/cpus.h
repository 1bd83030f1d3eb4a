/*
 * Host CPUs: lists as the kernel writes them ("0-3,8"), the process's affinity, and a
 * thread's real-time scheduling. A set is a plain bitmap here, so that callers need no
 * _GNU_SOURCE for cpu_set_t.
 */
#ifndef EMBER_UTIL_CPUS_H
#define EMBER_UTIL_CPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* glibc's CPU_SETSIZE: the most sched_setaffinity can be asked for through cpu_set_t. */
#define CPUS_MAX 1024

struct cpu_set {
	uint64_t bits[CPUS_MAX / 64];
};

static inline bool cpu_set_has(const struct cpu_set *s, unsigned int cpu)
{
	return cpu < CPUS_MAX && (s->bits[cpu / 64] >> (cpu % 64) & 1);
}

/*
 * Parse (s), CPU numbers and ranges A-B separated by commas ("2-3", "0,2", "0-1,4"),
 * into (set). 0, or -EINVAL with the reason in (why, why_len); then (set) is undefined.
 */
int cpu_list_parse(const char *s, struct cpu_set *set, char *why, size_t why_len);

/* (set) written as a list, ranges joined ("0-3,8"; "" when empty), truncated to (len). */
void cpu_list_format(const struct cpu_set *set, char *buf, size_t len);

/* How many CPUs (set) holds. */
unsigned int cpu_set_count(const struct cpu_set *set);

/* The first CPU of (a) that is not in (b), or -1. */
int cpu_set_first_missing(const struct cpu_set *a, const struct cpu_set *b);

/* The host's online CPUs (/sys/devices/system/cpu/online). 0 or -errno. */
int cpus_online(struct cpu_set *set);

/* The calling thread's affinity, or a new one (inherited by the threads it creates). */
int cpus_get_affinity(struct cpu_set *set);
int cpus_set_affinity(const struct cpu_set *set);

/*
 * --cpus (list): parse it, check that every CPU is online and in the calling thread's
 * affinity (a cpuset, taskset), and make it that thread's affinity. 0, or -errno with the
 * reason in (why, why_len): -EINVAL for a list that is bad here.
 */
int cpus_restrict(const char *list, char *why, size_t why_len);

/*
 * Run the calling thread SCHED_FIFO at (priority). 0, or -errno with why the host refused
 * in (why, why_len): the missing capability and rlimit, or a cgroup without real-time
 * runtime.
 */
int thread_realtime(int priority, char *why, size_t why_len);

#endif
