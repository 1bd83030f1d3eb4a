/* The io_uring engine's ring takes the operations a disk needs and nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>

#include "unit.h"
#include "util/eventloop.h"
#include "virtio/io_engine.h"

/* Submit one prepared operation on (io)'s ring; its result. */
static int submit_one(struct io_engine *io, void (*prep)(struct io_uring_sqe *sqe))
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	int res;

	assert_non_null(sqe);
	prep(sqe);
	assert_int_equal(io_uring_submit(&io->ring), 1);
	assert_int_equal(io_uring_wait_cqe(&io->ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(&io->ring, cqe);
	return res;
}

static void prep_openat(struct io_uring_sqe *sqe)
{
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
}

static void prep_nop(struct io_uring_sqe *sqe)
{
	io_uring_prep_nop(sqe); /* NOP: the plainest operation, refused like any other */
}

static void test_ring_refuses_what_a_disk_does_not_do(void **state)
{
	struct io_engine_config cfg = { .depth = 4, .log_prefix = "test", .log_name = "ring" };
	struct event_loop loop;
	struct io_engine io;
	struct logger lg;

	(void)state;
	logger_init(&lg);
	cfg.log = &lg;
	cfg.loop = &loop;
	assert_int_equal(event_loop_init(&loop), 0);
	assert_int_equal(io_engine_init(&io, &cfg), 0);
	if (!io.uring)
		skip(); /* no io_uring here: the synchronous engine has no ring to misuse */
	assert_int_equal(submit_one(&io, prep_openat), -EACCES);
	assert_int_equal(submit_one(&io, prep_nop), -EACCES);
	io_engine_exit(&io);
	event_loop_destroy(&loop);
	logger_destroy(&lg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_refuses_what_a_disk_does_not_do),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
