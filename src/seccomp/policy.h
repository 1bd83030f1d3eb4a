/*
 * A seccomp policy: one filter per thread kind, each a default action, the action for a
 * matching rule, and rules naming a syscall with optional argument checks. The same shape
 * holds ember's built-in allow-lists (builtin.c, C tables) and a --seccomp-filter file in
 * Firecracker's seccompiler JSON (policy_json.c); compile.c turns either into BPF with
 * libseccomp, resolving syscall names for the arch ember runs on.
 */
#ifndef EMBER_SECCOMP_POLICY_H
#define EMBER_SECCOMP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The thread kinds, in the order of the JSON keys "vmm", "api", "vcpu". */
enum seccomp_thread { SECCOMP_VMM, SECCOMP_API, SECCOMP_VCPU, SECCOMP_THREADS };

/* "vmm", "api", "vcpu". */
const char *seccomp_thread_name(enum seccomp_thread t);

enum seccomp_action_kind {
	SECCOMP_ACT_ALLOW,
	SECCOMP_ACT_TRAP, /* SIGSYS: ember logs the syscall and exits 148 */
	SECCOMP_ACT_KILL_PROCESS,
	SECCOMP_ACT_KILL_THREAD,
	SECCOMP_ACT_LOG,
	SECCOMP_ACT_ERRNO, /* fail the call with errno (data) */
	SECCOMP_ACT_TRACE, /* hand the call to a ptracer with (data) */
};

struct seccomp_action {
	enum seccomp_action_kind kind;
	uint16_t data; /* ERRNO and TRACE only */
};

enum seccomp_op {
	SECCOMP_OP_EQ,
	SECCOMP_OP_NE,
	SECCOMP_OP_LT,
	SECCOMP_OP_LE,
	SECCOMP_OP_GT,
	SECCOMP_OP_GE,
	SECCOMP_OP_MASKED_EQ, /* (arg & mask) == val */
};

/* One check on argument (index): "dword" compares its low 32 bits, "qword" all 64. */
struct seccomp_arg {
	uint8_t index; /* 0-5 */
	bool dword;
	enum seccomp_op op;
	uint64_t mask; /* SECCOMP_OP_MASKED_EQ only */
	uint64_t val;
};

#define SECCOMP_MAX_ARGS 6

/* A syscall the filter matches when every one of its argument checks holds. */
struct seccomp_rule {
	const char *syscall; /* libseccomp's name for it */
	unsigned int nr_args;
	struct seccomp_arg args[SECCOMP_MAX_ARGS];
	const char *reason; /* why the thread needs it (the JSON "comment"); may be NULL */
};

struct seccomp_filter {
	struct seccomp_action default_action; /* a syscall no rule matches */
	struct seccomp_action filter_action;  /* a syscall a rule matches */
	const struct seccomp_rule *rules;
	size_t nr_rules;
};

struct seccomp_policy {
	struct seccomp_filter filters[SECCOMP_THREADS];
	/* What a parsed file owns (rules and their strings); NULL for the built-in policy. */
	void *owned;
};

/*
 * Parse a policy in Firecracker's seccompiler JSON from (text, len): an object with the
 * keys "vmm", "api" and "vcpu" and nothing else, each
 *   { "default_action": A, "filter_action": A,
 *     "filter": [ { "syscall": NAME, "args": [ { "index": 0-5, "type": "dword"|"qword",
 *                   "op": "eq"|"ne"|"lt"|"le"|"gt"|"ge"|{"masked_eq": MASK},
 *                   "val": N, "comment": S } ], "comment": S } ] }
 * with A one of "allow", "trap", "kill_process", "kill_thread", "log", {"errno": N},
 * {"trace": N}. ("kill" is taken as "kill_process".) Unknown keys are refused. A "val" or
 * MASK above 2^63-1 (more than jansson's integers hold) is written as a string, "0x..."
 * or decimal. 0, or -EINVAL with (why) naming the JSON path at fault, e.g.
 * "vmm.filter[3].args[0].op: must be eq, ne, lt, le, gt, ge or {"masked_eq": MASK}".
 * (*p) is overwritten; after a failure it owns nothing.
 * Syscall names are checked later, by the compiler, for the arch that runs them.
 */
int seccomp_policy_parse(const char *text, size_t len, struct seccomp_policy *p, char *why,
			 size_t why_len);

/* seccomp_policy_parse() on the contents of file (path); -errno with (why) if unreadable. */
int seccomp_policy_load(const char *path, struct seccomp_policy *p, char *why, size_t why_len);

/* Free what a parsed policy owns. Safe on the built-in policy and on a zeroed one. */
void seccomp_policy_free(struct seccomp_policy *p);

/* ember's own allow-lists (builtin.c): default "trap", filter "allow". */
void seccomp_policy_builtin(struct seccomp_policy *p);

/* (p) in the JSON seccomp_policy_parse() reads, comments and all (policy_print.c). */
json_t *seccomp_policy_json(const struct seccomp_policy *p);

#endif
