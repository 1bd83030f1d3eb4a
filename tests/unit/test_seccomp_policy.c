/* --seccomp-filter: seccompiler JSON onto struct seccomp_policy, or one error naming the path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "unit.h"
#include "seccomp/policy.h"

/* A filter with no rules, for the threads a case does not look at. */
#define EMPTY "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": []}"

static const char full_policy[] =
    "{\n"
    "  \"vmm\": {\n"
    "    \"default_action\": \"trap\",\n"
    "    \"filter_action\": \"allow\",\n"
    "    \"filter\": [\n"
    "      {\"syscall\": \"read\"},\n"
    "      {\"syscall\": \"ioctl\", \"comment\": \"KVM_RUN\", \"args\": [\n"
    "        {\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 44672,\n"
    "         \"comment\": \"the request\"}]},\n"
    "      {\"syscall\": \"mmap\", \"args\": [\n"
    "        {\"index\": 0, \"type\": \"qword\", \"op\": \"ne\", \"val\": 0},\n"
    "        {\"index\": 1, \"type\": \"qword\", \"op\": \"lt\", \"val\": 9223372036854775807},\n"
    "        {\"index\": 2, \"type\": \"dword\", \"op\": \"le\", \"val\": \"0xffffffff\"},\n"
    "        {\"index\": 3, \"type\": \"qword\", \"op\": \"gt\", \"val\": "
    "\"18446744073709551615\"},\n"
    "        {\"index\": 4, \"type\": \"qword\", \"op\": \"ge\", \"val\": \"0XaBc\"},\n"
    "        {\"index\": 5, \"type\": \"dword\", \"op\": {\"masked_eq\": 4}, \"val\": 4}]},\n"
    "      {\"syscall\": \"futex\", \"args\": [\n"
    "        {\"index\": 5, \"type\": \"qword\",\n"
    "         \"op\": {\"masked_eq\": \"0xffffffffffffffff\"}, \"val\": 0}]},\n"
    "      {\"syscall\": \"close\", \"args\": null, \"comment\": null}\n"
    "    ]\n"
    "  },\n"
    "  \"api\": {\"default_action\": {\"errno\": 4095}, \"filter_action\": \"log\",\n"
    "          \"filter\": [{\"syscall\": \"accept4\", \"args\": []}]},\n"
    "  \"vcpu\": {\"default_action\": \"kill\", \"filter_action\": {\"trace\": 65535},\n"
    "           \"filter\": []}\n"
    "}\n";

static int parse(const char *json, struct seccomp_policy *p, char *why, size_t why_len)
{
	why[0] = '\0';
	return seccomp_policy_parse(json, strlen(json), p, why, why_len);
}

static void assert_owns_nothing(const struct seccomp_policy *p)
{
	static const struct seccomp_policy zero;

	assert_memory_equal(p, &zero, sizeof(zero));
}

static void test_full(void **state)
{
	const struct seccomp_filter *f;
	const struct seccomp_arg *a;
	struct seccomp_policy p;
	char why[256];

	(void)state;
	assert_int_equal(parse(full_policy, &p, why, sizeof(why)), 0);
	assert_non_null(p.owned);

	f = &p.filters[SECCOMP_VMM];
	assert_int_equal(f->default_action.kind, SECCOMP_ACT_TRAP);
	assert_int_equal(f->filter_action.kind, SECCOMP_ACT_ALLOW);
	assert_int_equal(f->nr_rules, 5);
	assert_string_equal(f->rules[0].syscall, "read");
	assert_int_equal(f->rules[0].nr_args, 0);
	assert_null(f->rules[0].reason);

	assert_string_equal(f->rules[1].syscall, "ioctl");
	assert_string_equal(f->rules[1].reason, "KVM_RUN");
	assert_int_equal(f->rules[1].nr_args, 1);
	a = &f->rules[1].args[0];
	assert_int_equal(a->index, 1);
	assert_true(a->dword);
	assert_int_equal(a->op, SECCOMP_OP_EQ);
	assert_int_equal(a->val, 44672);

	assert_int_equal(f->rules[2].nr_args, 6);
	a = f->rules[2].args;
	assert_int_equal(a[0].op, SECCOMP_OP_NE);
	assert_false(a[0].dword);
	assert_int_equal(a[1].op, SECCOMP_OP_LT);
	assert_true(a[1].val == INT64_MAX);
	assert_int_equal(a[2].op, SECCOMP_OP_LE);
	assert_true(a[2].dword);
	assert_true(a[2].val == UINT32_MAX);
	assert_int_equal(a[3].op, SECCOMP_OP_GT);
	assert_true(a[3].val == UINT64_MAX);
	assert_int_equal(a[4].op, SECCOMP_OP_GE);
	assert_int_equal(a[4].val, 0xabc);
	assert_int_equal(a[4].index, 4);
	assert_int_equal(a[5].op, SECCOMP_OP_MASKED_EQ);
	assert_int_equal(a[5].index, 5);
	assert_int_equal(a[5].mask, 4);
	assert_int_equal(a[5].val, 4);

	a = &f->rules[3].args[0];
	assert_int_equal(a->op, SECCOMP_OP_MASKED_EQ);
	assert_true(a->mask == UINT64_MAX);
	assert_int_equal(a->val, 0);

	assert_string_equal(f->rules[4].syscall, "close");
	assert_int_equal(f->rules[4].nr_args, 0);
	assert_null(f->rules[4].reason);

	f = &p.filters[SECCOMP_API];
	assert_int_equal(f->default_action.kind, SECCOMP_ACT_ERRNO);
	assert_int_equal(f->default_action.data, 4095);
	assert_int_equal(f->filter_action.kind, SECCOMP_ACT_LOG);
	assert_int_equal(f->nr_rules, 1);
	assert_string_equal(f->rules[0].syscall, "accept4");
	assert_int_equal(f->rules[0].nr_args, 0);

	f = &p.filters[SECCOMP_VCPU];
	assert_int_equal(f->default_action.kind, SECCOMP_ACT_KILL_PROCESS);
	assert_int_equal(f->filter_action.kind, SECCOMP_ACT_TRACE);
	assert_int_equal(f->filter_action.data, 65535);
	assert_int_equal(f->nr_rules, 0);

	seccomp_policy_free(&p);
	assert_owns_nothing(&p);
}

static void test_actions(void **state)
{
	static const struct {
		const char *json;
		enum seccomp_action_kind kind;
		uint16_t data;
	} cases[] = {
	    {"\"allow\"", SECCOMP_ACT_ALLOW, 0},
	    {"\"trap\"", SECCOMP_ACT_TRAP, 0},
	    {"\"kill_process\"", SECCOMP_ACT_KILL_PROCESS, 0},
	    {"\"kill\"", SECCOMP_ACT_KILL_PROCESS, 0},
	    {"\"kill_thread\"", SECCOMP_ACT_KILL_THREAD, 0},
	    {"\"log\"", SECCOMP_ACT_LOG, 0},
	    {"{\"errno\": 0}", SECCOMP_ACT_ERRNO, 0},
	    {"{\"errno\": 1}", SECCOMP_ACT_ERRNO, 1},
	    {"{\"trace\": 7}", SECCOMP_ACT_TRACE, 7},
	};
	struct seccomp_policy p;
	char json[512], why[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(json, sizeof(json),
			 "{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": {\"default_action\": "
			 "%s, \"filter_action\": %s, \"filter\": []}}",
			 cases[i].json, cases[i].json);
		assert_int_equal(parse(json, &p, why, sizeof(why)), 0);
		assert_int_equal(p.filters[SECCOMP_VCPU].default_action.kind, cases[i].kind);
		assert_int_equal(p.filters[SECCOMP_VCPU].default_action.data, cases[i].data);
		assert_int_equal(p.filters[SECCOMP_VCPU].filter_action.kind, cases[i].kind);
		assert_int_equal(p.filters[SECCOMP_VCPU].filter_action.data, cases[i].data);
		seccomp_policy_free(&p);
	}
}

/* (json) must fail with -EINVAL and an error starting with (want), leaving (p) empty. */
static void expect_error(const char *json, const char *want)
{
	struct seccomp_policy p;
	char why[256];

	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(parse(json, &p, why, sizeof(why)), -EINVAL);
	if (strncmp(why, want, strlen(want)))
		fail_msg("for %s\nerror '%s' does not start with '%s'", json, why, want);
	assert_owns_nothing(&p);
	seccomp_policy_free(&p);
}

/* A policy whose vmm filter is (vmm), the others empty. */
static void expect_vmm_error(const char *vmm, const char *want)
{
	char json[2048];

	snprintf(json, sizeof(json), "{\"vmm\": %s, \"api\": " EMPTY ", \"vcpu\": " EMPTY "}", vmm);
	expect_error(json, want);
}

/* A policy whose vmm filter has the rules (rules). */
static void expect_rule_error(const char *rules, const char *want)
{
	char vmm[1024];

	snprintf(vmm, sizeof(vmm),
		 "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [%s]}",
		 rules);
	expect_vmm_error(vmm, want);
}

/* A policy whose vmm filter's second rule checks (arg), after a good one. */
static void expect_arg_error(const char *arg, const char *want)
{
	char rules[512];

	snprintf(rules, sizeof(rules),
		 "{\"syscall\": \"read\"}, {\"syscall\": \"ioctl\", \"args\": [{\"index\": 0, "
		 "\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}, %s]}",
		 arg);
	expect_rule_error(rules, want);
}

static void test_bad_document(void **state)
{
	(void)state;
	expect_error("", "line 1 column 0: '[' or '{' expected");
	expect_error("{\"vmm\": ", "line 1 column 8: ");
	expect_error("{}\n}", "line 2 column 1: end of file expected");
	expect_error("[]", "(top): must be an object");
	expect_error("{\"vmm\": " EMPTY ", \"vmm\": " EMPTY "}", "line 1 column");
	expect_error("{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": " EMPTY ", \"foo\": 1}",
		     "(top): unknown key 'foo'");
	expect_error("{\"vmm\": " EMPTY ", \"vcpu\": " EMPTY "}", "api: missing");
	expect_error("{\"vmm\": " EMPTY ", \"api\": " EMPTY "}", "vcpu: missing");
	expect_error("{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": null}",
		     "vcpu: must be an object");
	expect_error("{\"vmm\": [], \"api\": " EMPTY ", \"vcpu\": " EMPTY "}",
		     "vmm: must be an object");
}

static void test_too_big_integer(void **state)
{
	struct seccomp_policy p;
	char why[256];

	(void)state;
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", "
			 "\"val\": 18446744073709551615}",
			 "line 1 column");
	assert_int_equal(parse("{\"vmm\": 18446744073709551615}", &p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "as a string"));
}

static void test_bad_filter(void **state)
{
	(void)state;
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": \"allow\", "
			 "\"filter\": [], \"x\": 1}",
			 "vmm: unknown key 'x'");
	expect_vmm_error("{\"filter_action\": \"allow\", \"filter\": []}",
			 "vmm.default_action: missing");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter\": []}",
			 "vmm.filter_action: missing");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": \"allow\"}",
			 "vmm.filter: missing");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": \"allow\", "
			 "\"filter\": {}}",
			 "vmm.filter: must be an array");
	expect_vmm_error("{\"default_action\": \"deny\", \"filter_action\": \"allow\", "
			 "\"filter\": []}",
			 "vmm.default_action: unknown action \"deny\", must be \"allow\"");
	expect_vmm_error("{\"default_action\": \"Allow\", \"filter_action\": \"allow\", "
			 "\"filter\": []}",
			 "vmm.default_action: unknown action \"Allow\"");
	expect_vmm_error("{\"default_action\": null, \"filter_action\": \"allow\", "
			 "\"filter\": []}",
			 "vmm.default_action: must be \"allow\"");
	expect_vmm_error("{\"default_action\": 3, \"filter_action\": \"allow\", \"filter\": []}",
			 "vmm.default_action: must be \"allow\"");
	expect_vmm_error("{\"default_action\": {}, \"filter_action\": \"allow\", \"filter\": []}",
			 "vmm.default_action: must be \"allow\"");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": "
			 "{\"errno\": 1, \"trace\": 1}, \"filter\": []}",
			 "vmm.filter_action: must be \"allow\"");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": {\"foo\": 1}, "
			 "\"filter\": []}",
			 "vmm.filter_action: unknown key 'foo'");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": {\"errno\": 4096}, "
			 "\"filter\": []}",
			 "vmm.filter_action.errno: 4096 is out of range, must be from 0 to 4095");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": {\"errno\": -1}, "
			 "\"filter\": []}",
			 "vmm.filter_action.errno: -1 is out of range");
	expect_vmm_error("{\"default_action\": \"trap\", \"filter_action\": {\"errno\": \"1\"}, "
			 "\"filter\": []}",
			 "vmm.filter_action.errno: must be an integer from 0 to 4095");
	expect_vmm_error(
	    "{\"default_action\": {\"trace\": 65536}, \"filter_action\": \"allow\", "
	    "\"filter\": []}",
	    "vmm.default_action.trace: 65536 is out of range, must be from 0 to 65535");
}

static void test_bad_rule(void **state)
{
	(void)state;
	expect_rule_error("[]", "vmm.filter[0]: must be an object");
	expect_rule_error("{\"syscall\": \"read\"}, {\"sycall\": \"read\"}",
			  "vmm.filter[1]: unknown key 'sycall'");
	expect_rule_error("{\"comment\": \"x\"}", "vmm.filter[0].syscall: missing");
	expect_rule_error("{\"syscall\": null}", "vmm.filter[0].syscall: must be a string");
	expect_rule_error("{\"syscall\": \"\"}", "vmm.filter[0].syscall: must not be empty");
	expect_rule_error("{\"syscall\": 0}", "vmm.filter[0].syscall: must be a string");
	expect_rule_error("{\"syscall\": \"read\", \"comment\": 1}",
			  "vmm.filter[0].comment: must be a string");
	expect_rule_error("{\"syscall\": \"read\", \"args\": {}}",
			  "vmm.filter[0].args: must be an array");
	expect_rule_error("{\"syscall\": \"read\", \"args\": [{}, {}, {}, {}, {}, {}, {}]}",
			  "vmm.filter[0].args: 7 checks, a syscall has only 6 arguments");
	expect_error("{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": {\"default_action\": "
		     "\"trap\", \"filter_action\": \"allow\", \"filter\": [{\"syscall\": \"a\"}, "
		     "{\"syscall\": \"b\"}, {\"syscall\": \"c\", \"args\": [{\"index\": 0, "
		     "\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}, {\"index\": 0, "
		     "\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}, {\"index\": 0, "
		     "\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}, {\"index\": 0, "
		     "\"type\": \"dword\", \"op\": \"eqq\", \"val\": 1}]}]}}",
		     "vcpu.filter[2].args[3].op: must be eq, ne, lt, le, gt, ge or "
		     "{\"masked_eq\": MASK}");
}

static void test_bad_arg(void **state)
{
	(void)state;
	expect_arg_error("1", "vmm.filter[1].args[1]: must be an object");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1, "
			 "\"value\": 1}",
			 "vmm.filter[1].args[1]: unknown key 'value'");
	expect_arg_error("{\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}",
			 "vmm.filter[1].args[1].index: missing");
	expect_arg_error("{\"index\": 6, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1}",
			 "vmm.filter[1].args[1].index: 6 is out of range, must be from 0 to 5");
	expect_arg_error("{\"index\": \"0\", \"type\": \"dword\", \"op\": \"eq\", \"val\": 1}",
			 "vmm.filter[1].args[1].index: must be an integer from 0 to 5");
	expect_arg_error("{\"index\": 0, \"op\": \"eq\", \"val\": 1}",
			 "vmm.filter[1].args[1].type: missing");
	expect_arg_error("{\"index\": 0, \"type\": \"word\", \"op\": \"eq\", \"val\": 1}",
			 "vmm.filter[1].args[1].type: must be \"dword\" or \"qword\"");
	expect_arg_error("{\"index\": 0, \"type\": 4, \"op\": \"eq\", \"val\": 1}",
			 "vmm.filter[1].args[1].type: must be \"dword\" or \"qword\"");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"val\": 1}",
			 "vmm.filter[1].args[1].op: missing");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"EQ\", \"val\": 1}",
			 "vmm.filter[1].args[1].op: must be eq, ne");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": {\"masked\": 1}, \"val\": 1}",
			 "vmm.filter[1].args[1].op: must be eq, ne");
	expect_arg_error(
	    "{\"index\": 0, \"type\": \"dword\", \"op\": {\"masked_eq\": 1, \"x\": 1}, "
	    "\"val\": 1}",
	    "vmm.filter[1].args[1].op: must be eq, ne");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": "
			 "{\"masked_eq\": 4294967296}, \"val\": 1}",
			 "vmm.filter[1].args[1].op.masked_eq: 4294967296 does not fit the 32 bits "
			 "of a dword");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": {\"masked_eq\": -1}, "
			 "\"val\": 1}",
			 "vmm.filter[1].args[1].op.masked_eq: must be an unsigned integer");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\"}",
			 "vmm.filter[1].args[1].val: missing");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": null}",
			 "vmm.filter[1].args[1].val: must be an unsigned integer");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": -1}",
			 "vmm.filter[1].args[1].val: must be an unsigned integer");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1.0}",
			 "vmm.filter[1].args[1].val: must be an unsigned integer");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": true}",
			 "vmm.filter[1].args[1].val: must be an unsigned integer");
	expect_arg_error(
	    "{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": 4294967296}",
	    "vmm.filter[1].args[1].val: 4294967296 does not fit the 32 bits of a dword");
	expect_arg_error("{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", "
			 "\"val\": \"0x100000000\"}",
			 "vmm.filter[1].args[1].val: 4294967296 does not fit");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", "
			 "\"val\": \"0x10000000000000000\"}",
			 "vmm.filter[1].args[1].val: \"0x10000000000000000\" is more than 64 bits");
	expect_arg_error(
	    "{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", "
	    "\"val\": \"18446744073709551616\"}",
	    "vmm.filter[1].args[1].val: \"18446744073709551616\" is more than 64 bits");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", \"val\": \"\"}",
			 "vmm.filter[1].args[1].val: \"\" is not a decimal or 0x hex number");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", \"val\": \"0x\"}",
			 "vmm.filter[1].args[1].val: \"0x\" is not");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", \"val\": \"12a\"}",
			 "vmm.filter[1].args[1].val: \"12a\" is not");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", \"val\": \"-1\"}",
			 "vmm.filter[1].args[1].val: \"-1\" is not");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", \"val\": \" 1\"}",
			 "vmm.filter[1].args[1].val: \" 1\" is not");
	expect_arg_error("{\"index\": 0, \"type\": \"qword\", \"op\": \"eq\", \"val\": 1, "
			 "\"comment\": []}",
			 "vmm.filter[1].args[1].comment: must be a string");
}

/* A long key the file makes up is cut short in the path, not overflowed. */
static void test_long_key(void **state)
{
	char key[200], vmm[512];

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(vmm, sizeof(vmm),
		 "{\"default_action\": \"trap\", \"filter_action\": {\"%s\": 1}, \"filter\": []}",
		 key);
	expect_vmm_error(vmm, "vmm.filter_action: unknown key 'kkkk");
}

/* Sizes: 4096 rules are fine, 4097 are not; neither is a document over 1 MiB. */
static void test_limits(void **state)
{
	static const char rule[] = "{\"syscall\": \"read\"},";
	static const char head[] = "{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": "
				   "{\"default_action\": \"trap\", \"filter_action\": \"allow\", "
				   "\"filter\": [";
	size_t n, len, cap = sizeof(head) + 4097 * (sizeof(rule) - 1) + 16;
	struct seccomp_policy p;
	char *json = malloc(cap), why[256];

	(void)state;
	assert_non_null(json);
	for (n = 4096; n <= 4097; n++) {
		size_t i;

		strcpy(json, head);
		len = strlen(json);
		for (i = 0; i < n; i++) {
			memcpy(json + len, rule, sizeof(rule) - 1);
			len += sizeof(rule) - 1;
		}
		strcpy(json + len - 1, "]}}");
		if (n == 4096) {
			assert_int_equal(parse(json, &p, why, sizeof(why)), 0);
			assert_int_equal(p.filters[SECCOMP_VCPU].nr_rules, 4096);
			assert_string_equal(p.filters[SECCOMP_VCPU].rules[4095].syscall, "read");
			seccomp_policy_free(&p);
		} else {
			expect_error(json, "vcpu.filter: 4097 rules, more than the 4096");
		}
	}
	free(json);

	len = 1024 * 1024 + 1;
	json = malloc(len);
	assert_non_null(json);
	memset(json, ' ', len);
	memcpy(json, "{}", 2);
	assert_int_equal(seccomp_policy_parse(json, len, &p, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "(top): 1048577 bytes, more than the 1048576 a policy may have");
	assert_owns_nothing(&p);
	/* The text need not end in a NUL: only (len) bytes are read. */
	memcpy(json, "{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": " EMPTY "}",
	       strlen("{\"vmm\": " EMPTY ", \"api\": " EMPTY ", \"vcpu\": " EMPTY "}"));
	assert_int_equal(seccomp_policy_parse(json, 1024 * 1024, &p, why, sizeof(why)), 0);
	seccomp_policy_free(&p);
	free(json);
}

/* A short (why) is cut, never overrun; a zero-length one is left alone. */
static void test_short_why(void **state)
{
	struct seccomp_policy p;
	char why[8];

	(void)state;
	memset(why, 'x', sizeof(why));
	assert_int_equal(seccomp_policy_parse("[]", 2, &p, why, 4), -EINVAL);
	assert_string_equal(why, "(to");
	assert_int_equal(why[4], 'x');
	assert_int_equal(seccomp_policy_parse("[]", 2, &p, NULL, 0), -EINVAL);
}

static int write_temp(const char *text, char *path)
{
	int fd;

	strcpy(path, "/tmp/ember-seccomp-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	return fd;
}

static void test_load(void **state)
{
	struct seccomp_policy p;
	char path[64], why[256];
	int fd;

	(void)state;
	fd = write_temp(full_policy, path);
	close(fd);
	assert_int_equal(seccomp_policy_load(path, &p, why, sizeof(why)), 0);
	assert_int_equal(p.filters[SECCOMP_VMM].nr_rules, 5);
	assert_string_equal(p.filters[SECCOMP_VMM].rules[1].reason, "KVM_RUN");
	seccomp_policy_free(&p);

	/* Grown past 1 MiB (sparse): refused before it is read. */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
	close(fd);
	assert_int_equal(seccomp_policy_load(path, &p, why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "larger than the 1048576 bytes"));
	assert_owns_nothing(&p);
	unlink(path);

	assert_int_equal(seccomp_policy_load(path, &p, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, "No such file"));
	assert_owns_nothing(&p);

	assert_int_equal(seccomp_policy_load("/tmp", &p, why, sizeof(why)), -EISDIR);
	assert_int_equal(seccomp_policy_load("/dev/null", &p, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "/dev/null: not a regular file");

	/* A parse error names the JSON path, not the file. */
	fd = write_temp("{\"vmm\": 1}", path);
	close(fd);
	assert_int_equal(seccomp_policy_load(path, &p, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "vmm: must be an object");
	unlink(path);
}

/* Free is safe on a zeroed policy and on one that owns nothing, as the built-in one. */
static void test_free_policy(void **state)
{
	static const struct seccomp_rule rules[] = {{.syscall = "read", .reason = "stdin"}};
	struct seccomp_policy p = {0};

	(void)state;
	seccomp_policy_free(&p);
	seccomp_policy_free(&p);
	p.filters[SECCOMP_VMM].rules = rules;
	p.filters[SECCOMP_VMM].nr_rules = ARRAY_SIZE(rules);
	seccomp_policy_free(&p);
	assert_owns_nothing(&p);
	assert_string_equal(rules[0].syscall, "read");
}

static void test_thread_names(void **state)
{
	(void)state;
	assert_string_equal(seccomp_thread_name(SECCOMP_VMM), "vmm");
	assert_string_equal(seccomp_thread_name(SECCOMP_API), "api");
	assert_string_equal(seccomp_thread_name(SECCOMP_VCPU), "vcpu");
	assert_string_equal(seccomp_thread_name(SECCOMP_THREADS), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),	 cmocka_unit_test(test_actions),
	    cmocka_unit_test(test_bad_document), cmocka_unit_test(test_too_big_integer),
	    cmocka_unit_test(test_bad_filter),	 cmocka_unit_test(test_bad_rule),
	    cmocka_unit_test(test_bad_arg),	 cmocka_unit_test(test_long_key),
	    cmocka_unit_test(test_limits),	 cmocka_unit_test(test_short_why),
	    cmocka_unit_test(test_load),	 cmocka_unit_test(test_free_policy),
	    cmocka_unit_test(test_thread_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
