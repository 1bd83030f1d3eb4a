/*
 * libFuzzer target: the fuzzer's bytes are a --seccomp-filter file. The parser must refuse
 * or accept without reading past them, and what it accepts must hold what the compiler
 * relies on: bounded rule and argument counts, argument indexes 0-5, named syscalls,
 * dword values and masks within 32 bits. A refusal must leave nothing owned.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp/policy.h"

static void check_filter(const struct seccomp_filter *f)
{
	size_t i, j;

	if (f->nr_rules > 4096 || (f->nr_rules && !f->rules))
		abort();
	for (i = 0; i < f->nr_rules; i++) {
		const struct seccomp_rule *r = &f->rules[i];

		if (!r->syscall || !r->syscall[0] || r->nr_args > SECCOMP_MAX_ARGS)
			abort();
		for (j = 0; j < r->nr_args; j++) {
			const struct seccomp_arg *a = &r->args[j];

			if (a->index >= SECCOMP_MAX_ARGS || a->op > SECCOMP_OP_MASKED_EQ ||
			    (a->dword && (a->val > UINT32_MAX || a->mask > UINT32_MAX)))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seccomp_policy p;
	char why[256];
	unsigned int t;

	/* The input is not NUL-terminated: the parser must keep to (size) bytes. */
	if (seccomp_policy_parse((const char *)data, size, &p, why, sizeof(why)) == 0) {
		for (t = 0; t < SECCOMP_THREADS; t++)
			check_filter(&p.filters[t]);
	} else if (p.owned || !memchr(why, '\0', sizeof(why))) {
		abort();
	}
	seccomp_policy_free(&p);
	return 0;
}
