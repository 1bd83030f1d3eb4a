/*
 * One microVM instance as the API sees it: its configuration before boot, the VM after
 * InstanceStart, its state (Not started, Running, Paused) and the MMDS data store. It
 * lives on the main thread; the API server hands it requests there.
 */
#ifndef EMBER_API_INSTANCE_H
#define EMBER_API_INSTANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "server.h"
#include "../config/vm_config.h"
#include "../machine/machine.h"
#include "../machine/snapshot.h"
#include "../mmds/mmds.h"
#include "../seccomp/confine.h"
#include "../util/eventloop.h"
#include "../util/log.h"

#define EMBER_VERSION	      "0.1.0"
#define INSTANCE_DEFAULT_ID   "anonymous-instance"

enum instance_state {
	INSTANCE_NOT_STARTED,
	INSTANCE_RUNNING,
	INSTANCE_PAUSED,
};

struct instance {
	char id[CONFIG_ID_MAX + 1];
	struct logger log; /* every line of this instance, its VM and its API goes here */
	uint64_t start_us; /* when the process (or its jailer) started, monotonic */
	/* For the startup CPU metric: the process CPU time at start_us, and the jailer's. */
	uint64_t start_cpu_us, parent_cpu_us;
	/* Each thread's filter and the fault report's destinations; off with --no-seccomp. */
	struct seccomp_filters seccomp;
	struct vm_config cfg; /* the one live configuration: the machine works on it too */
	enum instance_state state;
	/* A boot-specific resource was configured: a snapshot can no longer be loaded. */
	bool configured;
	bool restored; /* the machine came from a snapshot, not a boot */
	struct machine machine; /* built by InstanceStart or a snapshot load */

	struct api_server *api; /* NULL with --no-api */
	struct event_source api_src;
	struct event_loop preboot_loop; /* API and signals until InstanceStart */
	int signal_fd;
	struct event_source signal_src;
	bool quit; /* a signal arrived before boot */

	struct metrics metrics;
	struct mmds mmds; /* the data store and what the guest reads of it */
};

/* An instance with (cfg) (taken over: the instance frees it) and the given (id). */
void instance_init(struct instance *in, const char *id, struct vm_config *cfg, uint64_t start_us);

/*
 * Build and start the VM from the configuration (InstanceStart). 0, or -errno with the
 * reason in (why, why_len); the instance then stays Not started.
 */
int instance_start(struct instance *in, char *why, size_t why_len);

/*
 * --console-sock: serve the serial console on (path) instead of stdio, from the start (a
 * client that finds the API up finds the console up too). 0, or -errno with (why).
 */
int instance_open_console(struct instance *in, const char *path, char *why, size_t why_len);

/* Serve the API on (sock_path). 0, or -errno with the reason in (why, why_len). */
int instance_open_api(struct instance *in, const char *sock_path, size_t max_payload, char *why,
		      size_t why_len);

/*
 * Start the VM at once if (boot_now) or there is no API: booted, or restored from the
 * snapshot cfg.restore names; otherwise serve the API until InstanceStart, a snapshot load
 * or a signal. Then run the VM to its end. Returns the process exit status.
 */
int instance_run(struct instance *in, bool boot_now);

/*
 * Build the VM from a snapshot instead of booting it: Paused, or Running with (resume).
 * 0, or -errno with the reason in (why, why_len) and the instance as it was (Not started,
 * its configuration unchanged).
 */
int instance_restore(struct instance *in, const struct restore_config *r, char *why,
		     size_t why_len);

/* For the two ways to build the machine (instance.c, instance_snapshot.c). */
/* Open the metrics file if the configuration asks for one. 0 or -errno with (why). */
int instance_open_metrics(struct instance *in, char *why, size_t why_len);
/*
 * The machine is built: from now on the API is served by the VM's loop, beside the
 * devices. Watched there before it leaves the pre-boot loop, so a failure leaves the API
 * answering. 0, or -errno with the machine destroyed again and (why) starting with (what).
 */
int instance_take_over(struct instance *in, const char *what, char *why, size_t why_len);

/* PUT /snapshot/create, on a Paused VM. 0, or -errno with (why). */
int instance_snapshot(struct instance *in, enum snapshot_type type, const char *state_path,
		      const char *mem_path, char *why, size_t why_len);

/* PATCH /vm: "Paused" or "Resumed". 0 or -errno with (why). */
int instance_pause(struct instance *in, char *why, size_t why_len);
int instance_resume(struct instance *in, char *why, size_t why_len);

/* Free everything: the VM, the API server, the configuration, the MMDS store. */
void instance_destroy(struct instance *in);

#endif
