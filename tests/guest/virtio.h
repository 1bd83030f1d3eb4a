/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio.h - a minimal polling virtio-mmio (version 2) driver for the tiny guests: find
 * devices on the command line or in the ACPI DSDT, negotiate VERSION_1, set up split
 * queues, post buffers and wait for them to come back.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "lib.h"

#define VQ_SIZE 8

struct vq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct vq_avail {
	u16 flags;
	u16 idx;
	u16 ring[VQ_SIZE];
	u16 used_event;
};

struct vq_used_elem {
	u32 id;
	u32 len;
};

struct vq_used {
	u16 flags;
	u16 idx;
	struct vq_used_elem ring[VQ_SIZE];
	u16 avail_event;
};

/* One queue's rings, laid out in one aligned block. */
struct vq {
	struct vq_desc desc[VQ_SIZE] __attribute__((aligned(16)));
	struct vq_avail avail __attribute__((aligned(16)));
	struct vq_used used __attribute__((aligned(16)));
	u16 last_used;
	u16 next_desc;
	u64 base; /* the device */
	u32 index;
} __attribute__((aligned(4096)));

struct vio_buf {
	void *addr;
	u32 len;
	int device_writes;
};

/* The (nth) (from 0) "virtio_mmio.device=<size>@<addr>:<irq>" on (cmdline): its address, or 0. */
u64 vio_find_cmdline(const char *cmdline, int nth);

/*
 * The (nth) (from 0) virtio-mmio device ember gave (b): from the command line when it
 * names any (--no-acpi), else the nth LNRO0005 device in the ACPI DSDT. Its address, or 0.
 */
u64 vio_find(const struct boot_info *b, int nth);

/* The first device of (b) (see vio_find) whose device ID is (id): its address, or 0. */
u64 vio_find_id(const struct boot_info *b, u32 id);

/*
 * Reset the device at (base), check it is a v2 device of (device_id), negotiate
 * VERSION_1 plus (features) and leave it in FEATURES_OK. 0, or a reason on failure.
 */
const char *vio_start(u64 base, u32 device_id, u64 features);

/* Set up queue (index) of the device at (base) with (q)'s rings. 0 or a reason. */
const char *vio_queue(u64 base, u32 index, struct vq *q);

/* Set DRIVER_OK. */
void vio_driver_ok(u64 base);

/* The device status register. */
u32 vio_status(u64 base);

/* The 64 feature bits the device at (base) offers. */
u64 vio_features(u64 base);

/* A 32-bit read of the device config space at (off). */
u32 vio_config32(u64 base, u32 off);

/* Post (n) buffers as one chain (readable ones first) and notify. Returns the head. */
u16 vq_post(struct vq *q, const struct vio_buf *bufs, int n);

/* Wait (bounded) for the next used element; 0 on success, -1 on time-out. */
int vq_wait(struct vq *q, struct vq_used_elem *out);

#endif
