/*
 * Run-time device updates (the API's PATCH requests) and the counters behind the metrics:
 * the config-change interrupt, rate limiter updates, swapping a disk's image under
 * requests in flight, the balloon's statistics rules. Devices are put together by hand
 * (no VM): a fake transport counts interrupts, guest memory holds a ring where needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/balloon.h"
#include "virtio/throttle.h"
#include "blk_rig.h"

/* ---- the configuration change interrupt ---- */

struct fake_dev {
	struct virtio_dev vd;
	unsigned int irqs[4]; /* by reason: VIRTIO_INT_VRING, VIRTIO_INT_CONFIG */
	unsigned int resumed;
	struct logger log; /* the device's (it holds no file: nothing to destroy) */
};

static void fake_interrupt(struct virtio_dev *vd, uint32_t why)
{
	struct fake_dev *f = (struct fake_dev *)((char *)vd - offsetof(struct fake_dev, vd));

	assert_true(why < 4);
	f->irqs[why]++;
}

static const struct virtio_transport_ops fake_transport = { .interrupt = fake_interrupt };
static const struct virtio_dev_ops fake_ops = { .name = "fake", .num_queues = 1 };

static void test_config_changed(void **state)
{
	struct fake_dev f = { 0 };

	(void)state;
	logger_init(&f.log);
	virtio_dev_init(&f.vd, &fake_ops, &f, NULL, &f.log);
	f.vd.transport = &fake_transport;
	/* Before DRIVER_OK the driver reads the config when it gets there: no interrupt. */
	f.vd.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_config_changed(&f.vd);
	assert_int_equal(f.vd.config_generation, 1);
	assert_int_equal(f.irqs[VIRTIO_INT_CONFIG], 0);
	f.vd.status |= VIRTIO_STATUS_DRIVER_OK;
	virtio_dev_config_changed(&f.vd);
	virtio_dev_config_changed(&f.vd);
	assert_int_equal(f.vd.config_generation, 3);
	assert_int_equal(f.irqs[VIRTIO_INT_CONFIG], 2);
	assert_int_equal(f.irqs[VIRTIO_INT_VRING], 0);
	/* No transport yet (a device being built): only the generation moves. */
	f.vd.transport = NULL;
	virtio_dev_config_changed(&f.vd);
	assert_int_equal(f.vd.config_generation, 4);
	virtio_dev_destroy(&f.vd);
}

/* ---- rate limiter updates ---- */

static void fake_resume(struct virtio_dev *vd)
{
	struct fake_dev *f = (struct fake_dev *)((char *)vd - offsetof(struct fake_dev, vd));

	f->resumed++;
}

/* One request per hour: the second one waits, practically for ever. */
static const struct throttle_config one_per_hour = { .ops = { .size = 1,
							      .refill_time_ms = 3600000 } };

static void run_loop_until(struct event_loop *loop, const unsigned int *counter,
			   unsigned int want)
{
	int i;

	for (i = 0; i < 50 && *(volatile const unsigned int *)counter < want; i++)
		assert_int_equal(event_loop_run_once(loop, 100), 0);
}

static void test_throttle_update_resumes(void **state)
{
	struct throttle_config unlimited = { 0 };
	struct fake_dev f = { 0 };
	struct event_loop loop;
	struct throttle t;

	(void)state;
	assert_int_equal(event_loop_init(&loop), 0);
	logger_init(&f.log);
	virtio_dev_init(&f.vd, &fake_ops, &f, NULL, &f.log);
	f.vd.status = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	assert_int_equal(throttle_init(&t, &one_per_hour, &loop, &f.vd, fake_resume), 0);
	assert_true(throttle_allow(&t, 100));
	assert_false(throttle_allow(&t, 100));
	assert_true(t.waiting);
	assert_int_equal(t.throttled, 1);
	/* Nothing happens for an hour... */
	assert_int_equal(event_loop_run_once(&loop, 50), 0);
	assert_int_equal(f.resumed, 0);
	/* ...unless the limit is lifted: the queue is tried again on the next turn. */
	assert_int_equal(throttle_update(&t, &unlimited), 0);
	run_loop_until(&loop, &f.resumed, 1);
	assert_int_equal(f.resumed, 1);
	assert_false(t.waiting);
	assert_true(throttle_allow(&t, 100));
	assert_memory_equal(&t.cfg, &unlimited, sizeof(unlimited));
	/* Nobody waiting: an update arms nothing. */
	assert_int_equal(throttle_update(&t, &one_per_hour), 0);
	assert_int_equal(event_loop_run_once(&loop, 20), 0);
	assert_int_equal(f.resumed, 1);
	throttle_destroy(&t);
	virtio_dev_destroy(&f.vd);
	event_loop_destroy(&loop);
}

static void test_throttle_update_keeps_same(void **state)
{
	struct throttle_config cfg = one_per_hour, bad = one_per_hour;
	struct fake_dev f = { 0 };
	struct event_loop loop;
	struct throttle t;

	(void)state;
	assert_int_equal(event_loop_init(&loop), 0);
	logger_init(&f.log);
	virtio_dev_init(&f.vd, &fake_ops, &f, NULL, &f.log);
	f.vd.status = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	assert_int_equal(throttle_init(&t, &cfg, &loop, &f.vd, fake_resume), 0);
	assert_true(throttle_allow(&t, 1));
	/* The same ops bucket and a new bandwidth one: the spent ops token stays spent. */
	cfg.bandwidth = (struct token_bucket_cfg){ .size = 1 << 20, .refill_time_ms = 1000 };
	assert_int_equal(throttle_update(&t, &cfg), 0);
	assert_false(throttle_allow(&t, 1));
	/* A different ops bucket starts full. */
	cfg.ops.size = 2;
	assert_int_equal(throttle_update(&t, &cfg), 0);
	run_loop_until(&loop, &f.resumed, 1);
	assert_true(throttle_allow(&t, 1));
	assert_true(throttle_allow(&t, 1));
	assert_false(throttle_allow(&t, 1));
	/* Out of range: refused, nothing changed. */
	bad.bandwidth.size = RATELIMIT_MAX_TOKENS + 1;
	assert_int_equal(throttle_config_validate(&bad), -EINVAL);
	assert_int_equal(throttle_update(&t, &bad), -EINVAL);
	assert_memory_equal(&t.cfg, &cfg, sizeof(cfg));
	throttle_destroy(&t);
	virtio_dev_destroy(&f.vd);
	event_loop_destroy(&loop);
}

/* ---- virtio-blk: a device built by hand on an event loop, its image a pipe or a file ---- */

#define RING_DESC   0x1000ULL
#define RING_AVAIL  0x2000ULL
#define RING_USED   0x3000ULL
#define RING_HDR    0x10000ULL
#define RING_STATUS 0x11000ULL
#define RING_DATA   0x20000ULL /* slot k's data at RING_DATA + k * 4096 */
#define RING_SIZE   VIRTQ_MAX_SIZE
#define RING_SLOTS  8

static int rig_setup(void **state)
{
	return blk_rig_setup((struct blk_rig **)state, false);
}

static int rig_setup_sync(void **state)
{
	return blk_rig_setup((struct blk_rig **)state, true);
}

static int rig_teardown(void **state)
{
	blk_rig_teardown(*state);
	return 0;
}

static void rig_image(struct blk_rig *r, const char *name, unsigned int sectors, char *path)
{
	blk_rig_image(r, name, sectors, path);
}

/* Queue a 512-byte read of sector 0 into buffer (i), straight to the engine. */
static void rig_read(struct blk_rig *r, int i)
{
	blk_rig_read(r->blk, r->buf[i], sizeof(r->buf[i]), &r->status[i]);
}

static void rig_wait(struct blk_rig *r, const uint8_t *status)
{
	int i;

	for (i = 0; i < 50 && *(volatile const uint8_t *)status == 0xee; i++)
		assert_int_equal(event_loop_run_once(&r->loop, 100), 0);
}

static void *late_writer(void *opaque)
{
	static const uint8_t data[512] = { 'p' };
	struct blk_rig *r = opaque;

	usleep(100 * 1000);
	assert_int_equal(write(r->pipe[1], data, sizeof(data)), sizeof(data));
	return NULL;
}

static int open_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void test_blk_update_noop(void **state)
{
	struct blk_rig *r = *state;
	struct blk_metrics m;

	assert_int_equal(virtio_blk_update(r->blk, NULL, NULL), 0);
	assert_int_equal(r->blk->vd.config_generation, 0);
	virtio_blk_metrics(r->blk, &m);
	assert_int_equal(m.update_count, 0);
	assert_int_equal(m.update_fails, 0);
}

/* A new image that cannot be opened leaves the old one in place, whatever else was asked. */
static void test_blk_update_open_fails(void **state)
{
	struct throttle_config limit = one_per_hour;
	struct blk_rig *r = *state;
	struct blk_metrics m;
	char path[PATH_MAX], longpath[PATH_MAX + 10];

	snprintf(path, sizeof(path), "%s/missing.img", r->dir);
	assert_int_equal(virtio_blk_update(r->blk, path, &limit), -ENOENT);
	assert_int_equal(virtio_blk_update(r->blk, r->dir, NULL), -EISDIR);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(virtio_blk_update(r->blk, longpath, NULL), -ENAMETOOLONG);
	limit.ops.refill_time_ms = RATELIMIT_MAX_REFILL_MS + 1;
	rig_image(r, "new.img", 8, path);
	assert_int_equal(virtio_blk_update(r->blk, path, &limit), -EINVAL);
	assert_int_equal(r->blk->fd, r->image_fd);
	assert_int_equal(r->blk->capacity, 1);
	assert_string_equal(r->cfg.path, r->first);
	assert_true(rate_limiter_is_unlimited(&r->blk->throttle.rl));
	assert_int_equal(r->blk->vd.config_generation, 0);
	assert_int_equal(r->irqs[VIRTIO_INT_CONFIG], 0);
	virtio_blk_metrics(r->blk, &m);
	assert_int_equal(m.update_fails, 4);
	assert_int_equal(m.update_count, 0);
}

/*
 * The swap waits for the read in flight on the old image and answers it (a reset would
 * drop it), then serves from the new one with the new capacity, and tells the guest.
 */
static void test_blk_update_swap(void **state)
{
	struct blk_rig *r = *state;
	struct blk_metrics m;
	char path[PATH_MAX];
	pthread_t writer;
	uint8_t want[512];

	if (!r->blk->io.uring)
		skip();
	rig_image(r, "new.img", 4096, path);
	rig_read(r, 0);
	io_engine_submit(&r->blk->io);
	assert_int_equal(pthread_create(&writer, NULL, late_writer, r), 0);
	assert_int_equal(virtio_blk_update(r->blk, path, NULL), 0);
	pthread_join(writer, NULL);
	assert_int_equal(r->status[0], VIRTIO_BLK_S_OK);
	assert_int_equal(r->buf[0][0], 'p');
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE);
	assert_int_not_equal(r->blk->fd, r->image_fd);
	assert_int_equal(fcntl(r->blk->fd, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(r->blk->capacity, 4096);
	assert_int_equal(r->blk->config.capacity, 4096);
	assert_string_equal(r->cfg.path, path);
	assert_int_equal(r->blk->vd.config_generation, 1);
	assert_int_equal(r->irqs[VIRTIO_INT_CONFIG], 1);
	/* The next read comes from the new image. */
	rig_read(r, 1);
	io_engine_submit(&r->blk->io);
	rig_wait(r, &r->status[1]);
	assert_int_equal(r->status[1], VIRTIO_BLK_S_OK);
	memset(want, 'A', sizeof(want));
	assert_memory_equal(r->buf[1], want, sizeof(want));
	virtio_blk_metrics(r->blk, &m);
	assert_int_equal(m.update_count, 1);
	assert_int_equal(m.read_count, 2);
	assert_int_equal(m.read_bytes, 1024);
}

/* The same path again picks up a grown image; a read-only disk reopens read-only. */
static void test_blk_update_reopen(void **state)
{
	struct blk_rig *r = *state;
	char path[PATH_MAX];

	r->cfg.ro = true;
	rig_image(r, "disk.img", 8, path);
	assert_int_equal(virtio_blk_update(r->blk, path, NULL), 0);
	assert_int_equal(r->blk->capacity, 8);
	assert_int_equal(fcntl(r->blk->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(truncate(path, 16 * 512 + 100), 0);
	/* cfg->path itself: the update must cope with its argument being overwritten. */
	assert_int_equal(virtio_blk_update(r->blk, r->cfg.path, NULL), 0);
	assert_string_equal(r->cfg.path, path);
	assert_int_equal(r->blk->capacity, 16);
	assert_int_equal(r->blk->config.capacity, 16);
	assert_int_equal(r->blk->vd.config_generation, 2);
	assert_int_equal(r->irqs[VIRTIO_INT_CONFIG], 2);
}

/* Requests that do not finish in time: nothing changes, and they complete later as usual. */
static void test_blk_update_timeout(void **state)
{
	static const uint8_t data[512] = { 'q' };
	struct blk_rig *r = *state;
	char path[PATH_MAX];
	int fds;

	if (!r->blk->io.uring)
		skip();
	rig_image(r, "new.img", 8, path);
	rig_read(r, 0);
	io_engine_submit(&r->blk->io);
	fds = open_fds();
	assert_int_equal(virtio_blk_update(r->blk, path, NULL), -ETIMEDOUT);
	assert_int_equal(open_fds(), fds); /* the new image was closed again */
	assert_int_equal(r->blk->fd, r->image_fd);
	assert_int_equal(r->blk->capacity, 1);
	assert_string_equal(r->cfg.path, r->first);
	assert_int_equal(r->blk->vd.config_generation, 0);
	assert_int_equal(r->status[0], 0xee);
	assert_int_equal(write(r->pipe[1], data, sizeof(data)), sizeof(data));
	rig_wait(r, &r->status[0]);
	assert_int_equal(r->status[0], VIRTIO_BLK_S_OK);
	assert_int_equal(r->buf[0][0], 'q');
}

/* Guest memory with a ring of RING_SIZE entries on queue 0 of the rig. */
static void rig_ring(struct blk_rig *r)
{
	struct virtq *q = &r->blk->vd.queues[0];

	q->size = RING_SIZE;
	q->desc_gpa = RING_DESC;
	q->avail_gpa = RING_AVAIL;
	q->used_gpa = RING_USED;
	assert_int_equal(virtq_enable(q, &r->mem), 0);
}

static void put_desc(struct blk_rig *r, unsigned int i, uint64_t gpa, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t d[16];

	put_u64(d, gpa);
	put_u32(d + 8, len);
	put_u16(d + 12, flags);
	put_u16(d + 14, next);
	assert_int_equal(guest_mem_write(&r->mem, RING_DESC + 16 * i, d, sizeof(d)), 0);
}

/*
 * Build the chain of slot (k): header, (len) data bytes unless 0 (device-writable for a
 * read), status. Descriptors 3k..3k+2.
 */
static void build_chain(struct blk_rig *r, unsigned int k, uint32_t type, uint64_t sector,
			uint32_t len)
{
	struct blk_req_hdr hdr = { .type = type, .sector = sector };
	unsigned int d = 3 * k;

	assert_true(k < RING_SLOTS);
	assert_int_equal(guest_mem_write(&r->mem, RING_HDR + 16 * k, &hdr, sizeof(hdr)), 0);
	put_desc(r, d, RING_HDR + 16 * k, sizeof(hdr), VIRTQ_DESC_F_NEXT, d + 1);
	if (len)
		put_desc(r, d + 1, RING_DATA + 4096 * k, len,
			 VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE),
			 d + 2);
	put_desc(r, len ? d + 2 : d + 1, RING_STATUS + k, 1, VIRTQ_DESC_F_WRITE, 0);
}

/* Make chain (k) available (n times). */
static void post(struct blk_rig *r, unsigned int k, unsigned int n)
{
	uint16_t *avail = gpa_to_hva(&r->mem, RING_AVAIL, 4 + 2 * RING_SIZE);

	while (n--)
		avail[2 + r->avail_idx++ % RING_SIZE] = 3 * k;
	__atomic_store_n(&avail[1], r->avail_idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct blk_rig *r)
{
	return __atomic_load_n((uint16_t *)gpa_to_hva(&r->mem, RING_USED + 2, 2),
			       __ATOMIC_ACQUIRE);
}

static uint8_t slot_status(struct blk_rig *r, unsigned int k)
{
	return *(uint8_t *)gpa_to_hva(&r->mem, RING_STATUS + k, 1);
}

static void *pipe_feeder(void *opaque)
{
	static const uint8_t sector[512] = { 'f' };
	struct blk_rig *r = opaque;
	unsigned int i;

	for (i = 0; i < RING_SIZE; i++)
		if (write(r->pipe[1], sector, sizeof(sector)) != sizeof(sector))
			break;
	return NULL;
}

/* A limit update reaches the throttle and the config, and wakes the request waiting for tokens. */
static void test_blk_update_limit(void **state)
{
	struct throttle_config limit = one_per_hour, unlimited = { 0 };
	struct blk_rig *r = *state;
	struct blk_metrics m;
	int i;

	rig_ring(r);
	build_chain(r, 0, VIRTIO_BLK_T_FLUSH, 0, 0);
	assert_int_equal(virtio_blk_update(r->blk, NULL, &limit), 0);
	assert_memory_equal(&r->cfg.limit, &limit, sizeof(limit));
	/* One request an hour: the first flush goes, the second waits for tokens. */
	post(r, 0, 2);
	blk_queue_process(r->blk);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(event_loop_run_once(&r->loop, 20), 0);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(virtio_blk_update(r->blk, NULL, &unlimited), 0);
	for (i = 0; i < 50 && used_idx(r) < 2; i++)
		assert_int_equal(event_loop_run_once(&r->loop, 100), 0);
	assert_int_equal(used_idx(r), 2);
	assert_int_equal(slot_status(r, 0), VIRTIO_BLK_S_OK);
	/* No image change: the guest has nothing to re-read. */
	assert_int_equal(r->blk->vd.config_generation, 0);
	virtio_blk_metrics(r->blk, &m);
	assert_int_equal(m.rate_limiter_throttled_events, 1);
	assert_int_equal(m.flush_count, 2);
	assert_int_equal(m.update_count, 2);
}

/*
 * Every request in flight on the old image and more chains in the ring (the pool ran
 * dry): the swap answers the old ones while waiting, and the chains left behind are then
 * served from the new image, not stranded (the completions it reaped never reach the
 * event loop, which would otherwise have resumed the queue).
 */
static void test_blk_update_stalled(void **state)
{
	struct blk_rig *r = *state;
	char path[PATH_MAX];
	pthread_t feeder;
	uint8_t *data;
	int i;

	if (!r->blk->io.uring)
		skip();
	rig_ring(r);
	rig_image(r, "new.img", 64, path);
	build_chain(r, 0, VIRTIO_BLK_T_IN, 0, 512);
	build_chain(r, 1, VIRTIO_BLK_T_IN, 1, 512);
	post(r, 0, RING_SIZE);
	blk_queue_process(r->blk);
	assert_int_equal(r->blk->nr_free, 0);
	post(r, 1, 4);
	blk_queue_process(r->blk);
	assert_true(r->blk->stalled);
	assert_int_equal(pthread_create(&feeder, NULL, pipe_feeder, r), 0);
	assert_int_equal(virtio_blk_update(r->blk, path, NULL), 0);
	pthread_join(feeder, NULL);
	assert_int_equal(r->blk->capacity, 64);
	for (i = 0; i < 50 && used_idx(r) != RING_SIZE + 4; i++)
		assert_int_equal(event_loop_run_once(&r->loop, 100), 0);
	assert_int_equal(used_idx(r), RING_SIZE + 4);
	assert_false(r->blk->stalled);
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE);
	data = gpa_to_hva(&r->mem, RING_DATA, 2 * 4096);
	assert_int_equal(data[0], 'f');	       /* the old image's last answer */
	assert_int_equal(data[4096], 'B');     /* sector 1 of the new image */
	assert_int_equal(data[4096 + 511], 'B');
	assert_true(r->irqs[VIRTIO_INT_VRING] > 0);
}

/* Each kind of request lands in its counter (the synchronous engine: answers at once). */
static void test_blk_metrics(void **state)
{
	struct blk_rig *r = *state;
	struct blk_metrics m;
	char path[PATH_MAX];

	rig_ring(r);
	rig_image(r, "disk.img", 8, path);
	r->cfg.cache = BLK_CACHE_WRITEBACK;
	assert_int_equal(virtio_blk_update(r->blk, path, NULL), 0);
	build_chain(r, 0, VIRTIO_BLK_T_IN, 7, 512);	 /* read OK */
	build_chain(r, 1, VIRTIO_BLK_T_OUT, 2, 1024);	 /* write OK */
	build_chain(r, 2, VIRTIO_BLK_T_FLUSH, 0, 0);	 /* flush OK (fdatasync) */
	build_chain(r, 3, VIRTIO_BLK_T_IN, 8, 512);	 /* past the end */
	build_chain(r, 4, 2, 0, 0);			 /* unsupported type */
	build_chain(r, 5, VIRTIO_BLK_T_GET_ID, 0, 20);	 /* no counter */
	post(r, 0, 2);
	post(r, 1, 1);
	post(r, 2, 1);
	post(r, 3, 1);
	post(r, 4, 1);
	post(r, 5, 1);
	blk_queue_process(r->blk);
	assert_int_equal(used_idx(r), 7);
	assert_int_equal(slot_status(r, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(slot_status(r, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(slot_status(r, 2), VIRTIO_BLK_S_OK);
	assert_int_equal(slot_status(r, 3), VIRTIO_BLK_S_IOERR);
	assert_int_equal(slot_status(r, 4), VIRTIO_BLK_S_UNSUPP);
	/* The image shrinks under the guest: a host I/O error. */
	assert_int_equal(truncate(path, 512), 0);
	post(r, 0, 1);
	blk_queue_process(r->blk);
	assert_int_equal(slot_status(r, 0), VIRTIO_BLK_S_IOERR);
	virtio_blk_metrics(r->blk, &m);
	assert_int_equal(m.read_count, 2);
	assert_int_equal(m.read_bytes, 1024);
	assert_int_equal(m.write_count, 1);
	assert_int_equal(m.write_bytes, 1024);
	assert_int_equal(m.flush_count, 1);
	assert_int_equal(m.invalid_reqs_count, 2);
	assert_int_equal(m.execute_fails, 1);
	assert_int_equal(m.rate_limiter_throttled_events, 0);
	assert_int_equal(m.io_engine_throttled_events, 0);
}

/* ---- virtio-balloon ---- */

static void test_balloon_period_rules(void **state)
{
	(void)state;
	assert_int_equal(balloon_stats_period_check(0, 0), 0);
	assert_int_equal(balloon_stats_period_check(5, 5), 0);
	assert_int_equal(balloon_stats_period_check(5, 1), 1);
	assert_int_equal(balloon_stats_period_check(1, 3600), 1);
	assert_int_equal(balloon_stats_period_check(0, 1), -EINVAL);
	assert_int_equal(balloon_stats_period_check(5, 0), -EINVAL);
}

static void test_balloon_stats_fields(void **state)
{
	struct balloon_stats s = { .actual_pages = 1000 };
	unsigned int tag;

	(void)state;
	balloon_stats_finish(&s, 512 * 256); /* 512 MiB */
	assert_int_equal(s.target_pages, 512 * 256);
	assert_int_equal(s.target_mib, 512);
	assert_int_equal(s.actual_pages, 1000);
	assert_int_equal(s.actual_mib, 3); /* 1000 pages: 3.9 MiB, rounded down */
	assert_string_equal(balloon_stat_name(BALLOON_S_SWAP_IN), "swap_in");
	assert_string_equal(balloon_stat_name(BALLOON_S_MEMTOT), "total_memory");
	assert_string_equal(balloon_stat_name(BALLOON_S_HTLB_PGFAIL), "hugetlb_failures");
	assert_string_equal(balloon_stat_name(BALLOON_S_DIRECT_RECLAIM), "direct_reclaim");
	assert_null(balloon_stat_name(BALLOON_S_NR));
	for (tag = 0; tag < BALLOON_S_NR; tag++)
		assert_non_null(balloon_stat_name(tag));
	assert_int_equal(BALLOON_S_NR, ARRAY_SIZE(s.value));
	assert_true(BALLOON_S_NR <= 8 * sizeof(s.valid));
}

#define RIG_TEST(t, setup) cmocka_unit_test_setup_teardown(t, setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_changed),
		cmocka_unit_test(test_throttle_update_resumes),
		cmocka_unit_test(test_throttle_update_keeps_same),
		RIG_TEST(test_blk_update_noop, rig_setup),
		RIG_TEST(test_blk_update_open_fails, rig_setup),
		RIG_TEST(test_blk_update_swap, rig_setup),
		RIG_TEST(test_blk_update_reopen, rig_setup),
		RIG_TEST(test_blk_update_timeout, rig_setup),
		RIG_TEST(test_blk_update_limit, rig_setup),
		RIG_TEST(test_blk_update_stalled, rig_setup),
		RIG_TEST(test_blk_metrics, rig_setup_sync),
		cmocka_unit_test(test_balloon_period_rules),
		cmocka_unit_test(test_balloon_stats_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
