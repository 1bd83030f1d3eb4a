/* --config-file: Firecracker's JSON onto struct vm_config, and one clear error for the rest. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "unit.h"
#include "config/config_file.h"
#include "config/sections.h"
#include "vmm/vm.h"

static const char full_config[] =
    "{\n"
    "  \"boot-source\": {\"kernel_image_path\": \"/k/vmlinux\", \"initrd_path\": \"/k/initrd\",\n"
    "                  \"boot_args\": \"console=ttyS0\"},\n"
    "  \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 256, \"smt\": false,\n"
    "                     \"track_dirty_pages\": false, \"huge_pages\": \"None\"},\n"
    "  \"drives\": [\n"
    "    {\"drive_id\": \"data\", \"path_on_host\": \"/img/data\", \"is_root_device\": false,\n"
    "     \"is_read_only\": true, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\",\n"
    "     \"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100},\n"
    "                      \"ops\": {\"size\": 10, \"one_time_burst\": 5, \"refill_time\": "
    "1000}}},\n"
    "    {\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/root\", \"is_root_device\": true,\n"
    "     \"is_read_only\": false}\n"
    "  ],\n"
    "  \"network-interfaces\": [\n"
    "    {\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
    "\"02:AA:bb:00:00:01\",\n"
    "     \"rx_rate_limiter\": {\"ops\": {\"size\": 7, \"refill_time\": 70}},\n"
    "     \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 8, \"refill_time\": 80}}},\n"
    "    {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}\n"
    "  ],\n"
    "  \"vsock\": {\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/run/v.sock\"},\n"
    "  \"balloon\": {\"amount_mib\": 16, \"deflate_on_oom\": true, \"stats_polling_interval_s\": "
    "2},\n"
    "  \"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": 64, \"refill_time\": 10}}},\n"
    "  \"logger\": {\"level\": \"Info\", \"log_path\": \"/dev/null\", \"show_level\": true},\n"
    "  \"metrics\": {\"metrics_path\": \"/dev/null\", \"properties\": {\"a\": \"b\"}},\n"
    "  \"mmds-config\": {\"version\": \"V2\", \"network_interfaces\": [\"eth0\"]}\n"
    "}\n";

/* Load (json) through a temporary file into a config holding main()'s defaults. */
static int load(const char *json, struct vm_config *cfg, char *err, size_t err_len)
{
	char path[] = "/tmp/ember-cfg-XXXXXX";
	int fd, ret;

	vm_config_init(cfg);
	err[0] = '\0';
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, json, strlen(json)), 0);
	close(fd);
	ret = config_file_load(path, cfg, err, err_len);
	unlink(path);
	return ret;
}

/* (json) must fail with an error containing (want), and leave (cfg) owning nothing. */
static void expect_error(const char *json, const char *want)
{
	struct vm_config cfg;
	char err[256];

	assert_int_equal(load(json, &cfg, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_null(cfg.kernel_path);
}

#define BOOT "\"boot-source\": {\"kernel_image_path\": \"/k\"}"

static void test_full(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(full_config, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kernel_path, "/k/vmlinux");
	assert_string_equal(cfg.initrd_path, "/k/initrd");
	/* The root drive becomes vda (the boot code adds root=/dev/vda). */
	assert_string_equal(cfg.boot_args, "console=ttyS0");
	assert_true(cfg.disks[0].root);
	assert_false(cfg.disks[1].root);
	assert_int_equal(cfg.vcpus, 4);
	assert_int_equal(cfg.mem_mib, 256);

	assert_int_equal(cfg.nr_disks, 2);
	assert_string_equal(cfg.disks[0].serial, "rootfs");
	assert_string_equal(cfg.disks[0].path, "/img/root");
	assert_false(cfg.disks[0].ro);
	assert_int_equal(cfg.disks[0].cache, BLK_CACHE_UNSAFE);
	assert_int_equal(cfg.disks[0].limit.bandwidth.size, 0);
	assert_string_equal(cfg.disks[1].serial, "data");
	assert_string_equal(cfg.disks[1].path, "/img/data");
	assert_true(cfg.disks[1].ro);
	assert_int_equal(cfg.disks[1].cache, BLK_CACHE_WRITEBACK);
	assert_int_equal(cfg.disks[1].limit.bandwidth.size, 1000);
	assert_int_equal(cfg.disks[1].limit.bandwidth.refill_time_ms, 100);
	assert_int_equal(cfg.disks[1].limit.bandwidth.one_time_burst, 0);
	assert_int_equal(cfg.disks[1].limit.ops.size, 10);
	assert_int_equal(cfg.disks[1].limit.ops.one_time_burst, 5);
	assert_int_equal(cfg.disks[1].limit.ops.refill_time_ms, 1000);

	assert_int_equal(cfg.nr_nets, 2);
	assert_string_equal(cfg.nets[0].tap, "tap0");
	assert_true(cfg.nets[0].has_mac);
	assert_memory_equal(cfg.nets[0].mac, "\x02\xaa\xbb\x00\x00\x01", 6);
	assert_int_equal(cfg.nets[0].rx_limit.ops.size, 7);
	assert_int_equal(cfg.nets[0].rx_limit.ops.refill_time_ms, 70);
	assert_int_equal(cfg.nets[0].rx_limit.bandwidth.size, 0);
	assert_int_equal(cfg.nets[0].tx_limit.bandwidth.size, 8);
	assert_int_equal(cfg.nets[0].tx_limit.bandwidth.refill_time_ms, 80);
	assert_string_equal(cfg.nets[1].tap, "tap1");
	assert_false(cfg.nets[1].has_mac);

	assert_true(cfg.vsock);
	assert_int_equal(cfg.vsock_cfg.cid, 3);
	assert_string_equal(cfg.vsock_cfg.path, "/run/v.sock");
	assert_true(cfg.balloon);
	assert_int_equal(cfg.balloon_cfg.target_mib, 16);
	assert_true(cfg.balloon_cfg.deflate_on_oom);
	assert_int_equal(cfg.balloon_cfg.stats_period, 2);
	assert_true(cfg.rng);
	assert_int_equal(cfg.rng_limit.bandwidth.size, 64);
	assert_int_equal(cfg.rng_limit.bandwidth.refill_time_ms, 10);

	vm_config_free(&cfg);
	assert_null(cfg.kernel_path);
}

static void test_minimal(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load("{" BOOT "}", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kernel_path, "/k");
	assert_null(cfg.initrd_path);
	assert_null(cfg.boot_args); /* the VMM's default applies */
	assert_int_equal(cfg.vcpus, 1);
	assert_int_equal(cfg.mem_mib, 128);
	assert_int_equal(cfg.nr_disks, 0);
	assert_false(cfg.rng || cfg.balloon || cfg.vsock);
	vm_config_free(&cfg);

	/* A read-only root drive and no boot_args: the default line, root= at boot. */
	assert_int_equal(load("{" BOOT ", \"drives\": [{\"drive_id\": \"r\", \"path_on_host\": "
			      "\"/r\", \"is_root_device\": true, \"is_read_only\": true}]}",
			      &cfg, err, sizeof(err)),
			 0);
	assert_null(cfg.boot_args);
	assert_true(cfg.disks[0].root);
	assert_true(cfg.disks[0].ro);
	vm_config_free(&cfg);
}

static void test_bad_json(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	expect_error("{\n  \"boot-source\": {,}\n}", "line 2, column");
	expect_error("[]", "must be an object");
	expect_error("{" BOOT ", " BOOT "}", "duplicate");
	assert_int_equal(config_file_load("/nonexistent/ember.json", &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "No such file"));
}

static void test_unknown_fields(void **state)
{
	(void)state;
	expect_error("{" BOOT ", \"foo\": 1}", "top level: unknown field 'foo'");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"kernel\": \"/k\"}}",
		     "boot-source: unknown field 'kernel'");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": false, \"foo\": 1}]}",
		     "drives[0]: unknown field 'foo'");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": 1, "
		     "\"refill_time\": 1, \"burst\": 1}}}]}",
		     "drives[0].rate_limiter.bandwidth: unknown field 'burst'");
	expect_error("{" BOOT ", \"logger\": {\"colour\": true}}",
		     "logger: unknown field 'colour'");
}

static void test_types_and_required(void **state)
{
	(void)state;
	expect_error("{}", "boot-source: required");
	expect_error("{\"boot-source\": {}}", "boot-source.kernel_image_path: required");
	expect_error("{\"boot-source\": {\"kernel_image_path\": 1}}",
		     "boot-source.kernel_image_path: must be a string");
	expect_error("{" BOOT
		     ", \"machine-config\": {\"vcpu_count\": \"2\", \"mem_size_mib\": 64}}",
		     "machine-config.vcpu_count: must be an integer");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1.5, \"mem_size_mib\": 64}}",
		     "machine-config.vcpu_count: must be an integer");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2}}",
		     "machine-config.mem_size_mib: required");
	expect_error("{" BOOT ", \"drives\": {}}", "drives: must be an array");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\"}]}",
		     "drives[0].is_root_device: required");
	expect_error("{" BOOT ", \"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": 1}}",
		     "balloon.deflate_on_oom: must be true or false");
	expect_error("{" BOOT ", \"entropy\": {\"rate_limiter\": {\"ops\": {\"size\": 1}}}}",
		     "entropy.rate_limiter.ops.refill_time: required");
	expect_error("{" BOOT ", \"metrics\": {}}", "metrics.metrics_path: required");
	expect_error("{" BOOT ", \"mmds-config\": {\"network_interfaces\": [1]}}",
		     "mmds-config.network_interfaces[0]: must be a string");
}

static void test_limits(void **state)
{
	char json[4096 + 512], path[4200];
	unsigned int i;
	int n;

	(void)state;
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 0, \"mem_size_mib\": 64}}",
		     "machine-config.vcpu_count: 0 is out of range, must be from 1 to 32");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 33, \"mem_size_mib\": 64}}",
		     "from 1 to 32");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": -1, \"mem_size_mib\": 64}}",
		     "from 1 to 32");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1}}",
		     "machine-config.mem_size_mib: 1 is out of range");
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}",
		     "vsock.guest_cid: 2 is out of range, must be from 3");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", "
		     "\"host_dev_name\": \"a-very-long-tap-name0\"}]}",
		     "network-interfaces[0].host_dev_name: longer than 15 bytes");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"1234567890123456789012345678901234"
		     "5678901234567890123456789012345\", "
		     "\"path_on_host\": \"/a\", \"is_root_device\": false}]}",
		     "drives[0].drive_id: '123");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a/b\", "
		     "\"path_on_host\": \"/a\", \"is_root_device\": false}]}",
		     "drives[0].drive_id: 'a/b' is not an id");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 1, "
		     "\"refill_time\": 9223372036854775807}}}]}",
		     "too large");

	/* A path that does not fit the fixed buffer is refused, never truncated. */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(json, sizeof(json),
		 "{" BOOT ", \"drives\": [{\"drive_id\": \"a\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false}]}",
		 path);
	expect_error(json, "drives[0].path_on_host: longer than");
	snprintf(json, sizeof(json),
		 "{" BOOT ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": "
		 "\"%.100s\"}}",
		 path);
	expect_error(json, "vsock.uds_path: longer than 96 bytes");
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\"}}", path);
	expect_error(json, "boot-source: a path is longer than");

	/* Nine drives: one too many. */
	n = snprintf(json, sizeof(json), "{" BOOT ", \"drives\": [");
	for (i = 0; i < 9; i++)
		n += snprintf(json + n, sizeof(json) - n,
			      "%s{\"drive_id\": \"d%u\", \"path_on_host\": "
			      "\"/d\", \"is_root_device\": false}",
			      i ? ", " : "", i);
	snprintf(json + n, sizeof(json) - n, "]}");
	expect_error(json, "drives[8]: drive 'd8': at most 8 drives");
	n = snprintf(json, sizeof(json), "{" BOOT ", \"network-interfaces\": [");
	for (i = 0; i < 5; i++)
		n += snprintf(json + n, sizeof(json) - n,
			      "%s{\"iface_id\": \"e%u\", "
			      "\"host_dev_name\": \"t%u\"}",
			      i ? ", " : "", i, i);
	snprintf(json + n, sizeof(json) - n, "]}");
	expect_error(json, "network-interfaces[4]: network interface 'e4': at most 4 interfaces");
}

static void test_values(void **state)
{
	(void)state;
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": false, \"cache_type\": \"None\"}]}",
		     "drives[0].cache_type: unknown value 'None'");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": false, \"io_engine\": \"Fast\"}]}",
		     "drives[0].io_engine: unknown value 'Fast'");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": true}, {\"drive_id\": \"b\", \"path_on_host\": \"/b\", "
		     "\"is_root_device\": true}]}",
		     "drives[1]: drive 'b': 'a' is already the root device");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": false}, {\"drive_id\": \"a\", \"path_on_host\": \"/b\", "
		     "\"is_root_device\": false}]}",
		     "drives[1].drive_id: 'a' is used twice");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": "
		     "\"t\", \"guest_mac\": \"02:00:00:00:00:zz\"}]}",
		     "network-interfaces[0].guest_mac: '02:00:00:00:00:zz' is not a MAC");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": "
		     "\"t\", \"guest_mac\": \"02:00:00:00:00: 1\"}]}",
		     "is not a MAC");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": "
		     "\"t\", \"guest_mac\": \"02:00:00:00:00:01:02\"}]}",
		     "is not a MAC");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": "
		     "\"t\", \"guest_mac\": \"01:00:5e:00:00:01\"}]}",
		     "must be unicast");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": "
		     "\"t\"}, {\"iface_id\": \"a\", \"host_dev_name\": \"u\"}]}",
		     "network-interfaces[1].iface_id: 'a' is used twice");
	expect_error("{" BOOT ", \"logger\": {\"level\": \"Loud\"}}",
		     "logger.level: unknown value 'Loud'");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"\"}}", "must not be empty");
}

static void test_unsupported(void **state)
{
	(void)state;
	expect_error("{" BOOT ", \"cpu-config\": {}}", "cpu-config: not supported by ember yet");
	expect_error("{" BOOT ", \"pmem\": []}", "pmem: not supported by ember yet");
	expect_error("{" BOOT ", \"memory-hotplug\": {}}", "memory-hotplug: not supported");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64, "
		     "\"smt\": true}}",
		     "machine-config.smt: not supported by ember yet");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64, "
		     "\"track_dirty_pages\": 1}}",
		     "machine-config.track_dirty_pages: must be true or false");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64, "
		     "\"huge_pages\": \"2M\"}}",
		     "machine-config.huge_pages: not supported");
	expect_error("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64, "
		     "\"cpu_template\": \"T2\"}}",
		     "machine-config.cpu_template: not supported");
	expect_error("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		     "\"is_root_device\": true, \"partuuid\": \"x\"}]}",
		     "drives[0].partuuid: not supported by ember yet");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": "
		     "\"t\", \"mtu\": 1500}]}",
		     "network-interfaces[0].mtu: not supported");
	expect_error("{" BOOT ", \"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": false, "
		     "\"free_page_reporting\": true}}",
		     "balloon.free_page_reporting: not supported");
}

/* "switch_socket" in place of "host_dev_name": ember's interface on an ember-switch port. */
static void test_switch_socket(void **state)
{
	char err[256], long_path[200], json[512];
	struct vm_config cfg;
	json_t *out, *nets;

	(void)state;
	assert_int_equal(load("{" BOOT ", \"network-interfaces\": ["
			      "{\"iface_id\": \"a\", \"switch_socket\": \"/run/sw/sock\", "
			      "\"guest_mac\": \"02:00:00:00:00:0a\"}, "
			      "{\"iface_id\": \"b\", \"switch_socket\": \"/run/sw/sock\"}, "
			      "{\"iface_id\": \"c\", \"host_dev_name\": \"tap0\"}]}",
			      &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg.nr_nets, 3);
	assert_string_equal(cfg.nets[0].switch_path, "/run/sw/sock");
	assert_string_equal(cfg.nets[0].tap, "");
	assert_true(cfg.nets[0].has_mac);
	/* Two ports on one switch are fine; two interfaces on one TAP are not. */
	assert_string_equal(cfg.nets[1].switch_path, "/run/sw/sock");
	assert_string_equal(cfg.nets[2].tap, "tap0");
	assert_string_equal(cfg.nets[2].switch_path, "");
	/* GET /vm/config (and a snapshot's configuration) says it back. */
	out = cfg_to_json(&cfg);
	assert_non_null(out);
	nets = json_object_get(out, "network-interfaces");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(nets, 0), "switch_socket")),
	    "/run/sw/sock");
	assert_null(json_object_get(json_array_get(nets, 0), "host_dev_name"));
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(nets, 2), "host_dev_name")), "tap0");
	assert_null(json_object_get(json_array_get(nets, 2), "switch_socket"));
	json_decref(out);
	vm_config_free(&cfg);

	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", "
		     "\"host_dev_name\": \"t\", \"switch_socket\": \"/s\"}]}",
		     "network-interfaces[0]: exactly one of host_dev_name and switch_socket must "
		     "be given");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\"}]}",
		     "network-interfaces[0]: exactly one of host_dev_name and switch_socket");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", "
		     "\"switch_socket\": \"\"}]}",
		     "network-interfaces[0].switch_socket: must not be empty");
	expect_error("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", "
		     "\"switch_socket\": 7}]}",
		     "network-interfaces[0].switch_socket: must be a string");
	memset(long_path, 'p', NET_SWITCH_PATH_MAX + 1);
	long_path[NET_SWITCH_PATH_MAX + 1] = '\0';
	snprintf(json, sizeof(json),
		 "{" BOOT ", \"network-interfaces\": [{\"iface_id\": "
		 "\"a\", \"switch_socket\": \"%s\"}]}",
		 long_path);
	expect_error(json, "network-interfaces[0].switch_socket: longer than 107 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_minimal),
	    cmocka_unit_test(test_bad_json),
	    cmocka_unit_test(test_unknown_fields),
	    cmocka_unit_test(test_types_and_required),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_unsupported),
	    cmocka_unit_test(test_switch_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
