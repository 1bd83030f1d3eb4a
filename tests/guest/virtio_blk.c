// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_blk.c - virtio_blk.elf: drive the two virtio-blk devices ember gave (vio_find).
 * Disk 0 (read-write): check its config space, write sector 1 and read it back, FLUSH,
 * GET_ID, read sector 0 (prefilled by the host), see bad requests refused without the
 * device failing, then fail it on purpose and reset it, also with reads in flight.
 * Disk 1 (read-only): a write must come back IOERR.
 */
#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define F_SEG_MAX	(1UL << 2)
#define F_RO		(1UL << 5)
#define F_BLK_SIZE	(1UL << 6)
#define F_FLUSH		(1UL << 9)
#define T_IN		0
#define T_OUT		1
#define T_FLUSH		4
#define T_GET_ID	8
#define S_OK		0
#define S_IOERR		1
#define S_UNSUPP	2
#define S_NEEDS_RESET	0x40
#define SECTOR		512
#define BIG		(32 * 1024)
#define STATUS_POLLS	2000000UL

struct req_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
};

static struct vq q0, q1;
static struct req_hdr hdr;
static u8 status;
static u8 wbuf[SECTOR] __attribute__((aligned(64)));
static u8 rbuf[2 * SECTOR + 1] __attribute__((aligned(64)));
static char id[24];
static u8 big[2][BIG] __attribute__((aligned(4096)));

/*
 * One request on (q): the header, (len) bytes of data at (data) if len > 0 (device-
 * writable if (in)), then the status byte. Returns the status; (*used_len) if asked.
 */
static u8 blk_req(struct vq *q, u32 type, u64 sector, void *data, u32 len, int in,
		  u32 *used_len)
{
	struct vio_buf bufs[3];
	struct vq_used_elem used;
	int n = 0;

	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = 0xff;
	bufs[n++] = (struct vio_buf){ &hdr, sizeof(hdr), 0 };
	if (len)
		bufs[n++] = (struct vio_buf){ data, len, in };
	bufs[n++] = (struct vio_buf){ &status, 1, 1 };
	vq_post(q, bufs, n);
	if (vq_wait(q, &used))
		finish("no answer from the device");
	if (used_len)
		*used_len = used.len;
	return *(volatile u8 *)&status;
}

static void start(u64 base, struct vq *q, u64 features)
{
	const char *err = vio_start(base, VIRTIO_ID_BLOCK, features);

	if (!err)
		err = vio_queue(base, 0, q);
	if (err)
		finish(err);
	vio_driver_ok(base);
}

static void disk0(u64 base)
{
	struct vio_buf one[2] = { { &hdr, sizeof(hdr), 0 }, { rbuf, SECTOR + 1, 1 } };
	struct vq_used_elem used;
	u64 cap;
	u32 len;
	int i;

	if (vio_features(base) & F_RO)
		finish("disk 0 says it is read-only");
	start(base, &q0, F_SEG_MAX | F_BLK_SIZE | F_FLUSH);
	cap = vio_config32(base, 0) | (u64)vio_config32(base, 4) << 32;
	put_str("BLK-CAPACITY=");
	put_dec(cap);
	put_nl();
	if (vio_config32(base, 12) != 254 || vio_config32(base, 20) != SECTOR)
		finish("seg_max or blk_size wrong");

	for (i = 0; i < SECTOR; i++)
		wbuf[i] = (u8)(i * 31 + 17);
	if (blk_req(&q0, T_OUT, 1, wbuf, SECTOR, 0, &len) != S_OK || len != 1)
		finish("write of sector 1 failed");
	if (blk_req(&q0, T_IN, 1, rbuf, SECTOR, 1, &len) != S_OK || len != SECTOR + 1)
		finish("read of sector 1 failed");
	if (memcmp(wbuf, rbuf, SECTOR))
		finish("sector 1 reads back different");
	/* Data and status in one buffer: the status is its last byte. */
	memset(rbuf, 0, sizeof(rbuf));
	hdr.type = T_IN;
	hdr.sector = 1;
	rbuf[SECTOR] = 0xff;
	vq_post(&q0, one, 2);
	if (vq_wait(&q0, &used) || rbuf[SECTOR] != S_OK || used.len != SECTOR + 1 ||
	    memcmp(wbuf, rbuf, SECTOR))
		finish("read with the status inside the data buffer failed");
	put_str("BLK-WRITE-READBACK=ok\n");

	if (blk_req(&q0, T_FLUSH, 0, NULL, 0, 0, NULL) != S_OK)
		finish("flush failed");
	memset(id, 0, sizeof(id));
	if (blk_req(&q0, T_GET_ID, 0, id, 20, 1, &len) != S_OK || len != 21)
		finish("GET_ID failed");
	put_str("BLK-ID=");
	put_str(id);
	put_nl();
	if (blk_req(&q0, T_IN, 0, rbuf, SECTOR, 1, NULL) != S_OK)
		finish("read of sector 0 failed");
	put_str("BLK-SECTOR0-FNV=");
	put_hex32(fnv1a32(rbuf, SECTOR));
	put_nl();

	/* Refused, each with a status, and the device stays usable. */
	if (blk_req(&q0, T_IN, cap, rbuf, SECTOR, 1, NULL) != S_IOERR ||
	    blk_req(&q0, T_IN, cap - 1, rbuf, 2 * SECTOR, 1, NULL) != S_IOERR ||
	    blk_req(&q0, T_OUT, ~0UL >> 1, wbuf, SECTOR, 0, NULL) != S_IOERR ||
	    blk_req(&q0, T_IN, 0, rbuf, 100, 1, NULL) != S_IOERR ||
	    blk_req(&q0, 99, 0, NULL, 0, 0, NULL) != S_UNSUPP)
		finish("a bad request was not refused");
	if (vio_status(base) & S_NEEDS_RESET)
		finish("disk 0 failed");
	put_str("BLK-BAD-REQUESTS=refused\n");
}

/*
 * A chain without a writable byte has nowhere for a status: the device must fail. Then a
 * reset with reads in flight: the device waits for them, drops them and works on.
 */
static void resets(u64 base)
{
	struct vio_buf hdr_only = { &hdr, sizeof(hdr), 0 };
	struct vio_buf reads[2][2] = {
		{ { &hdr, sizeof(hdr), 0 }, { big[0], BIG + 1, 1 } },
		{ { &hdr, sizeof(hdr), 0 }, { big[1], BIG + 1 - SECTOR, 1 } },
	};
	unsigned long i;
	u32 len;

	hdr.type = T_IN;
	hdr.sector = 0;
	vq_post(&q0, &hdr_only, 1);
	for (i = 0; i < STATUS_POLLS && !(vio_status(base) & S_NEEDS_RESET); i++)
		cpu_relax();
	if (!(vio_status(base) & S_NEEDS_RESET))
		finish("a request without a status byte did not fail the device");
	start(base, &q0, F_SEG_MAX | F_BLK_SIZE | F_FLUSH);
	vq_post(&q0, reads[0], 2);
	vq_post(&q0, reads[1], 2);
	start(base, &q0, F_SEG_MAX | F_BLK_SIZE | F_FLUSH);
	memset(rbuf, 0, sizeof(rbuf));
	if (blk_req(&q0, T_IN, 1, rbuf, SECTOR, 1, &len) != S_OK || len != SECTOR + 1 ||
	    memcmp(wbuf, rbuf, SECTOR))
		finish("no good read after a reset");
	put_str("BLK-RESET=ok\n");
}

static void disk1(u64 base)
{
	if (!(vio_features(base) & F_RO))
		finish("disk 1 does not say it is read-only");
	start(base, &q1, F_RO | F_BLK_SIZE | F_FLUSH);
	if (blk_req(&q1, T_OUT, 0, wbuf, SECTOR, 0, NULL) != S_IOERR)
		finish("write to the read-only disk not refused");
	put_str("BLK-RO-WRITE=refused\n");
	if (blk_req(&q1, T_IN, 0, rbuf, SECTOR, 1, NULL) != S_OK)
		finish("read of the read-only disk failed");
}

void guest_main(const struct boot_info *b)
{
	u64 d0 = vio_find(b, 0), d1 = vio_find(b, 1);

	if (!d0 || !d1)
		finish("want two virtio-mmio devices");
	disk0(d0);
	resets(d0);
	disk1(d1);
	finish(NULL);
}
