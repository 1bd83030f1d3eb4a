#include "policy.h"
const char *seccomp_thread_name(enum seccomp_thread t)
{
	static const char *const names[] = { "vmm", "api", "vcpu" };
	return (unsigned)t < SECCOMP_THREADS ? names[t] : "?";
}
#include <errno.h>
#include <stdio.h>
int seccomp_policy_load(const char *path, struct seccomp_policy *p, char *why, size_t why_len)
{
	(void)path; (void)p;
	snprintf(why, why_len, "not yet");
	return -ENOSYS;
}
void seccomp_policy_free(struct seccomp_policy *p) { (void)p; }
