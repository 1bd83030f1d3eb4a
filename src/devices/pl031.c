/*
 * PL031 registers (ARM DDI 0224): 32-bit, at 4-byte offsets. The identification words at
 * the top of the page are what Linux's AMBA bus reads to match the driver.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pl031.h"
#include "../snapshot/stream.h"
#include "../util/log.h"

enum {
	RTC_DR = 0x00,	 /* data: the current count, read-only */
	RTC_MR = 0x04,	 /* match */
	RTC_LR = 0x08,	 /* load: writing sets the count */
	RTC_CR = 0x0c,	 /* control: bit 0 starts the counter, which never stops here */
	RTC_IMSC = 0x10, /* interrupt mask */
	RTC_RIS = 0x14,	 /* raw interrupt status */
	RTC_MIS = 0x18,	 /* masked interrupt status */
	RTC_ICR = 0x1c,	 /* interrupt clear, write-only */
	RTC_ID_BASE = 0xfe0,
};

/* PeriphID0-3 then PCellID0-3, one byte in each word: part 0x031, designer ARM. */
static const uint8_t pl031_id[8] = {0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

static uint32_t pl031_now(const struct pl031 *rtc)
{
	return (uint32_t)(time(NULL) + rtc->offset);
}

struct pl031 *pl031_create(struct logger *log)
{
	struct pl031 *rtc = calloc(1, sizeof(*rtc));

	if (rtc)
		rtc->log = log;
	return rtc;
}

void pl031_destroy(struct pl031 *rtc)
{
	free(rtc);
}

static uint32_t pl031_reg(const struct pl031 *rtc, uint64_t off)
{
	switch (off) {
	case RTC_DR:
		return pl031_now(rtc);
	case RTC_MR:
		return rtc->match;
	case RTC_LR:
		return pl031_now(rtc);
	case RTC_CR:
		return 1;
	case RTC_IMSC:
		return rtc->irq_mask;
	case RTC_RIS:
		return rtc->irq_raw;
	case RTC_MIS:
		return rtc->irq_raw & rtc->irq_mask;
	default:
		if (off >= RTC_ID_BASE && off < RTC_ID_BASE + 4 * sizeof(pl031_id))
			return pl031_id[(off - RTC_ID_BASE) / 4];
		return 0;
	}
}

static void pl031_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	uint32_t v = 0;

	/* Registers are words; a narrower read gets the low bytes of the word it falls in. */
	if (off % 4 == 0 || len < 4)
		v = pl031_reg(opaque, off & ~3ULL) >> (8 * (off & 3));
	memset(data, 0, len);
	memcpy(data, &v, len < 4 ? len : 4);
}

static void pl031_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct pl031 *rtc = opaque;
	uint32_t v = 0;

	if (len != 4 || off % 4) {
		log_debug(rtc->log, "pl031: ignored %u-byte write at 0x%llx", len,
			  (unsigned long long)off);
		return;
	}
	memcpy(&v, data, 4);
	switch (off) {
	case RTC_MR:
		rtc->match = v;
		break;
	case RTC_LR:
		rtc->offset = (int64_t)v - (int64_t)time(NULL);
		break;
	case RTC_IMSC:
		rtc->irq_mask = v & 1;
		break;
	case RTC_ICR:
		rtc->irq_raw &= ~v;
		break;
	default:
		break;
	}
}

const struct bus_dev_ops pl031_ops = {
	.read = pl031_read,
	.write = pl031_write,
};

/*
 * A load writes a 32-bit count, so the offset from any host time this side of 2^34 seconds
 * lies well within this; past it, time(NULL) + offset could overflow.
 */
#define PL031_MAX_OFFSET (1LL << 40)

void pl031_save(const struct pl031 *rtc, struct snap_writer *w)
{
	snap_put_u64(w, (uint64_t)rtc->offset);
	snap_put_u32(w, rtc->match);
	snap_put_u32(w, rtc->irq_mask);
	snap_put_u32(w, rtc->irq_raw);
}

int pl031_restore(struct pl031 *rtc, struct snap_cursor *c, char *why, size_t why_len)
{
	int64_t offset = (int64_t)snap_get_u64(c);
	uint32_t match = snap_get_u32(c);
	uint32_t mask = snap_get_u32(c);
	uint32_t raw = snap_get_u32(c);

	if (offset > PL031_MAX_OFFSET || offset < -PL031_MAX_OFFSET)
		snap_cursor_fail(c, "RTC offset");
	/* One interrupt, bit 0, in both registers. */
	if ((mask | raw) & ~1u)
		snap_cursor_fail(c, "RTC interrupt registers");
	if (c->bad)
		return snap_cursor_end(c, why, why_len);
	rtc->offset = offset;
	rtc->match = match;
	rtc->irq_mask = mask;
	rtc->irq_raw = raw;
	return 0;
}
