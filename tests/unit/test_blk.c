#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "blk_rig.h"

#define CAPACITY 2048 /* sectors: a 1 MiB disk */

static void parse_ok(const char *spec, struct disk_config *cfg)
{
	char why[128] = "";

	assert_int_equal(disk_config_parse(spec, cfg, why, sizeof(why)), 0);
	assert_string_equal(why, "");
}

static void parse_bad(const char *spec, const char *reason)
{
	struct disk_config cfg;
	char why[128] = "";

	assert_int_equal(disk_config_parse(spec, &cfg, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, reason));
}

static void test_parse_defaults(void **state)
{
	struct disk_config cfg;

	(void)state;
	parse_ok("/tmp/disk.img", &cfg);
	assert_string_equal(cfg.path, "/tmp/disk.img");
	assert_false(cfg.ro);
	assert_string_equal(cfg.serial, "");
	assert_int_equal(cfg.cache, BLK_CACHE_UNSAFE);
}

static void test_parse_options(void **state)
{
	struct disk_config cfg;

	(void)state;
	parse_ok("d.img,ro,id=my disk-1,cache=writeback", &cfg);
	assert_string_equal(cfg.path, "d.img");
	assert_true(cfg.ro);
	assert_string_equal(cfg.serial, "my disk-1");
	assert_int_equal(cfg.cache, BLK_CACHE_WRITEBACK);
	parse_ok("d.img,cache=writeback,cache=unsafe", &cfg);
	assert_int_equal(cfg.cache, BLK_CACHE_UNSAFE);
	parse_ok("d.img,id=12345678901234567890", &cfg);
	assert_string_equal(cfg.serial, "12345678901234567890");
}

static void test_parse_errors(void **state)
{
	char long_path[PATH_MAX + 8];

	(void)state;
	parse_bad("", "no image path");
	parse_bad(",ro", "no image path");
	parse_bad("d.img,foo=bar", "unknown option 'foo=bar'");
	parse_bad("d.img,", "unknown option ''");
	parse_bad("d.img,rw", "unknown option 'rw'");
	parse_bad("d.img,id=", "unknown option 'id='");
	parse_bad("d.img,id=123456789012345678901", "longer than 20");
	parse_bad("d.img,id=a\tb", "printable");
	parse_bad("d.img,cache=none", "unsafe or writeback");
	parse_bad("d.img,cache=", "unsafe or writeback");
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	parse_bad(long_path, "too long");
}

/* A request built from host buffers: the walker's output, without a ring. */
struct fake {
	struct blk_req req;
	struct blk_req_hdr hdr;
	uint8_t data[2048];
	uint8_t status;
	struct logger log; /* where refusals are logged (it holds no file) */
};

static struct fake *fake_new(uint32_t type, uint64_t sector)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	logger_init(&f->log);
	f->hdr.type = type;
	f->hdr.sector = sector;
	f->status = 0xee;
	return f;
}

static void add(struct fake *f, void *p, size_t len, bool writable)
{
	struct virtq_elem *e = &f->req.elem;

	e->iov[e->nr_out + e->nr_in] = (struct iovec){ p, len };
	if (writable) {
		e->nr_in++;
		e->in_len += len;
	} else {
		assert_int_equal(e->nr_in, 0);
		e->nr_out++;
		e->out_len += len;
	}
}

/* The usual three-part chain: header, (len) data bytes (writable if (in)), status. */
static struct fake *fake_rw(uint32_t type, uint64_t sector, size_t len, bool in)
{
	struct fake *f = fake_new(type, sector);

	add(f, &f->hdr, sizeof(f->hdr), false);
	if (len)
		add(f, f->data, len, in);
	add(f, &f->status, 1, true);
	return f;
}

static uint8_t parse(struct fake *f, uint64_t capacity, bool ro)
{
	uint8_t status = 0xaa;

	assert_int_equal(blk_req_parse(&f->req, capacity, ro, &f->log, &status), 0);
	assert_ptr_equal(f->req.status, &f->status);
	return status;
}

static void test_req_read(void **state)
{
	struct fake *f = fake_rw(VIRTIO_BLK_T_IN, 3, 1024, true);

	(void)state;
	assert_int_equal(parse(f, CAPACITY, true), VIRTIO_BLK_S_OK);
	assert_int_equal(f->req.type, VIRTIO_BLK_T_IN);
	assert_int_equal(f->req.io.offset, 3 * 512);
	assert_int_equal(f->req.io.len, 1024);
	assert_int_equal(f->req.io.nr_iov, 1);
	assert_ptr_equal(f->req.io.iov[0].iov_base, f->data);
	assert_int_equal(f->req.io.iov[0].iov_len, 1024);
	free(f);
}

/* Data and status share the last buffer; the header is split over two buffers. */
static void test_req_read_shared_status(void **state)
{
	struct fake *f = fake_new(VIRTIO_BLK_T_IN, 1);

	(void)state;
	add(f, &f->hdr, 8, false);
	add(f, (uint8_t *)&f->hdr + 8, 8, false);
	add(f, f->data, 100, true);
	add(f, f->data + 100, 413, true);
	assert_int_equal(blk_req_parse(&f->req, CAPACITY, false, &f->log, &(uint8_t){ 0 }), 0);
	assert_ptr_equal(f->req.status, f->data + 512);
	assert_int_equal(f->req.io.len, 512);
	assert_int_equal(f->req.io.nr_iov, 2);
	assert_int_equal(f->req.io.iov[1].iov_len, 412);
	assert_int_equal(f->req.io.offset, 512);
	free(f);
}

/* Header and data in one readable buffer: the data starts 16 bytes in. */
static void test_req_write_shared_header(void **state)
{
	struct fake *f = fake_new(VIRTIO_BLK_T_OUT, 2);

	(void)state;
	memcpy(f->data, &f->hdr, sizeof(f->hdr));
	add(f, f->data, 16 + 512, false);
	add(f, &f->status, 1, true);
	assert_int_equal(parse(f, CAPACITY, false), VIRTIO_BLK_S_OK);
	assert_int_equal(f->req.io.len, 512);
	assert_int_equal(f->req.io.nr_iov, 1);
	assert_ptr_equal(f->req.io.iov[0].iov_base, f->data + 16);
	assert_int_equal(f->req.io.iov[0].iov_len, 512);
	assert_int_equal(f->req.io.offset, 1024);
	free(f);
}

static void test_req_write_ro(void **state)
{
	struct fake *f = fake_rw(VIRTIO_BLK_T_OUT, 0, 512, false);

	(void)state;
	assert_int_equal(parse(f, CAPACITY, true), VIRTIO_BLK_S_IOERR);
	free(f);
	f = fake_rw(VIRTIO_BLK_T_OUT, 0, 512, false);
	assert_int_equal(parse(f, CAPACITY, false), VIRTIO_BLK_S_OK);
	free(f);
}

static void expect_status(uint32_t type, uint64_t sector, size_t len, uint8_t want)
{
	struct fake *f = fake_rw(type, sector, len, type != VIRTIO_BLK_T_OUT);

	assert_int_equal(parse(f, CAPACITY, false), want);
	free(f);
}

static void test_req_bounds(void **state)
{
	(void)state;
	expect_status(VIRTIO_BLK_T_IN, CAPACITY - 1, 512, VIRTIO_BLK_S_OK);
	expect_status(VIRTIO_BLK_T_OUT, CAPACITY - 2, 1024, VIRTIO_BLK_S_OK);
	expect_status(VIRTIO_BLK_T_IN, CAPACITY, 0, VIRTIO_BLK_S_OK);
	expect_status(VIRTIO_BLK_T_IN, CAPACITY, 512, VIRTIO_BLK_S_IOERR);
	expect_status(VIRTIO_BLK_T_IN, CAPACITY - 1, 1024, VIRTIO_BLK_S_IOERR);
	expect_status(VIRTIO_BLK_T_IN, CAPACITY + 1, 0, VIRTIO_BLK_S_IOERR);
	/* sector * 512 overflows, then offset + len does. */
	expect_status(VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) + 1, 512, VIRTIO_BLK_S_IOERR);
	expect_status(VIRTIO_BLK_T_OUT, UINT64_MAX >> 9, 1024, VIRTIO_BLK_S_IOERR);
	expect_status(VIRTIO_BLK_T_IN, 0, 100, VIRTIO_BLK_S_IOERR);
	expect_status(VIRTIO_BLK_T_OUT, 0, 513, VIRTIO_BLK_S_IOERR);
}

static void test_req_types(void **state)
{
	struct fake *f;

	(void)state;
	expect_status(VIRTIO_BLK_T_FLUSH, 0, 0, VIRTIO_BLK_S_OK);
	expect_status(VIRTIO_BLK_T_GET_ID, 0, 20, VIRTIO_BLK_S_OK);
	expect_status(2, 0, 0, VIRTIO_BLK_S_UNSUPP);
	expect_status(11, 0, 512, VIRTIO_BLK_S_UNSUPP);
	f = fake_rw(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	parse(f, 0, true);
	assert_int_equal(f->req.io.len, 20);
	assert_ptr_equal(f->req.io.iov[0].iov_base, f->data);
	free(f);
}

static void test_req_malformed(void **state)
{
	struct fake *f = fake_new(VIRTIO_BLK_T_IN, 0);
	uint8_t status = 0xaa;

	(void)state;
	/* No writable byte at all: nowhere to say what went wrong. */
	add(f, &f->hdr, sizeof(f->hdr), false);
	add(f, f->data, 512, false);
	assert_int_equal(blk_req_parse(&f->req, CAPACITY, false, &f->log, &status), -EINVAL);
	free(f);
	/* A header cut short: answered IOERR. */
	f = fake_new(VIRTIO_BLK_T_IN, 0);
	add(f, &f->hdr, 12, false);
	add(f, f->data, 512, true);
	add(f, &f->status, 1, true);
	assert_int_equal(parse(f, CAPACITY, false), VIRTIO_BLK_S_IOERR);
	free(f);
	/* Only the status byte. */
	f = fake_new(VIRTIO_BLK_T_IN, 0);
	add(f, &f->status, 1, true);
	assert_int_equal(parse(f, CAPACITY, false), VIRTIO_BLK_S_IOERR);
	assert_int_equal(f->req.elem.nr_in, 0);
	free(f);
}

/*
 * The io_uring engine on a pipe (blk_rig.h): a read stays in flight until the test writes,
 * and a pipe returns what it has, so short transfers happen on demand.
 */
static int rig_setup(void **state)
{
	return blk_rig_setup((struct blk_rig **)state, false);
}

static int rig_teardown(void **state)
{
	blk_rig_teardown(*state);
	return 0;
}

/* Queue a 512-byte read into buffer (i). */
static void rig_read(struct blk_rig *r, int i)
{
	blk_rig_read(r->blk, r->buf[i], sizeof(r->buf[i]), &r->status[i]);
}

static void rig_write(struct blk_rig *r, uint8_t byte, size_t n)
{
	uint8_t data[1024];

	memset(data, byte, n);
	assert_int_equal(write(r->pipe[1], data, n), (ssize_t)n);
}

/* Run the event loop until (*status) changes or a few seconds pass. */
static void rig_wait(struct blk_rig *r, const uint8_t *status)
{
	int i;

	for (i = 0; i < 50 && *(volatile const uint8_t *)status == 0xee; i++)
		assert_int_equal(event_loop_run_once(&r->loop, 100), 0);
}

static void test_io_short_reads(void **state)
{
	struct blk_rig *r = *state;
	uint8_t want[512];

	if (!r->blk->io.uring)
		skip();
	rig_read(r, 0);
	io_engine_submit(&r->blk->io);
	rig_write(r, 'a', 300);
	/* The first 300 bytes come back short; the engine asks for the rest itself. */
	assert_int_equal(event_loop_run_once(&r->loop, 2000), 0);
	assert_int_equal(r->status[0], 0xee);
	rig_write(r, 'b', 212);
	rig_wait(r, &r->status[0]);
	assert_int_equal(r->status[0], VIRTIO_BLK_S_OK);
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE);
	memset(want, 'a', 300);
	memset(want + 300, 'b', 212);
	assert_memory_equal(r->buf[0], want, sizeof(want));
}

static void *rig_late_writer(void *opaque)
{
	usleep(100 * 1000);
	rig_write(opaque, 'c', 1024);
	return NULL;
}

/* A reset waits for the reads in flight and drops them: no status is written. */
static void test_io_drain(void **state)
{
	struct blk_rig *r = *state;
	pthread_t writer;

	if (!r->blk->io.uring)
		skip();
	rig_read(r, 0);
	rig_read(r, 1);
	io_engine_submit(&r->blk->io);
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE - 2);
	assert_int_equal(pthread_create(&writer, NULL, rig_late_writer, r), 0);
	io_engine_drain(&r->blk->io);
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE);
	assert_int_equal(r->status[0], 0xee);
	assert_int_equal(r->status[1], 0xee);
	pthread_join(writer, NULL);
	/* The drained completions are gone: the loop finds nothing to answer. */
	assert_int_equal(event_loop_run_once(&r->loop, 50), 0);
	assert_int_equal(r->status[0], 0xee);
}

#define RING_DESC  0x1000ULL
#define RING_AVAIL 0x2000ULL
#define RING_USED  0x3000ULL
#define RING_HDR   0x10000ULL
#define RING_DATA  0x11000ULL
#define RING_SIZE  VIRTQ_MAX_SIZE
#define EXTRA	   10

/* Make (n) more copies of chain 0 available, as a hostile driver reusing a head would. */
static void rig_post(struct blk_rig *r, uint16_t *avail_idx, unsigned int n)
{
	uint16_t *avail = gpa_to_hva(&r->mem, RING_AVAIL, 4 + 2 * RING_SIZE);

	while (n--)
		avail[2 + (*avail_idx)++ % RING_SIZE] = 0;
	__atomic_store_n(&avail[1], *avail_idx, __ATOMIC_RELEASE);
}

static void *rig_feeder(void *opaque)
{
	static const uint8_t sector[512];
	struct blk_rig *r = opaque;
	unsigned int i;

	for (i = 0; i < RING_SIZE + EXTRA; i++)
		if (write(r->pipe[1], sector, sizeof(sector)) != sizeof(sector))
			break;
	return NULL;
}

/*
 * More chains than the pool holds: the device pops until every request is in flight,
 * leaves the rest in the ring, and takes them up as completions free requests.
 */
static void test_io_pool_dry(void **state)
{
	struct blk_rig *r = *state;
	struct virtq *q = &r->blk->vd.queues[0];
	struct blk_req_hdr hdr = { .type = VIRTIO_BLK_T_IN, .sector = 0 };
	uint8_t desc[2][16];
	uint16_t avail_idx = 0, *used_idx;
	pthread_t feeder;
	int i;

	if (!r->blk->io.uring)
		skip();
	put_u64(desc[0], RING_HDR);
	put_u32(desc[0] + 8, sizeof(hdr));
	put_u16(desc[0] + 12, VIRTQ_DESC_F_NEXT);
	put_u16(desc[0] + 14, 1);
	put_u64(desc[1], RING_DATA);
	put_u32(desc[1] + 8, 513);
	put_u16(desc[1] + 12, VIRTQ_DESC_F_WRITE);
	put_u16(desc[1] + 14, 0);
	assert_int_equal(guest_mem_write(&r->mem, RING_DESC, desc, sizeof(desc)), 0);
	assert_int_equal(guest_mem_write(&r->mem, RING_HDR, &hdr, sizeof(hdr)), 0);
	q->size = RING_SIZE;
	q->desc_gpa = RING_DESC;
	q->avail_gpa = RING_AVAIL;
	q->used_gpa = RING_USED;
	assert_int_equal(virtq_enable(q, &r->mem), 0);
	used_idx = gpa_to_hva(&r->mem, RING_USED + 2, 2);

	rig_post(r, &avail_idx, RING_SIZE);
	blk_queue_process(r->blk);
	assert_int_equal(r->blk->nr_free, 0);
	assert_true(r->blk->stalled);
	rig_post(r, &avail_idx, EXTRA);
	blk_queue_process(r->blk);
	assert_true(r->blk->stalled);
	assert_int_equal(q->last_avail, RING_SIZE);

	assert_int_equal(pthread_create(&feeder, NULL, rig_feeder, r), 0);
	for (i = 0; i < 100 && __atomic_load_n(used_idx, __ATOMIC_ACQUIRE) != RING_SIZE + EXTRA;
	     i++)
		assert_int_equal(event_loop_run_once(&r->loop, 100), 0);
	pthread_join(feeder, NULL);
	assert_int_equal(*used_idx, RING_SIZE + EXTRA);
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE);
	assert_false(r->blk->stalled);
	assert_true(r->irqs[VIRTIO_INT_VRING] > 0);
	virtq_reset(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_options),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_req_read),
		cmocka_unit_test(test_req_read_shared_status),
		cmocka_unit_test(test_req_write_shared_header),
		cmocka_unit_test(test_req_write_ro),
		cmocka_unit_test(test_req_bounds),
		cmocka_unit_test(test_req_types),
		cmocka_unit_test(test_req_malformed),
		cmocka_unit_test_setup_teardown(test_io_short_reads, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_io_drain, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_io_pool_dry, rig_setup, rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
