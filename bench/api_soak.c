/*
 * api_soak: a long run of mixed clients against ember's API socket, to see whether
 * latency, file descriptors or memory drift over time.
 *   api_soak SOCKET SECONDS PID [GOOD BAD SLOW [WINDOW_S]]
 * GOOD threads (default 4) send well-formed requests back to back on keep-alive
 * connections (GETs of the machine and VM config and the MMDS, a PUT of the MMDS, a
 * PATCH of the machine config that a running VM refuses with 400); each round trip is
 * timed. BAD threads (2) each open a connection, send one malformed request (bad
 * lengths, bad JSON, unknown fields, a bad method, a huge path, binary junk, a header
 * without a colon) and expect a 4xx or a closed connection. SLOW threads (2) hold an idle
 * connection open and dribble a request a byte every 20 ms. Every WINDOW_S (60) it
 * records, for the good requests of that window, the count and the p50/p99/max latency,
 * and ember's open fds and RSS (from /proc/PID); the same before the clients start and
 * after they have gone ("ember_before", "ember_after": the pair to judge a leak by, as
 * the windows' counts include connections open then). Prints JSON. Exit status 1 if any
 * reply was unexpected (a 5xx, a 2xx to a malformed request, no reply in 5 s).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOWS 64
#define BUCKETS	    1000
#define REPLY_MS    5000

struct window {
	unsigned long hist[BUCKETS];
	unsigned long count;
	double max_us;
	long fds, rss_kib;
};

struct soak {
	const char *path;
	double start, end, window_s;
	pthread_mutex_t lock;
	struct window windows[MAX_WINDOWS];
	atomic_ulong good, bad_answered, bad_closed, slow, unexpected;
	char first_unexpected[160];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1 us resolution below 100 us, then 2% steps: p99 to within 2%. */
static unsigned int bucket_of(double us)
{
	unsigned int b;

	if (us < 100)
		return (unsigned int)us;
	b = 100 + (unsigned int)(log(us / 100) / log(1.02));
	return b < BUCKETS ? b : BUCKETS - 1;
}

static double bucket_us(unsigned int b)
{
	return b < 100 ? b : 100 * pow(1.02, b - 100 + 1);
}

static void unexpected(struct soak *s, const char *what, const char *detail)
{
	pthread_mutex_lock(&s->lock);
	if (!s->first_unexpected[0])
		snprintf(s->first_unexpected, sizeof(s->first_unexpected), "%.60s: %.90s", what,
			 detail);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->unexpected, 1);
}

static int sock_open(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * One whole response (headers, then Content-Length bytes): its status code, 0 if the
 * connection closed first, -1 on a time-out or error.
 */
static int read_response(int fd, char *buf, size_t size)
{
	size_t have = 0, need = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char *end;

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, REPLY_MS) <= 0)
			return -1;
		n = read(fd, buf + have, size - 1 - have);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EINTR ? -1 : 0;
		have += (size_t)n;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!need) {
			char *cl = strcasestr(buf, "Content-Length:");

			need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
			if (need >= size)
				return -1;
		}
		if (have >= need)
			return strncmp(buf, "HTTP/1.1 ", 9) ? -1 : atoi(buf + 9);
	}
}

static void record(struct soak *s, double t0, double t1)
{
	unsigned int w = (unsigned int)((t0 - s->start) / s->window_s);
	double us = (t1 - t0) * 1e6;

	if (w >= MAX_WINDOWS)
		return;
	pthread_mutex_lock(&s->lock);
	s->windows[w].hist[bucket_of(us)]++;
	s->windows[w].count++;
	if (us > s->windows[w].max_us)
		s->windows[w].max_us = us;
	pthread_mutex_unlock(&s->lock);
}

/* A well-formed request and the statuses a running VM may answer it with. */
struct request {
	const char *text;
	int ok1, ok2;
};

static const struct request good_requests[] = {
	{ "GET /machine-config HTTP/1.1\r\n\r\n", 200, 200 },
	{ "GET / HTTP/1.1\r\n\r\n", 200, 200 },
	{ "GET /vm/config HTTP/1.1\r\n\r\n", 200, 200 },
	{ "PUT /mmds HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n"
	  "{\"latest\":{\"meta-data\":{\"n\":\"1\"}}}", 204, 204 },
	{ "GET /mmds HTTP/1.1\r\n\r\n", 200, 200 },
	{ "PATCH /machine-config HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"vcpu_count\":1}",
	  400, 204 }, /* 204 before InstanceStart */
	{ "GET /version HTTP/1.1\r\n\r\n", 200, 200 },
};

static const char *const bad_requests[] = {
	"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
	"PUT /machine-config HTTP/1.1\r\nContent-Length: 5\r\n\r\n{bad}",
	"PUT /mmds/config HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"nope\": 1}",
	"BLAH / HTTP/1.1\r\n\r\n",
	"GET /no/such/path HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
	"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
	"PUT /actions HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"action_type\": \"Explode\"}",
	"PATCH /vm HTTP/1.1\r\nContent-Length: 19\r\n\r\n{\"state\": \"Sleepy\"}",
};

static void *good_client(void *arg)
{
	struct soak *s = arg;
	char buf[65536];
	unsigned int i = 0;
	int fd = -1;

	while (now_s() < s->end) {
		const struct request *r = &good_requests[i++ % (sizeof(good_requests) /
							       sizeof(good_requests[0]))];
		double t0;
		int code;

		if (fd < 0 && (fd = sock_open(s->path)) < 0) {
			unexpected(s, "connect", strerror(errno));
			usleep(100000);
			continue;
		}
		t0 = now_s();
		if (write_all(fd, r->text, strlen(r->text)) ||
		    (code = read_response(fd, buf, sizeof(buf))) <= 0) {
			unexpected(s, "no reply to", r->text);
			close(fd);
			fd = -1;
			continue;
		}
		record(s, t0, now_s());
		if (code != r->ok1 && code != r->ok2)
			unexpected(s, buf, r->text);
		atomic_fetch_add(&s->good, 1);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *bad_client(void *arg)
{
	struct soak *s = arg;
	char buf[65536], path[9000];
	unsigned int i = 0;

	memcpy(path, "GET /", 5);
	memset(path + 5, 'a', 8000);
	memcpy(path + 8005, " HTTP/1.1\r\n\r\n", 14);
	while (now_s() < s->end) {
		unsigned int k = i++ % (sizeof(bad_requests) / sizeof(bad_requests[0]) + 1);
		const char *req = k < sizeof(bad_requests) / sizeof(bad_requests[0]) ?
					  bad_requests[k] : path;
		/* the TLS hello has NULs: its length is fixed */
		size_t len = req[0] == '\x16' ? 15 : strlen(req);
		int fd = sock_open(s->path), code;

		if (fd < 0) {
			unexpected(s, "connect", strerror(errno));
			usleep(100000);
			continue;
		}
		if (write_all(fd, req, len)) {
			atomic_fetch_add(&s->bad_closed, 1);
		} else {
			code = read_response(fd, buf, sizeof(buf));
			if (code == 0)
				atomic_fetch_add(&s->bad_closed, 1);
			else if (code >= 400 && code < 500)
				atomic_fetch_add(&s->bad_answered, 1);
			else
				unexpected(s, code < 0 ? "no reply to a malformed request" : buf, req);
		}
		close(fd);
	}
	return NULL;
}

static void *slow_client(void *arg)
{
	struct soak *s = arg;
	static const char req[] = "GET /machine-config HTTP/1.1\r\n\r\n";
	int idle = sock_open(s->path); /* held, silent, for the whole run */
	char buf[4096];

	while (now_s() < s->end) {
		int fd = sock_open(s->path), code;
		size_t i;

		if (fd < 0) {
			unexpected(s, "connect", strerror(errno));
			usleep(100000);
			continue;
		}
		for (i = 0; i < sizeof(req) - 1 && now_s() < s->end; i++) {
			if (write_all(fd, req + i, 1))
				break;
			usleep(20000);
		}
		if (i == sizeof(req) - 1) {
			code = read_response(fd, buf, sizeof(buf));
			if (code == 200)
				atomic_fetch_add(&s->slow, 1);
			else
				unexpected(s, "slow client", code < 0 ? "no reply" : buf);
		}
		close(fd);
	}
	if (idle >= 0)
		close(idle);
	return NULL;
}

static long proc_fds(int pid)
{
	char path[64];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

static long proc_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static double percentile(const struct window *w, double p)
{
	unsigned long want = (unsigned long)ceil(w->count * p), seen = 0;
	unsigned int b;

	for (b = 0; b < BUCKETS; b++) {
		seen += w->hist[b];
		if (seen >= want && seen)
			return bucket_us(b);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct soak s;
	int good = 4, bad = 2, slow = 2, pid, i, nw;
	pthread_t threads[256];
	int nthreads = 0;
	long fds0, rss0, fds1 = -1, rss1;

	if (argc < 4) {
		fprintf(stderr, "usage: api_soak SOCKET SECONDS PID [GOOD BAD SLOW [WINDOW_S]]\n");
		return 2;
	}
	s.path = argv[1];
	pid = atoi(argv[3]);
	if (argc >= 7) {
		good = atoi(argv[4]);
		bad = atoi(argv[5]);
		slow = atoi(argv[6]);
	}
	s.window_s = argc >= 8 ? atof(argv[7]) : 60;
	nw = (int)ceil(atof(argv[2]) / s.window_s);
	if (nw > MAX_WINDOWS || good + bad + slow > 256 || s.window_s <= 0) {
		fprintf(stderr, "api_soak: at most %d windows and 256 clients\n", MAX_WINDOWS);
		return 2;
	}
	pthread_mutex_init(&s.lock, NULL);
	fds0 = proc_fds(pid);
	rss0 = proc_rss_kib(pid);
	s.start = now_s();
	s.end = s.start + atof(argv[2]);
	for (i = 0; i < good; i++)
		pthread_create(&threads[nthreads++], NULL, good_client, &s);
	for (i = 0; i < bad; i++)
		pthread_create(&threads[nthreads++], NULL, bad_client, &s);
	for (i = 0; i < slow; i++)
		pthread_create(&threads[nthreads++], NULL, slow_client, &s);
	/* At the end of each window, while the clients still run: ember's fds and RSS. */
	for (i = 0; i < nw; i++) {
		double at = s.start + (i + 1) * s.window_s - 0.5;

		while (now_s() < at)
			usleep(100000);
		s.windows[i].fds = proc_fds(pid);
		s.windows[i].rss_kib = proc_rss_kib(pid);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	/*
	 * Once the clients are gone and ember has seen their sockets close: the figures to set
	 * against the ones before. The windows' counts hold whatever connections were open at
	 * that instant (up to one per client), so they are not a leak measure on their own.
	 */
	for (i = 0; i < 50; i++) {
		fds1 = proc_fds(pid);
		if (fds1 <= fds0)
			break;
		usleep(100000);
	}
	rss1 = proc_rss_kib(pid);
	printf("{\"seconds\": %.1f, \"clients\": {\"good\": %d, \"malformed\": %d, \"slow\": %d},\n",
	       now_s() - s.start, good, bad, slow);
	printf(" \"good_requests\": %lu, \"malformed_answered_4xx\": %lu, \"malformed_closed\": %lu,"
	       " \"slow_requests\": %lu, \"unexpected\": %lu,\n",
	       atomic_load(&s.good), atomic_load(&s.bad_answered), atomic_load(&s.bad_closed),
	       atomic_load(&s.slow), atomic_load(&s.unexpected));
	printf(" \"first_unexpected\": \"");
	for (const char *c = s.first_unexpected; *c; c++)
		printf(*c == '"' || *c == '\\' ? "\\%c" : (*c < 32 ? "?" : "%c"), *c);
	printf("\",\n \"ember_before\": {\"fds\": %ld, \"rss_kib\": %ld},\n \"windows\": [\n", fds0,
	       rss0);
	for (i = 0; i < nw; i++)
		printf("  {\"end_s\": %.0f, \"requests\": %lu, \"p50_us\": %.0f, \"p99_us\": %.0f,"
		       " \"max_us\": %.0f, \"fds\": %ld, \"rss_kib\": %ld}%s\n",
		       (i + 1) * s.window_s, s.windows[i].count, percentile(&s.windows[i], 0.5),
		       percentile(&s.windows[i], 0.99), s.windows[i].max_us, s.windows[i].fds,
		       s.windows[i].rss_kib, i + 1 < nw ? "," : "");
	printf(" ],\n \"ember_after\": {\"fds\": %ld, \"rss_kib\": %ld}}\n", fds1, rss1);
	return atomic_load(&s.unexpected) ? 1 : 0;
}
