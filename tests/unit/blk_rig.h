/*
 * A virtio-blk device built by hand for unit tests, without a VM: its "image" is a pipe,
 * so a read stays in flight until the test writes the data. Shared by test_blk and
 * test_devupdate.
 */
#ifndef EMBER_TESTS_BLK_RIG_H
#define EMBER_TESTS_BLK_RIG_H

#include "unit.h"
#include "virtio/blk_int.h"

/* Set up (blk) on (fd) with config (cfg) and (ops), with a full request pool. 0 or -1. */
static inline int blk_rig_init(struct virtio_blk *blk, struct disk_config *cfg, int fd,
			       const struct virtio_dev_ops *ops)
{
	unsigned int i;

	strcpy(cfg->path, "pipe");
	virtio_dev_init(&blk->vd, ops, blk, NULL);
	blk->cfg = cfg;
	blk->fd = fd;
	blk->reqs = calloc(VIRTQ_MAX_SIZE, sizeof(*blk->reqs));
	if (!blk->reqs)
		return -1;
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		blk->free[blk->nr_free++] = i;
	return 0;
}

/* Queue a read of sector 0 into (buf, len), straight to the engine; (*status) is 0xee until answered. */
static inline void blk_rig_read(struct virtio_blk *blk, uint8_t *buf, size_t len, uint8_t *status)
{
	struct blk_req *req = blk_req_get(blk);

	assert_non_null(req);
	memset(req, 0, sizeof(*req));
	req->type = VIRTIO_BLK_T_IN;
	req->elem.iov[0] = (struct iovec){ buf, len };
	req->io = (struct io_op){
		.type = IO_OP_READ,
		.fd = blk->fd,
		.len = len,
		.iov = req->elem.iov,
		.nr_iov = 1,
	};
	*status = 0xee;
	req->status = status;
	assert_int_equal(io_engine_start(&blk->io, &req->io), -EINPROGRESS);
}

#endif
