/*
 * Token buckets with Firecracker's documented TokenBucket semantics (firecracker-api.yaml):
 * "The refill-rate is derived from size and refill_time, and it is the constant rate at
 * which the tokens replenish. The refill process only starts happening after the initial
 * burst budget is consumed. Consumption from the token bucket is unbounded in speed which
 * allows for bursts bound in size by the amount of tokens available. Once the token bucket
 * is empty, consumption speed is bound by the refill_rate."
 *
 * Choices the spec leaves open:
 * - size 0 or refill_time 0 disables the bucket (both are allowed by "minimum: 0", and a
 *   zero rate or zero capacity would otherwise block all I/O forever).
 * - one_time_burst is spent before the refillable budget, so the bucket starts with
 *   size + one_time_burst tokens and refill has nothing to do until the burst is gone.
 * - A request larger than the bucket can ever hold (more than what is left of the burst
 *   plus size) would otherwise wait forever. It passes once the budget is full, and the
 *   excess becomes debt that refill repays before the budget grows again. The long-run
 *   rate is still bound by the refill rate, as the last sentence above requires.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"

#define NSEC_PER_MSEC 1000000ULL

typedef unsigned __int128 u128;

int token_bucket_cfg_validate(const struct token_bucket_cfg *c)
{
	if (c->size > RATELIMIT_MAX_TOKENS || c->one_time_burst > RATELIMIT_MAX_TOKENS)
		return -EINVAL;
	if (c->refill_time_ms > RATELIMIT_MAX_REFILL_MS)
		return -EINVAL;
	return 0;
}

int token_bucket_init(struct token_bucket *tb, const struct token_bucket_cfg *cfg, uint64_t now_ns)
{
	if (cfg && token_bucket_cfg_validate(cfg))
		return -EINVAL;
	memset(tb, 0, sizeof(*tb));
	tb->last_ns = now_ns;
	/* Normalise "disabled" to size 0 so the hot paths test one field. */
	if (!cfg || !cfg->size || !cfg->refill_time_ms)
		return 0;
	tb->size = cfg->size;
	tb->refill_time_ms = cfg->refill_time_ms;
	tb->one_time_burst = cfg->one_time_burst;
	tb->budget = cfg->size;
	return 0;
}

/*
 * Credit the tokens earned since last_ns. The product elapsed * size needs 128 bits (an
 * hour at 2^40 tokens per ms), and the remainder is kept in frac so a million 1 ns steps
 * earn exactly what one 1 ms step does.
 */
static void tb_refill(struct token_bucket *tb, uint64_t now_ns)
{
	uint64_t period, room;
	u128 acc, tokens;

	/* A clock that stands still or steps back earns nothing and must not rewind last_ns. */
	if (!tb->size || now_ns <= tb->last_ns)
		return;
	period = tb->refill_time_ms * NSEC_PER_MSEC;
	/* debt + size cannot wrap: debt = request - burst - size with request < 2^64. */
	room = tb->debt + (tb->size - tb->budget);
	acc = (u128)(now_ns - tb->last_ns) * tb->size + tb->frac;
	tb->last_ns = now_ns;
	tokens = acc / period;
	if (tokens >= room) {
		/* A full bucket stops accruing, or an idle hour would buy an unbounded burst. */
		tb->debt = 0;
		tb->budget = tb->size;
		tb->frac = 0;
		return;
	}
	tb->frac = (uint64_t)(acc % period);
	if (tokens <= tb->debt) {
		tb->debt -= (uint64_t)tokens;
	} else {
		tb->budget += (uint64_t)tokens - tb->debt;
		tb->debt = 0;
	}
}

/* Whether (n) tokens may be taken now; the caller has refilled. */
static bool tb_fits(const struct token_bucket *tb, uint64_t n)
{
	if (!tb->size || n <= tb->one_time_burst)
		return true;
	n -= tb->one_time_burst;
	if (tb->debt)
		return false;
	/* Past burst + size it can never fit, so a full budget is as good as it gets. */
	return n <= tb->budget || (n > tb->size && tb->budget == tb->size);
}

static void tb_take(struct token_bucket *tb, uint64_t n)
{
	uint64_t from_burst;

	if (!tb->size)
		return;
	from_burst = n < tb->one_time_burst ? n : tb->one_time_burst;
	tb->one_time_burst -= from_burst;
	n -= from_burst;
	if (n <= tb->budget) {
		tb->budget -= n;
	} else {
		/* Only an oversized request gets here, with the budget full and no debt. */
		tb->debt = n - tb->budget;
		tb->budget = 0;
	}
}

/*
 * Time from (now_ns) until (n) fits, assuming nothing else is taken meanwhile; the caller
 * has refilled. A stale (now_ns) before last_ns also waits out the gap, which earns nothing.
 */
static uint64_t tb_wait(const struct token_bucket *tb, uint64_t now_ns, uint64_t n)
{
	uint64_t target, need;
	u128 ns;

	if (tb_fits(tb, n))
		return 0;
	n -= tb->one_time_burst;
	/* An oversized request waits for a full budget, see tb_fits(). */
	target = n > tb->size ? tb->size : n;
	need = tb->debt + (target - tb->budget);
	/* Smallest t with t * size + frac >= need * period, i.e. need whole tokens earned. */
	ns = (u128)need * (tb->refill_time_ms * NSEC_PER_MSEC) - tb->frac;
	ns = (ns + tb->size - 1) / tb->size;
	if (now_ns < tb->last_ns)
		ns += tb->last_ns - now_ns;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

bool token_bucket_consume(struct token_bucket *tb, uint64_t now_ns, uint64_t n)
{
	tb_refill(tb, now_ns);
	if (!tb_fits(tb, n))
		return false;
	tb_take(tb, n);
	return true;
}

uint64_t token_bucket_wait_ns(struct token_bucket *tb, uint64_t now_ns, uint64_t n)
{
	tb_refill(tb, now_ns);
	return tb_wait(tb, now_ns, n);
}

int rate_limiter_init(struct rate_limiter *rl, const struct token_bucket_cfg *bw_cfg,
		      const struct token_bucket_cfg *ops_cfg, uint64_t now_ns)
{
	struct rate_limiter tmp;

	if (token_bucket_init(&tmp.bandwidth, bw_cfg, now_ns) ||
	    token_bucket_init(&tmp.ops, ops_cfg, now_ns))
		return -EINVAL;
	*rl = tmp;
	return 0;
}

int rate_limiter_update(struct rate_limiter *rl, const struct token_bucket_cfg *bw_cfg,
			const struct token_bucket_cfg *ops_cfg, uint64_t now_ns)
{
	struct rate_limiter tmp = *rl;

	/*
	 * The spec does not say what PATCH does to the old state. A fresh bucket, as at boot,
	 * avoids guessing how an old budget maps onto a different size and rate.
	 */
	if (bw_cfg && token_bucket_init(&tmp.bandwidth, bw_cfg, now_ns))
		return -EINVAL;
	if (ops_cfg && token_bucket_init(&tmp.ops, ops_cfg, now_ns))
		return -EINVAL;
	*rl = tmp;
	return 0;
}

bool rate_limiter_is_unlimited(const struct rate_limiter *rl)
{
	return !rl->bandwidth.size && !rl->ops.size;
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t now_ns, uint64_t bytes, uint64_t ops)
{
	tb_refill(&rl->bandwidth, now_ns);
	tb_refill(&rl->ops, now_ns);
	/* All or nothing: a request half-charged to one bucket would be paid for twice. */
	if (!tb_fits(&rl->bandwidth, bytes) || !tb_fits(&rl->ops, ops))
		return false;
	tb_take(&rl->bandwidth, bytes);
	tb_take(&rl->ops, ops);
	return true;
}

uint64_t rate_limiter_next_refill_ns(struct rate_limiter *rl, uint64_t now_ns, uint64_t bytes,
				     uint64_t ops)
{
	uint64_t bw_wait, ops_wait, wait;

	tb_refill(&rl->bandwidth, now_ns);
	tb_refill(&rl->ops, now_ns);
	/* Both buckets only gain while the request waits, so the later of the two suffices. */
	bw_wait = tb_wait(&rl->bandwidth, now_ns, bytes);
	ops_wait = tb_wait(&rl->ops, now_ns, ops);
	wait = bw_wait > ops_wait ? bw_wait : ops_wait;
	if (!wait)
		return 0;
	return wait < RATELIMIT_MIN_WAIT_NS ? RATELIMIT_MIN_WAIT_NS : wait;
}

void token_bucket_get_state(const struct token_bucket *tb, uint64_t now_ns,
			    struct token_bucket_state *s)
{
	struct token_bucket now = *tb;

	tb_refill(&now, now_ns);
	s->one_time_burst = now.one_time_burst;
	s->budget = now.budget;
	s->debt = now.debt;
}

int token_bucket_set_state(struct token_bucket *tb, const struct token_bucket_state *s,
			   uint64_t now_ns)
{
	if (!tb->size)
		return s->one_time_burst || s->budget || s->debt ? -EINVAL : 0;
	/* A fresh bucket holds its whole burst; tb_refill needs debt + size not to wrap. */
	if (s->budget > tb->size || s->one_time_burst > tb->one_time_burst ||
	    s->debt > UINT64_MAX - tb->size || (s->debt && s->budget))
		return -EINVAL;
	tb->one_time_burst = s->one_time_burst;
	tb->budget = s->budget;
	tb->debt = s->debt;
	tb->frac = 0;
	tb->last_ns = now_ns;
	return 0;
}

uint64_t rate_limiter_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
