/*
 * virtio-balloon. Inflated pages are dropped with MADV_DONTNEED, which really returns
 * them to the host; a deflated page simply faults back in (zeroed) when the guest uses it.
 * Statistics: the guest keeps one buffer in the stats queue; every stats_period seconds
 * the device hands it back, which asks the guest for fresh numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "balloon.h"
#include "virtio.h"
#include "../snapshot/stream.h"
#include "../util/eventloop.h"
#include "../util/log.h"
#include "../util/util.h"

#define BALLOON_F_STATS_VQ	 1
#define BALLOON_F_DEFLATE_ON_OOM 2

#define BALLOON_INFLATEQ 0
#define BALLOON_DEFLATEQ 1
#define BALLOON_STATSQ	 2

#define BALLOON_PAGE	  4096ULL
#define BALLOON_STAT_SIZE 10 /* le16 tag, le64 value, packed */

struct virtio_balloon {
	struct virtio_dev vd;
	struct event_loop *loop;
	struct balloon_config *cfg; /* the caller's: target and period follow the updates */
	uint32_t num_pages; /* the target the host asks for */
	int timer_fd;
	struct event_source timer_src;
	bool timer_registered;
	struct virtq_elem stats_elem; /* the guest's stats buffer, held until the next tick */
	bool stats_held;
	struct balloon_stats stats;
};

/* Guest pages given back with one madvise: [gpa, gpa + len), in one region, at hva. */
struct balloon_run {
	uint64_t gpa, len;
	void *hva;
};

static void balloon_run_flush(struct virtio_balloon *b, struct balloon_run *run)
{
	if (!run->len)
		return;
	if (madvise(run->hva, run->len, MADV_DONTNEED))
		log_warn(b->vd.log, "virtio-balloon: madvise");
	/* The pages now read as zeros (or as the snapshot file they came from): changed. */
	guest_mem_mark_dirty(b->vd.mem, run->gpa, run->len);
	run->len = 0;
}

/* Add page (pfn) to the run, or give the run back and start a new one with it. */
static void balloon_release_page(struct virtio_balloon *b, struct balloon_run *run, uint32_t pfn)
{
	uint64_t gpa = (uint64_t)pfn * BALLOON_PAGE;
	void *hva;

	if (gpa >= run->gpa && gpa < run->gpa + run->len) {
		b->stats.inflated_pages++; /* listed again: it goes back once */
		return;
	}
	hva = gpa_to_hva(b->vd.mem, gpa, BALLOON_PAGE);
	if (!hva) {
		log_debug(b->vd.log, "virtio-balloon: pfn 0x%x is not guest RAM", pfn);
		return;
	}
	b->stats.inflated_pages++;
	if (run->len && gpa == run->gpa + run->len &&
	    gpa_to_hva(b->vd.mem, run->gpa, run->len + BALLOON_PAGE)) {
		run->len += BALLOON_PAGE;
		return;
	}
	balloon_run_flush(b, run);
	*run = (struct balloon_run){ .gpa = gpa, .len = BALLOON_PAGE, .hva = hva };
}

/*
 * Give the pages of one inflate buffer back to the host, a run of consecutive page numbers
 * (or one listed again) in one madvise: the buffer is as long as the guest makes it, and
 * one of zeros (page 0 over and over) or listing a large range would otherwise cost a
 * syscall and a TLB shootdown per 4 bytes, on the event loop.
 */
static void balloon_release(struct virtio_balloon *b, const struct virtq_elem *e)
{
	struct balloon_run run = { 0 };
	uint32_t pfns[64];
	uint64_t off, n, i;

	for (off = 0; off + sizeof(pfns[0]) <= e->out_len; off += n * sizeof(pfns[0])) {
		n = MIN((e->out_len - off) / sizeof(pfns[0]), ARRAY_SIZE(pfns));
		virtq_elem_read(e, off, pfns, n * sizeof(pfns[0]));
		for (i = 0; i < n; i++)
			balloon_release_page(b, &run, pfns[i]);
	}
	balloon_run_flush(b, &run);
}

static void balloon_parse_stats(struct virtio_balloon *b, const struct virtq_elem *e)
{
	uint8_t raw[BALLOON_STAT_SIZE];
	uint64_t off;

	for (off = 0; off + sizeof(raw) <= e->out_len; off += sizeof(raw)) {
		uint16_t tag;
		uint64_t val;

		virtq_elem_read(e, off, raw, sizeof(raw));
		memcpy(&tag, raw, 2);
		memcpy(&val, raw + 2, 8);
		if (tag < ARRAY_SIZE(b->stats.value)) {
			b->stats.value[tag] = val;
			b->stats.valid |= 1U << tag;
		}
	}
}

static void balloon_queue_notify(struct virtio_dev *vd, unsigned int qidx)
{
	struct virtio_balloon *b = vd->priv;
	struct virtq *q = &vd->queues[qidx];
	struct virtq_elem *e = &b->stats_elem;
	struct virtq_elem elem;
	bool pushed = false;
	int ret;

	if (qidx == BALLOON_STATSQ) {
		if (b->stats_held)
			return; /* the driver has one buffer out at a time */
		ret = virtq_pop(q, e);
		if (ret < 0)
			virtio_dev_fail(vd, "malformed stats chain");
		if (ret <= 0)
			return;
		/* Keep the buffer: returning it later is how the device asks for new stats. */
		balloon_parse_stats(b, e);
		b->stats_held = true;
		return;
	}
	while ((ret = virtq_pop(q, &elem)) > 0) {
		if (qidx == BALLOON_INFLATEQ)
			balloon_release(b, &elem);
		else
			b->stats.deflated_pages += elem.out_len / sizeof(uint32_t);
		virtq_push(q, &elem, 0);
		pushed = true;
	}
	if (ret < 0)
		virtio_dev_fail(vd, "malformed page list");
	else if (pushed)
		virtio_dev_signal_queue(vd, qidx);
}

/* Ask the guest for fresh statistics: hand its buffer back. vd.lock held. */
static void balloon_stats_request(struct virtio_balloon *b)
{
	if (b->stats_held && virtio_dev_running(&b->vd)) {
		b->stats_held = false;
		virtq_push(&b->vd.queues[BALLOON_STATSQ], &b->stats_elem, 0);
		virtio_dev_signal_queue(&b->vd, BALLOON_STATSQ);
	}
}

static void balloon_stats_tick(void *opaque, uint32_t events)
{
	struct virtio_balloon *b = opaque;
	uint64_t expirations;

	(void)events;
	if (read(b->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	pthread_mutex_lock(&b->vd.lock);
	balloon_stats_request(b);
	pthread_mutex_unlock(&b->vd.lock);
}

static uint64_t balloon_features(struct virtio_dev *vd)
{
	struct virtio_balloon *b = vd->priv;

	return (b->cfg->stats_period ? 1ULL << BALLOON_F_STATS_VQ : 0) |
	       (b->cfg->deflate_on_oom ? 1ULL << BALLOON_F_DEFLATE_ON_OOM : 0);
}

static void balloon_config_read(struct virtio_dev *vd, uint32_t off, void *data, unsigned int len)
{
	struct virtio_balloon *b = vd->priv;
	uint32_t config[2] = { b->num_pages, b->stats.actual_pages };

	memcpy(data, (uint8_t *)config + off, len);
}

static void balloon_config_write(struct virtio_dev *vd, uint32_t off, const void *data,
				 unsigned int len)
{
	struct virtio_balloon *b = vd->priv;
	uint32_t config[2] = { b->num_pages, b->stats.actual_pages };

	/* Only "actual" (offset 4) belongs to the driver. */
	if (off < 4)
		return;
	memcpy((uint8_t *)config + off, data, len);
	b->stats.actual_pages = config[1];
}

static void balloon_reset(struct virtio_dev *vd)
{
	struct virtio_balloon *b = vd->priv;

	b->stats_held = false;
	b->stats.actual_pages = 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = 3,
	.features = balloon_features,
	.config_size = 8,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
};

static int balloon_timer_start(struct virtio_balloon *b)
{
	struct itimerspec its = {
		.it_interval.tv_sec = b->cfg->stats_period,
		.it_value.tv_sec = b->cfg->stats_period,
	};
	int ret;

	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0)
		return -errno;
	if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0)
		return -errno;
	b->timer_src = (struct event_source){ b->timer_fd, balloon_stats_tick, b };
	ret = event_loop_add(b->loop, &b->timer_src, EPOLLIN);
	b->timer_registered = !ret;
	return ret;
}

int virtio_balloon_create(const struct guest_mem *mem, struct event_loop *loop,
			  struct logger *log, struct balloon_config *cfg,
			  struct virtio_balloon **out)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	b->loop = loop;
	b->cfg = cfg;
	b->timer_fd = -1;
	b->num_pages = cfg->target_mib * MiB / BALLOON_PAGE;
	virtio_dev_init(&b->vd, &balloon_ops, b, mem, log);
	if (cfg->stats_period) {
		ret = balloon_timer_start(b);
		if (ret)
			goto err;
	}
	*out = b;
	return 0;
err:
	virtio_balloon_destroy(b);
	return ret;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	if (b->timer_registered)
		event_loop_del(b->loop, &b->timer_src);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	virtio_dev_destroy(&b->vd);
	free(b);
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->vd;
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t mib)
{
	uint64_t ram_mib = b->vd.mem->total / MiB;

	/* num_pages is 32 bits; guest RAM is far below that, so one check covers both. */
	if (mib > ram_mib || mib > BALLOON_MAX_MIB) {
		log_warnx(b->vd.log,
			  "virtio-balloon: target %llu MiB is more than the guest's %llu MiB",
			  (unsigned long long)mib, (unsigned long long)ram_mib);
		return -EINVAL;
	}
	pthread_mutex_lock(&b->vd.lock);
	b->num_pages = mib * MiB / BALLOON_PAGE;
	b->cfg->target_mib = mib;
	virtio_dev_config_changed(&b->vd);
	pthread_mutex_unlock(&b->vd.lock);
	return 0;
}

void balloon_stats_finish(struct balloon_stats *s, uint32_t target_pages)
{
	s->target_pages = target_pages;
	s->target_mib = (uint64_t)target_pages * BALLOON_PAGE / MiB;
	s->actual_mib = (uint64_t)s->actual_pages * BALLOON_PAGE / MiB;
}

void virtio_balloon_stats(struct virtio_balloon *b, struct balloon_stats *out)
{
	pthread_mutex_lock(&b->vd.lock);
	*out = b->stats;
	balloon_stats_finish(out, b->num_pages);
	pthread_mutex_unlock(&b->vd.lock);
}

const char *balloon_stat_name(unsigned int tag)
{
	static const char *const names[BALLOON_S_NR] = {
		[BALLOON_S_SWAP_IN] = "swap_in",
		[BALLOON_S_SWAP_OUT] = "swap_out",
		[BALLOON_S_MAJFLT] = "major_faults",
		[BALLOON_S_MINFLT] = "minor_faults",
		[BALLOON_S_MEMFREE] = "free_memory",
		[BALLOON_S_MEMTOT] = "total_memory",
		[BALLOON_S_AVAIL] = "available_memory",
		[BALLOON_S_CACHES] = "disk_caches",
		[BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
		[BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
		[BALLOON_S_OOM_KILL] = "oom_kill",
		[BALLOON_S_ALLOC_STALL] = "alloc_stall",
		[BALLOON_S_ASYNC_SCAN] = "async_scan",
		[BALLOON_S_DIRECT_SCAN] = "direct_scan",
		[BALLOON_S_ASYNC_RECLAIM] = "async_reclaim",
		[BALLOON_S_DIRECT_RECLAIM] = "direct_reclaim",
	};

	return tag < BALLOON_S_NR ? names[tag] : NULL;
}

int balloon_stats_period_check(unsigned int cur, unsigned int want)
{
	if (want == cur)
		return 0;
	/* Firecracker: the stats queue exists or not from boot; only its pace may change. */
	if (!cur || !want)
		return -EINVAL;
	return 1;
}

int virtio_balloon_set_stats_period(struct virtio_balloon *b, unsigned int seconds)
{
	struct itimerspec its = {
		.it_interval.tv_sec = seconds,
		.it_value.tv_sec = seconds,
	};
	int ret = balloon_stats_period_check(b->cfg->stats_period, seconds);

	if (ret <= 0) {
		if (ret)
			log_warnx(b->vd.log,
				  "virtio-balloon: statistics were %s at boot and cannot be turned "
				  "%s", b->cfg->stats_period ? "enabled" : "disabled",
				  seconds ? "on" : "off");
		return ret;
	}
	pthread_mutex_lock(&b->vd.lock);
	if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0) {
		ret = -errno;
		log_warn(b->vd.log, "virtio-balloon: timerfd_settime");
	} else {
		b->cfg->stats_period = seconds;
		/* The first poll at the new pace is now, as Firecracker does. */
		balloon_stats_request(b);
		ret = 0;
	}
	pthread_mutex_unlock(&b->vd.lock);
	return ret;
}

unsigned int virtio_balloon_stats_period(const struct virtio_balloon *b)
{
	return b->cfg->stats_period;
}

int virtio_balloon_save(struct virtio_balloon *b, struct snap_writer *w)
{
	unsigned int i;

	pthread_mutex_lock(&b->vd.lock);
	snap_put_u32(w, b->stats.actual_pages);
	snap_put_u8(w, b->stats_held);
	snap_put_u16(w, b->stats_held ? b->stats_elem.head : 0);
	snap_put_u16(w, b->stats.valid);
	for (i = 0; i < BALLOON_S_NR; i++)
		snap_put_u64(w, b->stats.value[i]);
	snap_put_u64(w, b->stats.inflated_pages);
	snap_put_u64(w, b->stats.deflated_pages);
	pthread_mutex_unlock(&b->vd.lock);
	return 0;
}

int virtio_balloon_restore(struct virtio_balloon *b, struct snap_cursor *c, char *why,
			   size_t why_len)
{
	struct balloon_stats stats = { 0 };
	uint8_t held;
	uint16_t head;
	unsigned int i;

	stats.actual_pages = snap_get_u32(c);
	held = snap_get_u8(c);
	head = snap_get_u16(c);
	stats.valid = snap_get_u16(c);
	for (i = 0; i < BALLOON_S_NR; i++)
		stats.value[i] = snap_get_u64(c);
	stats.inflated_pages = snap_get_u64(c);
	stats.deflated_pages = snap_get_u64(c);
	/*
	 * The head goes back to the guest in the used ring, so it must be a descriptor
	 * index; the chain behind it is the guest's, whose memory comes with the snapshot.
	 */
	if (held > 1 || head >= VIRTQ_MAX_SIZE || (!held && head))
		snap_cursor_fail(c, "balloon statistics buffer");
	if (c->bad)
		return snap_cursor_end(c, why, why_len);

	pthread_mutex_lock(&b->vd.lock);
	b->stats = stats;
	b->stats_held = held;
	/* Handing it back only names it (virtq_push reads the head alone): no buffers. */
	memset(&b->stats_elem, 0, sizeof(b->stats_elem));
	b->stats_elem.head = head;
	pthread_mutex_unlock(&b->vd.lock);
	return 0;
}
