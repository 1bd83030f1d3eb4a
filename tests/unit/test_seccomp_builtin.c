/*
 * The built-in allow-lists and the compiler: every name in them is a syscall on at least
 * one of the three arches (a typo would silently allow nothing), each compiles for this
 * arch, a confined thread runs what its list names and a call outside it ends the process
 * with 148 and a line naming the syscall and the thread.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "seccomp/confine.h"
#include "seccomp/policy.h"

static const struct {
	const char *name;
	uint32_t token;
} arches[] = {
	{ "x86_64", SCMP_ARCH_X86_64 },
	{ "aarch64", SCMP_ARCH_AARCH64 },
	{ "riscv64", SCMP_ARCH_RISCV64 },
};

/* Distinct syscalls of (f) that (arch) has. */
static size_t syscalls_on(const struct seccomp_filter *f, uint32_t arch)
{
	size_t i, j, n = 0;

	for (i = 0; i < f->nr_rules; i++) {
		int nr = seccomp_syscall_resolve_name_arch(arch, f->rules[i].syscall);
		bool seen = false;

		if (nr < 0)
			continue;
		for (j = 0; j < i; j++)
			seen |= !strcmp(f->rules[j].syscall, f->rules[i].syscall);
		n += !seen;
	}
	return n;
}

static void test_every_name_is_a_syscall_somewhere(void **state)
{
	struct seccomp_policy p;
	size_t i, a;
	int t;

	(void)state;
	seccomp_policy_builtin(&p);
	for (t = 0; t < SECCOMP_THREADS; t++) {
		assert_true(p.filters[t].nr_rules > 0);
		for (i = 0; i < p.filters[t].nr_rules; i++) {
			const struct seccomp_rule *r = &p.filters[t].rules[i];
			bool somewhere = false;

			for (a = 0; a < ARRAY_SIZE(arches); a++)
				somewhere |= seccomp_syscall_resolve_name_arch(arches[a].token,
									      r->syscall) >= 0;
			if (!somewhere)
				fail_msg("%s: '%s' is a syscall on no arch", seccomp_thread_name(t),
					 r->syscall);
			assert_non_null(r->reason);
		}
	}
	/* The sizes the README's table and the closing notes quote. */
	for (a = 0; a < ARRAY_SIZE(arches); a++)
		print_message("allow-list sizes on %s: vmm %zu, api %zu, vcpu %zu\n",
			      arches[a].name, syscalls_on(&p.filters[SECCOMP_VMM], arches[a].token),
			      syscalls_on(&p.filters[SECCOMP_API], arches[a].token),
			      syscalls_on(&p.filters[SECCOMP_VCPU], arches[a].token));
}

static void test_builtin_compiles(void **state)
{
	struct seccomp_filters f;
	struct seccomp_policy p;
	char why[256] = "";
	int t;

	(void)state;
	seccomp_filters_init(&f, NULL, NULL);
	seccomp_policy_builtin(&p);
	assert_int_equal(seccomp_filters_build(&f, &p, false, why, sizeof(why)), 0);
	for (t = 0; t < SECCOMP_THREADS; t++) {
		assert_true(f.progs[t].len > 10);
		assert_true(syscalls_on(&p.filters[t], seccomp_native_arch()) > 10);
	}
	assert_string_equal(f.names[SYS_read], "read");
	seccomp_filters_free(&f);
}

static const struct seccomp_rule read_only[] = { { .syscall = "read", .reason = "test" } };
static const struct seccomp_rule dword_gt = {
	.syscall = "dup",
	.nr_args = 1,
	.args = { { .index = 0, .dword = true, .op = SECCOMP_OP_GT, .val = 1 } },
};

static void test_refusals(void **state)
{
	struct seccomp_filter f = { { SECCOMP_ACT_TRAP, 0 }, { SECCOMP_ACT_TRAP, 0 }, read_only, 1 };
	struct seccomp_rule bogus = { .syscall = "no_such_call" };
	struct sock_fprog prog = { 0 };
	char why[256] = "";

	(void)state;
	assert_int_equal(seccomp_compile(&f, SECCOMP_API, true, &prog, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "api: filter_action is the default_action"));
	f.filter_action.kind = SECCOMP_ACT_ALLOW;
	f.default_action.kind = SECCOMP_ACT_KILL_PROCESS;
	f.rules = &bogus;
	assert_int_equal(seccomp_compile(&f, SECCOMP_VCPU, true, &prog, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "vcpu.filter[0].syscall: 'no_such_call'"));
	/* A trapping filter the fault report could not run under. */
	f.default_action.kind = SECCOMP_ACT_TRAP;
	f.rules = read_only;
	assert_int_equal(seccomp_compile(&f, SECCOMP_VMM, false, &prog, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "vmm: a filter that traps must allow exit_group"));
	f.default_action.kind = SECCOMP_ACT_KILL_PROCESS;
	/* A dword compared otherwise than eq or masked_eq could be passed via its upper half. */
	f.rules = &dword_gt;
	assert_int_equal(seccomp_compile(&f, SECCOMP_API, true, &prog, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "api.filter[0].args[0].op: a dword takes only eq or masked_eq"));
	f.rules = &bogus;
	/* Not strict (the built-in table): skipped, and the filter is just empty. */
	assert_int_equal(seccomp_compile(&f, SECCOMP_VCPU, false, &prog, why, sizeof(why)),
			 0);
	free(prog.filter);
}

/* In a child: confine as a vCPU, make an allowed call, then one no list names. */
static void test_fault_exits_148_naming_the_call(void **state)
{
	int pipefd[2], status;
	char out[512] = "";
	ssize_t n;
	pid_t pid;

	(void)state;
#ifdef __SANITIZE_ADDRESS__
	/* The sanitizers' runtime makes calls no allow-list names (ember runs unfiltered there). */
	skip();
#endif
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct seccomp_filters f;
		struct seccomp_policy p;
		struct logger lg;
		char why[256];

		dup2(pipefd[1], STDERR_FILENO);
		logger_init(&lg);
		seccomp_filters_init(&f, &lg, NULL);
		seccomp_policy_builtin(&p);
		if (seccomp_filters_build(&f, &p, false, why, sizeof(why)) || seccomp_signal_setup())
			_exit(1);
		prctl(PR_SET_NAME, "unit_vcpu", 0, 0, 0);
		if (seccomp_thread_enter(&f, SECCOMP_VCPU))
			_exit(2);
		if (getpid() <= 0) /* allowed: pthread_kill needs it */
			_exit(3);
		syscall(SYS_getppid); /* on no list */
		_exit(4);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = read(pipefd[0], out, sizeof(out) - 1);
	close(pipefd[0]);
	assert_true(n > 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), SECCOMP_EXIT_BAD_SYSCALL);
	assert_non_null(strstr(out, "bad syscall: getppid ("));
	assert_non_null(strstr(out, "in thread unit_vcpu"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_name_is_a_syscall_somewhere),
		cmocka_unit_test(test_builtin_compiles),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_fault_exits_148_naming_the_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
