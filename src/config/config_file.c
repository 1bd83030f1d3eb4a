/*
 * Firecracker's --config-file: a FullVmConfiguration JSON object mapped onto struct
 * vm_config. Anything ember would silently ignore is an error instead, so a config written
 * for Firecracker never boots a VM that differs from what it asks for.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "../util/util.h"
#include "../vmm/vm.h"

/* A balloon target counts 4 KiB pages in a 32-bit field. */
#define CF_BALLOON_MAX_MIB     ((UINT32_MAX * 4096ULL) / MiB)
#define CF_BALLOON_MAX_STATS_S 3600
#define CF_WHERE	       64

/* One load: where the single error message goes. */
struct cf {
	char *err;
	size_t err_len;
};

static int cf_fail(struct cf *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cf_fail(struct cf *cf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cf->err, cf->err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Reject a key of (obj) that is not in the NULL-terminated (known). */
static int cf_keys(struct cf *cf, json_t *obj, const char *where, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		const char *const *k;

		for (k = known; *k && strcmp(*k, key); k++)
			;
		if (!*k)
			return cf_fail(cf, "%s: unknown field '%s'", where, key);
	}
	return 0;
}

static int cf_object(struct cf *cf, json_t *v, const char *where)
{
	return json_is_object(v) ? 0 : cf_fail(cf, "%s: must be an object", where);
}

/*
 * Member (key) of (obj) in (*out); NULL when absent or null, as serde's Option reads it.
 * A missing (required) member is an error.
 */
static int cf_member(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		     json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out && json_is_null(*out))
		*out = NULL;
	if (!*out && required)
		return cf_fail(cf, "%s.%s: required field missing", where, key);
	return 0;
}

/* An integer member in [min, max]; (*out) is left alone when the member is absent. */
static int cf_uint(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		   uint64_t min, uint64_t max, uint64_t *out)
{
	json_int_t n;
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, required, &v);
	if (err || !v)
		return err;
	if (!json_is_integer(v))
		return cf_fail(cf, "%s.%s: must be an integer", where, key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return cf_fail(cf, "%s.%s: %lld is out of range, must be from %llu to %llu", where,
			       key, (long long)n, (unsigned long long)min, (unsigned long long)max);
	*out = n;
	return 0;
}

static int cf_bool(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		   bool *out)
{
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, required, &v);
	if (err || !v)
		return err;
	if (!json_is_boolean(v))
		return cf_fail(cf, "%s.%s: must be true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

/* A string member; (*out) points into the JSON document and is left alone when absent. */
static int cf_str(struct cf *cf, json_t *obj, const char *where, const char *key, bool required,
		  const char **out)
{
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, required, &v);
	if (err || !v)
		return err;
	if (!json_is_string(v))
		return cf_fail(cf, "%s.%s: must be a string", where, key);
	*out = json_string_value(v);
	return 0;
}

/* A non-empty string member copied into (buf, size); too long is an error, not a truncation. */
static int cf_str_copy(struct cf *cf, json_t *obj, const char *where, const char *key,
		       bool required, char *buf, size_t size)
{
	const char *s = NULL;
	int err;

	err = cf_str(cf, obj, where, key, required, &s);
	if (err || !s)
		return err;
	if (!*s)
		return cf_fail(cf, "%s.%s: must not be empty", where, key);
	if (strlen(s) >= size)
		return cf_fail(cf, "%s.%s: longer than %zu bytes", where, key, size - 1);
	strcpy(buf, s);
	return 0;
}

/* A string member that must be one of (values); (*idx) is its index, untouched if absent. */
static int cf_enum(struct cf *cf, json_t *obj, const char *where, const char *key,
		   const char *const *values, unsigned int *idx)
{
	const char *s = NULL;
	unsigned int i;
	int err;

	err = cf_str(cf, obj, where, key, false, &s);
	if (err || !s)
		return err;
	for (i = 0; values[i]; i++)
		if (!strcmp(s, values[i])) {
			*idx = i;
			return 0;
		}
	return cf_fail(cf, "%s.%s: unknown value '%s'", where, key, s);
}

/* A feature ember lacks is accepted only when it asks for the default, (def). */
static int cf_default_only(struct cf *cf, json_t *obj, const char *where, const char *key,
			   json_t *def)
{
	json_t *v = json_object_get(obj, key);
	int ok = !v || json_is_null(v) || json_equal(v, def);

	json_decref(def);
	return ok ? 0 : cf_fail(cf, "%s.%s: not supported by ember yet", where, key);
}

static int cf_bucket(struct cf *cf, json_t *obj, const char *where, const char *key,
		     struct token_bucket_cfg *b)
{
	static const char *const known[] = {"size", "one_time_burst", "refill_time", NULL};
	char at[CF_WHERE];
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, false, &v);
	if (err || !v)
		return err;
	snprintf(at, sizeof(at), "%s.%s", where, key);
	memset(b, 0, sizeof(*b));
	err = cf_object(cf, v, at) ?: cf_keys(cf, v, at, known) ?:
	      cf_uint(cf, v, at, "size", true, 0, UINT64_MAX, &b->size) ?:
	      cf_uint(cf, v, at, "one_time_burst", false, 0, UINT64_MAX, &b->one_time_burst) ?:
	      cf_uint(cf, v, at, "refill_time", true, 0, UINT64_MAX, &b->refill_time_ms);
	if (!err && token_bucket_cfg_validate(b))
		err = cf_fail(cf, "%s: size, one_time_burst or refill_time too large", at);
	return err;
}

static int cf_limiter(struct cf *cf, json_t *obj, const char *where, const char *key,
		      struct throttle_config *t)
{
	static const char *const known[] = {"bandwidth", "ops", NULL};
	char at[CF_WHERE];
	json_t *v;
	int err;

	err = cf_member(cf, obj, where, key, false, &v);
	if (err || !v)
		return err;
	snprintf(at, sizeof(at), "%s.%s", where, key);
	return cf_object(cf, v, at) ?: cf_keys(cf, v, at, known) ?:
	       cf_bucket(cf, v, at, "bandwidth", &t->bandwidth) ?:
	       cf_bucket(cf, v, at, "ops", &t->ops);
}

/* Strings that must outlive the JSON document, before they are copied into one buffer. */
struct cf_boot {
	const char *kernel, *initrd, *args;
	int root; /* the drive with is_root_device, -1 for none */
	bool root_ro;
};

static int cf_boot_source(struct cf *cf, json_t *v, struct cf_boot *b)
{
	static const char *const known[] = {"kernel_image_path", "initrd_path", "boot_args", NULL};
	const char *w = "boot-source";
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_str(cf, v, w, "kernel_image_path", true, &b->kernel) ?:
	      cf_str(cf, v, w, "initrd_path", false, &b->initrd) ?:
	      cf_str(cf, v, w, "boot_args", false, &b->args);
	if (err)
		return err;
	if (!*b->kernel)
		return cf_fail(cf, "%s.kernel_image_path: must not be empty", w);
	if (strlen(b->kernel) >= PATH_MAX || (b->initrd && strlen(b->initrd) >= PATH_MAX))
		return cf_fail(cf, "%s: a path is longer than %d bytes", w, PATH_MAX - 1);
	if (b->initrd && !*b->initrd)
		return cf_fail(cf, "%s.initrd_path: must not be empty", w);
	return 0;
}

static int cf_machine(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	static const char *const known[] = {
	    "vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
	    "huge_pages", "cpu_template", NULL};
	const char *w = "machine-config";
	uint64_t vcpus = 0, mib = 0;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_uint(cf, v, w, "vcpu_count", true, 1, ARCH_MAX_VCPUS, &vcpus) ?:
	      cf_uint(cf, v, w, "mem_size_mib", true, 2, VM_MAX_MEM_MIB, &mib) ?:
	      cf_default_only(cf, v, w, "smt", json_false()) ?:
	      cf_default_only(cf, v, w, "track_dirty_pages", json_false()) ?:
	      cf_default_only(cf, v, w, "huge_pages", json_string("None")) ?:
	      cf_default_only(cf, v, w, "cpu_template", json_string("None"));
	if (err)
		return err;
	cfg->vcpus = vcpus;
	cfg->mem_mib = mib;
	return 0;
}

static int cf_drive(struct cf *cf, json_t *v, unsigned int i, struct disk_config *d, bool *root)
{
	static const char *const known[] = {
	    "drive_id",	    "path_on_host", "is_root_device", "is_read_only", "cache_type",
	    "rate_limiter", "io_engine",    "partuuid",	      "socket",	      NULL};
	static const char *const caches[] = {"Unsafe", "Writeback", NULL};
	static const char *const engines[] = {"Sync", "Async", NULL};
	unsigned int cache = 0, engine = 0;
	char w[CF_WHERE];
	json_t *p;
	int err;

	snprintf(w, sizeof(w), "drives[%u]", i);
	memset(d, 0, sizeof(*d));
	/* drive_id is what the guest reads back as the disk's serial (GET_ID). */
	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	       cf_str_copy(cf, v, w, "drive_id", true, d->serial, sizeof(d->serial)) ?:
	       cf_bool(cf, v, w, "is_root_device", true, root) ?:
	       cf_member(cf, v, w, "partuuid", false, &p) ?:
	       (p ? cf_fail(cf, "%s.partuuid: not supported by ember yet", w) : 0) ?:
	       cf_member(cf, v, w, "socket", false, &p) ?:
	       (p ? cf_fail(cf, "%s.socket: vhost-user is not supported by ember yet", w) : 0) ?:
	       cf_str_copy(cf, v, w, "path_on_host", true, d->path, sizeof(d->path)) ?:
	       cf_bool(cf, v, w, "is_read_only", false, &d->ro) ?:
	       cf_enum(cf, v, w, "cache_type", caches, &cache) ?:
	       cf_enum(cf, v, w, "io_engine", engines, &engine) ?:
	       cf_limiter(cf, v, w, "rate_limiter", &d->limit);
	/* io_engine is Firecracker's choice of I/O path; ember picks its own (io_uring or sync). */
	d->cache = cache ? BLK_CACHE_WRITEBACK : BLK_CACHE_UNSAFE;
	return err;
}

/* Firecracker puts the root device first, so it is vda, and tells the kernel so. */
static int cf_drives(struct cf *cf, json_t *arr, struct vm_config *cfg, struct cf_boot *b)
{
	struct disk_config root;
	unsigned int i, j;
	json_t *v;
	bool is_root;
	int err;

	if (!json_is_array(arr))
		return cf_fail(cf, "drives: must be an array");
	if (json_array_size(arr) > VM_MAX_DISKS)
		return cf_fail(cf, "drives: at most %u drives", VM_MAX_DISKS);
	json_array_foreach(arr, i, v)
	{
		err = cf_drive(cf, v, i, &cfg->disks[i], &is_root);
		if (err)
			return err;
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->disks[j].serial, cfg->disks[i].serial))
				return cf_fail(cf, "drives[%u].drive_id: '%s' is used twice", i,
					       cfg->disks[i].serial);
		if (is_root && b->root >= 0)
			return cf_fail(cf, "drives[%u].is_root_device: only one root device", i);
		if (is_root)
			b->root = i;
	}
	cfg->nr_disks = i;
	if (b->root > 0) {
		root = cfg->disks[b->root];
		memmove(&cfg->disks[1], &cfg->disks[0], b->root * sizeof(root));
		cfg->disks[0] = root;
	}
	if (b->root >= 0)
		b->root_ro = cfg->disks[0].ro;
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
		const char *hi = s[3 * i] ? strchr(hex, s[3 * i] | 0x20) : NULL;
		const char *lo = s[3 * i + 1] ? strchr(hex, s[3 * i + 1] | 0x20) : NULL;

		if (!hi || !lo || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (hi - hex) << 4 | (lo - hex);
	}
	return 0;
}

static int cf_net(struct cf *cf, json_t *v, unsigned int i, struct net_config *n, const char **id)
{
	static const char *const known[] = {
	    "iface_id",	       "host_dev_name", "guest_mac", "rx_rate_limiter",
	    "tx_rate_limiter", "mtu",		NULL};
	const char *mac = NULL;
	char w[CF_WHERE];
	json_t *p;
	int err;

	snprintf(w, sizeof(w), "network-interfaces[%u]", i);
	memset(n, 0, sizeof(*n));
	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_str(cf, v, w, "iface_id", true, id) ?:
	      cf_str_copy(cf, v, w, "host_dev_name", true, n->tap, sizeof(n->tap)) ?:
	      cf_str(cf, v, w, "guest_mac", false, &mac) ?:
	      cf_member(cf, v, w, "mtu", false, &p) ?:
	      (p ? cf_fail(cf, "%s.mtu: not supported by ember yet", w) : 0) ?:
	      cf_limiter(cf, v, w, "rx_rate_limiter", &n->rx_limit) ?:
	      cf_limiter(cf, v, w, "tx_rate_limiter", &n->tx_limit);
	if (err || !mac)
		return err;
	if (cf_mac(mac, n->mac))
		return cf_fail(cf, "%s.guest_mac: '%s' is not a MAC address AA:BB:CC:DD:EE:FF", w,
			       mac);
	/* A multicast MAC cannot be a station address. */
	if (n->mac[0] & 1)
		return cf_fail(cf, "%s.guest_mac: '%s' is multicast, it must be unicast", w, mac);
	n->has_mac = true;
	return 0;
}

static int cf_nets(struct cf *cf, json_t *arr, struct vm_config *cfg)
{
	const char *ids[VM_MAX_NETS];
	unsigned int i, j;
	json_t *v;
	int err;

	if (!json_is_array(arr))
		return cf_fail(cf, "network-interfaces: must be an array");
	if (json_array_size(arr) > VM_MAX_NETS)
		return cf_fail(cf, "network-interfaces: at most %u interfaces", VM_MAX_NETS);
	json_array_foreach(arr, i, v)
	{
		err = cf_net(cf, v, i, &cfg->nets[i], &ids[i]);
		if (err)
			return err;
		for (j = 0; j < i; j++)
			if (!strcmp(ids[j], ids[i]))
				return cf_fail(
				    cf, "network-interfaces[%u].iface_id: '%s' is used twice", i,
				    ids[i]);
	}
	cfg->nr_nets = i;
	return 0;
}

static int cf_vsock(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	static const char *const known[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	const char *w = "vsock", *id;
	int err;

	memset(&cfg->vsock_cfg, 0, sizeof(cfg->vsock_cfg));
	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_uint(cf, v, w, "guest_cid", true, VSOCK_CID_MIN, VSOCK_CID_MAX,
		      &cfg->vsock_cfg.cid) ?:
	      cf_str_copy(cf, v, w, "uds_path", true, cfg->vsock_cfg.path,
			  sizeof(cfg->vsock_cfg.path)) ?:
	      cf_str(cf, v, w, "vsock_id", false, &id); /* deprecated, and meaningless here */
	cfg->vsock = !err;
	return err;
}

static int cf_balloon(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	static const char *const known[] = {
	    "amount_mib",	 "deflate_on_oom",	"stats_polling_interval_s",
	    "free_page_hinting", "free_page_reporting", NULL};
	struct balloon_config *b = &cfg->balloon_cfg;
	const char *w = "balloon";
	uint64_t stats = 0;
	int err;

	memset(b, 0, sizeof(*b));
	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_uint(cf, v, w, "amount_mib", true, 0, CF_BALLOON_MAX_MIB, &b->target_mib) ?:
	      cf_bool(cf, v, w, "deflate_on_oom", true, &b->deflate_on_oom) ?:
	      cf_uint(cf, v, w, "stats_polling_interval_s", false, 0, CF_BALLOON_MAX_STATS_S,
		      &stats) ?:
	      cf_default_only(cf, v, w, "free_page_hinting", json_false()) ?:
	      cf_default_only(cf, v, w, "free_page_reporting", json_false());
	b->stats_period = stats;
	cfg->balloon = !err;
	return err;
}

static int cf_entropy(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	static const char *const known[] = {"rate_limiter", NULL};
	int err;

	memset(&cfg->rng_limit, 0, sizeof(cfg->rng_limit));
	err = cf_object(cf, v, "entropy") ?: cf_keys(cf, v, "entropy", known) ?:
	      cf_limiter(cf, v, "entropy", "rate_limiter", &cfg->rng_limit);
	cfg->rng = !err;
	return err;
}

/* Sections ember reads but does not act on yet: their shape is still checked. */
static int cf_logger(struct cf *cf, json_t *v)
{
	static const char *const known[] = {"level",	       "log_path", "show_level",
					    "show_log_origin", "module",   NULL};
	static const char *const levels[] = {"Error", "Warning", "Info", "Debug",
					     "Trace", "Off",	 NULL};
	const char *w = "logger", *s;
	unsigned int level;
	bool b;

	return cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	       cf_enum(cf, v, w, "level", levels, &level) ?:
	       cf_str(cf, v, w, "log_path", false, &s) ?:
	       cf_bool(cf, v, w, "show_level", false, &b) ?:
	       cf_bool(cf, v, w, "show_log_origin", false, &b) ?:
	       cf_str(cf, v, w, "module", false, &s);
}

static int cf_metrics(struct cf *cf, json_t *v)
{
	static const char *const known[] = {"metrics_path", "emit_id", "properties", NULL};
	const char *w = "metrics", *s, *key;
	json_t *props, *p;
	bool b;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_str(cf, v, w, "metrics_path", true, &s) ?:
	      cf_bool(cf, v, w, "emit_id", false, &b) ?:
	      cf_member(cf, v, w, "properties", false, &props);
	if (err || !props)
		return err;
	if (!json_is_object(props))
		return cf_fail(cf, "metrics.properties: must be an object");
	json_object_foreach(props, key, p) if (!json_is_string(p)) return cf_fail(
	    cf, "metrics.properties.%s: must be a string", key);
	return 0;
}

static int cf_mmds(struct cf *cf, json_t *v)
{
	static const char *const known[] = {"version", "network_interfaces", "ipv4_address",
					    "imds_compat", NULL};
	static const char *const versions[] = {"V1", "V2", NULL};
	const char *w = "mmds-config", *s;
	unsigned int ver, i;
	json_t *ifs, *p;
	bool b;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      cf_enum(cf, v, w, "version", versions, &ver) ?:
	      cf_str(cf, v, w, "ipv4_address", false, &s) ?:
	      cf_bool(cf, v, w, "imds_compat", false, &b) ?:
	      cf_member(cf, v, w, "network_interfaces", true, &ifs);
	if (err)
		return err;
	if (!json_is_array(ifs))
		return cf_fail(cf, "mmds-config.network_interfaces: must be an array");
	json_array_foreach(ifs, i, p) if (!json_is_string(p)) return cf_fail(
	    cf, "mmds-config.network_interfaces[%u]: must be a string", i);
	return 0;
}

/* Copy the boot strings into one buffer owned by (cfg), appending root= for a root drive. */
static int cf_strings(struct cf *cf, const struct cf_boot *b, struct vm_config *cfg)
{
	const char *args = b->args ? b->args : DEFAULT_BOOT_ARGS;
	const char *root = b->root < 0	? ""
			   : b->root_ro ? " root=/dev/vda ro"
					: " root=/dev/vda rw";
	size_t klen = strlen(b->kernel) + 1, ilen = b->initrd ? strlen(b->initrd) + 1 : 0;
	size_t alen = strlen(args) + strlen(root) + 1;
	char *buf;

	if (alen > ARCH_CMDLINE_MAX)
		return cf_fail(cf, "boot-source.boot_args: %zu bytes%s, the limit is %d", alen - 1,
			       *root ? " with root=" : "", ARCH_CMDLINE_MAX - 1);
	buf = malloc(klen + ilen + alen);
	if (!buf)
		return cf_fail(cf, "out of memory");
	memcpy(buf, b->kernel, klen);
	cfg->kernel_path = buf;
	cfg->initrd_path = NULL;
	if (b->initrd) {
		memcpy(buf + klen, b->initrd, ilen);
		cfg->initrd_path = buf + klen;
	}
	snprintf(buf + klen + ilen, alen, "%s%s", args, root);
	/* No boot_args and no root drive: leave NULL so the VMM's own default applies. */
	cfg->boot_args = b->args || *root ? buf + klen + ilen : NULL;
	cfg->file_strings = buf;
	return 0;
}

static int cf_top(struct cf *cf, json_t *root, struct vm_config *cfg)
{
	static const char *const unsupported[] = {"cpu-config", "pmem", "memory-hotplug", "serial",
						  NULL};
	struct cf_boot boot = {.root = -1};
	const char *key;
	json_t *v;
	int err = 0;

	if (!json_is_object(root))
		return cf_fail(cf, "the top level must be an object");
	json_object_foreach(root, key, v)
	{
		const char *const *u;

		for (u = unsupported; *u && strcmp(*u, key); u++)
			;
		if (*u)
			return cf_fail(cf, "%s: not supported by ember yet", key);
		if (strcmp(key, "boot-source") && strcmp(key, "machine-config") &&
		    strcmp(key, "drives") && strcmp(key, "network-interfaces") &&
		    strcmp(key, "vsock") && strcmp(key, "balloon") && strcmp(key, "entropy") &&
		    strcmp(key, "logger") && strcmp(key, "metrics") && strcmp(key, "mmds-config"))
			return cf_fail(cf, "top level: unknown field '%s'", key);
	}
	v = json_object_get(root, "boot-source");
	if (!v)
		return cf_fail(cf, "boot-source: required section missing");
	err = cf_boot_source(cf, v, &boot);
	if (!err && (v = json_object_get(root, "machine-config")))
		err = cf_machine(cf, v, cfg);
	if (!err && (v = json_object_get(root, "drives")))
		err = cf_drives(cf, v, cfg, &boot);
	if (!err && (v = json_object_get(root, "network-interfaces")))
		err = cf_nets(cf, v, cfg);
	if (!err && (v = json_object_get(root, "vsock")))
		err = cf_vsock(cf, v, cfg);
	if (!err && (v = json_object_get(root, "balloon")))
		err = cf_balloon(cf, v, cfg);
	if (!err && (v = json_object_get(root, "entropy")))
		err = cf_entropy(cf, v, cfg);
	if (!err && (v = json_object_get(root, "logger")))
		err = cf_logger(cf, v);
	if (!err && (v = json_object_get(root, "metrics")))
		err = cf_metrics(cf, v);
	if (!err && (v = json_object_get(root, "mmds-config")))
		err = cf_mmds(cf, v);
	return err ?: cf_strings(cf, &boot, cfg);
}

int config_file_load(const char *path, struct vm_config *cfg, char *err, size_t err_len)
{
	struct cf cf = {.err = err, .err_len = err_len};
	struct vm_config out = *cfg;
	json_error_t jerr;
	json_t *root;
	int ret;

	/* Firecracker's serde rejects a repeated key; so does ember rather than pick one. */
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (jerr.line > 0)
			return cf_fail(&cf, "line %d, column %d: %s", jerr.line, jerr.column,
				       jerr.text);
		return cf_fail(&cf, "%s", jerr.text);
	}
	out.file_strings = NULL;
	ret = cf_top(&cf, root, &out);
	json_decref(root);
	/* (cfg) changes only on success, so a failed load leaves nothing half-filled. */
	if (!ret)
		*cfg = out;
	return ret;
}

void config_file_free(struct vm_config *cfg)
{
	free(cfg->file_strings);
	cfg->file_strings = NULL;
	cfg->kernel_path = NULL;
	cfg->initrd_path = NULL;
	cfg->boot_args = NULL;
}
