/* The API's HTTP codec (bytes in, requests and Firecracker's response bytes out) and its thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"
#include "api/http.h"
#include "api/server.h"

#define MAX_REQS 4

/* What a connection made of a byte stream. */
struct decoded {
	struct api_request *req[MAX_REQS];
	bool keep_alive[MAX_REQS];
	int nr, continues, error;
	size_t continue_at; /* bytes used when the codec asked for "100" */
	char error_msg[160];
};

/*
 * Decode (data) arriving (chunk) bytes at a time with a payload limit of (max_payload),
 * keeping what the codec leaves unused for the next call, as the server does.
 */
static void decode(const char *data, size_t chunk, size_t max_payload, struct decoded *d)
{
	size_t len = strlen(data), arrived = 0, pos = 0, used;
	struct http_codec c;
	struct api_request *req;
	bool ka;
	int ret;

	memset(d, 0, sizeof(*d));
	http_codec_init(&c, max_payload);
	while (arrived < len && !d->error) {
		arrived = MIN(len, arrived + chunk);
		while (pos < arrived) {
			ret = http_codec_feed(&c, data + pos, arrived - pos, &used, &req, &ka);
			pos += used;
			if (ret < 0) {
				d->error = ret;
				snprintf(d->error_msg, sizeof(d->error_msg), "%s", c.error_msg);
				break;
			}
			if (ret == HTTP_EV_CONTINUE) {
				d->continues++;
				d->continue_at = pos;
			} else if (ret == HTTP_EV_REQUEST) {
				assert_true(d->nr < MAX_REQS);
				d->keep_alive[d->nr] = ka;
				d->req[d->nr++] = req;
			} else {
				assert_int_equal(pos, arrived);
			}
		}
	}
	http_codec_destroy(&c);
}

static void decoded_free(struct decoded *d)
{
	int i;

	for (i = 0; i < d->nr; i++)
		http_request_free(d->req[i]);
}

static void expect_request(struct decoded *d, int i, enum api_method m, const char *path,
			   const char *body)
{
	assert_true(i < d->nr);
	assert_int_equal(d->req[i]->method, m);
	assert_string_equal(d->req[i]->path, path);
	assert_int_equal(d->req[i]->body_len, strlen(body));
	assert_string_equal(d->req[i]->body, body);
}

/* (data) must be refused, whatever the chunking, with a message containing (want). */
static void expect_refused(const char *data, size_t max_payload, const char *want)
{
	static const size_t chunks[] = {1, 3, 4096};
	struct decoded d;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(chunks); i++) {
		decode(data, chunks[i], max_payload, &d);
		assert_int_equal(d.error, -EBADMSG);
		if (!strstr(d.error_msg, want))
			fail_msg("'%s': error '%s' lacks '%s'", data, d.error_msg, want);
		decoded_free(&d);
	}
}

#define PUT_MC "PUT /machine-config HTTP/1.1\r\nContent-Type: application/json\r\n"

static void test_byte_by_byte(void **state)
{
	const char *req = PUT_MC "Content-Length: 16\r\n\r\n{\"vcpu_count\":2}";
	struct decoded d;

	(void)state;
	decode(req, 1, 1000, &d);
	assert_int_equal(d.error, 0);
	assert_int_equal(d.nr, 1);
	expect_request(&d, 0, API_PUT, "/machine-config", "{\"vcpu_count\":2}");
	assert_string_equal(d.req[0]->method_name, "PUT");
	assert_true(d.keep_alive[0]);
	decoded_free(&d);
}

static void test_pipelined(void **state)
{
	const char *two = "GET / HTTP/1.1\r\n\r\n" PUT_MC "Content-Length: 2\r\n\r\n{}";
	const char *three = "PATCH /vm HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
			    "GET /version HTTP/1.1\r\nAccept: */*\r\n\r\n"
			    "DELETE /drives/a HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct decoded d;

	(void)state;
	decode(two, 4096, 1000, &d);
	assert_int_equal(d.nr, 2);
	expect_request(&d, 0, API_GET, "/", "");
	expect_request(&d, 1, API_PUT, "/machine-config", "{}");
	decoded_free(&d);

	decode(three, 4096, 1000, &d);
	assert_int_equal(d.error, 0);
	assert_int_equal(d.nr, 3);
	expect_request(&d, 0, API_PATCH, "/vm", "abc");
	expect_request(&d, 1, API_GET, "/version", "");
	expect_request(&d, 2, API_OTHER, "/drives/a", "");
	assert_string_equal(d.req[2]->method_name, "DELETE");
	assert_true(d.keep_alive[1]);
	assert_false(d.keep_alive[2]);
	decoded_free(&d);
}

static void test_body_split(void **state)
{
	const char *req = PUT_MC "Content-Length: 26\r\n\r\n{\"vcpu_count\": 2, \"x\": 1}\n";
	size_t chunk;
	struct decoded d;

	(void)state;
	for (chunk = 1; chunk < strlen(req); chunk += 7) {
		decode(req, chunk, 1000, &d);
		assert_int_equal(d.nr, 1);
		expect_request(&d, 0, API_PUT, "/machine-config",
			       "{\"vcpu_count\": 2, \"x\": 1}\n");
		decoded_free(&d);
	}
}

static void test_bad_content_length(void **state)
{
	(void)state;
	expect_refused(PUT_MC "Content-Length: abc\r\n\r\n", 1000, "Content-Length");
	expect_refused(PUT_MC "Content-Length: -1\r\n\r\n", 1000, "Content-Length");
	expect_refused(PUT_MC "Content-Length: 99999999999999999999999\r\n\r\n", 1000,
		       "Content-Length");
	expect_refused(PUT_MC "Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", 1000,
		       "Content-Length");
	expect_refused(PUT_MC "Content-Length: 1 2\r\n\r\nab", 1000, "Content-Length");
}

static void test_payload_limit(void **state)
{
	struct decoded d;

	(void)state;
	decode(PUT_MC "Content-Length: 16\r\n\r\n0123456789abcdef", 5, 16, &d);
	assert_int_equal(d.error, 0);
	expect_request(&d, 0, API_PUT, "/machine-config", "0123456789abcdef");
	decoded_free(&d);
	expect_refused(PUT_MC "Content-Length: 17\r\n\r\n0123456789abcdefg", 16,
		       "Request payload with size 17 is larger than the limit of 16 allowed by "
		       "server.");
	/* Refused from the headers alone: the body is never waited for. */
	decode(PUT_MC "Content-Length: 4000000000\r\n\r\n", 4096, 51200, &d);
	assert_string_equal(d.error_msg, "Request payload with size 4000000000 is larger than "
					 "the limit of 51200 allowed by server.");
}

static void test_huge_headers(void **state)
{
	char big[HTTP_MAX_HEADER_BYTES + 64];
	size_t fill;
	struct decoded d;

	(void)state;
	/* Headers of exactly the limit pass... */
	fill = HTTP_MAX_HEADER_BYTES - strlen("GET / HTTP/1.1\r\nX: \r\n\r\n");
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0*d\r\n\r\n", (int)fill, 0);
	assert_int_equal(strlen(big), HTTP_MAX_HEADER_BYTES);
	decode(big, 1000, 100, &d);
	assert_int_equal(d.error, 0);
	assert_int_equal(d.nr, 1);
	decoded_free(&d);
	/* ...one byte more does not, nor a header that never ends. */
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0*d\r\n\r\n", (int)fill + 1, 0);
	expect_refused(big, 100, "Request headers are larger than the limit of 8192 bytes");
	big[HTTP_MAX_HEADER_BYTES] = '\0';
	expect_refused(big, 100, "larger than the limit");
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	expect_refused(PUT_MC "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 1000,
		       "Transfer-Encoding");
	expect_refused(PUT_MC "transfer-encoding: gzip\r\nContent-Length: 2\r\n\r\n{}", 1000,
		       "Invalid header");
	expect_refused(PUT_MC "Transfer-Encoding: identity\r\n\r\n", 1000, "Transfer-Encoding");
}

static void test_keep_alive(void **state)
{
	static const struct {
		const char *req;
		bool keep_alive;
	} cases[] = {
	    {"GET / HTTP/1.1\r\n\r\n", true},
	    {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
	    {"GET / HTTP/1.0\r\n\r\n", false},
	    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	};
	struct decoded d;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		decode(cases[i].req, 4096, 100, &d);
		assert_int_equal(d.nr, 1);
		assert_int_equal(d.keep_alive[0], cases[i].keep_alive);
		decoded_free(&d);
	}
}

static void test_target(void **state)
{
	struct decoded d;

	(void)state;
	decode("GET /machine-config?pretty=1&x=%20 HTTP/1.1\r\n\r\n", 2, 100, &d);
	expect_request(&d, 0, API_GET, "/machine-config", "");
	decoded_free(&d);
	decode("GET /vm/config#frag HTTP/1.1\r\n\r\n", 4096, 100, &d);
	expect_request(&d, 0, API_GET, "/vm/config", "");
	decoded_free(&d);
	/* micro_http takes absolute-form targets too, and so do we. */
	decode("GET http://localhost/version?x HTTP/1.1\r\n\r\n", 4096, 100, &d);
	expect_request(&d, 0, API_GET, "/version", "");
	decoded_free(&d);

	expect_refused("GET * HTTP/1.1\r\n\r\n", 100, "Invalid URI");
	expect_refused("GET https://localhost/ HTTP/1.1\r\n\r\n", 100, "Invalid URI");
	expect_refused("GET machine-config HTTP/1.1\r\n\r\n", 100, "Invalid URI");
	expect_refused("GET localhost:80 HTTP/1.1\r\n\r\n", 100, "Invalid URI");
	expect_refused("GET /\xff\xfe HTTP/1.1\r\n\r\n", 100, "Cannot parse URI as UTF-8");
}

static void test_method_and_version(void **state)
{
	struct decoded d;

	(void)state;
	/* A method the parser knows goes to the router, which refuses it in JSON. */
	decode("POST /actions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 4096, 100, &d);
	expect_request(&d, 0, API_OTHER, "/actions", "{}");
	assert_string_equal(d.req[0]->method_name, "POST");
	decoded_free(&d);

	expect_refused("BREW / HTTP/1.1\r\n\r\n", 100,
		       "Invalid HTTP Method: Unsupported HTTP method.");
	expect_refused("GET / HTTP/2.0\r\n\r\n", 100,
		       "Invalid HTTP Version: Unsupported HTTP version.");
	expect_refused("GET / HTTP/1.1 junk\r\n\r\n", 100, "Invalid");
	expect_refused("garbage\r\n\r\n", 100, "Invalid");
}

static void test_expect_continue(void **state)
{
	const char *req = PUT_MC "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}";
	struct http_buf out = {0};
	struct decoded d;
	size_t chunk;

	(void)state;
	for (chunk = 1; chunk <= strlen(req); chunk += 5) {
		decode(req, chunk, 100, &d);
		assert_int_equal(d.continues, 1);
		assert_true(d.continue_at <= (size_t)(strstr(req, "\r\n\r\n") + 4 - req));
		expect_request(&d, 0, API_PUT, "/machine-config", "{}");
		decoded_free(&d);
	}
	/* micro_http answers "100" only for a non-empty body it will accept. */
	decode(PUT_MC "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n", 4096, 100, &d);
	assert_int_equal(d.continues, 0);
	assert_int_equal(d.nr, 1);
	decoded_free(&d);
	decode(PUT_MC "Expect: 100-continue\r\nContent-Length: 101\r\n\r\n", 4096, 100, &d);
	assert_int_equal(d.continues, 0);
	assert_int_equal(d.error, -EBADMSG);

	assert_int_equal(http_format_continue(&out, 1, true), 0);
	assert_int_equal(http_buf_pending(&out), 66);
	assert_memory_equal(
	    out.data, "HTTP/1.1 100 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n",
	    66);
	http_buf_free(&out);
}

/* (out) must hold exactly (want). */
static void expect_bytes(struct http_buf *out, const char *want)
{
	if (http_buf_pending(out) != strlen(want) ||
	    memcmp(out->data + out->off, want, strlen(want)))
		fail_msg("got '%.*s'\nwant '%s'", (int)http_buf_pending(out), out->data + out->off,
			 want);
	http_buf_free(out);
}

static void test_response_bytes(void **state)
{
	struct http_buf out = {0};

	(void)state;
	/* A 204 carries neither body nor Content-Type/Length, as micro_http writes it. */
	assert_int_equal(http_format_response(&out, 204, true, "ignored", 7), 0);
	expect_bytes(&out,
		     "HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n");

	assert_int_equal(http_format_response(&out, 200, true, "{\"a\":1}", 7), 0);
	expect_bytes(&out, "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
			   "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");

	assert_int_equal(http_format_response(&out, 200, false, NULL, 0), 0);
	expect_bytes(&out, "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: close\r\n"
			   "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n");

	assert_int_equal(
	    http_format_response(&out, 400, true, "{\"fault_message\":\"No \\\"kernel\\\".\"}", 34),
	    0);
	expect_bytes(&out, "HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
			   "Content-Type: application/json\r\nContent-Length: 34\r\n\r\n"
			   "{\"fault_message\":\"No \\\"kernel\\\".\"}");

	/* micro_http's message for a body over the limit, in Firecracker's error shape. */
	assert_int_equal(http_format_error(&out, true,
					   "Request payload with size 260 is larger than the "
					   "limit of 250 allowed by server."),
			 0);
	expect_bytes(&out, "HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
			   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
			   "{\"fault_message\":\"Request payload with size 260 is larger than the "
			   "limit of 250 allowed by server.\"}");
	/* The message is escaped. */
	assert_int_equal(http_format_error(&out, false, "a \"b\"\n"), 0);
	expect_bytes(&out, "HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: close\r\n"
			   "Content-Type: application/json\r\nContent-Length: 29\r\n\r\n"
			   "{\"fault_message\":\"a \\\"b\\\"\\n\"}");
}

/* ---- The API thread, with this test as the VMM ---- */

struct fixture {
	char dir[32];
	char path[64];
	struct logger log;
	struct api_server *s;
};

static void server_up(struct fixture *f, size_t max_payload)
{
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/ember-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	logger_init(&f->log);
	assert_int_equal(api_server_start(f->path, max_payload, &f->log, NULL, &f->s, err,
					  sizeof(err)),
			 0);
}

static void server_down(struct fixture *f)
{
	api_server_stop(f->s);
	logger_destroy(&f->log);
	/* The socket is gone with the server. */
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(f->dir), 0);
}

static int client(const char *path, const char *request)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    (request && write_all(fd, request, strlen(request)))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read (n) bytes within (timeout_ms): n, fewer at EOF, or -1 on timeout. */
static int read_n(int fd, char *buf, size_t n, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&p, 1, timeout_ms) != 1)
			return -1;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* One whole response into (buf), NUL-terminated: its length, 0 at EOF, -1 on error. */
static int read_response(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t len = 0;
	const char *cl;
	int n;

	while (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4)) {
		n = len + 1 < size ? read_n(fd, buf + len, 1, timeout_ms) : -1;
		if (n <= 0)
			return len || n < 0 ? -1 : 0;
		len++;
	}
	buf[len] = '\0';
	cl = strstr(buf, "Content-Length: ");
	if (cl) {
		n = atoi(cl + 16);
		if (len + n >= size || read_n(fd, buf + len, n, timeout_ms) != n)
			return -1;
		len += n;
	}
	buf[len] = '\0';
	return len;
}

static void ok_response(char *buf, size_t size, const char *path, const char *connection)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"path\":\"%s\"}", path);
	snprintf(buf, size,
		 "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 connection, strlen(body), body);
}

/* The next request within (timeout_ms), or NULL. */
static struct api_request *vmm_take(struct api_server *s, int timeout_ms)
{
	struct pollfd p = {.fd = api_server_request_fd(s), .events = POLLIN};

	if (poll(&p, 1, timeout_ms) != 1)
		return NULL;
	return api_server_take(s);
}

static void vmm_answer(struct api_server *s, struct api_request *req)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"path\":\"%s\"}", req->path);
	api_server_reply(s, req, 200, body);
}

#define NR_CLIENTS 100

struct client_run {
	const char *sock;
	int index;
	bool ok;
	atomic_bool sent;
};

static void *client_thread(void *opaque)
{
	struct client_run *run = opaque;
	char req[64], path[16], want[256], got[256];
	int fd;

	snprintf(path, sizeof(path), "/c/%d", run->index);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
	fd = client(run->sock, req);
	if (fd < 0)
		return NULL;
	ok_response(want, sizeof(want), path, "keep-alive");
	run->ok = read_response(fd, got, sizeof(got), 10000) > 0 && !strcmp(got, want);
	close(fd);
	return NULL;
}

static void test_server_many_clients(void **state)
{
	static struct client_run runs[NR_CLIENTS];
	struct api_request *reqs[NR_CLIENTS];
	pthread_t threads[NR_CLIENTS];
	struct fixture f;
	int i, n;

	(void)state;
	server_up(&f, API_DEFAULT_MAX_PAYLOAD);
	for (i = 0; i < NR_CLIENTS; i++) {
		runs[i] = (struct client_run){.sock = f.path, .index = i};
		assert_int_equal(pthread_create(&threads[i], NULL, client_thread, &runs[i]), 0);
	}
	/* Every client waits with a request in flight before any is answered. */
	for (n = 0; n < NR_CLIENTS; n++) {
		reqs[n] = vmm_take(f.s, 10000);
		assert_non_null(reqs[n]);
	}
	for (i = 0; i < NR_CLIENTS; i++)
		vmm_answer(f.s, reqs[i]);
	for (i = 0; i < NR_CLIENTS; i++) {
		pthread_join(threads[i], NULL);
		if (!runs[i].ok)
			fail_msg("client %d got no right answer", i);
	}
	server_down(&f);
}

static void *slow_client_thread(void *opaque)
{
	static const char req[] = "GET /slow HTTP/1.1\r\nX-Pad: 0123456789012345678901234\r\n\r\n";
	struct client_run *run = opaque;
	char want[256], got[256];
	size_t i;
	int fd;

	fd = client(run->sock, NULL);
	if (fd < 0)
		return NULL;
	for (i = 0; i < sizeof(req) - 1; i++) {
		if (write(fd, req + i, 1) != 1)
			goto out;
		usleep(10000);
	}
	atomic_store(&run->sent, true);
	ok_response(want, sizeof(want), "/slow", "keep-alive");
	run->ok = read_response(fd, got, sizeof(got), 10000) > 0 && !strcmp(got, want);
out:
	close(fd);
	return NULL;
}

static void test_server_slow_client(void **state)
{
	struct client_run slow;
	struct api_request *req;
	char want[256], got[256];
	struct fixture f;
	pthread_t thread;
	uint64_t start;
	int fd;

	(void)state;
	server_up(&f, API_DEFAULT_MAX_PAYLOAD);
	slow = (struct client_run){.sock = f.path};
	assert_int_equal(pthread_create(&thread, NULL, slow_client_thread, &slow), 0);
	usleep(50000); /* well into its 560 ms of request */

	start = now_us();
	fd = client(f.path, "GET /fast HTTP/1.1\r\n\r\n");
	assert_true(fd >= 0);
	req = vmm_take(f.s, 1000);
	assert_non_null(req);
	assert_string_equal(req->path, "/fast");
	vmm_answer(f.s, req);
	ok_response(want, sizeof(want), "/fast", "keep-alive");
	assert_true(read_response(fd, got, sizeof(got), 1000) > 0);
	assert_string_equal(got, want);
	assert_true(now_us() - start < 250000);
	assert_false(atomic_load(&slow.sent));
	close(fd);

	req = vmm_take(f.s, 5000);
	assert_non_null(req);
	assert_string_equal(req->path, "/slow");
	vmm_answer(f.s, req);
	pthread_join(thread, NULL);
	assert_true(slow.ok);
	server_down(&f);
}

static void test_server_pipelined_in_order(void **state)
{
	struct pollfd p;
	char want[256], got[256], path[16];
	struct api_request *req;
	struct fixture f;
	int fd, i;

	(void)state;
	server_up(&f, API_DEFAULT_MAX_PAYLOAD);
	fd = client(f.path, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
			    "GET /3 HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(fd >= 0);
	p = (struct pollfd){.fd = api_server_request_fd(f.s), .events = POLLIN};
	for (i = 1; i <= 3; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		req = vmm_take(f.s, 2000);
		assert_non_null(req);
		assert_string_equal(req->path, path);
		/* One request per connection with the VMM; the next waits for this reply. */
		assert_int_equal(poll(&p, 1, 20), 0);
		assert_null(api_server_take(f.s));
		vmm_answer(f.s, req);
	}
	for (i = 1; i <= 3; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		ok_response(want, sizeof(want), path, i < 3 ? "keep-alive" : "close");
		assert_true(read_response(fd, got, sizeof(got), 2000) > 0);
		assert_string_equal(got, want);
	}
	assert_int_equal(read_response(fd, got, sizeof(got), 2000), 0); /* closed after /3 */
	close(fd);
	server_down(&f);
}

static void test_server_http_errors(void **state)
{
	static const char refused[] =
	    "HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
	    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
	    "{\"fault_message\":\"Request payload with size 260 is larger than the limit of 250 "
	    "allowed by server.\"}";
	static const char cont[] =
	    "HTTP/1.1 100 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n";
	struct pollfd p;
	char want[256], got[512];
	struct api_request *req;
	struct fixture f;
	int fd;

	(void)state;
	server_up(&f, 250);
	p = (struct pollfd){.fd = api_server_request_fd(f.s), .events = POLLIN};
	/* curl's request from Firecracker's test_config_start_with_limit, and its answer. */
	fd = client(f.path, "PUT /mmds/config HTTP/1.1\r\nHost: localhost\r\n"
			    "User-Agent: curl/7.88.1\r\nAccept: application/json\r\n"
			    "Content-Length: 260\r\nContent-Type: application/x-www-form-urlencoded"
			    "\r\n\r\nsome body");
	assert_true(fd >= 0);
	assert_int_equal(read_response(fd, got, sizeof(got), 2000), (int)strlen(refused));
	assert_string_equal(got, refused);
	assert_int_equal(read_response(fd, got, sizeof(got), 2000), 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	close(fd);

	/* "100" before the body, which is only sent after it. */
	fd = client(f.path, "PUT /drives/x HTTP/1.1\r\nExpect: 100-continue\r\n"
			    "Content-Length: 2\r\n\r\n");
	assert_true(fd >= 0);
	assert_int_equal(read_response(fd, got, sizeof(got), 2000), (int)strlen(cont));
	assert_string_equal(got, cont);
	assert_int_equal(write_all(fd, "{}", 2), 0);
	req = vmm_take(f.s, 2000);
	assert_non_null(req);
	assert_string_equal(req->body, "{}");
	vmm_answer(f.s, req);
	ok_response(want, sizeof(want), "/drives/x", "keep-alive");
	assert_true(read_response(fd, got, sizeof(got), 2000) > 0);
	assert_string_equal(got, want);
	close(fd);

	/* A client gone while its request is with the VMM: the reply goes nowhere. */
	fd = client(f.path, "GET /gone HTTP/1.1\r\n\r\n");
	req = vmm_take(f.s, 2000);
	assert_non_null(req);
	close(fd);
	usleep(20000);
	vmm_answer(f.s, req);
	fd = client(f.path, "GET /after HTTP/1.1\r\n\r\n");
	req = vmm_take(f.s, 2000);
	assert_non_null(req);
	assert_string_equal(req->path, "/after");
	vmm_answer(f.s, req);
	ok_response(want, sizeof(want), "/after", "keep-alive");
	assert_true(read_response(fd, got, sizeof(got), 2000) > 0);
	assert_string_equal(got, want);
	/* Stopping with a request nobody took frees it. */
	assert_int_equal(write_all(fd, "GET /left HTTP/1.1\r\n\r\n", 22), 0);
	assert_int_equal(poll(&p, 1, 2000), 1);
	close(fd);
	server_down(&f);
}

static void test_server_limits(void **state)
{
	static int fds[256];
	char err[256], got[256];
	struct api_server *other;
	struct api_request *req;
	struct fixture f;
	size_t i;
	int fd;

	(void)state;
	server_up(&f, API_DEFAULT_MAX_PAYLOAD);
	/* Like Firecracker, an existing socket path is refused, not replaced. */
	assert_int_equal(api_server_start(f.path, 100, &f.log, NULL, &other, err, sizeof(err)),
			 -EADDRINUSE);
	assert_non_null(strstr(err, "Check that it is not already used"));
	assert_null(other);

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		fds[i] = client(f.path, NULL);
		assert_true(fds[i] >= 0);
	}
	fd = client(f.path, NULL);
	assert_true(fd >= 0);
	assert_int_equal(read_n(fd, got, sizeof(got), 5000),
			 (int)strlen(HTTP_SERVER_FULL_RESPONSE));
	assert_memory_equal(got, HTTP_SERVER_FULL_RESPONSE, strlen(HTTP_SERVER_FULL_RESPONSE));
	close(fd);
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		close(fds[i]);
	usleep(100000);
	fd = client(f.path, "GET /again HTTP/1.1\r\n\r\n");
	req = vmm_take(f.s, 2000);
	assert_non_null(req);
	vmm_answer(f.s, req);
	assert_true(read_response(fd, got, sizeof(got), 2000) > 0);
	close(fd);
	server_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_body_split),
	    cmocka_unit_test(test_bad_content_length),
	    cmocka_unit_test(test_payload_limit),
	    cmocka_unit_test(test_huge_headers),
	    cmocka_unit_test(test_transfer_encoding),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_target),
	    cmocka_unit_test(test_method_and_version),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_response_bytes),
	    cmocka_unit_test(test_server_many_clients),
	    cmocka_unit_test(test_server_slow_client),
	    cmocka_unit_test(test_server_pipelined_in_order),
	    cmocka_unit_test(test_server_http_errors),
	    cmocka_unit_test(test_server_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
