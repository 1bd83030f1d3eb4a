// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_rng.c - virtio_rng.elf: find the virtio-rng device (vio_find), ask it
 * for 64 bytes twice, and check they came back filled and different.
 */
#include "virtio.h"

#define VIRTIO_ID_RNG 4

static struct vq requestq;
static u8 buf[2][64] __attribute__((aligned(64)));

void guest_main(const struct boot_info *b)
{
	struct vq_used_elem used;
	u64 base = vio_find(b, 0);
	const char *err;
	int i, r, nonzero = 0;

	if (!base)
		finish("no virtio-mmio device");
	put_str("VIRTIO-RNG-AT=");
	put_hex(base);
	put_nl();
	err = vio_start(base, VIRTIO_ID_RNG, 0);
	if (!err)
		err = vio_queue(base, 0, &requestq);
	if (err)
		finish(err);
	vio_driver_ok(base);
	for (r = 0; r < 2; r++) {
		struct vio_buf one = { buf[r], sizeof(buf[r]), 1 };

		vq_post(&requestq, &one, 1);
		if (vq_wait(&requestq, &used))
			finish("no answer from the device");
		if (used.len != sizeof(buf[r]))
			finish("short answer");
	}
	for (i = 0; i < 64; i++)
		nonzero += buf[0][i] != 0;
	put_str("RNG-BYTES=");
	for (i = 0; i < 8; i++)
		put_hex32(((u32 *)buf[0])[i]);
	put_nl();
	if (nonzero < 32 || !memcmp(buf[0], buf[1], sizeof(buf[0])))
		finish("the bytes do not look random");
	finish(NULL);
}
