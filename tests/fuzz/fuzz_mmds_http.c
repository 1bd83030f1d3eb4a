/*
 * libFuzzer target: the fuzzer's bytes are what a guest's connection to the MMDS holds
 * (at most the stack's MMDS_REQUEST_MAX of them), served request after request as the
 * stack does. The service is V2 over a small store, with one token already issued whose
 * value the dictionary knows, so the valid-token path is as reachable as the others.
 * Every answer must be whole HTTP, and no call may claim more bytes than it was given.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/mmds.h"
#include "mmds/stack.h"

#define FUZZ_TOKEN "fuzz-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"

static const char store_text[] =
    "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":1,\"l\":[\"a\",{\"b\":null}],"
    "\"o\":{\"k\":\"v\",\"~/\":true}},\"api\":{}},\"user-data\":\"ud\"}";

static const char token_request[] =
    "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 100\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmds m;
	uint8_t *reply = NULL;
	size_t reply_len, len, off = 1, i;
	bool close = false;
	json_t *store;
	long used;

	if (size < 1)
		return 0;
	len = size > MMDS_REQUEST_MAX ? MMDS_REQUEST_MAX : size;
	mmds_init(&m);
	mmds_configure(&m, data[0] & 1 ? 1 : 2, data[0] & 2);
	store = json_loads(store_text, 0, NULL);
	if (!store || mmds_set_store(&m, store, &reply_len))
		abort();
	used = mmds_serve(&m, (const uint8_t *)token_request, sizeof(token_request) - 1, 0, &reply,
			  &reply_len, &close);
	if (used != (long)sizeof(token_request) - 1 || !m.tokens || !m.tokens[0].value[0])
		abort();
	free(reply);
	/* The issued token made known: its slot now holds the dictionary's value. */
	memcpy(m.tokens[0].value, FUZZ_TOKEN, sizeof(FUZZ_TOKEN));
	for (i = 0; off < len && i < 64; i++) {
		reply = NULL;
		close = false;
		used = mmds_serve(&m, data + off, len - off, 1000 * (data[0] >> 2), &reply,
				  &reply_len, &close);
		if (used <= 0)
			break;
		if ((size_t)used > len - off || !reply || reply_len < 12 ||
		    memcmp(reply, "HTTP/1.1 ", 9) || !memmem(reply, reply_len, "\r\n\r\n", 4))
			abort();
		free(reply);
		off += (size_t)used;
		if (close)
			break;
	}
	mmds_destroy(&m);
	return 0;
}
