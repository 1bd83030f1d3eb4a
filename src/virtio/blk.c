/*
 * virtio-blk: the device model (features, config space) and its life cycle: create, the
 * image swap of virtio_blk_update, metrics, destroy (the --disk option is config's). A request's way
 * from the ring to the disk and back is blk_req.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_int.h"
#include "../snapshot/stream.h"
#include "../util/log.h"
#include "../util/util.h"

_Static_assert(offsetof(struct blk_config, blk_size) == 20, "blk_size at 20");
_Static_assert(offsetof(struct blk_config, writeback) == 32, "writeback at 32");
_Static_assert(offsetof(struct blk_config, max_discard_sectors) == 36, "discard at 36");
_Static_assert(sizeof(struct blk_config) == 72, "VIRTIO 1.2 config ends at 72");

static uint64_t blk_features(struct virtio_dev *vd)
{
	struct virtio_blk *blk = vd->priv;
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_FLUSH);

	return blk->cfg->ro ? f | (1ULL << VIRTIO_BLK_F_RO) : f;
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, void *data, unsigned int len)
{
	struct virtio_blk *blk = vd->priv;

	/* The transport checked off + len against config_size. */
	memcpy(data, (const uint8_t *)&blk->config + off, len);
}

static void blk_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	(void)q;
	blk_queue_process(vd->priv);
}

/* Called with vd.lock held, by the vCPU that wrote 0 to the status register. */
static void blk_reset(struct virtio_dev *vd)
{
	struct virtio_blk *blk = vd->priv;

	/* The kernel may still be writing into guest buffers: wait for it, answer nothing. */
	io_engine_drain(&blk->io);
	blk->stalled = false;
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.features = blk_features,
	.config_size = sizeof(struct blk_config),
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
};

/*
 * Open the image at (path), read-only if (ro), and size it in sectors into (*sectors); a
 * tail that is no whole sector is logged to (log). Returns the fd, or -errno with the
 * reason in (why, why_len).
 */
static int blk_image_open(const char *path, bool ro, uint64_t *sectors, struct logger *log,
			  char *why, size_t why_len)
{
	uint64_t size;
	struct stat st;
	int fd, ret;

	fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(-ret));
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			ret = -errno;
			snprintf(why, why_len, "cannot get the device size: %s", strerror(-ret));
			goto err;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = st.st_size;
	} else {
		snprintf(why, why_len, "not a regular file or a block device");
		ret = -EINVAL;
		goto err;
	}
	if (size % BLK_SECTOR_SIZE)
		log_warnx(log,
			  "virtio-blk %s: the last %llu bytes do not fill a sector and are not "
			  "addressable", path, (unsigned long long)(size % BLK_SECTOR_SIZE));
	*sectors = size >> BLK_SECTOR_SHIFT;
	return fd;
err:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Set (blk)'s capacity, in the device and in the config space, and tell the driver. */
static void blk_set_capacity(struct virtio_blk *blk, uint64_t sectors)
{
	blk->capacity = sectors;
	blk->config.capacity = sectors;
	virtio_dev_config_changed(&blk->vd);
}

static void blk_resume(struct virtio_dev *vd)
{
	struct virtio_blk *blk = vd->priv;

	if (blk->vd.queues[0].enabled)
		blk_queue_process(blk);
}

int virtio_blk_create(const struct guest_mem *mem, struct event_loop *loop,
		      struct logger *log, struct disk_config *cfg, unsigned int index,
		      struct virtio_blk **out, char *why, size_t why_len)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	unsigned int i;
	int ret;

	if (!blk)
		return -ENOMEM;
	virtio_dev_init(&blk->vd, &blk_ops, blk, mem, log);
	blk->cfg = cfg;
	blk->fd = blk->throttle.timer_fd = -1;
	ret = throttle_init(&blk->throttle, &cfg->limit, loop, &blk->vd, blk_resume);
	if (ret)
		goto err;
	ret = blk_image_open(cfg->path, cfg->ro, &blk->capacity, log, why, why_len);
	if (ret < 0)
		goto err;
	blk->fd = ret;
	/* Most of the pool is never touched, so it costs address space rather than RAM. */
	blk->reqs = calloc(VIRTQ_MAX_SIZE, sizeof(*blk->reqs));
	if (!blk->reqs) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		blk->free[blk->nr_free++] = VIRTQ_MAX_SIZE - 1 - i;
	/* blk->id starts zeroed: that is GET_ID's NUL padding. */
	if (cfg->serial[0])
		memcpy(blk->id, cfg->serial, strnlen(cfg->serial, sizeof(blk->id)));
	else
		snprintf(blk->id, sizeof(blk->id), "ember-disk-%u", index);
	blk->config.capacity = blk->capacity;
	/* A chain is the header, the data buffers and the status. */
	blk->config.seg_max = VIRTQ_MAX_SEGS - 2;
	blk->config.blk_size = BLK_SECTOR_SIZE;
	blk->config.num_queues = 1;
	ret = blk_io_init(blk, loop);
	if (ret)
		goto err;
	log_info(blk->vd.log, "virtio-blk %s: %llu sectors%s, cache=%s, %s", cfg->path,
		 (unsigned long long)blk->capacity, cfg->ro ? ", read-only" : "",
		 cfg->cache == BLK_CACHE_WRITEBACK ? "writeback" : "unsafe",
		 blk->io.uring ? "io_uring" : "synchronous I/O");
	*out = blk;
	return 0;
err:
	virtio_blk_destroy(blk);
	return ret;
}

/* How long a drive update may hold the event loop waiting for the old image's requests. */
#define BLK_UPDATE_DRAIN_MS 1000

int virtio_blk_update(struct virtio_blk *blk, const char *path,
		      const struct throttle_config *limit)
{
	char reason[256];
	uint64_t sectors = 0;
	int fd = -1, ret;

	if (!path && !limit)
		return 0;
	if (limit && throttle_config_validate(limit)) {
		log_warnx(blk->vd.log, "virtio-blk %s: rate limiter out of range; nothing changed",
			  blk->cfg->path);
		ret = -EINVAL;
		goto fail;
	}
	if (path) {
		if (strlen(path) >= sizeof(blk->cfg->path)) {
			log_warnx(blk->vd.log,
				  "virtio-blk %s: new image path too long; nothing changed",
				  blk->cfg->path);
			ret = -ENAMETOOLONG;
			goto fail;
		}
		/* Before anything changes: a file that cannot be opened leaves the old one. */
		fd = blk_image_open(path, blk->cfg->ro, &sectors, blk->vd.log, reason,
				    sizeof(reason));
		if (fd < 0) {
			log_warnx(blk->vd.log, "virtio-blk %s: new image %s: %s; nothing changed",
				  blk->cfg->path, path, reason);
			ret = fd;
			goto fail;
		}
	}
	pthread_mutex_lock(&blk->vd.lock);
	if (path) {
		/* The old fd is named in the requests in flight: they finish on it first. */
		ret = blk_io_quiesce(blk, BLK_UPDATE_DRAIN_MS);
		if (ret) {
			if (ret == -ETIMEDOUT)
				log_warnx(blk->vd.log,
					  "virtio-blk %s: %u request(s) still in flight after %u "
					  "ms; image not changed to %s", blk->cfg->path,
					  blk->io.in_flight, BLK_UPDATE_DRAIN_MS, path);
			else
				log_warnx(blk->vd.log, "virtio-blk %s: image not changed to %s",
					  blk->cfg->path, path);
			goto unlock;
		}
	}
	if (limit) {
		ret = throttle_update(&blk->throttle, limit);
		if (ret)
			goto unlock;
		if (limit != &blk->cfg->limit)
			blk->cfg->limit = *limit;
	}
	if (path) {
		close(blk->fd);
		blk->fd = fd;
		fd = -1;
		/* (path) may be cfg->path itself: a re-open to pick up a new size. */
		memmove(blk->cfg->path, path, strlen(path) + 1);
		blk->io_error_logged = false;
		blk_set_capacity(blk, sectors);
		log_info(blk->vd.log, "virtio-blk: now on %s, %llu sectors", blk->cfg->path,
			 (unsigned long long)sectors);
	}
	ret = 0;
unlock:
	/* Requests answered while we waited may have refilled a dry pool. */
	blk_restart_stalled(blk);
	pthread_mutex_unlock(&blk->vd.lock);
	if (fd >= 0)
		close(fd);
	if (!ret) {
		blk->metrics.update_count++;
		return 0;
	}
fail:
	blk->metrics.update_fails++;
	return ret;
}

/* How long a snapshot may wait for the requests in flight: a disk that slow refuses it. */
#define BLK_SNAPSHOT_DRAIN_MS 5000

int virtio_blk_save(struct virtio_blk *blk, struct snap_writer *w)
{
	int ret;

	pthread_mutex_lock(&blk->vd.lock);
	ret = blk_io_quiesce(blk, BLK_SNAPSHOT_DRAIN_MS);
	if (ret) {
		log_warnx(blk->vd.log, "virtio-blk %s: %u request(s) still in flight; no snapshot",
			  blk->cfg->path, blk->io.in_flight);
		goto out;
	}
	snap_put_bytes(w, blk->id, sizeof(blk->id));
	throttle_save(&blk->throttle, w);
	/*
	 * The answers freed requests a dry pool waited for. The chains left in the ring are
	 * not taken now, which would start I/O the saved state knows nothing of: the device
	 * looks at its queue again once the loop is done with the snapshot.
	 */
	if (blk->stalled && virtio_dev_running(&blk->vd) && blk->vd.queues[0].enabled)
		blk->vd.transport->requeue(&blk->vd, 0);
out:
	pthread_mutex_unlock(&blk->vd.lock);
	return ret;
}

/* What a disk's serial may be: printable ASCII, then NUL padding to the end. */
static bool blk_id_valid(const char *id)
{
	size_t n = strnlen(id, BLK_ID_BYTES), i;

	for (i = 0; i < BLK_ID_BYTES; i++)
		if (i < n ? id[i] < 0x20 || id[i] > 0x7e : id[i] != '\0')
			return false;
	return true;
}

int virtio_blk_restore(struct virtio_blk *blk, struct snap_cursor *c, char *why,
		       size_t why_len)
{
	char id[BLK_ID_BYTES];
	int ret;

	snap_get_bytes(c, id, sizeof(id));
	if (!blk_id_valid(id))
		snap_cursor_fail(c, "disk serial");
	if (c->bad)
		return snap_cursor_end(c, why, why_len);
	pthread_mutex_lock(&blk->vd.lock);
	ret = throttle_restore(&blk->throttle, c);
	/* The serial the guest read stays its disk's, whatever the configuration makes of it. */
	if (!ret)
		memcpy(blk->id, id, sizeof(id));
	pthread_mutex_unlock(&blk->vd.lock);
	return ret ? snap_cursor_end(c, why, why_len) : 0;
}

void virtio_blk_metrics(const struct virtio_blk *blk, struct blk_metrics *out)
{
	*out = blk->metrics;
	out->rate_limiter_throttled_events = blk->throttle.throttled;
	out->io_engine_throttled_events = blk->io.ring_full;
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk)
{
	return &blk->vd;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	io_engine_exit(&blk->io);
	throttle_destroy(&blk->throttle);
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk->reqs);
	virtio_dev_destroy(&blk->vd);
	free(blk);
}
