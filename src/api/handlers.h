/* The API's handlers, one per path and method; routes.c decides which runs and when. */
#ifndef EMBER_API_HANDLERS_H
#define EMBER_API_HANDLERS_H

#include <jansson.h>

#include "../config/sections.h"
#include "instance.h"

/* One request being handled: its input, and the answer being built. */
struct api_call {
	struct instance *in;
	const char *id; /* the {id} of the path, or NULL */
	int route;	/* its index in the route table, -1 if none matched */
	json_t *body;	/* the parsed body, when the route takes one */
	json_t *reply;	/* a 200's body */
	const char *state_fault; /* set when the VM's state refuses the route */
	struct cf cf;	/* section parsers write their fault into (fault) */
	char fault[512];
};

#define MSG_AFTER_START	 "The requested operation is not supported after starting the microVM."
#define MSG_BEFORE_START "The requested operation is not supported before starting the microVM."

/* Set the fault_message and return -EINVAL. */
int api_fail(struct api_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Every handler that changes something calls this once the body is known to be good and
 * before the change: it fails (-EINVAL) if the route is refused in the VM's current state.
 * So, as in Firecracker, a bad body is reported before a wrong state.
 */
int api_ready(struct api_call *c);

/* The id of the body must be the one in the path, as Firecracker insists. 0 or a fault. */
int api_check_id(struct api_call *c, const char *body_id);

/* handlers_config.c: reading and writing the configuration before InstanceStart. */
int h_get_instance(struct api_call *c);
int h_get_version(struct api_call *c);
int h_get_vm_config(struct api_call *c);
int h_get_machine(struct api_call *c);
int h_put_machine(struct api_call *c);
int h_patch_machine(struct api_call *c);
int h_put_boot_source(struct api_call *c);
int h_put_drive(struct api_call *c);
int h_put_net(struct api_call *c);
int h_put_vsock(struct api_call *c);
int h_put_entropy(struct api_call *c);
int h_put_balloon(struct api_call *c);
int h_put_logger(struct api_call *c);
int h_put_metrics(struct api_call *c);
int h_put_mmds_config(struct api_call *c);
int h_unsupported(struct api_call *c);

/* handlers_runtime.c: actions, and what may change while the VM runs. */
int h_put_action(struct api_call *c);
int h_patch_vm(struct api_call *c);
int h_patch_drive(struct api_call *c);
int h_patch_net(struct api_call *c);
int h_get_balloon(struct api_call *c);
int h_patch_balloon(struct api_call *c);
int h_get_balloon_stats(struct api_call *c);
int h_patch_balloon_stats(struct api_call *c);
int h_get_mmds(struct api_call *c);
int h_put_mmds(struct api_call *c);
int h_patch_mmds(struct api_call *c);

/* handlers_snapshot.c: creating and loading snapshots. */
int h_put_snapshot_create(struct api_call *c);
int h_put_snapshot_load(struct api_call *c);

#endif
