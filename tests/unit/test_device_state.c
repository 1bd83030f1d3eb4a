/*
 * The platform devices through a snapshot, by their machine hooks (device_kind_*.save and
 * .restore): the 16550A, the i8042 and the PL031; and the PLIC, which riscv64 owns. A device in some state is saved, restored
 * into a fresh one, and both must then answer the guest alike; every truncated section and
 * every value a register cannot hold is refused, and no bit flip crashes.
 */
#include "unit.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "devices/i8042.h"
#include "devices/pl031.h"
#include "devices/plic.h"
#include "devices/serial.h"
#include "machine/machine.h"
#include "snap_rig.h"

/* An interrupt line that remembers what it was driven to. */
struct line {
	int level;
	unsigned int raises; /* times driven to 1 */
};

static void line_set(void *ctx, unsigned int gsi, int level)
{
	struct line *l = ctx;

	(void)gsi;
	l->level = level;
	l->raises += level;
}

static uint8_t rd8(const struct bus_dev_ops *ops, void *dev, uint64_t off)
{
	uint8_t v = 0xee;

	ops->read(dev, off, &v, 1);
	return v;
}

static void wr8(const struct bus_dev_ops *ops, void *dev, uint64_t off, uint8_t v)
{
	ops->write(dev, off, &v, 1);
}

static void save_kind(const struct device_kind *kind, void *dev, struct snap_blob *b)
{
	struct snap_writer w;

	snap_rig_begin(&w);
	assert_int_equal(kind->save(dev, &w), 0);
	snap_rig_end(&w, b);
}

/* --- the serial port --- */

struct serial_ctx {
	struct serial *s;
	struct line line;
	int out; /* /dev/null */
};

static void serial_fresh(struct serial_ctx *ctx)
{
	serial_destroy(ctx->s);
	ctx->line = (struct line){ 0 };
	ctx->s = serial_create(ctx->out, (struct irq_line){ line_set, &ctx->line, 4 });
	assert_non_null(ctx->s);
}

/* Restore into a fresh UART, as the machine would. */
static int serial_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct serial_ctx *ctx = opaque;

	serial_fresh(ctx);
	return device_kind_serial.restore(ctx->s, c, why, why_len);
}

/* What the guest sees reading every register, FIFO included, from (s); (n) bytes of FIFO. */
static void serial_observe(struct serial *s, uint8_t *out, unsigned int n)
{
	const struct bus_dev_ops *ops = &serial_bus_ops;
	unsigned int i, k = 0;
	uint8_t lcr = rd8(ops, s, 3);

	for (i = 1; i < 8; i++)
		out[k++] = rd8(ops, s, i);
	wr8(ops, s, 3, lcr | 0x80);
	out[k++] = rd8(ops, s, 0);
	out[k++] = rd8(ops, s, 1);
	wr8(ops, s, 3, lcr & 0x7f);
	for (i = 0; i < n; i++)
		out[k++] = rd8(ops, s, 0);
	out[k++] = rd8(ops, s, 5); /* LSR: the FIFO is empty now */
}

/* Serial section offsets. */
#define SOFF_IER   0
#define SOFF_MCR   2
#define SOFF_FCR   4
#define SOFF_THRI  7
#define SOFF_COUNT 8

static void test_serial_round_trip(void **state)
{
	struct serial_ctx live = { .out = open("/dev/null", O_WRONLY | O_CLOEXEC) };
	struct serial_ctx fresh = { .out = live.out };
	const struct bus_dev_ops *ops = &serial_bus_ops;
	uint8_t a[32], b2[32];
	struct snap_blob b;

	(void)state;
	assert_true(live.out >= 0);
	serial_fresh(&live);
	/* The guest's setup: 115200 8N1, FIFOs on, both interrupts, OUT2; a scratch byte. */
	wr8(ops, live.s, 3, 0x83);
	wr8(ops, live.s, 0, 1);
	wr8(ops, live.s, 1, 0);
	wr8(ops, live.s, 3, 0x03);
	wr8(ops, live.s, 2, 0xc7);
	wr8(ops, live.s, 4, 0x0b);
	wr8(ops, live.s, 7, 0x5a);
	wr8(ops, live.s, 1, 0x03);
	/* Input the guest has not read all of, the FIFO wrapped round. */
	{
		uint8_t junk[SERIAL_FIFO_LEN - 3] = { 0 };
		unsigned int i;

		assert_int_equal(serial_push_input(live.s, junk, sizeof(junk)), sizeof(junk));
		for (i = 0; i < sizeof(junk); i++)
			rd8(ops, live.s, 0);
	}
	assert_int_equal(serial_push_input(live.s, (const uint8_t *)"hello", 5), 5);
	assert_int_equal(rd8(ops, live.s, 0), 'h');
	assert_int_equal(live.line.level, 1);

	save_kind(&device_kind_serial, live.s, &b);
	assert_int_equal(b.len, SOFF_COUNT + 1 + 4);
	snap_rig_load_ok(serial_load, &fresh, &b);
	/* The line is up again, for the receive interrupt still pending. */
	assert_int_equal(fresh.line.level, 1);
	serial_observe(live.s, a, 5);
	serial_observe(fresh.s, b2, 5);
	assert_memory_equal(a, b2, 7 + 2 + 5 + 1);
	assert_memory_equal(b2 + 9, "ello\0", 5);
	assert_int_equal(b2[1], 0xc4); /* IIR: FIFOs, receive data */
	assert_int_equal(b2[7], 1);    /* DLL */
	snap_blob_free(&b);

	/* A quiet UART: its line goes down, whatever the irqchip last had. */
	assert_int_equal(rd8(ops, fresh.s, 2), 0xc2); /* the THRE interrupt, acknowledged */
	assert_int_equal(fresh.line.level, 0);
	save_kind(&device_kind_serial, fresh.s, &b);
	fresh.line.level = 1;
	snap_rig_load_ok(serial_load, &fresh, &b);
	assert_int_equal(fresh.line.level, 0);
	snap_blob_free(&b);
	serial_destroy(live.s);
	serial_destroy(fresh.s);
	close(live.out);
}

static void test_serial_refused(void **state)
{
	struct serial_ctx ctx = { .out = open("/dev/null", O_WRONLY | O_CLOEXEC) };
	struct snap_blob b;

	(void)state;
	serial_fresh(&ctx);
	assert_int_equal(serial_push_input(ctx.s, (const uint8_t *)"ab", 2), 2);
	save_kind(&device_kind_serial, ctx.s, &b);
	snap_rig_refused(serial_load, &ctx, &b, SOFF_IER, 0x10, "serial IER");
	snap_rig_refused(serial_load, &ctx, &b, SOFF_MCR, 0x20, "serial MCR");
	snap_rig_refused(serial_load, &ctx, &b, SOFF_FCR, 0x02, "serial FCR");
	snap_rig_refused(serial_load, &ctx, &b, SOFF_THRI, 2, "serial THRE");
	snap_rig_refused(serial_load, &ctx, &b, SOFF_COUNT, SERIAL_FIFO_LEN + 1, "serial receive");
	snap_rig_refused(serial_load, &ctx, &b, SOFF_COUNT, 3, "truncated");
	snap_rig_refused(serial_load, &ctx, &b, SOFF_COUNT, 1, "left over");
	assert_true(snap_rig_abuse(serial_load, &ctx, &b) > 0);
	snap_blob_free(&b);
	serial_destroy(ctx.s);
	close(ctx.out);
}

/* --- the i8042 --- */

struct i8042_ctx {
	struct i8042 *dev;
	struct line line;
};

static void i8042_fresh(struct i8042_ctx *ctx)
{
	i8042_destroy(ctx->dev);
	ctx->line = (struct line){ 0 };
	ctx->dev = i8042_create((struct irq_line){ line_set, &ctx->line, 1 }, NULL, NULL, NULL);
	assert_non_null(ctx->dev);
}

static int i8042_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct i8042_ctx *ctx = opaque;

	i8042_fresh(ctx);
	return device_kind_i8042.restore(ctx->dev, c, why, why_len);
}

#define KOFF_STATUS  0
#define KOFF_PENDING 2
#define KOFF_COUNT   3

static void test_i8042_round_trip(void **state)
{
	struct i8042_ctx live = { 0 }, fresh = { 0 };
	struct snap_blob b;
	unsigned int i;

	(void)state;
	i8042_fresh(&live);
	/* Interrupts on, two answers waiting, a command waiting for its data byte. */
	wr8(&i8042_command_ops, live.dev, 0, 0x60);
	wr8(&i8042_data_ops, live.dev, 0, 0x47);
	wr8(&i8042_command_ops, live.dev, 0, 0xaa);
	wr8(&i8042_command_ops, live.dev, 0, 0x20);
	wr8(&i8042_command_ops, live.dev, 0, 0xd1);
	assert_int_equal(live.line.raises, 2);

	save_kind(&device_kind_i8042, live.dev, &b);
	snap_rig_load_ok(i8042_load, &fresh, &b);
	/* A byte waits with the interrupt on: the guest is told again. */
	assert_int_equal(fresh.line.raises, 1);
	assert_int_equal(fresh.line.level, 0);
	for (i = 0; i < 3; i++) {
		uint8_t s1 = rd8(&i8042_command_ops, live.dev, 0);
		uint8_t s2 = rd8(&i8042_command_ops, fresh.dev, 0);

		assert_int_equal(s1, s2);
		assert_int_equal(rd8(&i8042_data_ops, live.dev, 0),
				 rd8(&i8042_data_ops, fresh.dev, 0));
	}
	/* The output-port command takes its byte without an answer on both. */
	wr8(&i8042_data_ops, live.dev, 0, 0x01);
	wr8(&i8042_data_ops, fresh.dev, 0, 0x01);
	/* SYS (self-test passed) and the keylock switch off, nothing waiting. */
	assert_int_equal(rd8(&i8042_command_ops, fresh.dev, 0), 0x14);
	assert_int_equal(rd8(&i8042_command_ops, live.dev, 0), 0x14);
	/* Ctrl-Alt-Del after a restore still speaks the set the guest chose (translated). */
	assert_int_equal(i8042_send_ctrl_alt_del(fresh.dev), 0);
	assert_int_equal(rd8(&i8042_data_ops, fresh.dev, 0), 0x1d);
	snap_blob_free(&b);

	/* Nothing waiting: no interrupt. */
	i8042_fresh(&live);
	save_kind(&device_kind_i8042, live.dev, &b);
	snap_rig_load_ok(i8042_load, &fresh, &b);
	assert_int_equal(fresh.line.raises, 0);
	snap_blob_free(&b);
	i8042_destroy(live.dev);
	i8042_destroy(fresh.dev);
}

static void test_i8042_refused(void **state)
{
	struct i8042_ctx ctx = { 0 };
	struct snap_blob b;

	(void)state;
	i8042_fresh(&ctx);
	wr8(&i8042_command_ops, ctx.dev, 0, 0xaa);
	save_kind(&device_kind_i8042, ctx.dev, &b);
	snap_rig_refused(i8042_load, &ctx, &b, KOFF_STATUS, 0x04 | 0x08 | 0x01 | 0x80,
			 "i8042 status");
	snap_rig_refused(i8042_load, &ctx, &b, KOFF_STATUS, 0x04, "i8042 status"); /* no OBF */
	snap_rig_refused(i8042_load, &ctx, &b, KOFF_PENDING, 0xaa, "i8042 pending");
	snap_rig_refused(i8042_load, &ctx, &b, KOFF_COUNT, 17, "i8042 output");
	snap_rig_refused(i8042_load, &ctx, &b, KOFF_COUNT, 2, "truncated");
	assert_true(snap_rig_abuse(i8042_load, &ctx, &b) > 0);
	snap_blob_free(&b);
	i8042_destroy(ctx.dev);
}

/* --- the PL031 --- */

static uint32_t rd32(void *dev, uint64_t off)
{
	uint32_t v;

	pl031_ops.read(dev, off, &v, 4);
	return v;
}

static void wr32(void *dev, uint64_t off, uint32_t v)
{
	pl031_ops.write(dev, off, &v, 4);
}

static int rtc_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct pl031 **rtc = opaque;

	pl031_destroy(*rtc);
	*rtc = pl031_create(NULL);
	assert_non_null(*rtc);
	return device_kind_rtc.restore(*rtc, c, why, why_len);
}

static void test_rtc_round_trip(void **state)
{
	struct pl031 *live = pl031_create(NULL), *fresh = NULL;
	uint32_t now = (uint32_t)time(NULL);
	struct snap_blob b;
	unsigned int off;

	(void)state;
	/* The guest set its clock a day ahead, a match value and the interrupt mask. */
	wr32(live, 0x08, now + 86400);
	wr32(live, 0x04, 1234);
	wr32(live, 0x10, 1);
	save_kind(&device_kind_rtc, live, &b);
	snap_rig_load_ok(rtc_load, &fresh, &b);
	/* Still a day ahead of the host's clock, which goes on running meanwhile. */
	assert_true(rd32(fresh, 0x00) - (uint32_t)time(NULL) - 86400 <= 1);
	for (off = 0x04; off < 0x20; off += 4)
		if (off != 0x08) /* LR reads the count, which may have ticked */
			assert_int_equal(rd32(fresh, off), rd32(live, off));

	/* An offset nothing could load, and bits the interrupt registers do not have. */
	snap_rig_refused(rtc_load, &fresh, &b, 7, 0x7f, "RTC offset");
	snap_rig_refused(rtc_load, &fresh, &b, 7, 0x80, "RTC offset");
	snap_rig_refused(rtc_load, &fresh, &b, 12, 3, "RTC interrupt");
	snap_rig_refused(rtc_load, &fresh, &b, 19, 0x80, "RTC interrupt");
	assert_true(snap_rig_abuse(rtc_load, &fresh, &b) > 0);
	snap_blob_free(&b);
	pl031_destroy(live);
	pl031_destroy(fresh);
}

/* --- the PLIC (riscv64's, saved by the arch: no machine hook) --- */

#define P_PENDING     0x1000
#define P_ENABLE(c)   (0x2000 + 0x80 * (c))
#define P_THRESH(c)   (0x200000 + 0x1000 * (c))
#define P_CLAIM(c)    (P_THRESH(c) + 4)
#define PLIC_CONTEXTS 2

struct plic_ctx {
	struct plic *plic;
	bool line[PLIC_CONTEXTS];
	unsigned int calls;
};

static void plic_line(void *opaque, unsigned int context, bool level)
{
	struct plic_ctx *ctx = opaque;

	ctx->line[context] = level;
	ctx->calls++;
}

static uint32_t prd(struct plic *plic, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	plic_ops.read(plic, off, &v, 4);
	return v;
}

static void pwr(struct plic *plic, uint64_t off, uint32_t v)
{
	plic_ops.write(plic, off, &v, 4);
}

static void plic_fresh(struct plic_ctx *ctx)
{
	plic_destroy(ctx->plic);
	memset(ctx->line, 0, sizeof(ctx->line));
	ctx->calls = 0;
	ctx->plic = plic_create(PLIC_CONTEXTS, plic_line, ctx, NULL);
	assert_non_null(ctx->plic);
}

static int plic_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct plic_ctx *ctx = opaque;

	plic_fresh(ctx);
	return plic_restore(ctx->plic, c, why, why_len);
}

/* Every register that reads without side effects. */
static void plic_registers(struct plic *plic, uint32_t *out)
{
	unsigned int i, k = 0, c;

	for (i = 1; i < PLIC_NR_SOURCES; i++)
		out[k++] = prd(plic, 4 * i);
	out[k++] = prd(plic, P_PENDING);
	out[k++] = prd(plic, P_PENDING + 4);
	for (c = 0; c < PLIC_CONTEXTS; c++) {
		out[k++] = prd(plic, P_ENABLE(c));
		out[k++] = prd(plic, P_ENABLE(c) + 4);
		out[k++] = prd(plic, P_THRESH(c));
	}
}

#define PLIC_REGS (PLIC_NR_SOURCES - 1 + 2 + 3 * PLIC_CONTEXTS)
/* Offsets in a saved PLIC: contexts, priorities, then the four source sets. */
#define POFF_PRIO    4
#define POFF_PENDING (POFF_PRIO + PLIC_NR_SOURCES)
#define POFF_SERVICE (POFF_PENDING + 8)
#define POFF_EDGE    (POFF_PENDING + 24)
#define POFF_CTX     (POFF_PENDING + 32)

static void test_plic_round_trip(void **state)
{
	struct plic_ctx live = { 0 }, fresh = { 0 };
	uint32_t a[PLIC_REGS], b2[PLIC_REGS];
	struct snap_blob b;
	struct snap_writer w;

	(void)state;
	plic_fresh(&live);
	/* Sources 3 (edge), 5 (level) and 40 (edge), on both harts in different ways. */
	pwr(live.plic, 4 * 3, 2);
	pwr(live.plic, 4 * 5, 6);
	pwr(live.plic, 4 * 40, 1);
	pwr(live.plic, P_ENABLE(0), 1u << 3 | 1u << 5);
	pwr(live.plic, P_ENABLE(1) + 4, 1u << (40 - 32));
	pwr(live.plic, P_THRESH(1), 0);
	pwr(live.plic, P_THRESH(0), 1);
	plic_trigger(live.plic, 3);
	plic_set_level(live.plic, 5, 1);
	plic_trigger(live.plic, 40);
	assert_int_equal(prd(live.plic, P_CLAIM(0)), 5); /* 5 in service, 3 still pending */
	plic_trigger(live.plic, 3);
	assert_int_equal(prd(live.plic, P_CLAIM(1)), 40);
	plic_trigger(live.plic, 40); /* an edge while in service: it waits */

	snap_rig_begin(&w);
	plic_save(live.plic, &w);
	snap_rig_end(&w, &b);
	snap_rig_load_ok(plic_load, &fresh, &b);
	/* Every line driven as the state says, including the low ones. */
	assert_int_equal(fresh.calls, PLIC_CONTEXTS);
	assert_true(fresh.line[0]);
	assert_false(fresh.line[1]);
	plic_registers(live.plic, a);
	plic_registers(fresh.plic, b2);
	assert_memory_equal(a, b2, sizeof(a));
	/* The gateways go on alike: completions, the waiting edge, the high level. */
	pwr(live.plic, P_CLAIM(1), 40);
	pwr(fresh.plic, P_CLAIM(1), 40);
	assert_int_equal(prd(fresh.plic, P_CLAIM(1)), 40);
	assert_int_equal(prd(live.plic, P_CLAIM(1)), 40);
	pwr(live.plic, P_CLAIM(0), 5);
	pwr(fresh.plic, P_CLAIM(0), 5);
	assert_int_equal(prd(fresh.plic, P_CLAIM(0)), 5); /* level still high */
	assert_int_equal(prd(live.plic, P_CLAIM(0)), 5);
	assert_int_equal(prd(fresh.plic, P_CLAIM(0)), 3);
	assert_int_equal(prd(live.plic, P_CLAIM(0)), 3);

	/* Another number of harts; a bad priority, threshold or gateway state. */
	snap_rig_refused(plic_load, &fresh, &b, 0, 3, "PLIC contexts");
	snap_rig_refused(plic_load, &fresh, &b, POFF_PRIO, 1, "PLIC priority");
	snap_rig_refused(plic_load, &fresh, &b, POFF_PRIO + 9, 8, "PLIC priority");
	snap_rig_refused(plic_load, &fresh, &b, POFF_PENDING, 1, "PLIC source state");
	snap_rig_refused(plic_load, &fresh, &b, POFF_PENDING, 1u << 5, "PLIC source state");
	snap_rig_refused(plic_load, &fresh, &b, POFF_EDGE, 1u << 3, "PLIC source state");
	snap_rig_refused(plic_load, &fresh, &b, POFF_CTX, 1, "PLIC context");
	snap_rig_refused(plic_load, &fresh, &b, POFF_CTX + 8, 8, "PLIC context");
	assert_true(snap_rig_abuse(plic_load, &fresh, &b) > 0);
	snap_blob_free(&b);
	plic_destroy(live.plic);
	plic_destroy(fresh.plic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_round_trip),
		cmocka_unit_test(test_serial_refused),
		cmocka_unit_test(test_i8042_round_trip),
		cmocka_unit_test(test_i8042_refused),
		cmocka_unit_test(test_rtc_round_trip),
		cmocka_unit_test(test_plic_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
