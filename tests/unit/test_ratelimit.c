#include <errno.h>

#include "arch/arch.h"
#include "util/ratelimit.h"
#include "unit.h"

#define MS 1000000ULL
#define US 1000ULL
#define T0 (5000 * MS) /* an arbitrary non-zero start, like a real monotonic clock */

/* A bytes-only limiter of (size) per (refill_ms), ops unlimited. */
static void bw_only(struct rate_limiter *rl, uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct token_bucket_cfg bw = {size, burst, refill_ms};

	assert_int_equal(rate_limiter_init(rl, &bw, NULL, T0), 0);
}

static void test_unlimited(void **state)
{
	struct token_bucket_cfg zero_size = {0, 5, 100}, zero_time = {1000, 0, 0};
	struct rate_limiter rl;
	int i;

	(void)state;
	assert_int_equal(rate_limiter_init(&rl, NULL, NULL, T0), 0);
	assert_true(rate_limiter_is_unlimited(&rl));
	/* size 0 or refill_time 0 disables a bucket rather than blocking everything. */
	assert_int_equal(rate_limiter_init(&rl, &zero_size, &zero_time, T0), 0);
	assert_true(rate_limiter_is_unlimited(&rl));
	for (i = 0; i < 1000; i++)
		assert_true(rate_limiter_consume(&rl, T0, UINT64_MAX, UINT64_MAX));
	assert_int_equal(rate_limiter_next_refill_ns(&rl, T0, UINT64_MAX, UINT64_MAX), 0);
	bw_only(&rl, 1, 0, 1);
	assert_false(rate_limiter_is_unlimited(&rl));
}

static void test_full_bucket_then_refuse(void **state)
{
	struct token_bucket_cfg bw = {1000, 0, 1000}, ops = {10, 0, 1000};
	struct rate_limiter rl;
	int i;

	(void)state;
	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	assert_true(rate_limiter_consume(&rl, T0, 600, 1));
	assert_true(rate_limiter_consume(&rl, T0, 400, 1));
	assert_false(rate_limiter_consume(&rl, T0, 1, 0));
	/* A request of nothing always passes. */
	assert_true(rate_limiter_consume(&rl, T0, 0, 0));

	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	for (i = 0; i < 10; i++)
		assert_true(rate_limiter_consume(&rl, T0, 0, 1));
	assert_false(rate_limiter_consume(&rl, T0, 0, 1));
	assert_int_equal(rl.bandwidth.budget, 1000);
}

static void test_proportional_refill(void **state)
{
	struct rate_limiter rl;

	(void)state;
	bw_only(&rl, 1000, 0, 1000); /* 1 token per ms */
	assert_true(rate_limiter_consume(&rl, T0, 1000, 0));
	/* Half the refill time gives half the size, and not one token more. */
	assert_false(rate_limiter_consume(&rl, T0 + 500 * MS - 1, 500, 0));
	assert_true(rate_limiter_consume(&rl, T0 + 500 * MS, 500, 0));
	assert_false(rate_limiter_consume(&rl, T0 + 500 * MS, 1, 0));
	/* A long idle spell refills to size, never beyond. */
	assert_true(rate_limiter_consume(&rl, T0 + 3600 * 1000 * MS, 1000, 0));
	assert_false(rate_limiter_consume(&rl, T0 + 3600 * 1000 * MS, 1, 0));
}

static void test_one_time_burst(void **state)
{
	struct rate_limiter rl;
	uint64_t t = T0;

	(void)state;
	bw_only(&rl, 100, 50, 100); /* 1 token per ms, 50 extra once */
	assert_true(rate_limiter_consume(&rl, t, 150, 0));
	assert_false(rate_limiter_consume(&rl, t, 1, 0));
	t += 1000 * MS;
	assert_true(rate_limiter_consume(&rl, t, 100, 0));
	assert_false(rate_limiter_consume(&rl, t, 1, 0));

	/* The burst goes first: the budget stays full, so idle time earns nothing extra. */
	bw_only(&rl, 100, 50, 100);
	assert_true(rate_limiter_consume(&rl, t, 40, 0));
	assert_int_equal(rl.bandwidth.budget, 100);
	assert_int_equal(rl.bandwidth.one_time_burst, 10);
	t += 1000 * MS;
	/* A request spanning the rest of the burst and the whole budget. */
	assert_true(rate_limiter_consume(&rl, t, 110, 0));
	assert_false(rate_limiter_consume(&rl, t, 1, 0));
	t += 30 * MS;
	assert_true(rate_limiter_consume(&rl, t, 30, 0));
	assert_false(rate_limiter_consume(&rl, t, 1, 0));
	assert_int_equal(rl.bandwidth.one_time_burst, 0);
}

static void test_all_or_nothing(void **state)
{
	struct token_bucket_cfg bw = {1000, 0, 1000}, ops = {2, 0, 1000};
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	assert_true(rate_limiter_consume(&rl, T0, 100, 2));
	/* Bytes would fit but ops are gone: nothing may be charged to the bytes bucket. */
	assert_false(rate_limiter_consume(&rl, T0, 100, 1));
	assert_int_equal(rl.bandwidth.budget, 900);
	/* And the other way round. */
	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	assert_true(rate_limiter_consume(&rl, T0, 950, 0));
	assert_false(rate_limiter_consume(&rl, T0, 100, 1));
	assert_int_equal(rl.ops.budget, 2);
	assert_true(rate_limiter_consume(&rl, T0, 50, 1));
	assert_int_equal(rl.ops.budget, 1);
	assert_int_equal(rl.bandwidth.budget, 0);
}

static void test_oversized_request(void **state)
{
	struct rate_limiter rl;
	uint64_t t = T0;

	(void)state;
	bw_only(&rl, 1000, 0, 1000); /* 1 token per ms */
	/* Larger than the bucket can ever hold: passes from a full bucket, leaving 1500 debt. */
	assert_true(rate_limiter_consume(&rl, t, 2500, 0));
	assert_int_equal(rl.bandwidth.debt, 1500);
	assert_int_equal(rate_limiter_next_refill_ns(&rl, t, 1, 0), 1501 * MS);
	assert_false(rate_limiter_consume(&rl, t + 1500 * MS, 1, 0));
	assert_false(rate_limiter_consume(&rl, t + 1501 * MS - 1, 1, 0));
	assert_true(rate_limiter_consume(&rl, t + 1501 * MS, 1, 0));
	t += 1501 * MS;

	/* Not from a partly used bucket: it waits until the budget is full again. */
	assert_false(rate_limiter_consume(&rl, t, 5000, 0));
	assert_int_equal(rate_limiter_next_refill_ns(&rl, t, 5000, 0), 1000 * MS);
	assert_false(rate_limiter_consume(&rl, t + 1000 * MS - 1, 5000, 0));
	assert_true(rate_limiter_consume(&rl, t + 1000 * MS, 5000, 0));
	assert_int_equal(rl.bandwidth.debt, 4000);

	/* With a burst left, "oversized" means more than burst plus size. */
	bw_only(&rl, 100, 50, 100);
	assert_true(rate_limiter_consume(&rl, T0, 151, 0));
	assert_int_equal(rl.bandwidth.debt, 1);
	assert_int_equal(rl.bandwidth.one_time_burst, 0);
}

static void test_next_refill(void **state)
{
	struct token_bucket_cfg bw = {1000, 0, 1000}, ops = {10, 0, 100};
	struct rate_limiter rl;
	uint64_t w;

	(void)state;
	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	assert_int_equal(rate_limiter_next_refill_ns(&rl, T0, 1000, 10), 0);
	assert_true(rate_limiter_consume(&rl, T0, 1000, 10));
	w = rate_limiter_next_refill_ns(&rl, T0, 300, 1);
	assert_int_equal(w, 300 * MS); /* bytes need 300 ms, ops only 10 ms */
	assert_false(rate_limiter_consume(&rl, T0 + w - 1, 300, 1));
	assert_true(rate_limiter_consume(&rl, T0 + w, 300, 1));

	/* The ops bucket can be the slower one too. */
	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	assert_true(rate_limiter_consume(&rl, T0, 0, 10));
	w = rate_limiter_next_refill_ns(&rl, T0, 1, 5);
	assert_int_equal(w, 50 * MS);
	assert_true(rate_limiter_consume(&rl, T0 + w, 1, 5));

	/* A wait below the floor is raised to it, so fast limits do not spin on the timer. */
	bw_only(&rl, 1000000000, 0, 1000); /* 1 token per ns */
	assert_true(rate_limiter_consume(&rl, T0, 1000000000, 0));
	assert_int_equal(rate_limiter_next_refill_ns(&rl, T0, 1, 0), RATELIMIT_MIN_WAIT_NS);
	assert_true(rate_limiter_consume(&rl, T0 + RATELIMIT_MIN_WAIT_NS, 1, 0));

	/* Fractional progress counts: 1 token per 3 ms, 1 ms already earned. */
	bw_only(&rl, 1000, 0, 3000);
	assert_true(rate_limiter_consume(&rl, T0, 1000, 0));
	w = rate_limiter_next_refill_ns(&rl, T0 + 1 * MS, 1, 0);
	assert_int_equal(w, 2 * MS);
	assert_false(rate_limiter_consume(&rl, T0 + 1 * MS + w - 1, 1, 0));
	assert_true(rate_limiter_consume(&rl, T0 + 1 * MS + w, 1, 0));
}

static void test_tiny_steps_keep_fractions(void **state)
{
	struct rate_limiter a, b;
	uint64_t t;
	int i;

	(void)state;
	/* 1/3 token per us, so nearly every step earns a fraction of a token. */
	bw_only(&a, 1000000, 0, 3000);
	bw_only(&b, 1000000, 0, 3000);
	assert_true(rate_limiter_consume(&a, T0, 1000000, 0));
	assert_true(rate_limiter_consume(&b, T0, 1000000, 0));
	for (i = 1, t = T0; i <= 10000; i++) {
		t = T0 + i * US;
		assert_true(rate_limiter_consume(&a, t, 0, 0));
	}
	assert_true(rate_limiter_consume(&b, T0 + 10 * MS, 0, 0));
	assert_int_equal(a.bandwidth.budget, 3333);
	assert_int_equal(a.bandwidth.budget, b.bandwidth.budget);
	assert_int_equal(a.bandwidth.frac, b.bandwidth.frac);

	/* 1 token per hour, earned in 1 s steps, still arrives on the hour. */
	bw_only(&a, 1, 0, 3600 * 1000);
	assert_true(rate_limiter_consume(&a, T0, 1, 0));
	for (i = 1; i < 3600; i++)
		assert_false(rate_limiter_consume(&a, T0 + i * 1000 * MS, 1, 0));
	assert_true(rate_limiter_consume(&a, T0 + 3600 * 1000 * MS, 1, 0));
}

static void test_runtime_update(void **state)
{
	struct token_bucket_cfg bw = {1000, 0, 1000}, ops = {1, 0, 1000};
	struct token_bucket_cfg bigger = {5000, 100, 1000}, none = {0, 0, 0};
	struct token_bucket_cfg bad = {RATELIMIT_MAX_TOKENS + 1, 0, 1000};
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(rate_limiter_init(&rl, &bw, &ops, T0), 0);
	assert_true(rate_limiter_consume(&rl, T0, 1000, 1));
	assert_false(rate_limiter_consume(&rl, T0, 1, 0));
	/* A new bandwidth bucket starts full with its burst; the ops bucket keeps its state. */
	assert_int_equal(rate_limiter_update(&rl, &bigger, NULL, T0 + MS), 0);
	assert_true(rate_limiter_consume(&rl, T0 + MS, 5100, 0));
	assert_false(rate_limiter_consume(&rl, T0 + MS, 1, 0));
	assert_false(rate_limiter_consume(&rl, T0 + 2 * MS, 0, 1));
	/* A bad cfg changes nothing, even when the other one is fine. */
	assert_int_equal(rate_limiter_update(&rl, &none, &bad, T0 + 2 * MS), -EINVAL);
	assert_int_equal(rl.bandwidth.size, 5000);
	assert_int_equal(rate_limiter_update(&rl, &bad, NULL, T0 + 2 * MS), -EINVAL);
	assert_int_equal(rl.bandwidth.size, 5000);
	/* Removing both limits. */
	assert_int_equal(rate_limiter_update(&rl, &none, &none, T0 + 2 * MS), 0);
	assert_true(rate_limiter_is_unlimited(&rl));
	assert_true(rate_limiter_consume(&rl, T0 + 2 * MS, 1 << 30, 1000));
}

static void test_large_values(void **state)
{
	const uint64_t size = 1ULL << 40, hour_ms = 3600 * 1000;
	struct token_bucket_cfg max = {RATELIMIT_MAX_TOKENS, RATELIMIT_MAX_TOKENS,
				       RATELIMIT_MAX_REFILL_MS};
	struct rate_limiter rl;

	(void)state;
	/* 2^40 per ms: an hour of elapsed * size is about 2^82 before the division. */
	bw_only(&rl, size, 0, 1);
	assert_true(rate_limiter_consume(&rl, T0, size, 0));
	assert_false(rate_limiter_consume(&rl, T0, 1, 0));
	assert_true(rate_limiter_consume(&rl, T0 + 500 * US, size / 2, 0));
	assert_false(rate_limiter_consume(&rl, T0 + 500 * US, 1, 0));
	assert_true(rate_limiter_consume(&rl, T0 + hour_ms * MS, size, 0));
	assert_false(rate_limiter_consume(&rl, T0 + hour_ms * MS, 1, 0));

	/* 2^40 per hour. */
	bw_only(&rl, size, 0, hour_ms);
	assert_true(rate_limiter_consume(&rl, T0, size, 0));
	assert_int_equal(rate_limiter_next_refill_ns(&rl, T0, size, 0), hour_ms * MS);
	assert_true(rate_limiter_consume(&rl, T0 + hour_ms / 2 * MS, size / 2, 0));
	assert_false(rate_limiter_consume(&rl, T0 + hour_ms / 2 * MS, 1, 0));

	/* A 2^64 - 1 byte request leaves a debt whose repayment outlasts uint64_t ns. */
	bw_only(&rl, size, 0, hour_ms);
	assert_true(rate_limiter_consume(&rl, T0, UINT64_MAX, 0));
	assert_int_equal(rate_limiter_next_refill_ns(&rl, T0, 1, 0), UINT64_MAX);
	/* At 2^40 per ms, the debt 2^64 - 1 - 2^40 plus one token takes 2^24 - 1 ms (4.7 h). */
	bw_only(&rl, size, 0, 1);
	assert_true(rate_limiter_consume(&rl, T0, UINT64_MAX, 0));
	assert_int_equal(rate_limiter_next_refill_ns(&rl, T0, 1, 0), ((1ULL << 24) - 1) * MS);
	assert_false(rate_limiter_consume(&rl, T0 + ((1ULL << 24) - 1) * MS - 1, 1, 0));
	assert_true(rate_limiter_consume(&rl, T0 + ((1ULL << 24) - 1) * MS, 1, 0));

	/* The extremes the validator admits neither overflow nor wrap. */
	assert_int_equal(rate_limiter_init(&rl, &max, &max, T0), 0);
	assert_true(rate_limiter_consume(&rl, T0, UINT64_MAX - 1, UINT64_MAX - 1));
	assert_true(rate_limiter_consume(&rl, UINT64_MAX, 0, 0));
	assert_true(rate_limiter_next_refill_ns(&rl, UINT64_MAX, UINT64_MAX, 1) > 0);
}

static void test_validate(void **state)
{
	struct token_bucket_cfg c = {0};
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(token_bucket_cfg_validate(&c), 0);
	c = (struct token_bucket_cfg){RATELIMIT_MAX_TOKENS, RATELIMIT_MAX_TOKENS,
				      RATELIMIT_MAX_REFILL_MS};
	assert_int_equal(token_bucket_cfg_validate(&c), 0);
	c.size++;
	assert_int_equal(token_bucket_cfg_validate(&c), -EINVAL);
	c.size--;
	c.one_time_burst = UINT64_MAX; /* -1 in the API's int64 */
	assert_int_equal(token_bucket_cfg_validate(&c), -EINVAL);
	c.one_time_burst = 0;
	c.refill_time_ms++;
	assert_int_equal(token_bucket_cfg_validate(&c), -EINVAL);
	/* Init refuses the same and leaves the limiter as it was. */
	bw_only(&rl, 10, 0, 10);
	assert_int_equal(rate_limiter_init(&rl, NULL, &c, T0), -EINVAL);
	assert_int_equal(rl.bandwidth.size, 10);
	assert_int_equal(token_bucket_init(&rl.bandwidth, &c, T0), -EINVAL);
	assert_int_equal(rl.bandwidth.size, 10);
	assert_int_equal(rl.bandwidth.budget, 10);
}

static void test_clock_and_single_bucket(void **state)
{
	struct token_bucket_cfg cfg = {100, 0, 100};
	struct token_bucket tb;
	uint64_t now;

	(void)state;
	assert_int_equal(token_bucket_init(&tb, &cfg, T0), 0);
	assert_true(token_bucket_consume(&tb, T0, 100));
	/* A clock stepping back earns nothing and does not rewind the refill point. */
	assert_false(token_bucket_consume(&tb, T0 - 50 * MS, 1));
	assert_int_equal(tb.last_ns, T0);
	/* The wait is from the stale (now_ns) given, not from the refill point. */
	assert_int_equal(token_bucket_wait_ns(&tb, T0 - 50 * MS, 1), 51 * MS);
	assert_false(token_bucket_consume(&tb, T0 + 10 * MS - 1, 10));
	assert_true(token_bucket_consume(&tb, T0 + 10 * MS, 10));
	/* The convenience clock moves forward. */
	now = rate_limiter_now_ns();
	assert_true(now > 0);
	assert_true(rate_limiter_now_ns() >= now);
}

static void test_state_round_trip(void **state)
{
	struct token_bucket_cfg cfg = {1000, 500, 1000};
	const uint64_t t1 = T0 + 3600000 * MS; /* another process's clock, far off */
	struct token_bucket tb, fresh;
	struct token_bucket_state s;

	(void)state;
	assert_int_equal(token_bucket_init(&tb, &cfg, T0), 0);
	assert_true(token_bucket_consume(&tb, T0, 700)); /* the burst, then 200 of the budget */
	/* 100 ms later it has earned 100 tokens, saved with the rest; (tb) is untouched. */
	token_bucket_get_state(&tb, T0 + 100 * MS, &s);
	assert_int_equal(s.one_time_burst, 0);
	assert_int_equal(s.budget, 900);
	assert_int_equal(s.debt, 0);
	assert_int_equal(tb.budget, 800);
	assert_int_equal(tb.last_ns, T0);

	assert_int_equal(token_bucket_init(&fresh, &cfg, t1), 0);
	assert_int_equal(token_bucket_set_state(&fresh, &s, t1), 0);
	assert_int_equal(fresh.budget, 900);
	assert_int_equal(fresh.one_time_burst, 0);
	/* The refill clock starts at the restore: no idle hour's worth of tokens. */
	assert_true(token_bucket_consume(&fresh, t1, 900));
	assert_false(token_bucket_consume(&fresh, t1, 1));
	assert_true(token_bucket_consume(&fresh, t1 + 1 * MS, 1));

	/* A burst half spent stays half spent; debt stays owed. */
	assert_int_equal(token_bucket_init(&tb, &cfg, T0), 0);
	assert_true(token_bucket_consume(&tb, T0, 200));
	token_bucket_get_state(&tb, T0, &s);
	assert_int_equal(s.one_time_burst, 300);
	assert_int_equal(s.budget, 1000);
	assert_true(token_bucket_consume(&tb, T0, 300 + 3000)); /* oversized: 2000 of debt */
	token_bucket_get_state(&tb, T0, &s);
	assert_int_equal(s.debt, 2000);
	assert_int_equal(s.budget, 0);
	assert_int_equal(token_bucket_init(&fresh, &cfg, t1), 0);
	assert_int_equal(token_bucket_set_state(&fresh, &s, t1), 0);
	assert_false(token_bucket_consume(&fresh, t1 + 1999 * MS, 1));
	assert_true(token_bucket_consume(&fresh, t1 + 2001 * MS, 1));

	/* Unlimited: nothing to keep. */
	assert_int_equal(token_bucket_init(&tb, NULL, T0), 0);
	token_bucket_get_state(&tb, T0, &s);
	assert_int_equal(s.budget | s.one_time_burst | s.debt, 0);
	assert_int_equal(token_bucket_set_state(&tb, &s, t1), 0);
}

static void test_state_refused(void **state)
{
	struct token_bucket_cfg cfg = {1000, 500, 1000};
	static const struct token_bucket_state bad[] = {
		{ .budget = 1001 },			/* past the size */
		{ .one_time_burst = 501 },		/* more burst than given */
		{ .debt = 5, .budget = 1 },		/* debt beside a budget */
		{ .debt = UINT64_MAX - 999 },		/* debt + size would wrap */
	};
	const struct token_bucket_state some = { .budget = 1 };
	struct token_bucket tb, before;
	unsigned int i;

	(void)state;
	assert_int_equal(token_bucket_init(&tb, &cfg, T0), 0);
	before = tb;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (token_bucket_set_state(&tb, &bad[i], T0 + MS) != -EINVAL)
			fail_msg("state %u accepted", i);
		assert_memory_equal(&tb, &before, sizeof(tb));
	}
	/* The most a bucket can owe is accepted. */
	assert_int_equal(token_bucket_set_state(&tb, &(struct token_bucket_state){
							    .debt = UINT64_MAX - 1000 }, T0), 0);
	/* Tokens in a bucket that limits nothing. */
	assert_int_equal(token_bucket_init(&tb, NULL, T0), 0);
	assert_int_equal(token_bucket_set_state(&tb, &some, T0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_full_bucket_then_refuse),
	    cmocka_unit_test(test_proportional_refill),
	    cmocka_unit_test(test_one_time_burst),
	    cmocka_unit_test(test_all_or_nothing),
	    cmocka_unit_test(test_oversized_request),
	    cmocka_unit_test(test_next_refill),
	    cmocka_unit_test(test_tiny_steps_keep_fractions),
	    cmocka_unit_test(test_runtime_update),
	    cmocka_unit_test(test_large_values),
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_clock_and_single_bucket),
	    cmocka_unit_test(test_state_round_trip),
	    cmocka_unit_test(test_state_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
