/*
 * The route table: each Firecracker path and method, when it is allowed (before or after
 * InstanceStart), and its handler. Handlers parse the JSON body with the same section
 * parsers as --config-file and answer 204, 200 with a body, or 400 with a fault_message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routes.h"
#include "handlers.h"
#include "metrics.h"
#include "../util/log.h"
#include "../util/util.h"

enum route_when {
	ANY_TIME,
	PRE_BOOT,
	POST_BOOT,
};

struct route {
	const char *path; /* ending in '/' when an id follows: "/drives/" */
	enum api_method method;
	enum route_when when;
	bool needs_body;
	int (*handle)(struct api_call *c);
	const char *metric; /* Firecracker's counter name in *_api_requests, or NULL */
};

static const struct route routes[] = {
	{"/", API_GET, ANY_TIME, false, h_get_instance, "instance_info"},
	{"/version", API_GET, ANY_TIME, false, h_get_version, "vmm_version"},
	{"/vm/config", API_GET, ANY_TIME, false, h_get_vm_config, "vm_config"},
	{"/machine-config", API_GET, ANY_TIME, false, h_get_machine, "machine_cfg"},
	{"/machine-config", API_PUT, PRE_BOOT, true, h_put_machine, "machine_cfg"},
	{"/machine-config", API_PATCH, PRE_BOOT, true, h_patch_machine, "machine_cfg"},
	{"/boot-source", API_PUT, PRE_BOOT, true, h_put_boot_source, "boot_source"},
	{"/drives/", API_PUT, PRE_BOOT, true, h_put_drive, "drive"},
	{"/drives/", API_PATCH, POST_BOOT, true, h_patch_drive, "drive"},
	{"/network-interfaces/", API_PUT, PRE_BOOT, true, h_put_net, "network"},
	{"/network-interfaces/", API_PATCH, POST_BOOT, true, h_patch_net, "network"},
	{"/vsock", API_PUT, PRE_BOOT, true, h_put_vsock, "vsock"},
	{"/entropy", API_PUT, PRE_BOOT, true, h_put_entropy, "entropy"},
	{"/balloon", API_GET, ANY_TIME, false, h_get_balloon, "balloon"},
	{"/balloon", API_PUT, PRE_BOOT, true, h_put_balloon, "balloon"},
	{"/balloon", API_PATCH, POST_BOOT, true, h_patch_balloon, "balloon"},
	{"/balloon/statistics", API_GET, ANY_TIME, false, h_get_balloon_stats, "balloon_stats"},
	{"/balloon/statistics", API_PATCH, POST_BOOT, true, h_patch_balloon_stats, "balloon_stats"},
	{"/logger", API_PUT, PRE_BOOT, true, h_put_logger, "logger"},
	{"/metrics", API_PUT, PRE_BOOT, true, h_put_metrics, "metrics"},
	{"/mmds", API_GET, ANY_TIME, false, h_get_mmds, "mmds"},
	{"/mmds", API_PUT, ANY_TIME, true, h_put_mmds, "mmds"},
	{"/mmds", API_PATCH, ANY_TIME, true, h_patch_mmds, "mmds"},
	{"/mmds/config", API_PUT, PRE_BOOT, true, h_put_mmds_config, "mmds_config"},
	{"/actions", API_PUT, ANY_TIME, true, h_put_action, "actions"},
	{"/vm", API_PATCH, POST_BOOT, true, h_patch_vm, "vm"},
	{"/snapshot/create", API_PUT, POST_BOOT, true, h_put_snapshot_create, NULL},
	{"/snapshot/load", API_PUT, PRE_BOOT, true, h_put_snapshot_load, NULL},
	/* Firecracker features ember does not have: a clear 400, never a 404. */
	{"/cpu-config", API_PUT, ANY_TIME, false, h_unsupported, NULL},
	{"/pmem/", API_PUT, ANY_TIME, false, h_unsupported, NULL},
	{"/pmem/", API_PATCH, ANY_TIME, false, h_unsupported, NULL},
	{"/serial", API_PUT, ANY_TIME, false, h_unsupported, NULL},
	{"/hotplug/memory", API_GET, ANY_TIME, false, h_unsupported, NULL},
	{"/hotplug/memory", API_PUT, ANY_TIME, false, h_unsupported, NULL},
	{"/hotplug/memory", API_PATCH, ANY_TIME, false, h_unsupported, NULL},
	{"/balloon/hinting/start", API_PATCH, ANY_TIME, false, h_unsupported, NULL},
	{"/balloon/hinting/status", API_GET, ANY_TIME, false, h_unsupported, NULL},
	{"/balloon/hinting/stop", API_PATCH, ANY_TIME, false, h_unsupported, NULL},
};

_Static_assert(ARRAY_SIZE(routes) <= API_ROUTES_MAX, "a counter for every route");

int api_fail(struct api_call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->fault, sizeof(c->fault), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Whether (path) is route (r)'s, and then its id (after the prefix) in (*id). */
static bool route_matches(const struct route *r, const char *path, const char **id)
{
	size_t n = strlen(r->path);

	if (r->path[n - 1] != '/' || n == 1) {
		*id = NULL;
		return !strcmp(r->path, path);
	}
	if (strncmp(r->path, path, n) || !path[n] || strchr(path + n, '/'))
		return false;
	*id = path + n;
	return true;
}

/* Parse the body into (c->body); 0 or a fault. */
static int parse_body(struct api_call *c, const struct api_request *req)
{
	json_error_t jerr;

	if (!req->body_len)
		return api_fail(c, "The request body is empty.");
	c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body)
		return api_fail(c, "An error occurred when deserializing the json body of a "
			       "request: %s at line %d column %d.", jerr.text, jerr.line,
			       jerr.column);
	return 0;
}

static int route_call(struct api_call *c, const struct api_request *req)
{
	const struct route *r = NULL;
	const char *id = NULL;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!route_matches(&routes[i], req->path, &id))
			continue;
		if (routes[i].method == req->method) {
			r = &routes[i];
			break;
		}
	}
	if (!r)
		return api_fail(c, "Invalid request method and/or path: %s %s.", req->method_name,
				req->path);
	c->route = i;
	c->in->metrics.route_count[i]++;
	c->id = id;
	if (id && !device_id_valid(id))
		return api_fail(c, "Invalid ID '%s': 1 to %u letters, digits or '_'.", id,
				CONFIG_ID_MAX);
	if (req->method == API_GET && req->body_len)
		return api_fail(c, "GET request cannot have a body.");
	if (r->handle == h_unsupported)
		return api_fail(c, "%s %s: this feature is not supported by ember.",
				req->method_name, req->path);
	if (r->when == PRE_BOOT && c->in->state != INSTANCE_NOT_STARTED)
		c->state_fault = MSG_AFTER_START;
	if (r->when == POST_BOOT && c->in->state == INSTANCE_NOT_STARTED)
		c->state_fault = MSG_BEFORE_START;
	/* As Firecracker: a bad body is named first, the state after; no body, no wait. */
	if (c->state_fault && !r->needs_body)
		return api_fail(c, "%s", c->state_fault);
	if (r->needs_body && parse_body(c, req))
		return -EINVAL;
	ret = r->handle(c);
	/* Firecracker loads a snapshot only into a process with nothing but a logger and metrics. */
	if (!ret && r->when == PRE_BOOT && r->handle != h_put_logger &&
	    r->handle != h_put_metrics && r->handle != h_put_snapshot_load)
		c->in->configured = true;
	if (!ret && c->state_fault) {
		/* A handler that forgot api_ready(): say so loudly; the request still fails. */
		log_err(&c->in->log, "API %s %s: handler did not check the VM state",
			req->method_name, req->path);
		return api_fail(c, "%s", c->state_fault);
	}
	return ret;
}

int api_ready(struct api_call *c)
{
	const char *fault = c->state_fault;

	c->state_fault = NULL;
	return fault ? api_fail(c, "%s", fault) : 0;
}

static const char *const metric_groups[] = {
	[API_GET] = "get_api_requests",
	[API_PUT] = "put_api_requests",
	[API_PATCH] = "patch_api_requests",
};

void api_routes_name_metrics(struct metrics *m)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(routes); i++)
		if (routes[i].metric)
			m->routes[i] = (struct metrics_route){
				metric_groups[routes[i].method], routes[i].metric,
				/* GETs cannot fail in Firecracker's metrics: their fails stay unreported. */
				routes[i].method == API_GET,
			};
}

void api_route(struct instance *in, struct api_request *req)
{
	struct api_call c = {.in = in, .route = -1};
	char *body = NULL;
	int status;

	c.cf = (struct cf){.err = c.fault, .err_len = sizeof(c.fault)};
	if (route_call(&c, req)) {
		json_decref(c.reply);
		c.reply = json_pack("{s:s}", "fault_message", c.fault);
		status = 400;
		if (c.route >= 0)
			in->metrics.route_fails[c.route]++;
		log_info(&in->log, "API %s %s: 400: %s", req->method_name, req->path, c.fault);
	} else {
		/* A handler that built a body answers 200, one that did not 204. */
		status = c.reply ? 200 : 204;
		log_debug(&in->log, "API %s %s: %d", req->method_name, req->path, status);
	}
	if (c.reply)
		body = json_dumps(c.reply, JSON_COMPACT);
	api_server_reply(in->api, req, body || !c.reply ? status : 400,
			 body ? body : (c.reply ? "{\"fault_message\": \"out of memory\"}" : NULL));
	free(body);
	json_decref(c.reply);
	json_decref(c.body);
}
