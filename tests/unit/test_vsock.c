#include <errno.h>
#include <stdio.h>

#include "virtio/vsock.h"
#include "virtio/vsock_packet.h"
#include "unit.h"

static void test_config_good(void **state)
{
	struct vsock_config cfg;
	char path[VSOCK_PATH_MAX + 1];

	(void)state;
	assert_int_equal(vsock_config_parse("3,/tmp/v.sock", &cfg), 0);
	assert_int_equal(cfg.cid, 3);
	assert_string_equal(cfg.path, "/tmp/v.sock");
	assert_int_equal(vsock_config_parse("4294967294,rel/path,with,commas", &cfg), 0);
	assert_int_equal(cfg.cid, 0xfffffffeULL);
	assert_string_equal(cfg.path, "rel/path,with,commas");
	/* The longest path still leaves room for "_4294967295" in sun_path. */
	memset(path, 'a', VSOCK_PATH_MAX);
	path[VSOCK_PATH_MAX] = '\0';
	{
		char arg[sizeof(path) + 8];

		snprintf(arg, sizeof(arg), "7,%s", path);
		assert_int_equal(vsock_config_parse(arg, &cfg), 0);
		assert_int_equal(strlen(cfg.path), VSOCK_PATH_MAX);
		assert_true(strlen(cfg.path) + strlen("_4294967295") <
			    sizeof(((struct sockaddr_un *)0)->sun_path));
	}
}

static void test_config_bad(void **state)
{
	static const char *const bad[] = {
		"",		  "3",		 "3,",		 ",/tmp/x",	 "0,/tmp/x",
		"1,/tmp/x",	  "2,/tmp/x",	 "-3,/tmp/x",	 "+3,/tmp/x",	 " 3,/tmp/x",
		"3x,/tmp/x",	  "0x10,/tmp/x", "4294967295,/tmp/x", "4294967296,/tmp/x",
		"18446744073709551616,/tmp/x", "99999999999999999999999,/tmp/x",
	};
	struct vsock_config cfg;
	char arg[VSOCK_PATH_MAX + 16];
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (vsock_config_parse(bad[i], &cfg) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	memset(arg, 'a', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	memcpy(arg, "3,", 2);
	assert_int_equal(vsock_config_parse(arg, &cfg), -ENAMETOOLONG);
}

static int parse(const char *s, uint32_t *port)
{
	return vsock_parse_connect(s, strlen(s), port);
}

static void test_connect_line(void **state)
{
	uint32_t port = 0;

	(void)state;
	assert_int_equal(parse("CONNECT 1234\n", &port), 1);
	assert_int_equal(port, 1234);
	assert_int_equal(parse("CONNECT 0\n", &port), 1);
	assert_int_equal(port, 0);
	assert_int_equal(parse("CONNECT 4294967294\n", &port), 1);
	assert_int_equal(port, 4294967294U);
	assert_int_equal(parse("CONNECT 52\r\n", &port), 1);
	assert_int_equal(port, 52);
	/* Leading zeros are just a number. */
	assert_int_equal(parse("CONNECT 0007\n", &port), 1);
	assert_int_equal(port, 7);
}

static void test_connect_partial(void **state)
{
	static const char line[] = "CONNECT 1234\n";
	uint32_t port = 99;
	size_t i;

	(void)state;
	/* Every proper prefix, the empty one too, still waits for more. */
	for (i = 0; i < sizeof(line) - 2; i++)
		assert_int_equal(vsock_parse_connect(line, i, &port), 0);
	assert_int_equal(port, 99);
	assert_int_equal(parse("CONNECT 12\r", &port), 0);
	assert_int_equal(vsock_parse_connect(line, sizeof(line) - 1, &port), 1);
	assert_int_equal(port, 1234);
}

static void test_connect_garbage(void **state)
{
	static const char *const bad[] = {
		"connect 1\n",	"CONNECT\n",	   "CONNECT \n",	"CONNECT  1\n",
		"CONNECT x",	"CONNECT 1x",	   "CONNECT -1\n",	"CONNECT +1\n",
		"CONNECTX",	"GET / HTTP/1.0",  "CONNECT 1 \n",	"CONNECT 1\n\n",
		"CONNECT 1\nX", "CONNECT 1\r\r\n", "CONNECT \r\n",	"CONNECT 1\rX",
		"\n",		"C\n",		   "CONNECT 0x10\n",
	};
	uint32_t port = 99;
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse(bad[i], &port) != -EINVAL)
			fail_msg("'%s' was not refused", bad[i]);
	assert_int_equal(port, 99);
	/* An embedded NUL is garbage, not an end of string. */
	assert_int_equal(vsock_parse_connect("CONNECT 1\0\n", 11, &port), -EINVAL);
}

static void test_connect_huge(void **state)
{
	uint32_t port = 99;

	(void)state;
	/* 2^32 - 1 is VMADDR_PORT_ANY; anything larger cannot be a port. */
	assert_int_equal(parse("CONNECT 4294967295\n", &port), -EINVAL);
	assert_int_equal(parse("CONNECT 4294967296\n", &port), -EINVAL);
	assert_int_equal(parse("CONNECT 99999999999999999999999999\n", &port), -EINVAL);
	/* Refused as soon as the digits overflow, not only at the newline. */
	assert_int_equal(parse("CONNECT 42949672950", &port), -EINVAL);
	assert_int_equal(parse("CONNECT 4294967295", &port), -EINVAL);
	assert_int_equal(parse("CONNECT 429496729", &port), 0);
	assert_int_equal(port, 99);
}

static void test_credit(void **state)
{
	(void)state;
	assert_int_equal(vsock_credit(4096, 0, 0), 4096);
	assert_int_equal(vsock_credit(4096, 1000, 0), 3096);
	assert_int_equal(vsock_credit(4096, 4096, 0), 0);
	assert_int_equal(vsock_credit(4096, 5000, 1000), 96);
	assert_int_equal(vsock_credit(0, 0, 0), 0);
	/* More in flight than the peer's buffer (it shrank buf_alloc): none, never a wrap. */
	assert_int_equal(vsock_credit(4096, 10000, 0), 0);
	assert_int_equal(vsock_credit(1024, 4096, 0), 0);
	/* A peer whose fwd_cnt runs ahead of what we sent is lying: no credit either. */
	assert_int_equal(vsock_credit(4096, 0, 100), 0);
}

static void test_credit_wrap(void **state)
{
	(void)state;
	/* tx_cnt wrapped past 2^32, fwd_cnt not yet: 0x100 + 0x10 bytes in flight. */
	assert_int_equal(vsock_credit(65536, 0x100, 0xfffffff0U), 65536 - 0x110);
	/* Both wrapped. */
	assert_int_equal(vsock_credit(65536, 0x100, 0x80), 65536 - 0x80);
	/* Exactly full across the wrap. */
	assert_int_equal(vsock_credit(65536, 0x8000, 0xffff8000U), 0);
	/* Nothing in flight at the very top of the range. */
	assert_int_equal(vsock_credit(65536, UINT32_MAX, UINT32_MAX), 65536);
	/* The largest buffer a peer can advertise. */
	assert_int_equal(vsock_credit(UINT32_MAX, 5, 0xfffffffbU), UINT32_MAX - 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good),   cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_connect_line),  cmocka_unit_test(test_connect_partial),
		cmocka_unit_test(test_connect_garbage), cmocka_unit_test(test_connect_huge),
		cmocka_unit_test(test_credit),	      cmocka_unit_test(test_credit_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
