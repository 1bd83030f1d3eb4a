/*
 * Firecracker-style metrics: one JSON object per line on the metrics path, every 60 s
 * once the VM runs and on FlushMetrics, with Firecracker's names where ember has the
 * counter. Counters of the kind Firecracker resets are written as the change since the
 * previous line. A line the destination cannot take (a full FIFO) is counted, never waited for.
 */
#ifndef EMBER_API_METRICS_H
#define EMBER_API_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../util/eventloop.h"
#include "../devices/i8042.h"
#include "../devices/serial.h"
#include "../mmds/mmds.h"
#include "../mmds/stack.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"
#include "../vmm/vcpu.h"

#define API_ROUTES_MAX	   48
#define METRICS_PERIOD_S   60

struct instance;

/* The "mmds" section: every interface's stack summed, and the service's own counters. */
struct mmds_metrics {
	struct mmds_stack_stats net;
	struct mmds_service_stats service;
};

/*
 * How one route's counters are named in Firecracker's metrics: "<name>_count", and
 * "<name>_fails" unless (no_fails), in the object (group). Given by the route table.
 */
struct metrics_route {
	const char *group; /* "get_api_requests"...; NULL: the route is not counted */
	const char *name;
	bool no_fails;
};

struct metrics {
	int fd; /* -1 until PUT /metrics (or the config file) names a path */
	int timer_fd;
	struct event_source timer_src;
	uint64_t missed_lines;
	/* Requests per route, and what the previous line had reported. */
	struct metrics_route routes[API_ROUTES_MAX];
	uint64_t route_count[API_ROUTES_MAX], route_fails[API_ROUTES_MAX];
	uint64_t prev_route_count[API_ROUTES_MAX], prev_route_fails[API_ROUTES_MAX];
	struct blk_metrics prev_blk;
	struct net_stats prev_net;
	struct mmds_metrics prev_mmds;
	struct vcpu_metrics prev_vcpu;
	struct serial_metrics prev_uart;
	struct i8042_metrics prev_i8042;
	/* Stored as measured: exec to API socket (wall, CPU), the last pause and resume,
	 * the last snapshot of each type and the snapshot load. */
	uint64_t startup_us, startup_cpu_us;
	uint64_t pause_vm_us, resume_vm_us;
	uint64_t full_create_snapshot_us, diff_create_snapshot_us, load_snapshot_us;
	uint64_t prev_log_missed;
	uint64_t prev_missed_lines;
};

void metrics_init(struct metrics *m);

/* A per-interval counter, as Firecracker's: the change of (now) since (*prev), which becomes (now). */
json_int_t metrics_delta(uint64_t now, uint64_t *prev);

/* Open the configured path (non-blocking). 0 or -errno. */
int metrics_open(struct instance *in);

/* Write one line now. 0, or -errno (the line is counted as missed). */
int metrics_flush(struct instance *in);

/* Write a line every METRICS_PERIOD_S from (loop). 0 or -errno. */
int metrics_start_timer(struct instance *in, struct event_loop *loop);

void metrics_close(struct metrics *m);

#endif
