/* Metrics lines: gathered from the API's and the devices' own counters at flush time. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "routes.h"
#include "../util/log.h"
#include "../util/util.h"
#include "../vmm/instance.h"

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = m->timer_fd = -1;
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

/* The change of (now) since (*prev), which becomes (now). */
static json_int_t delta(uint64_t now, uint64_t *prev)
{
	uint64_t d = now - *prev;

	*prev = now;
	return (json_int_t)d;
}

static json_t *block_json(struct instance *in)
{
	struct metrics *m = &in->metrics;
	struct blk_metrics sum = {0}, one;
	unsigned int i;

	for (i = 0; in->state != INSTANCE_NOT_STARTED && i < in->vm.nr_disks; i++) {
		virtio_blk_metrics(in->vm.disks[i], &one);
		sum.read_count += one.read_count;
		sum.write_count += one.write_count;
		sum.flush_count += one.flush_count;
		sum.read_bytes += one.read_bytes;
		sum.write_bytes += one.write_bytes;
		sum.invalid_reqs_count += one.invalid_reqs_count;
		sum.execute_fails += one.execute_fails;
		sum.rate_limiter_throttled_events += one.rate_limiter_throttled_events;
		sum.update_count += one.update_count;
		sum.update_fails += one.update_fails;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "read_count", delta(sum.read_count, &m->prev_blk.read_count),
			 "write_count", delta(sum.write_count, &m->prev_blk.write_count),
			 "flush_count", delta(sum.flush_count, &m->prev_blk.flush_count),
			 "read_bytes", delta(sum.read_bytes, &m->prev_blk.read_bytes),
			 "write_bytes", delta(sum.write_bytes, &m->prev_blk.write_bytes),
			 "invalid_reqs_count",
			 delta(sum.invalid_reqs_count, &m->prev_blk.invalid_reqs_count),
			 "execute_fails", delta(sum.execute_fails, &m->prev_blk.execute_fails),
			 "rate_limiter_throttled_events",
			 delta(sum.rate_limiter_throttled_events,
			       &m->prev_blk.rate_limiter_throttled_events),
			 "update_count", delta(sum.update_count, &m->prev_blk.update_count),
			 "update_fails", delta(sum.update_fails, &m->prev_blk.update_fails));
}

static json_t *net_json(struct instance *in)
{
	struct metrics *m = &in->metrics;
	struct net_stats sum = {0}, one;
	unsigned int i;

	for (i = 0; in->state != INSTANCE_NOT_STARTED && i < in->cfg.nr_nets; i++) {
		virtio_net_stats(in->vm.nets[i], &one);
		sum.rx_frames += one.rx_frames;
		sum.rx_bytes += one.rx_bytes;
		sum.rx_dropped += one.rx_dropped;
		sum.tx_frames += one.tx_frames;
		sum.tx_bytes += one.tx_bytes;
		sum.tx_dropped += one.tx_dropped;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "rx_packets_count", delta(sum.rx_frames, &m->prev_net.rx_frames),
			 "rx_bytes_count", delta(sum.rx_bytes, &m->prev_net.rx_bytes),
			 "rx_dropped_packets", delta(sum.rx_dropped, &m->prev_net.rx_dropped),
			 "tx_packets_count", delta(sum.tx_frames, &m->prev_net.tx_frames),
			 "tx_bytes_count", delta(sum.tx_bytes, &m->prev_net.tx_bytes),
			 "tx_dropped_packets", delta(sum.tx_dropped, &m->prev_net.tx_dropped));
}

static json_t *metrics_line(struct instance *in)
{
	struct metrics *m = &in->metrics;
	unsigned long long lost = log_missed_lines();
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
	api_route_metrics(in, root);
	json_object_set_new(root, "block", block_json(in));
	json_object_set_new(root, "net", net_json(in));
	json_object_set_new(
	    root, "logger",
	    json_pack("{s:I, s:I}", "missed_log_count",
		      (json_int_t)(lost - m->prev_log_missed), "missed_metrics_count",
		      delta(m->missed_lines, &m->prev_missed_lines)));
	m->prev_log_missed = lost;
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
