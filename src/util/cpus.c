#define _GNU_SOURCE /* cpu_set_t, sched_setaffinity */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpus.h"
#include "util.h"

/*
 * One CPU number at (*p), advanced past it. Any number of digits: a huge one saturates
 * instead of wrapping, so that it is reported as out of range, not taken as a small one.
 */
static int parse_cpu(const char **p, unsigned long *cpu)
{
	const char *s = *p;
	unsigned long v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v > CPUS_MAX ? v : v * 10 + (unsigned long)(*s - '0');
	*p = s;
	*cpu = v;
	return 0;
}

int cpu_list_parse(const char *s, struct cpu_set *set, char *why, size_t why_len)
{
	const char *item = s;
	unsigned long first, last, cpu;

	memset(set, 0, sizeof(*set));
	if (!*s) {
		snprintf(why, why_len, "an empty list; expected CPUs like 2-3 or 0,2");
		return -EINVAL;
	}
	for (;;) {
		const char *p = item;
		int len;

		if (parse_cpu(&p, &first))
			goto bad;
		last = first;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, &last))
				goto bad;
		}
		if (*p && *p != ',')
			goto bad;
		len = (int)(p - item);
		if (first >= CPUS_MAX || last >= CPUS_MAX) {
			snprintf(why, why_len, "'%.*s': CPUs from 0 to %d only", len, item,
				 CPUS_MAX - 1);
			return -EINVAL;
		}
		if (first > last) {
			snprintf(why, why_len, "'%.*s': a range runs from the lower CPU up", len,
				 item);
			return -EINVAL;
		}
		for (cpu = first; cpu <= last; cpu++)
			set->bits[cpu / 64] |= 1ULL << (cpu % 64);
		if (!*p)
			return 0;
		item = p + 1;
	}
bad:
	snprintf(why, why_len, "'%.*s': expected a CPU number (N) or a range (N-M)",
		 (int)strcspn(item, ","), item);
	return -EINVAL;
}

void cpu_list_format(const struct cpu_set *set, char *buf, size_t len)
{
	unsigned int cpu = 0, last;
	size_t used = 0;
	int n;

	if (len)
		*buf = '\0';
	while (cpu < CPUS_MAX) {
		if (!cpu_set_has(set, cpu)) {
			cpu++;
			continue;
		}
		for (last = cpu; last + 1 < CPUS_MAX && cpu_set_has(set, last + 1); last++)
			;
		n = last == cpu
			? snprintf(buf + used, len - used, "%s%u", used ? "," : "", cpu)
			: snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", cpu, last);
		if (n < 0 || (size_t)n >= len - used)
			return; /* truncated: what fitted stays, terminated */
		used += n;
		cpu = last + 1;
	}
}

unsigned int cpu_set_count(const struct cpu_set *set)
{
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(set->bits); i++)
		n += __builtin_popcountll(set->bits[i]);
	return n;
}

int cpu_set_first_missing(const struct cpu_set *a, const struct cpu_set *b)
{
	unsigned int cpu;

	for (cpu = 0; cpu < CPUS_MAX; cpu++)
		if (cpu_set_has(a, cpu) && !cpu_set_has(b, cpu))
			return (int)cpu;
	return -1;
}

int cpus_online(struct cpu_set *set)
{
	char text[4096], why[128];
	ssize_t n;
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	return cpu_list_parse(text, set, why, sizeof(why));
}

static void to_cpu_set_t(const struct cpu_set *set, cpu_set_t *out)
{
	unsigned int cpu;

	CPU_ZERO(out);
	for (cpu = 0; cpu < CPUS_MAX && cpu < CPU_SETSIZE; cpu++)
		if (cpu_set_has(set, cpu))
			CPU_SET(cpu, out);
}

int cpus_get_affinity(struct cpu_set *set)
{
	cpu_set_t cs;
	unsigned int cpu;

	if (sched_getaffinity(0, sizeof(cs), &cs))
		return -errno;
	memset(set, 0, sizeof(*set));
	for (cpu = 0; cpu < CPUS_MAX && cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &cs))
			set->bits[cpu / 64] |= 1ULL << (cpu % 64);
	return 0;
}

int cpus_set_affinity(const struct cpu_set *set)
{
	cpu_set_t cs;

	to_cpu_set_t(set, &cs);
	return sched_setaffinity(0, sizeof(cs), &cs) ? -errno : 0;
}

int cpus_restrict(const char *list, char *why, size_t why_len)
{
	struct cpu_set want, online, allowed;
	char text[256];
	int cpu, ret;

	ret = cpu_list_parse(list, &want, why, why_len);
	if (ret)
		return ret;
	/* Without sysfs, the affinity check below still holds: it has only online CPUs. */
	if (!cpus_online(&online)) {
		cpu = cpu_set_first_missing(&want, &online);
		cpu_list_format(&online, text, sizeof(text));
		if (cpu >= 0) {
			snprintf(why, why_len, "CPU %d is not online (online: %s)", cpu, text);
			return -EINVAL;
		}
	}
	ret = cpus_get_affinity(&allowed);
	if (ret) {
		snprintf(why, why_len, "cannot read ember's CPU affinity: %s", strerror(-ret));
		return ret;
	}
	cpu = cpu_set_first_missing(&want, &allowed);
	cpu_list_format(&allowed, text, sizeof(text));
	if (cpu >= 0) {
		snprintf(why, why_len, "CPU %d is not one ember may run on (allowed: %s)", cpu,
			 text);
		return -EINVAL;
	}
	ret = cpus_set_affinity(&want);
	if (ret)
		snprintf(why, why_len, "the host refused: %s", strerror(-ret));
	return ret;
}

/* Whether the calling thread has CAP_SYS_NICE in its effective set. */
static bool has_sys_nice(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_TO_INDEX(CAP_SYS_NICE)].effective & CAP_TO_MASK(CAP_SYS_NICE);
}

int thread_realtime(int priority, char *why, size_t why_len)
{
	struct sched_param param = {.sched_priority = priority};
	struct rlimit rl;
	int ret;

	/*
	 * Linux schedules threads one by one: 0 is this thread. Tasks it creates start
	 * SCHED_OTHER again (KVM makes a worker of its own from the first KVM_RUN).
	 */
	ret = sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) ? -errno : 0;
	if (!ret)
		return 0;
	if (ret != -EPERM) {
		snprintf(why, why_len, "SCHED_FIFO priority %d: %s", priority, strerror(-ret));
		return ret;
	}
	/* The kernel says EPERM for all three causes: tell the user which one it is. */
	if (getrlimit(RLIMIT_RTPRIO, &rl))
		rl.rlim_cur = 0;
	if (!has_sys_nice() && rl.rlim_cur < (rlim_t)priority)
		snprintf(why, why_len,
			 "SCHED_FIFO refused: no CAP_SYS_NICE and RLIMIT_RTPRIO is %llu (needs "
			 "%d; see ulimit -r)",
			 (unsigned long long)rl.rlim_cur, priority);
	else
		snprintf(why, why_len,
			 "SCHED_FIFO refused: ember's cgroup has no real-time runtime "
			 "(cpu.rt_runtime_us is 0 there)");
	return ret;
}
