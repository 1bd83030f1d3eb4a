/* Device option parsing: --net, --balloon and rate limits, as the command line gives them. */
#include <errno.h>

#include "unit.h"
#include "virtio/balloon.h"
#include "virtio/net.h"
#include "virtio/throttle.h"

static void test_throttle_parse(void **state)
{
	struct throttle_config c;

	(void)state;
	assert_int_equal(throttle_config_parse("bw=1000:100,ops=10:1000:5", &c), 0);
	assert_int_equal(c.bandwidth.size, 1000);
	assert_int_equal(c.bandwidth.refill_time_ms, 100);
	assert_int_equal(c.bandwidth.one_time_burst, 0);
	assert_int_equal(c.ops.size, 10);
	assert_int_equal(c.ops.one_time_burst, 5);
	assert_int_equal(throttle_config_parse("", &c), 0);
	assert_int_equal(c.bandwidth.size, 0);
	assert_int_equal(throttle_config_parse("bw=1000", &c), -EINVAL);
	assert_int_equal(throttle_config_parse("bw=1:2:3:4", &c), -EINVAL);
	assert_int_equal(throttle_config_parse("bw=1:2x", &c), -EINVAL);
	assert_int_equal(throttle_config_parse("iops=1:2", &c), -EINVAL);
	assert_int_equal(throttle_config_parse("bw=99999999999999999999:1", &c), -EINVAL);
	assert_int_equal(throttle_config_parse("bw=-1:1", &c), -EINVAL);
}

static void test_net_parse(void **state)
{
	struct net_config c;
	char long_arg[300];

	(void)state;
	assert_int_equal(net_config_parse("tap0", &c), 0);
	assert_string_equal(c.tap, "tap0");
	assert_false(c.has_mac);
	assert_int_equal(net_config_parse("tap1,mac=02:AA:bb:00:00:01,tx_bw=100:10,rx_ops=5:1",
					  &c), 0);
	assert_true(c.has_mac);
	assert_int_equal(c.mac[1], 0xaa);
	assert_int_equal(c.tx_limit.bandwidth.size, 100);
	assert_int_equal(c.rx_limit.ops.size, 5);
	assert_int_equal(c.rx_limit.bandwidth.size, 0);
	assert_int_equal(net_config_parse("", &c), -EINVAL);
	assert_int_equal(net_config_parse(",mac=02:00:00:00:00:01", &c), -EINVAL);
	assert_int_equal(net_config_parse("tap0,mac=01:00:00:00:00:01", &c), -EINVAL);
	assert_int_equal(net_config_parse("tap0,mac=02:00:00:00:00", &c), -EINVAL);
	assert_int_equal(net_config_parse("tap0,mac=02:00:00:00:00:01:02", &c), -EINVAL);
	assert_int_equal(net_config_parse("tap0,rx_bw=1", &c), -EINVAL);
	assert_int_equal(net_config_parse("a-very-long-tap-name0", &c), -EINVAL);
	memset(long_arg, 'x', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	assert_int_equal(net_config_parse(long_arg, &c), -EINVAL);

	/* On an ember-switch port: the path runs to the first comma. */
	assert_int_equal(net_config_parse("switch=/run/ember/sw0/sock,mac=02:00:00:00:00:07,"
					  "rx_bw=100:10", &c), 0);
	assert_string_equal(c.switch_path, "/run/ember/sw0/sock");
	assert_string_equal(c.tap, "");
	assert_true(c.has_mac);
	assert_int_equal(c.mac[5], 7);
	assert_int_equal(c.rx_limit.bandwidth.size, 100);
	assert_int_equal(net_config_parse("switch=rel/sock", &c), 0);
	assert_string_equal(c.switch_path, "rel/sock");
	assert_int_equal(net_config_parse("switch=", &c), -EINVAL);
	assert_int_equal(net_config_parse("switch=,mac=02:00:00:00:00:01", &c), -EINVAL);
	assert_int_equal(net_config_parse("switch=/s,bogus", &c), -EINVAL);
	/* A sun_path holds 107 bytes and the NUL. */
	memcpy(long_arg, "switch=/", 8);
	memset(long_arg + 8, 'p', NET_SWITCH_PATH_MAX - 1);
	long_arg[8 + NET_SWITCH_PATH_MAX - 1] = '\0';
	assert_int_equal(net_config_parse(long_arg, &c), 0);
	assert_int_equal(strlen(c.switch_path), NET_SWITCH_PATH_MAX);
	strcat(long_arg, "p");
	assert_int_equal(net_config_parse(long_arg, &c), -EINVAL);
}

static void test_balloon_parse(void **state)
{
	struct balloon_config c;

	(void)state;
	assert_int_equal(balloon_config_parse("64", &c), 0);
	assert_int_equal(c.target_mib, 64);
	assert_false(c.deflate_on_oom);
	assert_int_equal(balloon_config_parse("0,deflate_on_oom,stats=5", &c), 0);
	assert_true(c.deflate_on_oom);
	assert_int_equal(c.stats_period, 5);
	assert_int_equal(balloon_config_parse("", &c), -EINVAL);
	assert_int_equal(balloon_config_parse("x", &c), -EINVAL);
	assert_int_equal(balloon_config_parse("16,stats=0", &c), -EINVAL);
	assert_int_equal(balloon_config_parse("16,inflate", &c), -EINVAL);
	/* More than a 32-bit count of 4 KiB pages can say. */
	assert_int_equal(balloon_config_parse("99999999", &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_throttle_parse),
		cmocka_unit_test(test_net_parse),
		cmocka_unit_test(test_balloon_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
