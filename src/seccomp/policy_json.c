/*
 * A --seccomp-filter file, Firecracker's seccompiler JSON, read into struct seccomp_policy.
 * This only parses: whether a syscall name exists, or an action makes sense where it is
 * used, is the compiler's business (compile.c), for the arch it compiles for.
 *
 * Values: jansson holds integers as int64_t, so "val" and a "masked_eq" mask above
 * INT64_MAX cannot be JSON numbers here (jansson refuses them as "too big integer"); they
 * may instead be written as a string, decimal or 0x hex, which is accepted for any value.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "policy.h"

/*
 * Firecracker's own policies are a few tens of KiB; 1 MiB leaves room for a generous
 * hand-written one while bounding what a mistaken path (a log, an image) can make us hold.
 */
#define POLICY_MAX_BYTES (1 * MiB)
/*
 * A classic BPF program has at most 4096 instructions (BPF_MAXINSNS) and every rule costs
 * at least one, so a longer filter could never load; refusing it here also bounds the
 * memory a parse allocates.
 */
#define POLICY_MAX_RULES 4096
/* Enough for the deepest path, "vcpu.filter[4095].args[5].comment". */
#define PATH_MAX_LEN 64

/* One parse: where its error goes, and the block its rules and strings are carved from. */
struct pj {
	char *why;
	size_t why_len;
	struct seccomp_rule *rules; /* at the start of the block */
	size_t rules_used, rules_cap;
	char *strs; /* after the rules */
	size_t strs_used, strs_cap;
};

static const char *const thread_names[SECCOMP_THREADS] = {
    [SECCOMP_VMM] = "vmm",
    [SECCOMP_API] = "api",
    [SECCOMP_VCPU] = "vcpu",
};

const char *seccomp_thread_name(enum seccomp_thread t)
{
	return (unsigned int)t < SECCOMP_THREADS ? thread_names[t] : "?";
}

static int pj_fail(struct pj *pj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pj_fail(struct pj *pj, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (pj->why_len)
		vsnprintf(pj->why, pj->why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The top of the document has the empty path; messages call it "(top)". */
static const char *shown(const char *at)
{
	return *at ? at : "(top)";
}

/*
 * Only a key the file makes up (an action's) can make a path outgrow its buffer; it is
 * then cut short, marked with "...", since it only names a place in a message.
 */
static void path_cut(char *out, int n)
{
	if (n >= PATH_MAX_LEN)
		memcpy(out + PATH_MAX_LEN - 4, "...", 4);
}

static void path_key(char *out, const char *at, const char *key)
{
	path_cut(out, snprintf(out, PATH_MAX_LEN, "%s%s%s", at, *at ? "." : "", key));
}

static void path_index(char *out, const char *at, const char *key, size_t i)
{
	path_cut(out, snprintf(out, PATH_MAX_LEN, "%s.%s[%zu]", at, key, i));
}

/* (v) at (at) must be an object whose keys are all in the NULL-terminated (known). */
static int pj_object(struct pj *pj, json_t *v, const char *at, const char *const *known)
{
	const char *key;
	json_t *m;

	if (!json_is_object(v))
		return pj_fail(pj, "%s: must be an object", shown(at));
	json_object_foreach(v, key, m)
	{
		const char *const *k;

		for (k = known; *k && strcmp(*k, key); k++)
			;
		if (!*k)
			return pj_fail(pj, "%s: unknown key '%s'", shown(at), key);
	}
	return 0;
}

/*
 * Member (key) of object (obj) in (*out), its path in (path). An optional member that is
 * absent or null gives NULL, as serde's Option reads it; a required one that is null is
 * left for the caller to refuse as the wrong type, as serde would.
 */
static int pj_member(struct pj *pj, json_t *obj, const char *at, const char *key, bool required,
		     json_t **out, char *path)
{
	path_key(path, at, key);
	*out = json_object_get(obj, key);
	if (*out && json_is_null(*out) && !required)
		*out = NULL;
	if (!*out && required)
		return pj_fail(pj, "%s: missing", path);
	return 0;
}

/* A JSON integer in [0, max]. */
static int pj_small_uint(struct pj *pj, json_t *v, const char *path, uint64_t max, uint64_t *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return pj_fail(pj, "%s: must be an integer from 0 to %llu", path,
			       (unsigned long long)max);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max)
		return pj_fail(pj, "%s: %lld is out of range, must be from 0 to %llu", path,
			       (long long)n, (unsigned long long)max);
	*out = n;
	return 0;
}

/* "123" or "0x7b": digits only, no sign or spaces, no more than 64 bits. */
static int parse_u64_string(const char *s, uint64_t *out)
{
	unsigned int base = 10, d;
	uint64_t n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (__builtin_mul_overflow(n, base, &n) || __builtin_add_overflow(n, d, &n))
			return -ERANGE;
	}
	*out = n;
	return 0;
}

/* A 64-bit "val" or mask: a JSON integer, or a string for the values jansson cannot hold. */
static int pj_u64(struct pj *pj, json_t *v, const char *path, bool dword, uint64_t *out)
{
	uint64_t n;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		int err = parse_u64_string(json_string_value(v), &n);

		if (err == -ERANGE)
			return pj_fail(pj, "%s: \"%s\" is more than 64 bits", path,
				       json_string_value(v));
		if (err)
			return pj_fail(pj, "%s: \"%s\" is not a decimal or 0x hex number", path,
				       json_string_value(v));
	} else {
		return pj_fail(pj,
			       "%s: must be an unsigned integer, or a string holding one (decimal "
			       "or 0x hex; needed above %lld)",
			       path, (long long)INT64_MAX);
	}
	if (dword && n > UINT32_MAX)
		return pj_fail(pj, "%s: %llu does not fit the 32 bits of a dword", path,
			       (unsigned long long)n);
	*out = n;
	return 0;
}

/* A string member, non-empty if (nonempty), copied into the block; NULL when absent. */
static int pj_string(struct pj *pj, json_t *obj, const char *at, const char *key, bool required,
		     bool nonempty, const char **out)
{
	char path[PATH_MAX_LEN];
	json_t *v;
	size_t len;
	int err;

	*out = NULL;
	err = pj_member(pj, obj, at, key, required, &v, path);
	if (err || !v)
		return err;
	if (!json_is_string(v))
		return pj_fail(pj, "%s: must be a string", path);
	/* jansson refuses \u0000 unless asked (JSON_ALLOW_NUL): the length is the C string's. */
	len = json_string_length(v);
	if (nonempty && !len)
		return pj_fail(pj, "%s: must not be empty", path);
	if (len + 1 > pj->strs_cap - pj->strs_used)
		return pj_fail(pj, "%s: out of room (a bug: the measure missed it)", path);
	*out = memcpy(pj->strs + pj->strs_used, json_string_value(v), len + 1);
	pj->strs_used += len + 1;
	return 0;
}

static const char actions_list[] = "\"allow\", \"trap\", \"kill_process\", \"kill_thread\", "
				   "\"log\", {\"errno\": N} or {\"trace\": N}";

static const struct {
	const char *name;
	enum seccomp_action_kind kind;
} action_names[] = {
    {"allow", SECCOMP_ACT_ALLOW},
    {"trap", SECCOMP_ACT_TRAP},
    {"kill_process", SECCOMP_ACT_KILL_PROCESS},
    {"kill", SECCOMP_ACT_KILL_PROCESS}, /* the older name */
    {"kill_thread", SECCOMP_ACT_KILL_THREAD},
    {"log", SECCOMP_ACT_LOG},
};

static const char *const op_names[] = {
    [SECCOMP_OP_EQ] = "eq", [SECCOMP_OP_NE] = "ne", [SECCOMP_OP_LT] = "lt",
    [SECCOMP_OP_LE] = "le", [SECCOMP_OP_GT] = "gt", [SECCOMP_OP_GE] = "ge",
};

const char *seccomp_action_name(enum seccomp_action_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(action_names); i++)
		if (action_names[i].kind == kind)
			return action_names[i].name;
	return NULL;
}

const char *seccomp_op_name(enum seccomp_op op)
{
	return (size_t)op < ARRAY_SIZE(op_names) ? op_names[op] : NULL;
}

static int pj_action(struct pj *pj, json_t *obj, const char *at, const char *key,
		     struct seccomp_action *act)
{
	char path[PATH_MAX_LEN], inner[PATH_MAX_LEN];
	const char *name;
	uint64_t n = 0;
	json_t *v, *data;
	size_t i;
	int err;

	err = pj_member(pj, obj, at, key, true, &v, path);
	if (err)
		return err;
	if (json_is_string(v)) {
		for (i = 0; i < ARRAY_SIZE(action_names); i++)
			if (!strcmp(json_string_value(v), action_names[i].name)) {
				*act = (struct seccomp_action){.kind = action_names[i].kind};
				return 0;
			}
		return pj_fail(pj, "%s: unknown action \"%s\", must be %s", path,
			       json_string_value(v), actions_list);
	}
	if (!json_is_object(v) || json_object_size(v) != 1)
		return pj_fail(pj, "%s: must be %s", path, actions_list);
	name = json_object_iter_key(json_object_iter(v));
	data = json_object_iter_value(json_object_iter(v));
	path_key(inner, path, name);
	if (!strcmp(name, "errno")) {
		/* MAX_ERRNO: the kernel takes larger SECCOMP_RET_DATA as no error at all. */
		err = pj_small_uint(pj, data, inner, 4095, &n);
		*act = (struct seccomp_action){.kind = SECCOMP_ACT_ERRNO, .data = n};
	} else if (!strcmp(name, "trace")) {
		err = pj_small_uint(pj, data, inner, UINT16_MAX, &n);
		*act = (struct seccomp_action){.kind = SECCOMP_ACT_TRACE, .data = n};
	} else {
		return pj_fail(pj, "%s: unknown key '%s', must be %s", path, name, actions_list);
	}
	return err;
}

static int pj_op(struct pj *pj, json_t *arg, const char *at, struct seccomp_arg *a)
{
	char path[PATH_MAX_LEN], inner[PATH_MAX_LEN];
	json_t *v, *mask;
	size_t i;
	int err;

	err = pj_member(pj, arg, at, "op", true, &v, path);
	if (err)
		return err;
	if (json_is_string(v)) {
		for (i = 0; i < ARRAY_SIZE(op_names); i++)
			if (!strcmp(json_string_value(v), op_names[i])) {
				a->op = i;
				return 0;
			}
	} else if (json_is_object(v) && json_object_size(v) == 1 &&
		   (mask = json_object_get(v, "masked_eq"))) {
		a->op = SECCOMP_OP_MASKED_EQ;
		path_key(inner, path, "masked_eq");
		return pj_u64(pj, mask, inner, a->dword, &a->mask);
	}
	return pj_fail(pj, "%s: must be eq, ne, lt, le, gt, ge or {\"masked_eq\": MASK}", path);
}

static int pj_arg(struct pj *pj, json_t *v, const char *at, struct seccomp_arg *a)
{
	static const char *const known[] = {"index", "type", "op", "val", "comment", NULL};
	char path[PATH_MAX_LEN];
	const char *type;
	json_t *m;
	uint64_t n;
	int err;

	err = pj_object(pj, v, at, known) ?: pj_member(pj, v, at, "index", true, &m, path) ?:
	      pj_small_uint(pj, m, path, SECCOMP_MAX_ARGS - 1, &n) ?:
	      pj_member(pj, v, at, "type", true, &m, path);
	if (err)
		return err;
	a->index = n;
	type = json_string_value(m); /* NULL if not a string */
	if (!type || (strcmp(type, "dword") && strcmp(type, "qword")))
		return pj_fail(pj, "%s: must be \"dword\" or \"qword\"", path);
	a->dword = !strcmp(type, "dword");
	/* The type comes first: it decides how wide the mask and the value may be. */
	err = pj_op(pj, v, at, a) ?: pj_member(pj, v, at, "val", true, &m, path) ?:
	      pj_u64(pj, m, path, a->dword, &a->val) ?:
	      pj_member(pj, v, at, "comment", false, &m, path);
	if (!err && m && !json_is_string(m))
		err = pj_fail(pj, "%s: must be a string", path);
	return err;
}

static int pj_rule(struct pj *pj, json_t *v, const char *at, struct seccomp_rule *r)
{
	static const char *const known[] = {"syscall", "args", "comment", NULL};
	char path[PATH_MAX_LEN], item[PATH_MAX_LEN];
	json_t *args, *a;
	size_t i;
	int err;

	err = pj_object(pj, v, at, known) ?: pj_string(pj, v, at, "syscall", true, true, &r->syscall) ?:
	      pj_string(pj, v, at, "comment", false, false, &r->reason) ?:
	      pj_member(pj, v, at, "args", false, &args, path);
	if (err || !args)
		return err;
	if (!json_is_array(args))
		return pj_fail(pj, "%s: must be an array", path);
	if (json_array_size(args) > SECCOMP_MAX_ARGS)
		return pj_fail(pj, "%s: %zu checks, a syscall has only %d arguments", path,
			       json_array_size(args), SECCOMP_MAX_ARGS);
	json_array_foreach(args, i, a)
	{
		path_index(item, at, "args", i);
		err = pj_arg(pj, a, item, &r->args[i]);
		if (err)
			return err;
	}
	r->nr_args = i;
	return 0;
}

static int pj_filter(struct pj *pj, json_t *root, enum seccomp_thread t, struct seccomp_filter *f)
{
	static const char *const known[] = {"default_action", "filter_action", "filter", NULL};
	const char *at = thread_names[t];
	char path[PATH_MAX_LEN], item[PATH_MAX_LEN];
	struct seccomp_rule *base;
	json_t *v, *rules, *r;
	size_t i;
	int err;

	err = pj_member(pj, root, "", at, true, &v, path) ?: pj_object(pj, v, at, known) ?:
	      pj_action(pj, v, at, "default_action", &f->default_action) ?:
	      pj_action(pj, v, at, "filter_action", &f->filter_action) ?:
	      pj_member(pj, v, at, "filter", true, &rules, path);
	if (err)
		return err;
	if (!json_is_array(rules))
		return pj_fail(pj, "%s: must be an array", path);
	if (json_array_size(rules) > POLICY_MAX_RULES)
		return pj_fail(pj, "%s: %zu rules, more than the %d a filter may have", path,
			       json_array_size(rules), POLICY_MAX_RULES);
	if (json_array_size(rules) > pj->rules_cap - pj->rules_used)
		return pj_fail(pj, "%s: out of room (a bug: the measure missed it)", path);
	base = pj->rules + pj->rules_used;
	pj->rules_used += json_array_size(rules);
	json_array_foreach(rules, i, r)
	{
		path_index(item, at, "filter", i);
		err = pj_rule(pj, r, item, &base[i]);
		if (err)
			return err;
	}
	f->rules = base;
	f->nr_rules = i;
	return 0;
}

static size_t string_size(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_length(v) + 1 : 0;
}

/*
 * What the rules and their strings will take, so that one block holds them all. Only
 * what the parse will store is counted (an over-long filter is refused before it stores
 * anything), which keeps the block bounded whatever the document.
 */
static void measure(json_t *root, size_t *nr_rules, size_t *str_bytes)
{
	unsigned int t;
	json_t *rules, *r;
	size_t i;

	*nr_rules = *str_bytes = 0;
	for (t = 0; t < SECCOMP_THREADS; t++) {
		rules = json_object_get(json_object_get(root, thread_names[t]), "filter");
		if (!json_is_array(rules) || json_array_size(rules) > POLICY_MAX_RULES)
			continue;
		*nr_rules += json_array_size(rules);
		json_array_foreach(rules, i, r) *str_bytes +=
		    string_size(r, "syscall") + string_size(r, "comment");
	}
}

int seccomp_policy_parse(const char *text, size_t len, struct seccomp_policy *p, char *why,
			 size_t why_len)
{
	static const char *const known[] = {"vmm", "api", "vcpu", NULL};
	struct pj pj = {.why = why, .why_len = why_len};
	struct seccomp_policy out = {0};
	size_t nr_rules, str_bytes;
	json_error_t jerr;
	unsigned int t;
	json_t *root;
	int err;

	memset(p, 0, sizeof(*p));
	if (len > POLICY_MAX_BYTES)
		return pj_fail(&pj, "(top): %zu bytes, more than the %llu a policy may have", len,
			       POLICY_MAX_BYTES);
	/* serde, which reads Firecracker's files, refuses a repeated key; so do we. */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		const char *hint = json_error_code(&jerr) == json_error_numeric_overflow
				       ? " (write a value above 2^63-1 as a string)"
				       : "";

		if (jerr.line > 0)
			return pj_fail(&pj, "line %d column %d: %s%s", jerr.line, jerr.column,
				       jerr.text, hint);
		return pj_fail(&pj, "%s%s", jerr.text, hint);
	}
	err = pj_object(&pj, root, "", known);
	if (err)
		goto out;
	measure(root, &nr_rules, &str_bytes);
	/* Rules first: the block's start is aligned for them, the strings need no alignment. */
	out.owned = calloc(1, nr_rules * sizeof(struct seccomp_rule) + str_bytes + 1);
	if (!out.owned) {
		err = -ENOMEM;
		snprintf(why, why_len, "no memory for %zu rules", nr_rules);
		goto out;
	}
	pj.rules = out.owned;
	pj.rules_cap = nr_rules;
	pj.strs = (char *)(pj.rules + nr_rules);
	pj.strs_cap = str_bytes;
	for (t = 0; t < SECCOMP_THREADS && !err; t++)
		err = pj_filter(&pj, root, t, &out.filters[t]);
	if (err)
		free(out.owned);
	else
		*p = out;
out:
	json_decref(root);
	return err;
}

int seccomp_policy_load(const char *path, struct seccomp_policy *p, char *why, size_t why_len)
{
	uint8_t *buf;
	size_t len;
	int err;

	memset(p, 0, sizeof(*p));
	err = read_file(path, POLICY_MAX_BYTES, &buf, &len);
	if (err == -EFBIG) {
		snprintf(why, why_len, "%s: larger than the %llu bytes a policy may have", path,
			 POLICY_MAX_BYTES);
		return err;
	}
	if (err == -EINVAL) {
		snprintf(why, why_len, "%s: not a regular file", path);
		return err;
	}
	if (err) {
		snprintf(why, why_len, "%s: %s", path, strerror(-err));
		return err;
	}
	err = seccomp_policy_parse((const char *)buf, len, p, why, why_len);
	free(buf);
	return err;
}

void seccomp_policy_free(struct seccomp_policy *p)
{
	free(p->owned);
	memset(p, 0, sizeof(*p));
}
