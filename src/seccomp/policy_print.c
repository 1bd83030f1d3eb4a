/*
 * A policy written back as Firecracker's seccompiler JSON (what --print-seccomp-filter
 * shows): the built-in allow-lists become a starting point for a --seccomp-filter file.
 */
#include <inttypes.h>
#include <stdio.h>

#include "policy.h"

static const char *const simple_actions[] = {
	[SECCOMP_ACT_ALLOW] = "allow",		     [SECCOMP_ACT_TRAP] = "trap",
	[SECCOMP_ACT_KILL_PROCESS] = "kill_process", [SECCOMP_ACT_KILL_THREAD] = "kill_thread",
	[SECCOMP_ACT_LOG] = "log",
};

static const char *const op_names[] = {
	[SECCOMP_OP_EQ] = "eq", [SECCOMP_OP_NE] = "ne", [SECCOMP_OP_LT] = "lt",
	[SECCOMP_OP_LE] = "le", [SECCOMP_OP_GT] = "gt", [SECCOMP_OP_GE] = "ge",
};

static json_t *action_json(struct seccomp_action a)
{
	if (a.kind == SECCOMP_ACT_ERRNO)
		return json_pack("{s:i}", "errno", (int)a.data);
	if (a.kind == SECCOMP_ACT_TRACE)
		return json_pack("{s:i}", "trace", (int)a.data);
	return json_string(simple_actions[a.kind]);
}

/* jansson's integers are signed: a larger value goes out as a hex string, which the parser takes. */
static json_t *u64_json(uint64_t v)
{
	char hex[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(hex, sizeof(hex), "0x%" PRIx64, v);
	return json_string(hex);
}

static json_t *arg_json(const struct seccomp_arg *a)
{
	json_t *op = a->op == SECCOMP_OP_MASKED_EQ ? json_pack("{s:o}", "masked_eq", u64_json(a->mask))
						   : json_string(op_names[a->op]);

	return json_pack("{s:i, s:s, s:o, s:o}", "index", (int)a->index, "type",
			 a->dword ? "dword" : "qword", "op", op, "val", u64_json(a->val));
}

static json_t *rule_json(const struct seccomp_rule *r)
{
	json_t *o = json_pack("{s:s}", "syscall", r->syscall), *args;
	unsigned int i;

	if (!o)
		return NULL;
	if (r->nr_args) {
		args = json_array();
		for (i = 0; i < r->nr_args; i++)
			json_array_append_new(args, arg_json(&r->args[i]));
		json_object_set_new(o, "args", args);
	}
	if (r->reason)
		json_object_set_new(o, "comment", json_string(r->reason));
	return o;
}

json_t *seccomp_policy_json(const struct seccomp_policy *p)
{
	json_t *root = json_object();
	size_t i;
	int t;

	for (t = 0; root && t < SECCOMP_THREADS; t++) {
		const struct seccomp_filter *f = &p->filters[t];
		json_t *rules = json_array();

		for (i = 0; rules && i < f->nr_rules; i++)
			json_array_append_new(rules, rule_json(&f->rules[i]));
		json_object_set_new(root, seccomp_thread_name(t),
				    json_pack("{s:o, s:o, s:o}", "default_action",
					      action_json(f->default_action), "filter_action",
					      action_json(f->filter_action), "filter", rules));
	}
	return root;
}
