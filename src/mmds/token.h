/*
 * MMDS V2 session tokens: random strings the guest asks for with PUT /latest/api/token,
 * each valid until its time to live runs out. Kept in a fixed table (struct mmds's
 * tokens, MMDS_MAX_TOKENS slots) so a guest asking in a loop costs no more memory.
 */
#ifndef EMBER_MMDS_TOKEN_H
#define EMBER_MMDS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmds.h"

/* Random bytes in a token: 48 characters once base64url-encoded. */
#define MMDS_TOKEN_BYTES 36

/*
 * A new token valid for (ttl_s) seconds from (now_ms), copied to (out) (NUL-terminated,
 * sizeof(struct mmds_token.value)). A free or expired slot is used first, else the one
 * that would expire soonest. 0, or -ENOMEM, or getrandom's -errno.
 */
int mmds_token_issue(struct mmds *m, unsigned int ttl_s, uint64_t now_ms, char *out);

/* Whether (token, len) is a token issued and not expired at (now_ms). */
bool mmds_token_valid(const struct mmds *m, const char *token, size_t len, uint64_t now_ms);

#endif
