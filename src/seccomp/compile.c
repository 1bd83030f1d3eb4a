#define _GNU_SOURCE /* pipe2 */
/*
 * A filter to BPF with libseccomp, for the arch ember was built for: names resolve to this
 * arch's numbers, and the program starts with libseccomp's arch check.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"

/* A BPF program longer than this would be a broken policy, not a real one (4096 is the kernel's limit). */
#define SECCOMP_MAX_PROG_BYTES (4096 * sizeof(struct sock_filter))

static uint32_t scmp_action(struct seccomp_action a)
{
	switch (a.kind) {
	case SECCOMP_ACT_ALLOW:
		return SCMP_ACT_ALLOW;
	case SECCOMP_ACT_TRAP:
		return SCMP_ACT_TRAP;
	case SECCOMP_ACT_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case SECCOMP_ACT_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case SECCOMP_ACT_LOG:
		return SCMP_ACT_LOG;
	case SECCOMP_ACT_ERRNO:
		return SCMP_ACT_ERRNO(a.data);
	case SECCOMP_ACT_TRACE:
		return SCMP_ACT_TRACE(a.data);
	}
	return SCMP_ACT_KILL_PROCESS;
}

static enum scmp_compare scmp_op(enum seccomp_op op)
{
	switch (op) {
	case SECCOMP_OP_EQ:
		return SCMP_CMP_EQ;
	case SECCOMP_OP_NE:
		return SCMP_CMP_NE;
	case SECCOMP_OP_LT:
		return SCMP_CMP_LT;
	case SECCOMP_OP_LE:
		return SCMP_CMP_LE;
	case SECCOMP_OP_GT:
		return SCMP_CMP_GT;
	case SECCOMP_OP_GE:
		return SCMP_CMP_GE;
	case SECCOMP_OP_MASKED_EQ:
		return SCMP_CMP_MASKED_EQ;
	}
	return SCMP_CMP_EQ;
}

/*
 * One argument check. A "dword" is an int or unsigned int argument: the kernel leaves the
 * upper half of its register unspecified, so an equality looks at the low 32 bits only
 * (a masked compare); ordered compares take the value as the caller passes it.
 */
static struct scmp_arg_cmp scmp_arg(const struct seccomp_arg *a)
{
	struct scmp_arg_cmp c = { .arg = a->index, .op = scmp_op(a->op), .datum_a = a->val };

	if (a->op == SECCOMP_OP_MASKED_EQ) {
		c.datum_a = a->dword ? (uint32_t)a->mask : a->mask;
		c.datum_b = a->dword ? (uint32_t)a->val : a->val;
	} else if (a->dword && a->op == SECCOMP_OP_EQ) {
		c.op = SCMP_CMP_MASKED_EQ;
		c.datum_a = 0xffffffffu;
		c.datum_b = (uint32_t)a->val;
	} else if (a->dword) {
		c.datum_a = (uint32_t)a->val;
	}
	return c;
}

/*
 * The exported program, read back through a pipe (libseccomp 2.5 exports only to an fd).
 * Not a file: RLIMIT_FSIZE (a jailer's --resource-limit fsize) would cut a file short. The
 * pipe does not block: a program larger than it holds (64 KiB, twice the kernel's limit of
 * 4096 instructions) fails the export instead of waiting forever for a reader.
 */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *out)
{
	struct sock_filter *insns;
	size_t size = 0;
	int fds[2], ret;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fds[1]);
	close(fds[1]);
	insns = malloc(SECCOMP_MAX_PROG_BYTES + 1);
	if (!ret && !insns)
		ret = -ENOMEM;
	while (!ret && (n = read(fds[0], (char *)insns + size, SECCOMP_MAX_PROG_BYTES + 1 - size)) > 0)
		size += n;
	close(fds[0]);
	if (!ret && (size == 0 || size > SECCOMP_MAX_PROG_BYTES || size % sizeof(*insns)))
		ret = -EFBIG;
	if (ret) {
		free(insns);
		return ret;
	}
	out->filter = insns;
	out->len = (unsigned short)(size / sizeof(*insns));
	return 0;
}

/* Whether (filter) names what the SIGSYS handler needs to report a fault and exit. */
static bool reportable(const struct seccomp_filter *filter)
{
	bool exit_group = false, write = false;
	size_t i;

	for (i = 0; i < filter->nr_rules; i++) {
		const char *s = filter->rules[i].syscall;

		exit_group |= !strcmp(s, "exit_group");
		write |= !strcmp(s, "write") || !strcmp(s, "writev");
	}
	return exit_group && write;
}

static bool same_action(struct seccomp_action a, struct seccomp_action b)
{
	return a.kind == b.kind && a.data == b.data;
}

int seccomp_compile(const struct seccomp_filter *filter, enum seccomp_thread kind, bool strict,
		    struct sock_fprog *out, char *why, size_t why_len)
{
	const char *name = seccomp_thread_name(kind);
	uint32_t act = scmp_action(filter->filter_action);
	scmp_filter_ctx ctx;
	size_t i;
	int ret = 0;

	if (same_action(filter->default_action, filter->filter_action)) {
		snprintf(why, why_len, "%s: filter_action is the default_action, so no rule could matter",
			 name);
		return -EINVAL;
	}
	if (filter->default_action.kind == SECCOMP_ACT_TRAP && !reportable(filter)) {
		snprintf(why, why_len,
			 "%s: a filter that traps must allow exit_group, and write or writev: "
			 "ember's fault report uses them",
			 name);
		return -EINVAL;
	}
	ctx = seccomp_init(scmp_action(filter->default_action));
	if (!ctx) {
		snprintf(why, why_len, "%s: libseccomp could not start a filter", name);
		return -ENOMEM;
	}
	/* Another arch's syscall (x86's int 0x80) is a fault like any other, never a lone dead thread. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (ret) {
		snprintf(why, why_len, "%s: libseccomp: %s", name, strerror(-ret));
		seccomp_release(ctx);
		return ret;
	}
	for (i = 0; i < filter->nr_rules; i++) {
		const struct seccomp_rule *r = &filter->rules[i];
		struct scmp_arg_cmp cmps[SECCOMP_MAX_ARGS];
		int nr_sys = seccomp_syscall_resolve_name(r->syscall);
		unsigned int a;

		/* Negative: unknown to libseccomp, or a syscall this arch does not have. */
		if (nr_sys < 0) {
			if (!strict)
				continue;
			snprintf(why, why_len, "%s.filter[%zu].syscall: '%s' is not a syscall on this arch",
				 name, i, r->syscall);
			ret = -EINVAL;
			break;
		}
		for (a = 0; a < r->nr_args && a < SECCOMP_MAX_ARGS; a++) {
			const struct seccomp_arg *arg = &r->args[a];

			/*
			 * The kernel leaves a 32-bit argument's upper half undefined, and an
			 * ordered or unequal compare of all 64 bits could be passed by setting
			 * it: only the low word's eq and masked_eq are safe.
			 */
			if (arg->dword && arg->op != SECCOMP_OP_EQ &&
			    arg->op != SECCOMP_OP_MASKED_EQ) {
				snprintf(why, why_len,
					 "%s.filter[%zu].args[%u].op: a dword takes only eq or masked_eq",
					 name, i, a);
				ret = -EINVAL;
				break;
			}
			cmps[a] = scmp_arg(arg);
		}
		if (ret)
			break;
		ret = seccomp_rule_add_array(ctx, act, nr_sys, a, cmps);
		if (ret) {
			snprintf(why, why_len, "%s.filter[%zu]: libseccomp refused the rule for '%s': %s",
				 name, i, r->syscall, strerror(-ret));
			break;
		}
	}
	if (!ret) {
		ret = export_bpf(ctx, out);
		if (ret)
			snprintf(why, why_len, "%s: exporting the BPF program: %s", name, strerror(-ret));
	}
	seccomp_release(ctx);
	return ret;
}

uint32_t seccomp_native_arch(void)
{
	return seccomp_arch_native();
}

void seccomp_syscall_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)i);
}
