/* --cpus: the CPU-list parser and formatter, and the affinity helpers around them. */
#include <errno.h>
#include <stdio.h>

#include "util/cpus.h"
#include "unit.h"

/* (s) parses, and formats back as (canonical). */
static void parses_as(const char *s, const char *canonical)
{
	struct cpu_set set;
	char why[200] = "", text[200];

	if (cpu_list_parse(s, &set, why, sizeof(why)))
		fail_msg("'%s' refused: %s", s, why);
	cpu_list_format(&set, text, sizeof(text));
	if (strcmp(text, canonical))
		fail_msg("'%s' parsed as '%s', expected '%s'", s, text, canonical);
}

/* (s) is refused with a reason containing (words). */
static void refused(const char *s, const char *words)
{
	struct cpu_set set;
	char why[200] = "";

	assert_int_equal(cpu_list_parse(s, &set, why, sizeof(why)), -EINVAL);
	if (!strstr(why, words))
		fail_msg("'%s' refused with '%s', expected '%s' in it", s, why, words);
}

static void test_lists(void **state)
{
	(void)state;
	parses_as("0", "0");
	parses_as("2-3", "2-3");
	parses_as("0,2", "0,2");
	parses_as("3,1,2", "1-3");
	parses_as("0-1,4,6-7", "0-1,4,6-7");
	parses_as("5-5", "5");
	parses_as("1,1,0-2", "0-2"); /* repeats and overlaps are harmless */
	parses_as("007", "7");
	parses_as("63-64", "63-64"); /* across a word of the bitmap */
	parses_as("1023", "1023");
	parses_as("0-1023", "0-1023");
}

static void test_bad_lists(void **state)
{
	(void)state;
	refused("", "empty");
	refused("a", "'a': expected a CPU number");
	refused("1,", "'': expected");
	refused(",1", "'': expected");
	refused("1,,2", "'': expected");
	refused("1-", "'1-': expected");
	refused("-1", "'-1': expected");
	refused("1-2-3", "'1-2-3': expected");
	refused("0x1", "'0x1': expected");
	refused(" 1", "expected");
	refused("1 ", "expected");
	refused("+1", "expected");
	refused("1;2", "expected");
	refused("3-1", "'3-1': a range runs from the lower CPU up");
}

static void test_beyond_the_set(void **state)
{
	(void)state;
	refused("1024", "'1024': CPUs from 0 to 1023 only");
	refused("0-1024", "'0-1024': CPUs from 0 to 1023 only");
	refused("2,4096", "'4096': CPUs from 0 to 1023 only");
	/* Too many digits for any integer type: still out of range, never wrapped to a CPU. */
	refused("18446744073709551617", "CPUs from 0 to 1023 only");
	refused("99999999999999999999999999-1", "CPUs from 0 to 1023 only");
}

static void test_format_truncates(void **state)
{
	struct cpu_set set;
	char why[64], text[8];

	(void)state;
	assert_int_equal(cpu_list_parse("0,2,4,6,8,10", &set, why, sizeof(why)), 0);
	cpu_list_format(&set, text, sizeof(text));
	assert_string_equal(text, "0,2,4,6"); /* whole items only, terminated */
	memset(&set, 0, sizeof(set));
	cpu_list_format(&set, text, sizeof(text));
	assert_string_equal(text, "");
}

static void test_first_missing_and_count(void **state)
{
	struct cpu_set a, b;
	char why[64];

	(void)state;
	assert_int_equal(cpu_list_parse("1-3", &a, why, sizeof(why)), 0);
	assert_int_equal(cpu_list_parse("0-7", &b, why, sizeof(why)), 0);
	assert_int_equal(cpu_set_first_missing(&a, &b), -1);
	assert_int_equal(cpu_set_first_missing(&b, &a), 0);
	assert_int_equal(cpu_list_parse("1,3", &b, why, sizeof(why)), 0);
	assert_int_equal(cpu_set_first_missing(&a, &b), 2);
	assert_int_equal(cpu_set_count(&a), 3);
	assert_int_equal(cpu_list_parse("0-1023", &a, why, sizeof(why)), 0);
	assert_int_equal(cpu_set_count(&a), 1024);
}

/* The host's own sets parse, and this thread's affinity is among the online CPUs. */
static void test_host_sets(void **state)
{
	struct cpu_set online, mine;

	(void)state;
	assert_int_equal(cpus_online(&online), 0);
	assert_int_equal(cpus_get_affinity(&mine), 0);
	assert_int_equal(cpu_set_first_missing(&mine, &online), -1);
	assert_int_equal(cpus_set_affinity(&mine), 0);
}

/* --cpus as a whole: the affinity it already has is taken; offline or bad lists are not. */
static void test_restrict(void **state)
{
	struct cpu_set online, mine, after;
	char list[4096], why[300], want[64];
	unsigned int cpu;

	(void)state;
	assert_int_equal(cpus_online(&online), 0);
	assert_int_equal(cpus_get_affinity(&mine), 0);
	cpu_list_format(&mine, list, sizeof(list));
	if (cpus_restrict(list, why, sizeof(why)))
		fail_msg("'%s' (the current affinity) refused: %s", list, why);
	assert_int_equal(cpus_get_affinity(&after), 0);
	assert_memory_equal(&after, &mine, sizeof(mine));
	for (cpu = 0; cpu_set_has(&online, cpu); cpu++)
		;
	if (cpu < CPUS_MAX) {
		snprintf(list, sizeof(list), "%u", cpu);
		assert_int_equal(cpus_restrict(list, why, sizeof(why)), -EINVAL);
		snprintf(want, sizeof(want), "CPU %u is not online", cpu);
		if (!strstr(why, want))
			fail_msg("'%s' refused with '%s'", list, why);
	}
	assert_int_equal(cpus_restrict("0-", why, sizeof(why)), -EINVAL);
	assert_int_equal(cpus_get_affinity(&after), 0);
	assert_memory_equal(&after, &mine, sizeof(mine)); /* a refusal changes nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_bad_lists),
	    cmocka_unit_test(test_beyond_the_set),
	    cmocka_unit_test(test_format_truncates),
	    cmocka_unit_test(test_first_missing_and_count),
	    cmocka_unit_test(test_host_sets),
	    cmocka_unit_test(test_restrict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
