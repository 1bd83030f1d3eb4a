/*
 * api_latency: N sequential "GET /machine-config" requests on one keep-alive connection
 * to the API socket; prints the p50 and p99 round-trip latency in microseconds as JSON.
 * Written in C so the client's own cost stays small next to the server's.
 *   api_latency SOCKET N
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Read one response whole: headers, then Content-Length bytes of body. */
static int read_response(int fd, char *buf, size_t size)
{
	size_t have = 0, need = 0;
	char *end;

	for (;;) {
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n <= 0)
			return -1;
		have += n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!need) {
			char *cl = strcasestr(buf, "Content-Length:");

			need = (end + 4 - buf) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (have >= need)
			return strncmp(buf, "HTTP/1.1 200", 12) ? -1 : 0;
	}
}

int main(int argc, char **argv)
{
	static const char req[] = "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n"
				  "Accept: application/json\r\n\r\n";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, i, n = argc > 2 ? atoi(argv[2]) : 10000;
	double *lat = calloc(n, sizeof(*lat));
	char buf[4096];

	if (argc < 3 || !lat || n <= 0)
		return 2;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 1;
	}
	for (i = 0; i < n; i++) {
		double t0 = now_us();

		if (write(fd, req, sizeof(req) - 1) != sizeof(req) - 1 ||
		    read_response(fd, buf, sizeof(buf))) {
			fprintf(stderr, "request %d failed\n", i);
			return 1;
		}
		lat[i] = now_us() - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp);
	printf("{\"requests\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n", n,
	       lat[n / 2], lat[(int)(n * 0.99)], lat[n - 1]);
	return 0;
}
