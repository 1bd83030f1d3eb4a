/*
 * Firecracker's configuration objects (BootSource, MachineConfiguration, Drive, ...), read
 * into ember's structs. The config file and the API bodies both come through here, so a
 * field means the same thing either way. Each parser fills its output only on success.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sections.h"
#include "arch_defs.h"

/* A balloon target counts 4 KiB pages in a 32-bit field. */
#define CF_BALLOON_MAX_MIB     ((UINT32_MAX * 4096ULL) / MiB)
#define CF_BALLOON_MAX_STATS_S 3600

int cf_id(struct cf *cf, json_t *v, const char *where, const char *key, char *out)
{
	const char *id = NULL;
	int err = cf_str(cf, v, where, key, true, &id);

	if (err)
		return err;
	if (!device_id_valid(id))
		return cf_fail(cf, "%s.%s: '%s' is not an id: 1 to %u letters, digits or '_'",
			       where, key, id, CONFIG_ID_MAX);
	strcpy(out, id);
	return 0;
}

int cfg_boot_source(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	static const char *const known[] = {"kernel_image_path", "initrd_path", "boot_args", NULL};
	const char *w = "boot-source", *kernel = NULL, *initrd = NULL, *args = NULL;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_str(cf, v, w, "kernel_image_path", true, &kernel) ?:
	      cf_str(cf, v, w, "initrd_path", false, &initrd) ?:
	      cf_str(cf, v, w, "boot_args", false, &args);
	if (err)
		return err;
	if (!*kernel)
		return cf_fail(cf, "%s.kernel_image_path: must not be empty", w);
	if (strlen(kernel) >= PATH_MAX || (initrd && strlen(initrd) >= PATH_MAX))
		return cf_fail(cf, "%s: a path is longer than %d bytes", w, PATH_MAX - 1);
	if (initrd && !*initrd)
		return cf_fail(cf, "%s.initrd_path: must not be empty", w);
	/* root= may be added at boot: leave it room. */
	if (args && strlen(args) + sizeof(" root=/dev/vda rw") > ARCH_CMDLINE_MAX)
		return cf_fail(cf, "%s.boot_args: %zu bytes, the limit is %zu", w, strlen(args),
			       ARCH_CMDLINE_MAX - sizeof(" root=/dev/vda rw"));
	if (vm_config_set_boot(cfg, kernel, initrd, args))
		return cf_fail(cf, "out of memory");
	return 0;
}

int cfg_machine(struct cf *cf, json_t *v, bool partial, struct vm_config *cfg)
{
	static const char *const known[] = {
	    "vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
	    "huge_pages", "cpu_template", "acpi", NULL};
	const char *w = "machine-config";
	uint64_t vcpus = cfg->vcpus, mib = cfg->mem_mib;
	/* A PUT sets every field, to its default if left out; a PATCH keeps what it omits. */
	bool track = partial ? cfg->track_dirty_pages : false;
	bool acpi = partial ? cfg->acpi : true;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      (partial && !json_object_size(v) ? cf_fail(cf, "Empty PATCH request.") : 0) ?:
	      cf_uint(cf, v, w, "vcpu_count", !partial, 1, ARCH_MAX_VCPUS, &vcpus) ?:
	      cf_uint(cf, v, w, "mem_size_mib", !partial, 2, VM_MAX_MEM_MIB, &mib) ?:
	      cf_default_only(cf, v, w, "smt", json_false()) ?:
	      cf_bool(cf, v, w, "track_dirty_pages", false, &track) ?:
	      cf_default_only(cf, v, w, "huge_pages", json_string("None")) ?:
	      cf_default_only(cf, v, w, "cpu_template", json_string("None")) ?:
	      cf_bool(cf, v, w, "acpi", false, &acpi);
	if (err)
		return err;
	cfg->vcpus = vcpus;
	cfg->mem_mib = mib;
	cfg->track_dirty_pages = track;
	cfg->acpi = acpi;
	return 0;
}

int cfg_drive(struct cf *cf, json_t *v, const char *w, struct disk_config *out)
{
	static const char *const known[] = {
	    "drive_id",	    "path_on_host", "is_root_device", "is_read_only", "cache_type",
	    "rate_limiter", "io_engine",    "partuuid",	      "socket",	      NULL};
	static const char *const caches[] = {"Unsafe", "Writeback", NULL};
	static const char *const engines[] = {"Sync", "Async", NULL};
	unsigned int cache = 0, engine = 0;
	struct disk_config d = {0};
	json_t *p;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_id(cf, v, w, "drive_id", d.id) ?:
	      cf_bool(cf, v, w, "is_root_device", true, &d.root) ?:
	      cf_member(cf, v, w, "partuuid", false, &p) ?:
	      (p ? cf_fail(cf, "%s.partuuid: not supported by ember yet", w) : 0) ?:
	      cf_member(cf, v, w, "socket", false, &p) ?:
	      (p ? cf_fail(cf, "%s.socket: vhost-user is not supported by ember yet", w) : 0) ?:
	      cf_str_copy(cf, v, w, "path_on_host", true, d.path, sizeof(d.path)) ?:
	      cf_bool(cf, v, w, "is_read_only", false, &d.ro) ?:
	      cf_enum(cf, v, w, "cache_type", caches, &cache) ?:
	      cf_enum(cf, v, w, "io_engine", engines, &engine) ?:
	      cf_limiter(cf, v, w, "rate_limiter", &d.limit);
	if (err)
		return err;
	/* The guest reads drive_id back as the disk's serial (GET_ID), cut to 20 bytes. */
	memcpy(d.serial, d.id, MIN(strlen(d.id), sizeof(d.serial) - 1));
	/* io_engine is Firecracker's choice of I/O path; ember picks its own (io_uring or sync). */
	d.cache = cache ? BLK_CACHE_WRITEBACK : BLK_CACHE_UNSAFE;
	*out = d;
	return 0;
}

/* "AA:BB:CC:DD:EE:FF", exactly; strtoul and sscanf would take signs and spaces. */
static int cf_mac(const char *s, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";
	unsigned int i;

	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		/* tolower(), not | 0x20, which would read the controls 0x10-0x19 as digits. */
		const char *hi = s[3 * i] ? strchr(hex, tolower((unsigned char)s[3 * i])) : NULL;
		const char *lo = s[3 * i + 1] ? strchr(hex, tolower((unsigned char)s[3 * i + 1]))
					      : NULL;

		if (!hi || !lo || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (hi - hex) << 4 | (lo - hex);
	}
	return 0;
}

int cfg_net(struct cf *cf, json_t *v, const char *w, struct net_config *out)
{
	/* switch_socket is ember's: the interface on a port of ember-switch, not a TAP. */
	static const char *const known[] = {
	    "iface_id",	       "host_dev_name", "switch_socket", "guest_mac", "rx_rate_limiter",
	    "tx_rate_limiter", "mtu",		NULL};
	struct net_config n = {0};
	const char *mac = NULL;
	json_t *tap, *sw, *p;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_id(cf, v, w, "iface_id", n.id) ?:
	      cf_member(cf, v, w, "host_dev_name", false, &tap) ?:
	      cf_member(cf, v, w, "switch_socket", false, &sw) ?:
	      (!tap == !sw ? cf_fail(cf, "%s: exactly one of host_dev_name and switch_socket "
				 "must be given", w) : 0) ?:
	      cf_str_copy(cf, v, w, "host_dev_name", false, n.tap, sizeof(n.tap)) ?:
	      cf_str_copy(cf, v, w, "switch_socket", false, n.switch_path,
			  sizeof(n.switch_path)) ?:
	      cf_str(cf, v, w, "guest_mac", false, &mac) ?:
	      cf_member(cf, v, w, "mtu", false, &p) ?:
	      (p ? cf_fail(cf, "%s.mtu: not supported by ember yet", w) : 0) ?:
	      cf_limiter(cf, v, w, "rx_rate_limiter", &n.rx_limit) ?:
	      cf_limiter(cf, v, w, "tx_rate_limiter", &n.tx_limit);
	if (err)
		return err;
	if (mac && cf_mac(mac, n.mac))
		return cf_fail(cf, "%s.guest_mac: '%s' is not a MAC address AA:BB:CC:DD:EE:FF", w,
			       mac);
	/* A multicast MAC cannot be a station address. */
	if (mac && (n.mac[0] & 1))
		return cf_fail(cf, "%s.guest_mac: '%s' is multicast, it must be unicast", w, mac);
	n.has_mac = mac != NULL;
	*out = n;
	return 0;
}

int cfg_vsock(struct cf *cf, json_t *v, struct vsock_config *out)
{
	static const char *const known[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	const char *w = "vsock", *id;
	struct vsock_config c = {0};
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_uint(cf, v, w, "guest_cid", true, VSOCK_CID_MIN, VSOCK_CID_MAX, &c.cid) ?:
	      cf_str_copy(cf, v, w, "uds_path", true, c.path, sizeof(c.path)) ?:
	      cf_str(cf, v, w, "vsock_id", false, &id); /* deprecated, and meaningless here */
	if (!err)
		*out = c;
	return err;
}

int cfg_balloon(struct cf *cf, json_t *v, struct balloon_config *out)
{
	static const char *const known[] = {
	    "amount_mib",	 "deflate_on_oom",	"stats_polling_interval_s",
	    "free_page_hinting", "free_page_reporting", NULL};
	struct balloon_config b = {0};
	const char *w = "balloon";
	uint64_t stats = 0;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_uint(cf, v, w, "amount_mib", true, 0, CF_BALLOON_MAX_MIB, &b.target_mib) ?:
	      cf_bool(cf, v, w, "deflate_on_oom", true, &b.deflate_on_oom) ?:
	      cf_uint(cf, v, w, "stats_polling_interval_s", false, 0, CF_BALLOON_MAX_STATS_S,
		      &stats) ?:
	      cf_default_only(cf, v, w, "free_page_hinting", json_false()) ?:
	      cf_default_only(cf, v, w, "free_page_reporting", json_false());
	if (err)
		return err;
	b.stats_period = stats;
	*out = b;
	return 0;
}

int cfg_balloon_update(struct cf *cf, json_t *v, uint64_t *target_mib)
{
	static const char *const known[] = {"amount_mib", NULL};

	return cf_object(cf, v, "balloon") ?: cf_keys(cf, v, "balloon", known) ?:
	       cf_uint(cf, v, "balloon", "amount_mib", true, 0, CF_BALLOON_MAX_MIB, target_mib);
}

int cfg_balloon_stats_update(struct cf *cf, json_t *v, unsigned int *period)
{
	static const char *const known[] = {"stats_polling_interval_s", NULL};
	const char *w = "balloon/statistics";
	uint64_t s = 0;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_uint(cf, v, w, "stats_polling_interval_s", true, 0, CF_BALLOON_MAX_STATS_S, &s);
	if (!err)
		*period = s;
	return err;
}

int cfg_entropy(struct cf *cf, json_t *v, struct throttle_config *out)
{
	static const char *const known[] = {"rate_limiter", NULL};
	struct throttle_config t = {0};
	int err;

	err = cf_object(cf, v, "entropy") ?: cf_keys(cf, v, "entropy", known) ?:
	      cf_limiter(cf, v, "entropy", "rate_limiter", &t);
	if (!err)
		*out = t;
	return err;
}

int cfg_logger(struct cf *cf, json_t *v, struct logger_config *out)
{
	static const char *const known[] = {"level",	       "log_path", "show_level",
					    "show_log_origin", "module",   NULL};
	static const char *const levels[] = {"Error", "Warning", "Info", "Debug",
					     "Trace", "Off",	 NULL};
	/* Firecracker's levels onto ember's: Trace is Debug, Off keeps only errors. */
	static const enum log_level map[] = {LOG_ERROR, LOG_WARN,  LOG_INFO,
					     LOG_DEBUG, LOG_DEBUG, LOG_ERROR};
	struct logger_config l = {.set = true, .level = LOG_INFO};
	const char *w = "logger", *module = NULL;
	unsigned int level = 2;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_enum_nocase(cf, v, w, "level", levels, &level) ?:
	      cf_str_copy(cf, v, w, "log_path", false, l.path, sizeof(l.path)) ?:
	      cf_bool(cf, v, w, "show_level", false, &l.show_level) ?:
	      cf_bool(cf, v, w, "show_log_origin", false, &l.show_origin) ?:
	      cf_str(cf, v, w, "module", false, &module);
	if (err)
		return err;
	if (module)
		return cf_fail(cf, "%s.module: filtering by module is not supported by ember", w);
	l.level = map[level];
	*out = l;
	return 0;
}

int cfg_metrics(struct cf *cf, json_t *v, struct metrics_config *out)
{
	static const char *const known[] = {"metrics_path", "emit_id", "properties", NULL};
	struct metrics_config m = {.set = true};
	const char *w = "metrics", *key;
	json_t *props, *p;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_str_copy(cf, v, w, "metrics_path", true, m.path, sizeof(m.path)) ?:
	      cf_bool(cf, v, w, "emit_id", false, &m.emit_id) ?:
	      cf_member(cf, v, w, "properties", false, &props);
	if (err)
		return err;
	if (props && !json_is_object(props))
		return cf_fail(cf, "metrics.properties: must be an object");
	if (props) {
		json_object_foreach(props, key, p)
		{
			if (!json_is_string(p))
				return cf_fail(cf, "metrics.properties.%s: must be a string", key);
		}
		m.properties = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
		if (!m.properties)
			return cf_fail(cf, "out of memory");
	}
	free(out->properties);
	*out = m;
	return 0;
}

/* A dotted quad in 169.254.0.0/16, as Firecracker requires of the MMDS address. */
static bool mmds_address_valid(const char *s)
{
	unsigned int a, b, c, d;
	char end;

	return sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) == 4 && a == 169 &&
	       b == 254 && c <= 255 && d <= 255 && strspn(s, "0123456789.") == strlen(s);
}

int cfg_mmds(struct cf *cf, json_t *v, const struct vm_config *cfg, struct mmds_config *out)
{
	static const char *const known[] = {"version", "network_interfaces", "ipv4_address",
					    "imds_compat", NULL};
	static const char *const versions[] = {"V1", "V2", NULL};
	struct mmds_config m = {.set = true, .ipv4 = "169.254.169.254"};
	const char *w = "mmds-config", *ip = NULL;
	unsigned int ver = 0, i;
	json_t *ifs, *p;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_enum(cf, v, w, "version", versions, &ver) ?:
	      cf_str(cf, v, w, "ipv4_address", false, &ip) ?:
	      cf_bool(cf, v, w, "imds_compat", false, &m.imds_compat) ?:
	      cf_member(cf, v, w, "network_interfaces", true, &ifs);
	if (err)
		return err;
	if (ip && !mmds_address_valid(ip))
		return cf_fail(cf, "%s.ipv4_address: '%s' is not a link-local address "
			       "169.254.x.y", w, ip);
	if (ip)
		snprintf(m.ipv4, sizeof(m.ipv4), "%s", ip);
	if (!json_is_array(ifs) || json_array_size(ifs) == 0)
		return cf_fail(cf, "%s.network_interfaces: must be a non-empty array", w);
	if (json_array_size(ifs) > VM_MAX_NETS)
		return cf_fail(cf, "%s.network_interfaces: at most %u", w, VM_MAX_NETS);
	json_array_foreach(ifs, i, p)
	{
		if (!json_is_string(p))
			return cf_fail(cf, "%s.network_interfaces[%u]: must be a string", w, i);
		/* Checked before the copy: without (cfg) nothing else bounds its length. */
		if (!device_id_valid(json_string_value(p)))
			return cf_fail(cf, "%s.network_interfaces[%u]: '%s' is not an interface id",
				       w, i, json_string_value(p));
		if (cfg && vm_config_find_net(cfg, json_string_value(p)) < 0)
			return cf_fail(cf, "%s.network_interfaces[%u]: no network interface '%s'",
				       w, i, json_string_value(p));
		strcpy(m.ifaces[i], json_string_value(p));
	}
	m.nr_ifaces = i;
	m.version = ver + 1;
	*out = m;
	return 0;
}
