/*
 * ember-switch: the command line, the two listening sockets, the signals and the loop.
 * See switch.h for what it does, port.c for the data path, control.c for the status.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "switch.h"
#include "../util/util.h"

#define EXIT_FAILED	1
#define EXIT_BAD_ARGS	2
#define AGE_MAX_S	(7 * 24 * 3600)
#define PORT_BACKLOG	64
#define EVENTS_PER_WAIT 64
#define TICK_MS		1000 /* how often aged entries and stuck control clients are swept */

static const char usage[] =
    "usage: ember-switch --socket PATH --control PATH [--ports N] [--age SECONDS]\n"
    "                    [--name NAME]\n"
    "\n"
    "A learning Ethernet switch for ember VMs, without root or TAP devices. Each connection\n"
    "to the SOCK_SEQPACKET socket at --socket is a port (ember --net switch=PATH); each\n"
    "message is one Ethernet frame of 14 to 9216 bytes. Source addresses are learned per\n"
    "port; known unicast goes to its port, broadcast, multicast and unknown destinations\n"
    "to every other port. A port that cannot take a frame now loses it (counted): no port\n"
    "ever holds up another.\n"
    "\n"
    "  --socket PATH    where ports connect (SOCK_SEQPACKET; required)\n"
    "  --control PATH   a SOCK_STREAM socket: each client is sent one JSON object, the\n"
    "                   per-port counters and learned addresses, and closed (required)\n"
    "  --ports N        at most N ports at once, 1 to 4096 (default 64)\n"
    "  --age SECONDS    forget an address not seen for this long (default 300)\n"
    "  --name NAME      the \"name\" in the status (default: the --socket path)\n"
    "  --help           print this help and exit\n"
    "\n"
    "SIGTERM or SIGINT: exits 0 and removes both socket files. Exit status 2 for a bad\n"
    "argument, 1 when a socket cannot be made.\n";

static void bad_arg(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void bad_arg(const char *fmt, ...)
{
	va_list ap;

	fputs("ember-switch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(EXIT_BAD_ARGS);
}

/*
 * A listening socket of (type) at (path). A socket file left by a switch that is gone
 * (nobody accepts on it) is replaced; a live one, or any other file, is not. The fd, or
 * -errno with the reason in (why, why_len).
 */
static int listen_at(const char *path, int type, char *why, size_t why_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, probe, err;

	if (unix_addr(&addr, path)) {
		snprintf(why, why_len, "longer than %d bytes", UNIX_PATH_LEN_MAX);
		return -ENAMETOOLONG;
	}
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, why_len, "exists and is not a socket");
			return -EEXIST;
		}
		probe = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			err = errno;
			snprintf(why, why_len, "socket: %s", strerror(err));
			return -err;
		}
		err = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) ? errno : 0;
		close(probe);
		if (err != ECONNREFUSED) {
			snprintf(why, why_len, "in use (another ember-switch listens there)");
			return -EADDRINUSE;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		snprintf(why, why_len, "socket: %s", strerror(err));
		return -err;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, PORT_BACKLOG)) {
		err = errno;
		snprintf(why, why_len, "%s", strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

/* SIGTERM and SIGINT as a descriptor the loop reads; blocked, so they only arrive there. */
static int signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN); /* a peer gone: sends fail with EPIPE instead */
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void parse_args(int argc, char **argv, struct sw *sw, uint64_t *age_s)
{
	enum { OPT_SOCKET = 256, OPT_CONTROL, OPT_PORTS, OPT_AGE, OPT_NAME, OPT_HELP };
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"ports", required_argument, NULL, OPT_PORTS},
	    {"age", required_argument, NULL, OPT_AGE},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			sw->sock_path = optarg;
			break;
		case OPT_CONTROL:
			sw->ctl_path = optarg;
			break;
		case OPT_PORTS:
			if (parse_uint(optarg, 1, SWITCH_PORT_MAX, &v))
				bad_arg("--ports %s: must be a number from 1 to %u", optarg,
					SWITCH_PORT_MAX);
			sw->max_ports = v;
			break;
		case OPT_AGE:
			if (parse_uint(optarg, 1, AGE_MAX_S, &v))
				bad_arg("--age %s: must be a number of seconds from 1 to %u",
					optarg, AGE_MAX_S);
			*age_s = v;
			break;
		case OPT_NAME:
			sw->name = optarg;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			exit(0);
		default:
			bad_arg("unknown option");
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (!sw->sock_path || !*sw->sock_path)
		bad_arg("--socket PATH is required");
	if (!sw->ctl_path || !*sw->ctl_path)
		bad_arg("--control PATH is required");
	if (!strcmp(sw->sock_path, sw->ctl_path))
		bad_arg("--socket and --control must be two paths");
	if (!sw->name)
		sw->name = sw->sock_path;
}

/* One turn of the loop: wait up to (timeout_ms), dispatch, then close what closed. */
static int sw_turn(struct sw *sw, int timeout_ms)
{
	struct epoll_event ev[EVENTS_PER_WAIT];
	struct signalfd_siginfo si;
	int i, n;

	n = epoll_wait(sw->epoll_fd, ev, EVENTS_PER_WAIT, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		unsigned int index = (uint32_t)ev[i].data.u64;

		switch (ev[i].data.u64 >> 32) {
		case SRC_PORT_LISTEN:
			port_accept(sw);
			break;
		case SRC_CTL_LISTEN:
			control_accept(sw);
			break;
		case SRC_SIGNAL:
			while (read(sw->signal_fd, &si, sizeof(si)) == sizeof(si))
				sw->stop = true;
			break;
		case SRC_PORT:
			port_event(sw, index, ev[i].events);
			break;
		case SRC_CLIENT:
			control_event(sw, index, ev[i].events);
			break;
		}
	}
	port_reap(sw);
	control_reap(sw);
	return 0;
}

static int sw_run(struct sw *sw)
{
	uint64_t next_tick = sw_now_ms() + TICK_MS;
	int ret = 0;

	while (!sw->stop && !ret) {
		uint64_t now = sw_now_ms();

		if (now >= next_tick) {
			switch_table_expire(sw->table, now);
			control_expire(sw, now, false);
			next_tick = now + TICK_MS;
		}
		ret = sw_turn(sw, next_tick - now);
	}
	return ret;
}

/*
 * Room for a descriptor per port, per control client and a few of our own: a full table
 * of descriptors would make accept fail while the listening socket stays readable, and
 * the loop spin. 0, or -EMFILE when the hard limit is too low.
 */
static int reserve_fds(unsigned int max_ports)
{
	rlim_t need = max_ports + CONTROL_CLIENTS_MAX + 16;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need) {
		fprintf(stderr,
			"ember-switch: --ports %u needs %llu file descriptors; the limit is "
			"%llu\n",
			max_ports, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int sw_open(struct sw *sw, uint64_t age_s)
{
	char why[256];
	unsigned int i;
	int fd;

	if (reserve_fds(sw->max_ports))
		return -EMFILE;
	sw->table = malloc(sizeof(*sw->table));
	sw->ports = calloc(sw->max_ports, sizeof(*sw->ports));
	if (!sw->table || !sw->ports)
		return -ENOMEM;
	switch_table_init(sw->table, age_s * 1000);
	for (i = 0; i < sw->max_ports; i++)
		sw->ports[i].fd = -1;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		sw->clients[i].fd = -1;
	sw->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	sw->signal_fd = signals_fd();
	if (sw->epoll_fd < 0 || sw->signal_fd < 0) {
		fprintf(stderr, "ember-switch: epoll or signalfd: %s\n", strerror(errno));
		return -errno;
	}
	fd = listen_at(sw->sock_path, SOCK_SEQPACKET, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "ember-switch: --socket %s: %s\n", sw->sock_path, why);
		return fd;
	}
	sw->port_listen_fd = fd;
	fd = listen_at(sw->ctl_path, SOCK_STREAM, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "ember-switch: --control %s: %s\n", sw->ctl_path, why);
		unlink(sw->sock_path);
		return fd;
	}
	sw->ctl_listen_fd = fd;
	if (sw_watch(sw, sw->port_listen_fd, EPOLLIN, sw_tag(SRC_PORT_LISTEN, 0)) ||
	    sw_watch(sw, sw->ctl_listen_fd, EPOLLIN, sw_tag(SRC_CTL_LISTEN, 0)) ||
	    sw_watch(sw, sw->signal_fd, EPOLLIN, sw_tag(SRC_SIGNAL, 0))) {
		fprintf(stderr, "ember-switch: epoll_ctl: %s\n", strerror(errno));
		unlink(sw->sock_path);
		unlink(sw->ctl_path);
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sw *sw = calloc(1, sizeof(*sw));
	uint64_t age_s = SWITCH_AGE_DEFAULT_S;
	int ret;

	if (!sw)
		return EXIT_FAILED;
	sw->max_ports = SWITCH_PORTS_DEFAULT;
	sw->epoll_fd = sw->port_listen_fd = sw->ctl_listen_fd = sw->signal_fd = -1;
	parse_args(argc, argv, sw, &age_s);
	if (sw_open(sw, age_s))
		return EXIT_FAILED;
	fprintf(stderr, "ember-switch: %s: listening on %s (control %s), %u ports, age %llu s\n",
		sw->name, sw->sock_path, sw->ctl_path, sw->max_ports, (unsigned long long)age_s);
	ret = sw_run(sw);
	if (ret)
		fprintf(stderr, "ember-switch: epoll_wait: %s\n", strerror(-ret));
	unlink(sw->sock_path);
	unlink(sw->ctl_path);
	port_close_all(sw);
	control_expire(sw, 0, true);
	fprintf(stderr, "ember-switch: %s: stopped\n", sw->name);
	return ret ? EXIT_FAILED : 0;
}
