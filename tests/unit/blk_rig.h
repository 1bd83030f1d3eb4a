/*
 * A virtio-blk device for unit tests, built through its public constructor like any
 * machine builds one: guest memory, an event loop and a disk config, no VM. The test is
 * its driver (rings in guest memory) and its transport (it counts the interrupts).
 *
 * The disk is created on a one-sector image file; then the read end of a pipe is put
 * behind the descriptor the device holds for that image (found in /proc/self/fd and
 * replaced with dup2), so a read stays in flight until the test writes the data. Shared
 * by test_blk and test_devupdate.
 */
#ifndef EMBER_TESTS_BLK_RIG_H
#define EMBER_TESTS_BLK_RIG_H

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "unit.h"
#include "util/eventloop.h"
#include "virtio/blk_int.h"

struct blk_rig {
	struct guest_mem mem;	/* 1 MiB at gpa 0, for rings and buffers */
	struct event_loop loop;
	struct logger log;
	struct disk_config cfg; /* the disk's own: the device reads and updates it */
	char dir[64];		/* scratch directory for image files */
	char first[PATH_MAX];	/* the image the disk was created on */
	int pipe[2];
	int image_fd; /* the device's descriptor of its image: now the pipe's read end */
	struct virtio_blk *blk;
	unsigned int irqs[4]; /* interrupts raised, by reason (VIRTIO_INT_*) */
	uint8_t buf[2][512];
	uint8_t status[2];
	uint16_t avail_idx;
};

static void blk_rig_interrupt(struct virtio_dev *vd, uint32_t why)
{
	struct blk_rig *r = vd->transport_priv;

	assert_true(why < 4);
	r->irqs[why]++;
}

static const struct virtio_transport_ops blk_rig_transport = { .interrupt = blk_rig_interrupt };

/* The descriptor this process has open on (path), or -1. */
static inline int blk_rig_fd_of(const char *path)
{
	char link[300], target[PATH_MAX], want[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int found = -1;
	ssize_t n;

	assert_non_null(d);
	assert_non_null(realpath(path, want));
	while (found < 0 && (e = readdir(d))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, want))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* A file of (sectors) sectors in the rig's directory, sector n filled with 'A' + n % 26. */
static inline void blk_rig_image(struct blk_rig *r, const char *name, unsigned int sectors,
				 char *path)
{
	uint8_t sector[512];
	unsigned int i;
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", r->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	for (i = 0; i < sectors; i++) {
		memset(sector, 'A' + i % 26, sizeof(sector));
		assert_int_equal(write(fd, sector, sizeof(sector)), sizeof(sector));
	}
	close(fd);
}

/*
 * The rig, its disk created with the synchronous engine if (sync), else io_uring where the
 * host has it; the driver is up (DRIVER_OK) but no queue is enabled yet. 0 or -1.
 */
static inline int blk_rig_setup(struct blk_rig **out, bool sync)
{
	const struct mem_region layout = { .gpa = 0, .size = 1 * MiB };
	struct blk_rig *r = calloc(1, sizeof(*r));
	struct virtio_dev *vd;
	char why[256];
	int ret;

	if (r)
		logger_init(&r->log);
	if (!r || guest_mem_init(&r->mem, &layout, 1) || event_loop_init(&r->loop) ||
	    pipe2(r->pipe, O_CLOEXEC))
		return -1;
	strcpy(r->dir, "/tmp/ember-blk-rig-XXXXXX");
	if (!mkdtemp(r->dir))
		return -1;
	blk_rig_image(r, "first.img", 1, r->first);
	snprintf(r->cfg.path, sizeof(r->cfg.path), "%s", r->first);
	if (sync)
		setenv("EMBER_BLK_SYNC", "1", 1);
	else
		unsetenv("EMBER_BLK_SYNC");
	ret = virtio_blk_create(&r->mem, &r->loop, &r->log, &r->cfg, 0, &r->blk, why,
				sizeof(why));
	unsetenv("EMBER_BLK_SYNC");
	if (ret)
		return -1;
	r->image_fd = blk_rig_fd_of(r->first);
	if (r->image_fd < 0 || dup2(r->pipe[0], r->image_fd) < 0)
		return -1;
	vd = virtio_blk_dev(r->blk);
	vd->transport = &blk_rig_transport;
	vd->transport_priv = r;
	vd->status = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	*out = r;
	return 0;
}

static inline void blk_rig_teardown(struct blk_rig *r)
{
	char cmd[128];

	virtio_blk_destroy(r->blk);
	close(r->pipe[0]);
	close(r->pipe[1]);
	event_loop_destroy(&r->loop);
	guest_mem_destroy(&r->mem);
	logger_destroy(&r->log);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", r->dir);
	free(r);
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
