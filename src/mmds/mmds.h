/*
 * The MMDS service: the data store (set through the API), and the HTTP answers the guest
 * gets from it over an interface's MMDS stack (stack.h): GET of a path in the store as
 * JSON or in the IMDS plain-text form, and for V2 the session tokens (PUT
 * /latest/api/token). The rules follow Firecracker's MMDS (docs/mmds/ in its repository).
 *
 * One per VM, used from one thread (the device thread: the API handlers and the network
 * devices both run there).
 */
#ifndef EMBER_MMDS_H
#define EMBER_MMDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_DEFAULT_LIMIT   51200 /* bytes of the data store, as Firecracker's default */
#define MMDS_TOKEN_TTL_MAX   21600 /* seconds */
#define MMDS_MAX_TOKENS	     1024  /* tokens alive at once; when full, the soonest to expire goes */

/* What the service counts, beside the stacks' own counters. */
struct mmds_service_stats {
	uint64_t requests;	   /* requests answered, any status */
	uint64_t failed_requests;  /* answered with a status other than 200 */
	uint64_t rx_invalid_token; /* V2 GETs with a token that is not (or no longer) valid */
	uint64_t rx_no_token;	   /* V2 GETs without a token */
	uint64_t tokens_issued;
};

struct mmds_token {
	char value[64]; /* NUL-terminated; empty: a free slot */
	uint64_t expires_ms;
};

struct mmds {
	json_t *store;	/* the data store; NULL until PUT /mmds or --metadata */
	size_t limit;	/* the most bytes its compact JSON may take */
	unsigned int version; /* 1 or 2 */
	bool imds_compat;     /* plain text whatever the Accept header says */
	struct mmds_token *tokens; /* MMDS_MAX_TOKENS, allocated on the first token request */
	struct mmds_service_stats stats;
};

/* An empty service: no store, V1, the default limit. */
void mmds_init(struct mmds *m);
void mmds_destroy(struct mmds *m);

/* Which version the guest sees (1 or 2), and whether IMDS-compatible plain text only. */
void mmds_configure(struct mmds *m, unsigned int version, bool imds_compat);

/*
 * Take (store) (the reference is consumed) as the data store if its compact JSON, of
 * (*len) bytes, fits the limit: 0, or -EFBIG with the store unchanged and (store)
 * released.
 */
int mmds_set_store(struct mmds *m, json_t *store, size_t *len);

/*
 * mmds_serve_fn (stack.h) for (opaque = struct mmds *): parse one HTTP/1.1 request at the
 * start of (in, len) and build its response. Malformed requests get 400, requests over
 * the stack's size limit are the stack's business (it never passes more than it holds).
 */
long mmds_serve(void *opaque, const uint8_t *in, size_t len, uint64_t now_ms, uint8_t **reply,
		size_t *reply_len, bool *close);

/* Forget every token (a snapshot restore: tokens never outlive the VM that issued them). */
void mmds_forget_tokens(struct mmds *m);

#endif
