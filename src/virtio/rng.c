#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "rng.h"
#include "virtio.h"
#include "../snapshot/stream.h"
#include "../util/log.h"
#include "../util/util.h"

/* Bytes one request may take: a guest asking for more just gets a short buffer back. */
#define RNG_MAX_REQUEST (64 * 1024)

struct virtio_rng {
	struct virtio_dev vd;
	struct throttle throttle;
};

/* Fill the writable buffers of (elem). Returns the bytes written. */
static uint32_t rng_fill(const struct virtq_elem *elem)
{
	uint32_t done = 0;
	unsigned int i;

	for (i = elem->nr_out; i < elem->nr_out + elem->nr_in && done < RNG_MAX_REQUEST; i++) {
		size_t want = elem->iov[i].iov_len;
		size_t got = 0;

		if (want > RNG_MAX_REQUEST - done)
			want = RNG_MAX_REQUEST - done;
		while (got < want) {
			ssize_t n = getrandom((char *)elem->iov[i].iov_base + got, want - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done + got;
			got += n;
		}
		done += got;
	}
	return done;
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned int qidx)
{
	struct virtio_rng *rng = vd->priv;
	struct virtq *q = &vd->queues[qidx];
	struct virtq_elem elem;
	bool pushed = false;

	while (virtio_dev_pop(vd, qidx, &elem, "malformed request chain") > 0) {
		if (!throttle_allow(&rng->throttle, MIN(elem.in_len, RNG_MAX_REQUEST))) {
			/* Out of tokens: the throttle's timer brings us back. */
			virtq_unpop(q, 1);
			break;
		}
		virtq_push(q, &elem, rng_fill(&elem));
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_queue(vd, qidx);
}

static void rng_resume(struct virtio_dev *vd)
{
	rng_queue_notify(vd, 0);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_notify = rng_queue_notify,
};

int virtio_rng_create(const struct guest_mem *mem, struct event_loop *loop,
		      struct logger *log, const struct throttle_config *limit,
		      struct virtio_rng **out)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int ret;

	if (!rng)
		return -ENOMEM;
	virtio_dev_init(&rng->vd, &rng_ops, rng, mem, log);
	ret = throttle_init(&rng->throttle, limit, loop, &rng->vd, rng_resume);
	if (ret) {
		throttle_destroy(&rng->throttle);
		virtio_dev_destroy(&rng->vd);
		free(rng);
		return ret;
	}
	*out = rng;
	return 0;
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *rng)
{
	return &rng->vd;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	throttle_destroy(&rng->throttle);
	virtio_dev_destroy(&rng->vd);
	free(rng);
}

int virtio_rng_save(struct virtio_rng *rng, struct snap_writer *w)
{
	pthread_mutex_lock(&rng->vd.lock);
	throttle_save(&rng->throttle, w);
	pthread_mutex_unlock(&rng->vd.lock);
	return 0;
}

int virtio_rng_restore(struct virtio_rng *rng, struct snap_cursor *c, char *why,
		       size_t why_len)
{
	int ret;

	pthread_mutex_lock(&rng->vd.lock);
	ret = throttle_restore(&rng->throttle, c);
	pthread_mutex_unlock(&rng->vd.lock);
	return ret ? snap_cursor_end(c, why, why_len) : 0;
}
