/*
 * libFuzzer target: the fuzzer's bytes are what a client sends the API socket, cut into
 * chunks whose sizes the first byte chooses. The codec decodes request after request (as
 * the server does once each is answered) until it refuses the stream or runs out of bytes;
 * every request it hands out must hold what the codec promised: a path starting with '/',
 * a body no longer than the payload limit.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"

#define FUZZ_MAX_PAYLOAD 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_codec c;
	size_t off = 1, chunk;

	if (size < 1)
		return 0;
	chunk = data[0] % 64 + 1;
	http_codec_init(&c, FUZZ_MAX_PAYLOAD);
	while (off < size) {
		size_t len = size - off < chunk ? size - off : chunk, used = 0;
		struct api_request *req = NULL;
		bool keep_alive;
		int ev = http_codec_feed(&c, (const char *)data + off, len, &used, &req,
					 &keep_alive);

		if (ev < 0 || used > len)
			break;
		off += used;
		if (ev == HTTP_EV_REQUEST) {
			if (req->path[0] != '/' || req->body_len > FUZZ_MAX_PAYLOAD)
				abort();
			http_request_free(req);
			if (!keep_alive)
				break;
		} else if (!used && ev == HTTP_EV_NEED_MORE) {
			break;
		}
	}
	http_codec_destroy(&c);
	return 0;
}
