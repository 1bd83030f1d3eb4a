/*
 * Token-bucket rate limiter with the semantics of the Firecracker API's RateLimiter and
 * TokenBucket: a bandwidth (bytes) bucket and an ops bucket, each with a size, a one-time
 * burst and a refill time. Time is always passed in (CLOCK_MONOTONIC ns), so a throttled
 * queue arms a timerfd with rate_limiter_next_refill_ns() and tests need no real clock.
 * Not thread-safe: each limiter belongs to one device queue on one thread.
 */
#ifndef EMBER_UTIL_RATELIMIT_H
#define EMBER_UTIL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* The API's int64 fields; larger values come from negative JSON and are rejected. */
#define RATELIMIT_MAX_TOKENS ((uint64_t)INT64_MAX)
/* Largest refill time whose length in ns still fits a uint64_t (about 584 years). */
#define RATELIMIT_MAX_REFILL_MS (UINT64_MAX / 1000000ULL)
/* Shortest wait rate_limiter_next_refill_ns() asks for, so fast limits coalesce wake-ups. */
#define RATELIMIT_MIN_WAIT_NS 100000ULL

/* One TokenBucket as the API spells it. size 0 or refill_time_ms 0 means "no limit". */
struct token_bucket_cfg {
	uint64_t size;		 /* tokens the bucket holds when full */
	uint64_t one_time_burst; /* extra initial tokens, spent first and never refilled */
	uint64_t refill_time_ms; /* time to refill (size) tokens from empty */
};

struct token_bucket {
	uint64_t size; /* 0: unlimited, every other field is then unused */
	uint64_t refill_time_ms;
	uint64_t one_time_burst; /* what is left of the burst */
	uint64_t budget;	 /* refillable tokens available, at most (size) */
	uint64_t debt;		 /* tokens an oversized request took beyond a full bucket */
	uint64_t frac;		 /* refill progress short of one token, over refill_time in ns */
	uint64_t last_ns;	 /* time the bucket was last refilled up to */
};

struct rate_limiter {
	struct token_bucket bandwidth; /* tokens are bytes */
	struct token_bucket ops;       /* tokens are requests */
};

/* Check (c) against the API's ranges and our arithmetic. Returns 0 or -EINVAL. */
int token_bucket_cfg_validate(const struct token_bucket_cfg *c);

/*
 * Fill (tb) per (cfg) (NULL: unlimited) as of (now_ns): full, with the whole burst.
 * Returns 0 or -EINVAL, leaving (tb) untouched.
 */
int token_bucket_init(struct token_bucket *tb, const struct token_bucket_cfg *cfg, uint64_t now_ns);

/* Take (n) tokens from (tb) at (now_ns) if it allows them; false takes nothing. */
bool token_bucket_consume(struct token_bucket *tb, uint64_t now_ns, uint64_t n);

/* Nanoseconds after (now_ns) until (tb) allows (n) tokens; 0 if it does now. */
uint64_t token_bucket_wait_ns(struct token_bucket *tb, uint64_t now_ns, uint64_t n);

/*
 * Set up (rl) with (bw_cfg) for bytes and (ops_cfg) for operations, as of (now_ns).
 * A NULL cfg leaves that dimension unlimited. Returns 0 or -EINVAL, leaving (rl) untouched.
 */
int rate_limiter_init(struct rate_limiter *rl, const struct token_bucket_cfg *bw_cfg,
		      const struct token_bucket_cfg *ops_cfg, uint64_t now_ns);

/*
 * Replace the limits of (rl) at run time (PATCH); a NULL (bw_cfg) or (ops_cfg) keeps
 * that bucket and its state. A replaced bucket starts full with its new burst.
 * Returns 0 or -EINVAL, changing nothing.
 */
int rate_limiter_update(struct rate_limiter *rl, const struct token_bucket_cfg *bw_cfg,
			const struct token_bucket_cfg *ops_cfg, uint64_t now_ns);

/* True if neither bucket of (rl) limits anything, so callers can skip the accounting. */
bool rate_limiter_is_unlimited(const struct rate_limiter *rl);

/*
 * Account one request of (bytes) and (ops) at (now_ns). True if both buckets allow it and
 * it was charged to both; false charges nothing, and the caller retries later.
 */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t now_ns, uint64_t bytes, uint64_t ops);

/*
 * Nanoseconds after (now_ns) until a request of (bytes) and (ops) will pass; 0 if it passes
 * now, else at least RATELIMIT_MIN_WAIT_NS. Meant for arming a timerfd.
 */
uint64_t rate_limiter_next_refill_ns(struct rate_limiter *rl, uint64_t now_ns, uint64_t bytes,
				     uint64_t ops);

/*
 * What a snapshot keeps of a bucket: the tokens, not the times. Timestamps are CLOCK_MONOTONIC
 * of one process and mean nothing to another, so a restored bucket refills from the moment it
 * is restored, and what it had earned short of a whole token is lost.
 */
struct token_bucket_state {
	uint64_t one_time_burst; /* what is left of the burst */
	uint64_t budget;
	uint64_t debt;
};

/* The state of (tb) at (now_ns), the tokens earned until then included; (tb) is unchanged. */
void token_bucket_get_state(const struct token_bucket *tb, uint64_t now_ns,
			    struct token_bucket_state *s);

/*
 * Put (s) into (tb), a bucket just made from the limits (s) was saved under, refilling from
 * (now_ns) on. -EINVAL, (tb) unchanged, for a state those limits cannot have: tokens in an
 * unlimited bucket, a budget past its size, more burst than it was given, debt beside a
 * budget or past what any request could leave.
 */
int token_bucket_set_state(struct token_bucket *tb, const struct token_bucket_state *s,
			   uint64_t now_ns);

/* CLOCK_MONOTONIC in nanoseconds, the time base every function above expects. */
uint64_t rate_limiter_now_ns(void);

#endif
