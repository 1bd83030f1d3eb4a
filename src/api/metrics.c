/* Metrics lines: gathered from the API's and the devices' own counters at flush time. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "../util/log.h"
#include "../util/util.h"
#include "instance.h"
#include "../vmm/vcpu.h"
#include "../devices/i8042.h"
#include "../devices/serial.h"

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = m->timer_fd = -1;
}

/* get/put/patch_api_requests: each route's requests and failures since the last line. */
static void routes_json(struct metrics *m, json_t *root)
{
	char name[64];
	unsigned int i;

	for (i = 0; i < API_ROUTES_MAX; i++) {
		const struct metrics_route *r = &m->routes[i];
		json_t *group;

		if (!r->group)
			continue;
		group = json_object_get(root, r->group);
		if (!group) {
			group = json_object();
			json_object_set_new(root, r->group, group);
		}
		snprintf(name, sizeof(name), "%s_count", r->name);
		json_object_set_new(group, name, json_integer(metrics_delta(
							  m->route_count[i], &m->prev_route_count[i])));
		if (!r->no_fails) {
			snprintf(name, sizeof(name), "%s_fails", r->name);
			json_object_set_new(group, name, json_integer(metrics_delta(
								  m->route_fails[i], &m->prev_route_fails[i])));
		}
	}
}

int metrics_open(struct instance *in)
{
	struct metrics *m = &in->metrics;
	int fd;

	fd = open(in->cfg.metrics.path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -errno;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	return 0;
}

json_int_t metrics_delta(uint64_t now, uint64_t *prev)
{
	uint64_t d = now - *prev;

	*prev = now;
	return (json_int_t)d;
}

/* A device counter: Firecracker's name, and where it sits in the device's counter struct. */
struct counter {
	const char *name;
	size_t offset;
};

#define COUNTER(type, field, name) { name, offsetof(type, field) }

static const struct counter blk_counters[] = {
	COUNTER(struct blk_metrics, read_count, "read_count"),
	COUNTER(struct blk_metrics, write_count, "write_count"),
	COUNTER(struct blk_metrics, flush_count, "flush_count"),
	COUNTER(struct blk_metrics, read_bytes, "read_bytes"),
	COUNTER(struct blk_metrics, write_bytes, "write_bytes"),
	COUNTER(struct blk_metrics, invalid_reqs_count, "invalid_reqs_count"),
	COUNTER(struct blk_metrics, execute_fails, "execute_fails"),
	COUNTER(struct blk_metrics, rate_limiter_throttled_events, "rate_limiter_throttled_events"),
	COUNTER(struct blk_metrics, update_count, "update_count"),
	COUNTER(struct blk_metrics, update_fails, "update_fails"),
};

static const struct counter net_counters[] = {
	COUNTER(struct net_stats, rx_frames, "rx_packets_count"),
	COUNTER(struct net_stats, rx_bytes, "rx_bytes_count"),
	COUNTER(struct net_stats, rx_dropped, "rx_dropped_packets"),
	COUNTER(struct net_stats, tx_frames, "tx_packets_count"),
	COUNTER(struct net_stats, tx_bytes, "tx_bytes_count"),
	COUNTER(struct net_stats, tx_dropped, "tx_dropped_packets"),
	COUNTER(struct net_stats, rx_rate_limiter_throttled, "rx_rate_limiter_throttled"),
	COUNTER(struct net_stats, tx_rate_limiter_throttled, "tx_rate_limiter_throttled"),
};

#define MMDS_NET(f)	COUNTER(struct mmds_metrics, net.f, #f)
#define MMDS_SERVICE(f) COUNTER(struct mmds_metrics, service.f, #f)
static const struct counter mmds_counters[] = {
	/* Firecracker's names first; rx_bytes, rx_dropped and the service's are ember's. */
	MMDS_NET(rx_accepted), MMDS_NET(rx_accepted_err), MMDS_NET(rx_accepted_unusual),
	MMDS_NET(rx_bad_eth), MMDS_SERVICE(rx_invalid_token), MMDS_SERVICE(rx_no_token),
	MMDS_NET(rx_count), MMDS_NET(tx_bytes), MMDS_NET(tx_count), MMDS_NET(tx_errors),
	MMDS_NET(tx_frames), MMDS_NET(connections_created), MMDS_NET(connections_destroyed),
	MMDS_NET(rx_bytes), MMDS_NET(rx_dropped), MMDS_SERVICE(requests),
	MMDS_SERVICE(failed_requests), MMDS_SERVICE(tokens_issued),
};

static const struct counter vcpu_counters[] = {
	COUNTER(struct vcpu_metrics, exit_io_in, "exit_io_in"),
	COUNTER(struct vcpu_metrics, exit_io_out, "exit_io_out"),
	COUNTER(struct vcpu_metrics, exit_mmio_read, "exit_mmio_read"),
	COUNTER(struct vcpu_metrics, exit_mmio_write, "exit_mmio_write"),
	COUNTER(struct vcpu_metrics, failures, "failures"),
};

static const struct counter uart_counters[] = {
	COUNTER(struct serial_metrics, read_count, "read_count"),
	COUNTER(struct serial_metrics, write_count, "write_count"),
	COUNTER(struct serial_metrics, missed_read_count, "missed_read_count"),
	COUNTER(struct serial_metrics, missed_write_count, "missed_write_count"),
};

static const struct counter i8042_counters[] = {
	COUNTER(struct i8042_metrics, read_count, "read_count"),
	COUNTER(struct i8042_metrics, write_count, "write_count"),
	COUNTER(struct i8042_metrics, reset_count, "reset_count"),
	COUNTER(struct i8042_metrics, missed_write_count, "missed_write_count"),
};

static uint64_t *counter_at(void *stats, const struct counter *c)
{
	return (uint64_t *)((char *)stats + c->offset);
}

/* Add the counters of one device's (stats) into (sum). */
static void counters_add(void *sum, const void *stats, const struct counter *c, size_t n)
{
	/* Relaxed loads: a vCPU thread may be counting while this reads. */
	while (n--)
		*counter_at(sum, &c[n]) += __atomic_load_n(counter_at((void *)stats, &c[n]),
							   __ATOMIC_RELAXED);
}

/* (sum) as a JSON object of the changes since (prev), which becomes (sum). */
static json_t *counters_json(void *sum, void *prev, const struct counter *c, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < n; i++)
		json_object_set_new(o, c[i].name,
				    json_integer(metrics_delta(*counter_at(sum, &c[i]), counter_at(prev, &c[i]))));
	return o;
}

static json_t *block_json(struct instance *in)
{
	struct blk_metrics sum = {0}, one;
	unsigned int i;

	for (i = 0; in->state != INSTANCE_NOT_STARTED && i < in->cfg.nr_disks; i++) {
		virtio_blk_metrics(machine_disk(&in->machine, in->cfg.disks[i].id), &one);
		counters_add(&sum, &one, blk_counters, ARRAY_SIZE(blk_counters));
	}
	return counters_json(&sum, &in->metrics.prev_blk, blk_counters, ARRAY_SIZE(blk_counters));
}

static json_t *mmds_json(struct instance *in)
{
	struct mmds_metrics sum = { .service = in->mmds.stats };

	if (in->state != INSTANCE_NOT_STARTED)
		machine_mmds_stats(&in->machine, &sum.net);
	return counters_json(&sum, &in->metrics.prev_mmds, mmds_counters,
			     ARRAY_SIZE(mmds_counters));
}

static json_t *net_json(struct instance *in)
{
	struct net_stats sum = {0}, one;
	unsigned int i;

	for (i = 0; in->state != INSTANCE_NOT_STARTED && i < in->cfg.nr_nets; i++) {
		virtio_net_stats(machine_net(&in->machine, in->cfg.nets[i].id), &one);
		counters_add(&sum, &one, net_counters, ARRAY_SIZE(net_counters));
	}
	return counters_json(&sum, &in->metrics.prev_net, net_counters, ARRAY_SIZE(net_counters));
}

/* vcpu, uart and i8042: the small devices and the vCPUs, summed over the vCPUs. */
static void cpu_and_legacy_json(struct instance *in, json_t *root)
{
	struct metrics *m = &in->metrics;
	struct vcpu_metrics vcpus = {0};
	struct serial_metrics uart = {0};
	struct i8042_metrics kbd = {0};
	bool up = in->state != INSTANCE_NOT_STARTED;
	const struct vm *vm = &in->machine.vm;
	struct serial *serial = up ? machine_find(&in->machine, &device_kind_serial, NULL) : NULL;
	struct i8042 *i8042 = up ? machine_find(&in->machine, &device_kind_i8042, NULL) : NULL;
	unsigned int i;

	for (i = 0; up && i < vm->nr_vcpus; i++)
		counters_add(&vcpus, &vm->vcpus[i].metrics, vcpu_counters,
			     ARRAY_SIZE(vcpu_counters));
	if (serial)
		serial_metrics(serial, &uart);
	if (i8042)
		i8042_metrics(i8042, &kbd);
	json_object_set_new(root, "vcpu", counters_json(&vcpus, &m->prev_vcpu, vcpu_counters,
							ARRAY_SIZE(vcpu_counters)));
	json_object_set_new(root, "uart", counters_json(&uart, &m->prev_uart, uart_counters,
							ARRAY_SIZE(uart_counters)));
	json_object_set_new(root, "i8042", counters_json(&kbd, &m->prev_i8042, i8042_counters,
							 ARRAY_SIZE(i8042_counters)));
}

static json_t *metrics_line(struct instance *in)
{
	struct metrics *m = &in->metrics;
	struct timespec ts;
	json_t *root;

	clock_gettime(CLOCK_REALTIME, &ts);
	root = json_pack("{s:I}", "utc_timestamp_ms",
			 (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (!root)
		return NULL;
	if (in->cfg.metrics.emit_id)
		json_object_set_new(root, "id", json_string(in->id));
	if (in->cfg.metrics.properties)
		json_object_set_new(root, "properties",
				    json_loads(in->cfg.metrics.properties, 0, NULL));
	/* Store metrics, written as they are: start-up costs, the last pause, resume, snapshots. */
	json_object_set_new(root, "api_server",
			    json_pack("{s:I, s:I}", "process_startup_time_us",
				      (json_int_t)m->startup_us, "process_startup_time_cpu_us",
				      (json_int_t)m->startup_cpu_us));
	json_object_set_new(root, "latencies_us",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "pause_vm",
				      (json_int_t)m->pause_vm_us, "resume_vm",
				      (json_int_t)m->resume_vm_us, "full_create_snapshot",
				      (json_int_t)m->full_create_snapshot_us, "diff_create_snapshot",
				      (json_int_t)m->diff_create_snapshot_us, "load_snapshot",
				      (json_int_t)m->load_snapshot_us));
	routes_json(m, root);
	cpu_and_legacy_json(in, root);
	json_object_set_new(root, "block", block_json(in));
	json_object_set_new(root, "net", net_json(in));
	json_object_set_new(root, "mmds", mmds_json(in));
	json_object_set_new(
	    root, "logger",
	    json_pack("{s:I, s:I}", "missed_log_count",
		      metrics_delta(log_missed_lines(&in->log), &m->prev_log_missed),
		      "missed_metrics_count", metrics_delta(m->missed_lines, &m->prev_missed_lines)));
	/* A store metric, as Firecracker's: a fault ends the process, so it is 0 until the last line. */
	json_object_set_new(root, "seccomp",
			    json_pack("{s:I}", "num_faults",
				      (json_int_t)__atomic_load_n(&in->seccomp.num_faults,
								  __ATOMIC_RELAXED)));
	return root;
}

int metrics_flush(struct instance *in)
{
	struct metrics *m = &in->metrics;
	json_t *line;
	char *text;
	size_t len;
	int ret = 0;

	if (m->fd < 0)
		return -EBADF;
	line = metrics_line(in);
	text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: the line goes out in one write */
	if (write(m->fd, text, len) != (ssize_t)len) {
		ret = errno ? -errno : -EAGAIN;
		m->missed_lines++;
	}
	free(text);
	return ret;
}

static void metrics_on_timer(void *opaque, uint32_t events)
{
	struct instance *in = opaque;
	uint64_t ticks;

	(void)events;
	if (read(in->metrics.timer_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	metrics_flush(in);
}

int metrics_start_timer(struct instance *in, struct event_loop *loop)
{
	struct itimerspec period = {{METRICS_PERIOD_S, 0}, {METRICS_PERIOD_S, 0}};
	struct metrics *m = &in->metrics;
	int ret;

	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0)
		return -errno;
	if (timerfd_settime(m->timer_fd, 0, &period, NULL) < 0)
		return -errno;
	m->timer_src = (struct event_source){m->timer_fd, metrics_on_timer, in};
	ret = event_loop_add(loop, &m->timer_src, EPOLLIN);
	return ret;
}

void metrics_close(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->fd = m->timer_fd = -1;
}
