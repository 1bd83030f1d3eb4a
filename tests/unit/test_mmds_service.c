/* The MMDS service: requests as the guest sends them, answers as Firecracker gives them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "unit.h"
#include "mmds/mmds.h"

#define STORE                                                                                      \
	"{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-123\",\"age\":43,\"net\":{\"mac\":"          \
	"\"aa\"},\"list\":[\"x\",\"y\"]}},\"user-data\":\"hello\",\"a/b\":\"slash\"}"

/* One answer, split into what the tests look at. */
struct reply {
	long used;
	bool close;
	int status;
	char head[1024];
	char body[4096];
	size_t body_len;
};

static struct mmds *new_service(unsigned int version, bool imds_compat)
{
	struct mmds *m = malloc(sizeof(*m));
	json_t *store = json_loads(STORE, 0, NULL);
	size_t len;

	assert_non_null(m);
	assert_non_null(store);
	mmds_init(m);
	mmds_configure(m, version, imds_compat);
	assert_int_equal(mmds_set_store(m, store, &len), 0);
	return m;
}

static void free_service(struct mmds *m)
{
	mmds_destroy(m);
	free(m);
}

/* Serve (text) (every byte) at (now_ms); the reply must be well-formed HTTP. */
static struct reply serve_at(struct mmds *m, const char *text, uint64_t now_ms)
{
	struct reply r = {0};
	uint8_t *out = NULL;
	size_t out_len = 0;
	char *split;
	size_t head_len, content_length;
	const char *cl;

	r.used =
	    mmds_serve(m, (const uint8_t *)text, strlen(text), now_ms, &out, &out_len, &r.close);
	if (r.used <= 0)
		return r;
	assert_true(out_len < sizeof(r.head) + sizeof(r.body));
	split = memmem(out, out_len, "\r\n\r\n", 4);
	assert_non_null(split);
	head_len = (size_t)(split - (char *)out) + 4;
	assert_true(head_len < sizeof(r.head));
	memcpy(r.head, out, head_len);
	r.body_len = out_len - head_len;
	assert_true(r.body_len < sizeof(r.body));
	memcpy(r.body, out + head_len, r.body_len);
	assert_int_equal(sscanf(r.head, "HTTP/1.1 %d ", &r.status), 1);
	cl = strstr(r.head, "Content-Length: ");
	assert_non_null(cl);
	content_length = strtoul(cl + 16, NULL, 10);
	assert_int_equal(content_length, r.body_len);
	assert_non_null(strstr(r.head, "Content-Type: "));
	free(out);
	return r;
}

static struct reply serve(struct mmds *m, const char *text)
{
	return serve_at(m, text, 1000);
}

static bool has_header(const struct reply *r, const char *line)
{
	return strstr(r->head, line) != NULL;
}

#define GET(path, headers) "GET " path " HTTP/1.1\r\nHost: 169.254.169.254\r\n" headers "\r\n"

static void assert_body(const struct reply *r, int status, const char *body)
{
	assert_int_equal(r->status, status);
	assert_string_equal(r->body, body);
}

static void test_v1_get_forms(void **state)
{
	struct mmds *m = new_service(1, false);
	struct reply r;

	(void)state;
	r = serve(m, GET("/latest/meta-data", ""));
	assert_body(&r, 200, "age\nami-id\nlist\nnet/");
	assert_true(has_header(&r, "Content-Type: text/plain\r\n"));
	assert_false(r.close);
	r = serve(m, GET("/latest/meta-data", "Accept: application/json\r\n"));
	assert_body(&r, 200,
		    "{\"age\":43,\"ami-id\":\"ami-123\",\"list\":[\"x\",\"y\"],"
		    "\"net\":{\"mac\":\"aa\"}}");
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	r = serve(m, GET("/latest/meta-data/net", ""));
	assert_body(&r, 200, "mac");
	r = serve(m, GET("/latest/meta-data/ami-id", ""));
	assert_body(&r, 200, "ami-123");
	r = serve(m, GET("/latest/meta-data/ami-id", "Accept: application/json\r\n"));
	assert_body(&r, 200, "\"ami-123\"");
	r = serve(m, GET("/latest/meta-data/age", "Accept: application/json\r\n"));
	assert_body(&r, 200, "43");
	r = serve(m, GET("/latest/meta-data/age", ""));
	assert_body(&r, 501, "Cannot retrieve value. The value has an unsupported type.");
	r = serve(m, GET("/latest/meta-data/list/1", ""));
	assert_body(&r, 200, "y");
	r = serve(m, GET("/latest/meta-data/list/01", ""));
	assert_int_equal(r.status, 404);
	r = serve(m, GET("/latest/nothing", ""));
	assert_body(&r, 404, "Resource not found: /latest/nothing.");
	r = serve(m, GET("/", ""));
	assert_body(&r, 200, "a/b\nlatest/\nuser-data");
	r = serve(m, GET("/latest/meta-data/", ""));
	assert_body(&r, 200, "age\nami-id\nlist\nnet/");
	r = serve(m, GET("//latest//meta-data//net/", ""));
	assert_body(&r, 200, "mac");
	r = serve(m, GET("http://169.254.169.254/user-data", ""));
	assert_body(&r, 200, "hello");
	r = serve(m, GET("/a~1b", ""));
	assert_body(&r, 200, "slash");
	r = serve(m, GET("/user-data?x=1", ""));
	assert_int_equal(r.status, 404);
	r = serve(m, GET("http://169.254.169.254", ""));
	assert_body(&r, 400, "Invalid URI.");
	assert_int_equal(m->stats.rx_no_token, 16);
	assert_int_equal(m->stats.requests, 17);
	assert_int_equal(m->stats.failed_requests, 5);
	free_service(m);
}

static void test_empty_store(void **state)
{
	struct mmds m;
	struct reply r;

	(void)state;
	mmds_init(&m);
	r = serve(&m, GET("/", "Accept: application/json\r\n"));
	assert_body(&r, 200, "null");
	r = serve(&m, GET("/x", ""));
	assert_int_equal(r.status, 404);
	mmds_destroy(&m);
}

static void test_methods_not_allowed(void **state)
{
	static const char *const methods[] = {"POST", "DELETE", "PATCH", "HEAD"};
	struct mmds *m = new_service(1, false);
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		char req[128];
		struct reply r;

		snprintf(req, sizeof(req), "%s /latest HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			 methods[i]);
		r = serve(m, req);
		assert_body(&r, 405, "Not allowed HTTP method.");
		assert_true(has_header(&r, "Allow: GET, PUT\r\n"));
	}
	free_service(m);
}

#define PUT_TOKEN(headers) "PUT /latest/api/token HTTP/1.1\r\n" headers "\r\n"

/* A token issued at (now_ms) for (ttl) seconds, in (out). */
static void get_token(struct mmds *m, const char *ttl, uint64_t now_ms, char *out)
{
	char req[256];
	struct reply r;

	snprintf(req, sizeof(req), PUT_TOKEN("X-metadata-token-ttl-seconds: %s\r\n"), ttl);
	r = serve_at(m, req, now_ms);
	assert_int_equal(r.status, 200);
	assert_true(r.body_len >= 43 && r.body_len < 64);
	assert_true(has_header(&r, "Content-Type: text/plain\r\n"));
	strcpy(out, r.body);
}

static void test_v2_token_requests(void **state)
{
	struct mmds *m = new_service(2, false);
	char tok[64], tok2[64];
	struct reply r;

	(void)state;
	get_token(m, "60", 1000, tok);
	get_token(m, "21600", 1000, tok2);
	assert_string_not_equal(tok, tok2);
	r = serve(m, PUT_TOKEN("X-metadata-token-ttl-seconds: 5\r\n"));
	assert_true(has_header(&r, "X-metadata-token-ttl-seconds: 5\r\n"));
	r = serve(m, PUT_TOKEN("X-aws-ec2-metadata-token-ttl-seconds: 7\r\n"));
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "X-aws-ec2-metadata-token-ttl-seconds: 7\r\n"));
	r = serve(m, PUT_TOKEN("X-metadata-token-ttl-seconds: 0\r\n"));
	assert_body(&r, 400,
		    "Invalid time to live value provided for token: 0. Please provide "
		    "a value between 1 and 21600.");
	r = serve(m, PUT_TOKEN("X-metadata-token-ttl-seconds: 21601\r\n"));
	assert_int_equal(r.status, 400);
	r = serve(m, PUT_TOKEN(""));
	assert_body(&r, 400,
		    "Token time to live value not found. Use "
		    "`X-metadata-token-ttl-seconds` or "
		    "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the "
		    "token's lifetime.");
	r = serve(m, PUT_TOKEN("X-metadata-token-ttl-seconds: ten\r\n"));
	assert_body(&r, 400,
		    "Invalid header. Reason: Invalid value. "
		    "Key:X-metadata-token-ttl-seconds; Value:ten");
	r = serve(m, PUT_TOKEN("X-metadata-token-ttl-seconds: 99999999999\r\n"));
	assert_int_equal(r.status, 400);
	r = serve(m, PUT_TOKEN("X-Forwarded-For: 10.0.0.1\r\nX-metadata-token-ttl-seconds: 5\r\n"));
	assert_body(&r, 400,
		    "Invalid header. Reason: Unsupported header name. "
		    "Key: X-Forwarded-For");
	/* Present with nothing in it still counts. */
	r = serve(m, PUT_TOKEN("X-Forwarded-For:\r\nX-metadata-token-ttl-seconds: 5\r\n"));
	assert_body(&r, 400,
		    "Invalid header. Reason: Unsupported header name. "
		    "Key: X-Forwarded-For");
	r = serve(m, "PUT /latest/api/tok HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n");
	assert_body(&r, 404, "Resource not found: /latest/api/tok.");
	/* A body on the token request is read and passed over. */
	r = serve(m, "PUT /latest/api/token HTTP/1.1\r\nx-METADATA-token-ttl-seconds: 5\r\n"
		     "Content-Length: 3\r\n\r\nabc");
	assert_int_equal(r.status, 200);
	assert_int_equal(m->stats.tokens_issued, 5);
	free_service(m);
}

static void test_v2_get_needs_token(void **state)
{
	struct mmds *m = new_service(2, false);
	char tok[64], req[256];
	struct reply r;

	(void)state;
	get_token(m, "10", 1000, tok);
	r = serve(m, GET("/user-data", ""));
	assert_body(&r, 401,
		    "No MMDS token provided. Use `X-metadata-token` or "
		    "`X-aws-ec2-metadata-token` header to specify the session token.");
	r = serve(m, GET("/user-data", "X-metadata-token: garbage\r\n"));
	assert_body(&r, 401, "MMDS token not valid.");
	r = serve(m, GET("/user-data", "X-metadata-token:\r\nAccept: application/json\r\n"));
	assert_body(&r, 401, "MMDS token not valid.");
	r = serve(m, GET("/user-data", "X-metadata-token:\r\n"));
	assert_body(&r, 401, "MMDS token not valid.");
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), tok);
	r = serve_at(m, req, 10999);
	assert_body(&r, 200, "hello");
	r = serve_at(m, req, 11000);
	assert_int_equal(r.status, 401);
	snprintf(req, sizeof(req), GET("/user-data", "X-aws-ec2-metadata-token: %s\r\n"), tok);
	r = serve_at(m, req, 5000);
	assert_body(&r, 200, "hello");
	/* A token one character short is no token. */
	tok[strlen(tok) - 1] = '\0';
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), tok);
	r = serve_at(m, req, 5000);
	assert_int_equal(r.status, 401);
	assert_int_equal(m->stats.rx_no_token, 1);
	assert_int_equal(m->stats.rx_invalid_token, 5);
	/* A restored snapshot forgets them all. */
	get_token(m, "10", 1000, tok);
	mmds_forget_tokens(m);
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), tok);
	r = serve_at(m, req, 2000);
	assert_int_equal(r.status, 401);
	free_service(m);
}

static void test_v1_tokens_optional(void **state)
{
	struct mmds *m = new_service(1, false);
	char tok[64], req[256];
	struct reply r;

	(void)state;
	get_token(m, "10", 1000, tok);
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), tok);
	r = serve(m, req);
	assert_body(&r, 200, "hello");
	r = serve(m, GET("/user-data", "X-metadata-token: nope\r\n"));
	assert_body(&r, 200, "hello");
	r = serve(m, GET("/user-data", ""));
	assert_body(&r, 200, "hello");
	assert_int_equal(m->stats.rx_invalid_token, 1);
	assert_int_equal(m->stats.rx_no_token, 1);
	free_service(m);
}

static void test_imds_compat(void **state)
{
	struct mmds *m = new_service(1, true);
	struct reply r;

	(void)state;
	r = serve(m, GET("/latest/meta-data/ami-id", "Accept: application/json\r\n"));
	assert_body(&r, 200, "ami-123");
	assert_true(has_header(&r, "Content-Type: text/plain\r\n"));
	r = serve(m, GET("/latest/meta-data/age", "Accept: application/json\r\n"));
	assert_int_equal(r.status, 501);
	free_service(m);
}

static void test_framing(void **state)
{
	static const char two[] = GET("/user-data", "") GET("/latest", "");
	struct mmds *m = new_service(1, false);
	struct reply r;
	const char *partial[] = {
	    "GET /user-data HTTP/1.1\r\nHost: x\r\n",
	    "GET /user-da",
	    "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
	};
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		r = serve(m, partial[i]);
		assert_int_equal(r.used, 0);
	}
	r = serve(m, two);
	assert_int_equal(r.used, strlen(GET("/user-data", "")));
	assert_body(&r, 200, "hello");
	r = serve(m, two + r.used);
	assert_int_equal(r.used, strlen(GET("/latest", "")));
	assert_body(&r, 200, "meta-data/");
	r = serve(m, "GARBAGE\r\n\r\nGET / HTTP/1.1\r\n\r\n");
	assert_int_equal(r.used, strlen("GARBAGE\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
	assert_body(&r, 400, "Invalid request.");
	assert_true(r.close);
	assert_true(has_header(&r, "Connection: close\r\n"));
	r = serve(m, "GET / HTTP/2.0\r\n\r\n");
	assert_int_equal(r.status, 400);
	r = serve(m, "PUT /latest/api/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "0\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_true(r.close);
	r = serve(m, GET("/user-data", "Connection: close\r\n"));
	assert_int_equal(r.status, 200);
	assert_true(r.close);
	r = serve(m, "GET /user-data HTTP/1.0\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_true(r.close);
	r = serve(m, "GET /user-data HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_false(r.close);
	/* A GET with a body: the body is taken with it. */
	r = serve(m, "GET /user-data HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy");
	assert_int_equal(r.used, strlen("GET /user-data HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"));
	assert_body(&r, 200, "hello");
	free_service(m);
}

static void test_bounds(void **state)
{
	struct mmds *m = new_service(1, false);
	char req[4096];
	struct reply r;
	size_t o = 0;
	int i;

	(void)state;
	/* Too many header lines. */
	o += (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (i = 0; i < 70; i++)
		o += (size_t)snprintf(req + o, sizeof(req) - o, "H%d: v\r\n", i);
	snprintf(req + o, sizeof(req) - o, "\r\n");
	r = serve(m, req);
	assert_int_equal(r.status, 400);
	/* A target over the URL bound. */
	o = (size_t)snprintf(req, sizeof(req), "GET /");
	memset(req + o, 'a', 1100);
	o += 1100;
	snprintf(req + o, sizeof(req) - o, " HTTP/1.1\r\n\r\n");
	r = serve(m, req);
	assert_int_equal(r.status, 400);
	/* An over-long token is simply not valid. */
	o = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-metadata-token: ");
	memset(req + o, 'a', 300);
	o += 300;
	snprintf(req + o, sizeof(req) - o, "\r\n\r\n");
	mmds_configure(m, 2, false);
	r = serve(m, req);
	assert_body(&r, 401, "MMDS token not valid.");
	free_service(m);
}

static void test_set_store_limit(void **state)
{
	struct mmds *m = new_service(1, false);
	json_t *big = json_object();
	json_t *before = m->store;
	char *text;
	size_t len;

	(void)state;
	text = malloc(MMDS_DEFAULT_LIMIT + 1);
	assert_non_null(text);
	memset(text, 'x', MMDS_DEFAULT_LIMIT);
	text[MMDS_DEFAULT_LIMIT] = '\0';
	json_object_set_new(big, "k", json_string(text));
	free(text);
	assert_int_equal(mmds_set_store(m, big, &len), -EFBIG);
	assert_true(len > MMDS_DEFAULT_LIMIT);
	assert_ptr_equal(m->store, before);
	assert_int_equal(mmds_set_store(m, json_loads("{\"a\":1}", 0, NULL), &len), 0);
	assert_int_equal(len, 7);
	free_service(m);
}

static void test_token_table_full(void **state)
{
	struct mmds *m = new_service(2, false);
	char first[64], soonest[64], last[64], tok[64], req[256];
	struct reply r;
	int i;

	(void)state;
	get_token(m, "100", 1000, first);
	get_token(m, "50", 1000, soonest); /* expires before all the others */
	for (i = 2; i < MMDS_MAX_TOKENS; i++)
		get_token(m, "200", 1000, tok);
	get_token(m, "300", 1000, last); /* the table was full: "soonest" made room */
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), soonest);
	r = serve(m, req);
	assert_int_equal(r.status, 401);
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), first);
	r = serve(m, req);
	assert_int_equal(r.status, 200);
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), last);
	r = serve(m, req);
	assert_int_equal(r.status, 200);
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), tok);
	r = serve(m, req);
	assert_int_equal(r.status, 200);
	/* Once "first" expired, its slot goes before any live one. */
	get_token(m, "10", 150000, tok);
	snprintf(req, sizeof(req), GET("/user-data", "X-metadata-token: %s\r\n"), last);
	r = serve_at(m, req, 150000);
	assert_int_equal(r.status, 200);
	free_service(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_get_forms),
	    cmocka_unit_test(test_empty_store),
	    cmocka_unit_test(test_methods_not_allowed),
	    cmocka_unit_test(test_v2_token_requests),
	    cmocka_unit_test(test_v2_get_needs_token),
	    cmocka_unit_test(test_v1_tokens_optional),
	    cmocka_unit_test(test_imds_compat),
	    cmocka_unit_test(test_framing),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_set_store_limit),
	    cmocka_unit_test(test_token_table_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
