/*
 * libFuzzer target: the fuzzer's first byte picks a PUT or PATCH route of the REST API and
 * the rest (at most 4 KiB) is its JSON body, parsed as routes.c parses it. The body goes
 * through the route's section parser, where it has one (the config file's, from
 * sections.c), and through its handler, called in a state that refuses the route (so
 * nothing is opened, started or written; the body is still read whole first, as in
 * Firecracker). /mmds PUT and PATCH, which change only the data store, run for real.
 *
 * Besides "no crash":
 * - a refusal comes with error text, a success without; a refused section or request
 *   leaves the configuration as it was;
 * - the handler refuses for the state exactly when the section parser took the body;
 *   a handler never succeeds in a state its route is refused in;
 * - a parsed section written back out (GET /vm/config, a snapshot's configuration) is
 *   taken again and reads as the same thing, and every field the body gave shows there
 *   with the value it gave;
 * - /mmds PATCH is RFC 7396: the store shows the patch, and patching again changes nothing.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/handlers.h"
#include "api/instance.h"
#include "config/sections.h"

#define FUZZ_MAX_BODY 4096
/* The id in the path of /drives/{id} and /network-interfaces/{id}. */
#define PATH_ID	      "fz"
/* Small enough that a 4 KiB body can overflow it, so the refusal is reached too. */
#define MMDS_LIMIT    1024

/* Read a body into (cfg): a section parser and what the handler then does with it. */
typedef int (*apply_fn)(struct cf *cf, json_t *v, struct vm_config *cfg);

struct endpoint {
	const char *name;
	int (*handle)(struct api_call *c);
	enum instance_state state; /* one that refuses the route, when (refused) */
	const char *refused;	   /* the handler's answer to a good body */
	apply_fn apply;		   /* the section parser, or NULL when only the handler reads it */
	const char *section;	   /* its key in FullVmConfiguration, for the round trip */
	bool listed;		   /* the section is an array: the body is its first element */
	const char *id_key;	   /* the body's id, which must be the path's */
};

static __attribute__((format(printf, 1, 2), noreturn)) void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int apply_boot(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_boot_source(cf, v, cfg);
}

static int apply_drive(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	struct disk_config d;
	char why[256];

	if (cfg_drive(cf, v, "drive", &d))
		return -EINVAL;
	if (vm_config_put_drive(cfg, &d, why, sizeof(why)))
		fail("an empty configuration refused a drive: %s", why);
	return 0;
}

static int apply_net(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	struct net_config n;
	char why[256];

	if (cfg_net(cf, v, "network-interface", &n))
		return -EINVAL;
	if (vm_config_put_net(cfg, &n, why, sizeof(why)))
		fail("an empty configuration refused an interface: %s", why);
	return 0;
}

static int apply_machine(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_machine(cf, v, false, cfg);
}

static int apply_machine_patch(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_machine(cf, v, true, cfg);
}

static int apply_vsock(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	if (cfg_vsock(cf, v, &cfg->vsock_cfg))
		return -EINVAL;
	cfg->vsock = true;
	return 0;
}

static int apply_entropy(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	if (cfg_entropy(cf, v, &cfg->rng_limit))
		return -EINVAL;
	cfg->rng = true;
	return 0;
}

static int apply_balloon(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	if (cfg_balloon(cf, v, &cfg->balloon_cfg))
		return -EINVAL;
	cfg->balloon = true;
	return 0;
}

static int apply_balloon_patch(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_balloon_update(cf, v, &cfg->balloon_cfg.target_mib);
}

static int apply_balloon_stats(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_balloon_stats_update(cf, v, &cfg->balloon_cfg.stats_period);
}

static int apply_logger(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_logger(cf, v, &cfg->logger);
}

static int apply_metrics(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_metrics(cf, v, &cfg->metrics);
}

static int apply_mmds_config(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	unsigned int i;

	/* As the handler's first look: the interfaces are not looked up yet. */
	if (cfg_mmds(cf, v, NULL, &cfg->mmds))
		return -EINVAL;
	/* ASan cannot see a name run over into the next one: each must end in its own slot. */
	for (i = 0; i < cfg->mmds.nr_ifaces; i++)
		if (!device_id_valid(cfg->mmds.ifaces[i]))
			fail("mmds-config: interface %u taken as '%.80s'", i, cfg->mmds.ifaces[i]);
	return 0;
}

static int apply_snapshot_load(struct cf *cf, json_t *v, struct vm_config *cfg)
{
	return cfg_snapshot_load(cf, v, &cfg->restore);
}

#define BEFORE INSTANCE_NOT_STARTED, MSG_BEFORE_START
#define AFTER  INSTANCE_RUNNING, MSG_AFTER_START

static const struct endpoint endpoints[] = {
	{"PUT /boot-source", h_put_boot_source, AFTER, apply_boot, "boot-source", false, NULL},
	{"PUT /drives/" PATH_ID, h_put_drive, AFTER, apply_drive, "drives", true, "drive_id"},
	{"PATCH /drives/" PATH_ID, h_patch_drive, BEFORE, NULL, NULL, false, NULL},
	{"PUT /network-interfaces/" PATH_ID, h_put_net, AFTER, apply_net, "network-interfaces",
	 true, "iface_id"},
	{"PATCH /network-interfaces/" PATH_ID, h_patch_net, BEFORE, NULL, NULL, false, NULL},
	{"PUT /machine-config", h_put_machine, AFTER, apply_machine, "machine-config", false,
	 NULL},
	{"PATCH /machine-config", h_patch_machine, AFTER, apply_machine_patch, "machine-config",
	 false, NULL},
	{"PUT /vsock", h_put_vsock, AFTER, apply_vsock, "vsock", false, NULL},
	{"PUT /entropy", h_put_entropy, AFTER, apply_entropy, "entropy", false, NULL},
	{"PUT /balloon", h_put_balloon, AFTER, apply_balloon, "balloon", false, NULL},
	{"PATCH /balloon", h_patch_balloon, BEFORE, apply_balloon_patch, NULL, false, NULL},
	{"PATCH /balloon/statistics", h_patch_balloon_stats, BEFORE, apply_balloon_stats, NULL,
	 false, NULL},
	{"PUT /logger", h_put_logger, AFTER, apply_logger, "logger", false, NULL},
	{"PUT /metrics", h_put_metrics, AFTER, apply_metrics, "metrics", false, NULL},
	{"PUT /mmds/config", h_put_mmds_config, AFTER, apply_mmds_config, "mmds-config", false,
	 NULL},
	{"PUT /snapshot/create", h_put_snapshot_create, BEFORE, NULL, NULL, false, NULL},
	{"PUT /snapshot/load", h_put_snapshot_load, AFTER, apply_snapshot_load, NULL, false,
	 NULL},
	{"PATCH /vm", h_patch_vm, BEFORE, NULL, NULL, false, NULL},
	/* Any time: a Running VM refuses InstanceStart, has no keyboard and no metrics. */
	{"PUT /actions", h_put_action, INSTANCE_RUNNING, NULL, NULL, NULL, false, NULL},
	{"PUT /mmds", h_put_mmds, INSTANCE_NOT_STARTED, NULL, NULL, NULL, false, NULL},
	{"PATCH /mmds", h_patch_mmds, INSTANCE_NOT_STARTED, NULL, NULL, NULL, false, NULL},
};

#define NR_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static struct instance in;
static struct vm_config in_cfg; /* what in.cfg must still be after every request */
static json_t *mmds_base;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vm_config cfg;

	(void)argc;
	(void)argv;
	vm_config_init(&cfg);
	instance_init(&in, "fuzz", &cfg, 0);
	in.mmds.limit = MMDS_LIMIT;
	in_cfg = in.cfg;
	mmds_base = json_loads("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":1}},"
			       "\"user-data\":\"ud\",\"l\":[1,2]}", 0, NULL);
	if (!mmds_base)
		abort();
	return 0;
}

/* The parser's answer must match its text, and a refusal must leave (cfg) as it was. */
static int checked_apply(const struct endpoint *e, json_t *v, struct vm_config *cfg,
			 const char *what)
{
	static struct vm_config fresh;
	char err[512] = "";
	struct cf cf = {.err = err, .err_len = sizeof(err)};
	int ret;

	vm_config_init(cfg);
	vm_config_init(&fresh);
	ret = e->apply(&cf, v, cfg);
	if (ret == 0 && err[0])
		fail("%s: %s: success with the error '%s'", e->name, what, err);
	if (ret != 0 && (ret != -EINVAL || !err[0]))
		fail("%s: %s: refused (%d) without error text", e->name, what, ret);
	if (ret != 0 && memcmp(cfg, &fresh, sizeof(fresh)))
		fail("%s: %s: refused, but the configuration changed", e->name, what);
	return ret;
}

/*
 * Every member the body gave shows in (out) with the value it gave, where (out) has it
 * (a default, a zero bucket, a deprecated field are left out). Normalised: the logger's
 * level (any case, Trace is Debug), io_engine (ember picks its own), a MAC's case.
 */
static void same_values(const char *where, json_t *body, json_t *out)
{
	const char *key;
	json_t *v, *o;

	json_object_foreach(body, key, v)
	{
		o = json_object_get(out, key);
		if (json_is_null(v) || !o || !strcmp(key, "level") || !strcmp(key, "io_engine"))
			continue;
		if (json_is_object(v) && json_is_object(o))
			same_values(key, v, o);
		else if (!strcmp(key, "guest_mac") && json_is_string(v) && json_is_string(o)) {
			if (strcasecmp(json_string_value(v), json_string_value(o)))
				fail("%s.guest_mac: '%s' written as '%s'", where,
				     json_string_value(v), json_string_value(o));
		} else if (!json_equal(v, o))
			fail("%s.%s: written back with another value", where, key);
	}
}

/* (cfg), parsed from (body), written out, read back in: the same configuration. */
static void round_trip(const struct endpoint *e, json_t *body, struct vm_config *cfg)
{
	static struct vm_config again;
	json_t *all = cfg_to_json(cfg), *sec, *reread = NULL, *all2 = NULL;
	char *text = NULL;

	sec = all ? json_object_get(all, e->section) : NULL;
	if (e->listed)
		sec = json_array_get(sec, 0);
	if (!sec)
		fail("%s: no '%s' in the configuration written out", e->name, e->section);
	same_values(e->section, body, sec);
	text = json_dumps(sec, JSON_COMPACT);
	reread = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!reread)
		fail("%s: the section written out is not JSON", e->name);
	if (checked_apply(e, reread, &again, "written back"))
		fail("%s: refuses its own '%s': %s", e->name, e->section, text);
	all2 = cfg_to_json(&again);
	if (!all2 || !json_equal(all, all2))
		fail("%s: '%s' read back as another configuration", e->name, text);
	vm_config_free(&again);
	json_decref(all);
	json_decref(all2);
	json_decref(reread);
	free(text);
}

/* A handler in a state that refuses its route: it reads the body, then says no. */
static void check_refused(const struct endpoint *e, struct api_call *c, int ret, int parsed)
{
	bool good = parsed == 0;

	if (ret == 0)
		fail("%s: the handler succeeded in a refused state", e->name);
	if (!c->fault[0])
		fail("%s: refused without a fault_message", e->name);
	if (memcmp(&in.cfg, &in_cfg, sizeof(in_cfg)) || in.configured)
		fail("%s: refused, but the configuration changed", e->name);
	if (!e->refused || !e->apply)
		return;
	/* A good body is refused for the state; only a foreign id is named before it. */
	if (good && e->id_key)
		good = !strcmp(json_string_value(json_object_get(c->body, e->id_key)), PATH_ID);
	if (good != !strcmp(c->fault, e->refused))
		fail("%s: the section parser %s the body, the handler answered '%s'", e->name,
		     parsed ? "refused" : "took", c->fault);
}

/* The store shows (patch): nulls removed, objects merged, everything else replaced. */
static void patched(json_t *store, json_t *patch)
{
	const char *key;
	json_t *v, *s;

	json_object_foreach(patch, key, v)
	{
		s = json_object_get(store, key);
		if (json_is_null(v) ? s != NULL
				    : json_is_object(v) ? !json_is_object(s) : !json_equal(s, v))
			fail("PATCH /mmds: '%s' is not as the patch says", key);
		if (json_is_object(v))
			patched(s, v);
	}
}

static void check_mmds(const struct endpoint *e, struct api_call *c, int ret, json_t *before)
{
	json_t *first;

	if (ret ? !c->fault[0] || !json_equal(in.mmds.store, before) : c->fault[0] != 0)
		fail("%s: ret %d, fault '%s', store %schanged", e->name, ret, c->fault,
		     json_equal(in.mmds.store, before) ? "un" : "");
	if (ret)
		return;
	if (e->handle == h_put_mmds) {
		if (in.mmds.store != c->body)
			fail("PUT /mmds: the store is not the body");
		return;
	}
	patched(in.mmds.store, c->body);
	/* Idempotent: the same patch again is the same store. */
	first = json_deep_copy(in.mmds.store);
	if (!first || h_patch_mmds(c) || !json_equal(first, in.mmds.store))
		fail("PATCH /mmds: a second application changed the store");
	json_decref(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg;
	const struct endpoint *e;
	struct api_call c = {.in = &in, .id = PATH_ID};
	json_t *before = NULL;
	int parsed = -1, ret;

	if (size < 2)
		return 0;
	e = &endpoints[data[0] % NR_ENDPOINTS];
	data++;
	size--;
	if (size > FUZZ_MAX_BODY)
		size = FUZZ_MAX_BODY;
	/* As routes.c's parse_body(): a body that is not JSON never reaches a handler. */
	c.body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!c.body)
		return 0;
	vm_config_init(&cfg);
	if (e->apply) {
		parsed = checked_apply(e, c.body, &cfg, "body");
		if (!parsed && e->section)
			round_trip(e, c.body, &cfg);
	}
	c.cf = (struct cf){.err = c.fault, .err_len = sizeof(c.fault)};
	c.state_fault = e->refused;
	in.state = e->state;
	if (e->handle == h_put_mmds || e->handle == h_patch_mmds) {
		before = json_deep_copy(mmds_base);
		if (!before || mmds_set_store(&in.mmds, json_incref(before), &(size_t){0}))
			abort();
	}
	ret = e->handle(&c);
	if (before)
		check_mmds(e, &c, ret, before);
	else
		check_refused(e, &c, ret, parsed);
	vm_config_free(&cfg);
	json_decref(before);
	json_decref(c.reply);
	json_decref(c.body);
	return 0;
}
