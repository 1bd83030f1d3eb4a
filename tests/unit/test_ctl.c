/* emberctl's parsers and state files (src/ctl), without any VM. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "unit.h"

static void test_names(void **state)
{
	char long_name[CTL_NAME_MAX + 2];

	(void)state;
	assert_true(ctl_name_valid("web1"));
	assert_true(ctl_name_valid("a_b-C9"));
	assert_false(ctl_name_valid(""));
	assert_false(ctl_name_valid("a b"));
	assert_false(ctl_name_valid("../x"));
	assert_false(ctl_name_valid(".hidden"));
	memset(long_name, 'x', sizeof(long_name));
	long_name[CTL_NAME_MAX] = '\0';
	assert_true(ctl_name_valid(long_name));
	long_name[CTL_NAME_MAX] = 'x';
	long_name[CTL_NAME_MAX + 1] = '\0';
	assert_false(ctl_name_valid(long_name));
}

static void test_cpulists(void **state)
{
	struct ctl_cpuset a, b;
	char why[CTL_WHY];

	(void)state;
	assert_int_equal(ctl_cpulist_parse("0-3,8,10-11", &a, why, sizeof(why)), 0);
	assert_int_equal(a.bits[0], 0xd0fULL);
	assert_int_equal(ctl_cpulist_parse("4-7", &b, why, sizeof(why)), 0);
	assert_false(ctl_cpuset_overlap(&a, &b));
	assert_int_equal(ctl_cpulist_parse("3", &b, why, sizeof(why)), 0);
	assert_true(ctl_cpuset_overlap(&a, &b));
	assert_int_equal(ctl_cpulist_parse("1023", &b, why, sizeof(why)), 0);
	assert_int_equal(b.bits[15], 1ULL << 63);
	assert_int_equal(ctl_cpulist_parse("1024", &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "CPU 1024"));
	assert_int_equal(ctl_cpulist_parse("3-1", &b, why, sizeof(why)), -EINVAL);
	assert_int_equal(ctl_cpulist_parse("", &b, why, sizeof(why)), -EINVAL);
	assert_int_equal(ctl_cpulist_parse("1,", &b, why, sizeof(why)), -EINVAL);
	assert_int_equal(ctl_cpulist_parse("-1", &b, why, sizeof(why)), -EINVAL);
	assert_int_equal(ctl_cpulist_parse("9999999999", &b, why, sizeof(why)), -EINVAL);
	assert_int_equal(ctl_cpulist_parse("1 ", &b, why, sizeof(why)), -EINVAL);
}

static void test_pid_files(void **state)
{
	struct ctl_pid p;

	(void)state;
	assert_int_equal(ctl_pid_parse("123 456\n", 8, &p), 0);
	assert_int_equal(p.pid, 123);
	assert_int_equal(p.start, 456);
	assert_int_equal(ctl_pid_parse("123 456", 7, &p), 0);
	assert_int_equal(ctl_pid_parse("123", 3, &p), -EINVAL);	  /* no start time: not ours */
	assert_int_equal(ctl_pid_parse("1 5\n", 4, &p), -EINVAL); /* init is never ours */
	assert_int_equal(ctl_pid_parse("12 5\n\n", 6, &p), -EINVAL);
	assert_int_equal(ctl_pid_parse("12 5x", 5, &p), -EINVAL);
	assert_int_equal(ctl_pid_parse("99999999 5", 10, &p), -EINVAL); /* past pid_max */
	assert_int_equal(ctl_pid_parse("12 99999999999999999999", 23, &p), -EINVAL);
	/* Bounded by the length, not by a NUL. */
	assert_int_equal(ctl_pid_parse("12 345", 4, &p), 0);
	assert_int_equal(p.start, 3);
}

static void test_proc_stat(void **state)
{
	const char *s = "42 (a) b)) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 rest";
	unsigned long long start = 0;
	struct ctl_pid me;
	char st = 0;

	(void)state;
	assert_int_equal(ctl_proc_stat_parse(s, strlen(s), &start, &st), 0);
	assert_int_equal(st, 'S');
	assert_int_equal(start, 777);
	assert_int_equal(ctl_proc_stat_parse("42 (x) S 1 2", 12, &start, &st), -EINVAL);
	assert_int_equal(ctl_proc_stat_parse("no paren", 8, &start, &st), -EINVAL);
	/* This process is alive; with another start time it is not the one we started. */
	me.pid = getpid();
	assert_int_equal(ctl_proc_start(me.pid, &me.start), 0);
	assert_true(ctl_pid_alive(&me));
	me.start++;
	assert_false(ctl_pid_alive(&me));
	me.pid = 1;
	assert_false(ctl_pid_alive(&me));
}

static void test_status(void **state)
{
	const char *ok = "{\"state\": \"exited\", \"pid\": 12, \"restarts\": 2, \"started\": 5, "
			 "\"stop_requested\": true, \"exit\": {\"signal\": 9}}";
	struct ctl_status st;
	char why[CTL_WHY], text[32];

	(void)state;
	assert_int_equal(ctl_status_parse(ok, strlen(ok), &st, why, sizeof(why)), 0);
	assert_true(st.exited && st.stop_requested && !st.unknown);
	assert_int_equal(st.signal, 9);
	assert_int_equal(st.restarts, 2);
	ctl_status_describe(&st, text, sizeof(text));
	assert_string_equal(text, "signal 9");
#define PARSE(s) ctl_status_parse(s, strlen(s), &st, why, sizeof(why))
	assert_int_equal(PARSE("{\"state\": \"exited\", \"exit\": {\"code\": 1}}"), 0);
	ctl_status_describe(&st, text, sizeof(text));
	assert_string_equal(text, "exit 1");
	assert_int_equal(PARSE("{\"state\": \"exited\", \"exit\": {}}"), 0);
	ctl_status_describe(&st, text, sizeof(text));
	assert_string_equal(text, "unknown");
	assert_int_equal(PARSE("{\"state\": \"running\", \"exit\": null}"), 0);
	assert_false(st.exited);
	assert_int_equal(PARSE(""), -EINVAL);
	assert_int_equal(PARSE("[]"), -EINVAL);
	assert_int_equal(PARSE("{\"state\": \"dancing\"}"), -EINVAL);
	assert_int_equal(PARSE("{\"state\": \"exited\", \"pid\": -1}"), -EINVAL);
	assert_int_equal(PARSE("{\"state\": \"exited\", \"exit\": {\"code\": 256}}"), -EINVAL);
	assert_int_equal(PARSE("{\"state\": \"exited\", \"exit\": {\"code\": 0, \"signal\": 9}}"),
			 -EINVAL);
	assert_int_equal(PARSE("{\"state\": \"exited\", \"state\": \"running\"}"), -EINVAL);
#undef PARSE
}

static void test_block(void **state)
{
	struct ctl_vm_block b;
	char why[CTL_WHY];
	json_t *v;

	(void)state;
	v = json_loads("{\"name\": \"w\", \"cpus\": \"2-3\", \"restart\": \"always\", "
		       "\"realtime\": true, \"jail\": false, \"share_cpus\": true}",
		       0, NULL);
	assert_int_equal(ctl_block_parse(v, &b, why, sizeof(why)), 0);
	assert_string_equal(b.name, "w");
	assert_string_equal(b.cpus, "2-3");
	assert_int_equal(b.restart, RESTART_ALWAYS);
	assert_true(b.realtime && b.share_cpus && !b.jail);
	json_decref(v);
	v = json_loads("{\"name\": \"w\", \"colour\": 1}", 0, NULL);
	assert_int_equal(ctl_block_parse(v, &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "emberctl.colour: unknown field"));
	json_decref(v);
	assert_int_equal(ctl_block_parse(NULL, &b, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "required block missing"));
}

static void test_http_replies(void **state)
{
	const char *r204 = "HTTP/1.1 204 \r\nServer: Firecracker API\r\n\r\n";
	const char *r200 = "HTTP/1.1 200 \r\ncontent-length: 5\r\n\r\nhello";
	struct ctl_api_reply r;
	char why[CTL_WHY];

	(void)state;
	assert_int_equal(ctl_api_parse_reply(r204, strlen(r204), false, &r, why, sizeof(why)), 0);
	assert_int_equal(r.status, 204);
	assert_null(r.body);
	assert_int_equal(ctl_api_parse_reply(r200, strlen(r200), false, &r, why, sizeof(why)), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	ctl_api_reply_free(&r);
	/* Incomplete: more to come, or cut short by the close. */
	assert_int_equal(ctl_api_parse_reply(r200, strlen(r200) - 1, false, &r, why, sizeof(why)),
			 -EAGAIN);
	assert_int_equal(ctl_api_parse_reply(r200, strlen(r200) - 1, true, &r, why, sizeof(why)),
			 -EPROTO);
	assert_int_equal(ctl_api_parse_reply("HTTP/1.1 2", 10, false, &r, why, sizeof(why)),
			 -EAGAIN);
	assert_int_equal(ctl_api_parse_reply("SMTP 220\r\n\r\n", 12, false, &r, why, sizeof(why)),
			 -EPROTO);
	assert_int_equal(ctl_api_parse_reply("HTTP/1.1 200 \r\nContent-Length: 99999999999\r\n\r\n",
					     46, false, &r, why, sizeof(why)),
			 -EPROTO);
	assert_int_equal(ctl_api_parse_reply("HTTP/1.1 200 \r\nContent-Length: -1\r\n\r\n", 37,
					     false, &r, why, sizeof(why)),
			 -EPROTO);
}

static void test_utf8_fix(void **state)
{
	/* Cut short, stray continuation, overlong, surrogate, past U+10FFFF, fine. */
	char cut[] = "caf\xc3",
	     stray[] = "a\x80"
		       "b",
	     overlong[] = "\xc0\xaf", sur[] = "\xed\xa0\x80", big[] = "\xf4\x90\x80\x80",
	     fine[] = "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x94\xa5";
	json_t *v;

	(void)state;
	ctl_utf8_fix(cut);
	assert_string_equal(cut, "caf?");
	ctl_utf8_fix(stray);
	assert_string_equal(stray, "a?b");
	ctl_utf8_fix(overlong);
	assert_string_equal(overlong, "??");
	ctl_utf8_fix(sur);
	assert_string_equal(sur, "???");
	ctl_utf8_fix(big);
	assert_string_equal(big, "????");
	ctl_utf8_fix(fine);
	assert_string_equal(fine, "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x94\xa5");
	v = ctl_json_text("problem: '\xc3\xa9\xc3");
	assert_non_null(v);
	assert_string_equal(json_string_value(v), "problem: '\xc3\xa9?");
	json_decref(v);
}

static void test_state_files(void **state)
{
	char dir[] = "/tmp/ctl-unit-XXXXXX", path[PATH_MAX], *text = NULL, big[100];
	struct ctl c = {.lock_fd = -1};
	struct ctl_pid p;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(c.state_dir, sizeof(c.state_dir), "%s/state", dir);
	assert_int_equal(ctl_lock(&c, true), 0);
	ctl_unlock(&c);
	assert_int_equal(ctl_lock(&c, false), 0);
	ctl_unlock(&c);
	snprintf(path, sizeof(path), "%s/state/vms/f", dir);
	assert_int_equal(ctl_write_atomic(path, "one", 3), 0);
	assert_int_equal(ctl_write_atomic(path, "two!", 4), 0);
	assert_int_equal(ctl_read_small(path, 64, &text, &len), 0);
	assert_string_equal(text, "two!");
	free(text);
	assert_int_equal(ctl_read_small(path, 3, &text, &len), -EFBIG);
	/* A FIFO is refused without blocking. */
	snprintf(path, sizeof(path), "%s/state/vms/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ctl_read_small(path, 64, &text, &len), -EINVAL);
	snprintf(path, sizeof(path), "%s/state/vms/pid", dir);
	assert_int_equal(ctl_pid_write(path, getpid()), 0);
	assert_int_equal(ctl_pid_read(path, &p), 0);
	assert_int_equal(p.pid, getpid());
	assert_true(ctl_pid_alive(&p));
	memset(big, '1', sizeof(big));
	assert_int_equal(ctl_write_atomic(path, big, sizeof(big)), 0);
	assert_int_not_equal(ctl_pid_read(path, &p), 0);
	snprintf(path, sizeof(path), "%s/state/vms", dir);
	assert_int_equal(ctl_rmtree(path), 0);
	assert_int_equal(ctl_rmtree(dir), 0);
	assert_int_not_equal(access(dir, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),	 cmocka_unit_test(test_cpulists),
	    cmocka_unit_test(test_pid_files),	 cmocka_unit_test(test_proc_stat),
	    cmocka_unit_test(test_status),	 cmocka_unit_test(test_block),
	    cmocka_unit_test(test_http_replies), cmocka_unit_test(test_state_files),
	    cmocka_unit_test(test_utf8_fix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
