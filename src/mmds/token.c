/*
 * Tokens are plain random strings remembered with their expiry, not encrypted expiries
 * as Firecracker's are: the table is small and bounded, and a random value no one has
 * seen is as hard to guess. Comparison does not stop at the first differing byte, so
 * the time a check takes says nothing about how much of a guess was right.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "token.h"

static const char base64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* (n) bytes, a multiple of 3, as 4n/3 characters and a NUL. */
static void encode(const uint8_t *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = base64url[v >> 18 & 63];
		*out++ = base64url[v >> 12 & 63];
		*out++ = base64url[v >> 6 & 63];
		*out++ = base64url[v & 63];
	}
	*out = '\0';
}

_Static_assert(MMDS_TOKEN_BYTES % 3 == 0, "tokens encode without padding");
_Static_assert(MMDS_TOKEN_BYTES / 3 * 4 < sizeof(((struct mmds_token *)0)->value),
	       "a token fits its slot");

static int fill_random(uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

/* The slot a new token takes: a free or expired one, else the soonest to expire. */
static struct mmds_token *pick_slot(struct mmds *m, uint64_t now_ms)
{
	struct mmds_token *best = &m->tokens[0];
	size_t i;

	for (i = 0; i < MMDS_MAX_TOKENS; i++) {
		struct mmds_token *t = &m->tokens[i];

		if (!t->value[0] || t->expires_ms <= now_ms)
			return t;
		if (t->expires_ms < best->expires_ms)
			best = t;
	}
	return best;
}

int mmds_token_issue(struct mmds *m, unsigned int ttl_s, uint64_t now_ms, char *out)
{
	uint8_t raw[MMDS_TOKEN_BYTES];
	struct mmds_token *t;
	uint64_t ttl_ms;
	int ret;

	if (!m->tokens) {
		m->tokens = calloc(MMDS_MAX_TOKENS, sizeof(*m->tokens));
		if (!m->tokens)
			return -ENOMEM;
	}
	ret = fill_random(raw, sizeof(raw));
	if (ret)
		return ret;
	t = pick_slot(m, now_ms);
	encode(raw, sizeof(raw), t->value);
	/* A clock near UINT64_MAX (a fuzzer's) saturates rather than wraps to the past. */
	ttl_ms = (uint64_t)ttl_s * 1000;
	t->expires_ms = now_ms > UINT64_MAX - ttl_ms ? UINT64_MAX : now_ms + ttl_ms;
	memcpy(out, t->value, sizeof(t->value));
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

static bool same_token(const char *slot, const char *token, size_t len)
{
	unsigned char diff = 0;
	size_t i;

	if (strlen(slot) != len)
		return false;
	for (i = 0; i < len; i++)
		diff |= (unsigned char)(slot[i] ^ token[i]);
	return diff == 0;
}

bool mmds_token_valid(const struct mmds *m, const char *token, size_t len, uint64_t now_ms)
{
	bool found = false;
	size_t i;

	if (!m->tokens || len == 0)
		return false;
	/* Every slot is compared, so a match costs the same wherever it is. */
	for (i = 0; i < MMDS_MAX_TOKENS; i++) {
		const struct mmds_token *t = &m->tokens[i];

		if (t->value[0] && t->expires_ms > now_ms && same_token(t->value, token, len))
			found = true;
	}
	return found;
}
