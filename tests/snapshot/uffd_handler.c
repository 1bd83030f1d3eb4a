/*
 * uffd-handler SOCKET MEMORY_FILE: a page-fault handler for a VM restored with the Uffd
 * memory backend (ember's or Firecracker's). It listens on the Unix socket SOCKET, takes
 * one connection and from it the VMM's message: a JSON array of region mappings
 * ({"base_host_virt_addr", "size", "offset", "page_size"}; before Firecracker 1.12,
 * "page_size_kib", which also held bytes) with the userfaultfd attached. It then fills
 * each page the VM touches first with the same page of MEMORY_FILE (UFFDIO_COPY), and
 * unregisters the ranges the VM gives back (UFFD_EVENT_REMOVE: the balloon), which then
 * read as zeros.
 *
 * It exits 0 when the VMM hangs up the socket (its process has ended: it keeps the
 * connection open while it runs) and 1, with the reason on stderr, on a bad argument or
 * message or a failed copy; after the handshake it then also kills the VMM (SIGKILL, as
 * Firecracker's example handlers do), whose guest would otherwise wait for the page
 * forever. It prints how many pages it served on stdout when it ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 16
#define MAX_PENDING 4096 /* faults read but not yet served (UFFDIO_COPY said EAGAIN) */
#define MESSAGE_MAX 16384

struct region {
	uint64_t base, size, offset, page_size;
};

struct handler {
	const uint8_t *file; /* MEMORY_FILE, mapped */
	uint64_t file_size;
	struct region regions[MAX_REGIONS];
	unsigned int nr_regions;
	int uffd, sock;
	pid_t vmm; /* 0 until the handshake */
	uint64_t pending[MAX_PENDING];
	unsigned int nr_pending;
	unsigned long long served;
};

static void __attribute__((format(printf, 2, 3), noreturn))
fail(const struct handler *h, const char *fmt, ...)
{
	va_list ap;

	fputs("uffd-handler: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (h && h->vmm > 0) {
		fprintf(stderr, " (killing the VMM, pid %d)", (int)h->vmm);
		kill(h->vmm, SIGKILL);
	}
	fputc('\n', stderr);
	exit(1);
}

static int listen_once(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int lsock, sock;

	if (strlen(path) >= sizeof(addr.sun_path))
		fail(NULL, "%s: socket path too long", path);
	strcpy(addr.sun_path, path);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) || listen(lsock, 1))
		fail(NULL, "%s: cannot listen: %s", path, strerror(errno));
	do
		sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	while (sock < 0 && errno == EINTR);
	if (sock < 0)
		fail(NULL, "%s: accept: %s", path, strerror(errno));
	close(lsock);
	return sock;
}

/* An unsigned integer field of a mapping. */
static uint64_t field(const struct handler *h, json_t *m, unsigned int i, const char *name)
{
	json_t *v = json_object_get(m, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		fail(h, "mapping %u: \"%s\" is missing or not an unsigned integer", i, name);
	return (uint64_t)json_integer_value(v);
}

static void parse_mappings(struct handler *h, const char *text, size_t len)
{
	json_error_t err;
	json_t *list = json_loadb(text, len, 0, &err), *m;
	size_t i;

	if (!list)
		fail(h, "the message is not JSON (%s): %.*s", err.text, (int)len, text);
	if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > MAX_REGIONS)
		fail(h, "the message is not an array of 1 to %d mappings: %.*s", MAX_REGIONS,
		     (int)len, text);
	for (i = 0; i < json_array_size(list); i++) {
		struct region *r = &h->regions[i];
		uint64_t end;

		m = json_array_get(list, i);
		if (!json_is_object(m))
			fail(h, "mapping %zu is not an object", i);
		r->base = field(h, m, i, "base_host_virt_addr");
		r->size = field(h, m, i, "size");
		r->offset = field(h, m, i, "offset");
		r->page_size =
		    field(h, m, i, json_object_get(m, "page_size") ? "page_size" : "page_size_kib");
		if (r->page_size < 4096 || r->page_size & (r->page_size - 1))
			fail(h, "mapping %zu: a page size that is not a power of two >= 4096", i);
		if (!r->size || (r->base | r->size | r->offset) & (r->page_size - 1))
			fail(h, "mapping %zu: a base, size or offset not a multiple of the page",
			     i);
		if (__builtin_add_overflow(r->base, r->size, &end) ||
		    __builtin_add_overflow(r->offset, r->size, &end) || end > h->file_size)
			fail(h,
			     "mapping %zu: offset %llu + size %llu is past the file's end (%llu)",
			     i, (unsigned long long)r->offset, (unsigned long long)r->size,
			     (unsigned long long)h->file_size);
	}
	h->nr_regions = json_array_size(list);
	json_decref(list);
}

/* The message and the userfaultfd, in one recvmsg as the VMM sends them. */
static void handshake(struct handler *h)
{
	char text[MESSAGE_MAX];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = text, .iov_len = sizeof(text)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cmsg;
	struct ucred peer;
	socklen_t peer_len = sizeof(peer);
	ssize_t n;

	do
		n = recvmsg(h->sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail(h, "recvmsg: %s", strerror(errno));
	if (n == 0)
		fail(h, "the VMM hung up without sending the mappings");
	cmsg = CMSG_FIRSTHDR(&msg);
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC) || !cmsg || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		fail(h, "the message came without exactly one descriptor: %.*s", (int)n, text);
	memcpy(&h->uffd, CMSG_DATA(cmsg), sizeof(int));
	/* Poll on a userfaultfd reports an error unless it is non-blocking. */
	if (fcntl(h->uffd, F_SETFL, fcntl(h->uffd, F_GETFL) | O_NONBLOCK))
		fail(h, "the descriptor: %s", strerror(errno));
	parse_mappings(h, text, n);
	if (!getsockopt(h->sock, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len))
		h->vmm = peer.pid;
}

static const struct region *find_region(const struct handler *h, uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < h->nr_regions; i++)
		if (addr >= h->regions[i].base && addr - h->regions[i].base < h->regions[i].size)
			return &h->regions[i];
	return NULL;
}

/* Fill the page of (addr). false: not now (EAGAIN), try again after reading events. */
static bool serve(struct handler *h, uint64_t addr)
{
	const struct region *r = find_region(h, addr);
	uint64_t page;
	struct uffdio_copy copy;

	if (!r)
		fail(h, "a fault at 0x%llx, outside every mapping", (unsigned long long)addr);
	page = addr & ~(r->page_size - 1);
	copy = (struct uffdio_copy){
	    .dst = page,
	    .src = (uintptr_t)(h->file + r->offset + (page - r->base)),
	    .len = r->page_size,
	};
	if (!ioctl(h->uffd, UFFDIO_COPY, &copy)) {
		h->served++;
		return true;
	}
	switch (errno) {
	case EAGAIN: /* the VM's mappings are changing: an event waits to be read */
		return false;
	case EEXIST: /* another fault on the page was served first */
	case ENOENT: /* the range is no longer registered (REMOVE) or mapped */
		ioctl(h->uffd, UFFDIO_WAKE,
		      &(struct uffdio_range){.start = page, .len = r->page_size});
		return true;
	case ESRCH: /* the VMM's memory is gone: it is exiting, and the socket will say so */
		return true;
	}
	fail(h, "UFFDIO_COPY to 0x%llx: %s", (unsigned long long)page, strerror(errno));
}

static void add_pending(struct handler *h, uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < h->nr_pending; i++)
		if (h->pending[i] == addr)
			return;
	h->pending[h->nr_pending++] = addr;
}

/* Read the events there is room for, then serve what is pending. */
static void handle_events(struct handler *h)
{
	struct uffd_msg msgs[64];
	unsigned int room = MAX_PENDING - h->nr_pending, i, kept;
	ssize_t n = 0;

	/* With no room the events wait in the kernel, their threads blocked, until there is. */
	if (room)
		n = read(h->uffd, msgs, sizeof(msgs[0]) * (room < 64 ? room : 64));
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		fail(h, "reading the userfaultfd: %s", strerror(errno));
	for (i = 0; n > 0 && i < n / sizeof(msgs[0]); i++) {
		const struct uffd_msg *m = &msgs[i];

		if (m->event == UFFD_EVENT_PAGEFAULT) {
			add_pending(h, m->arg.pagefault.address);
		} else if (m->event == UFFD_EVENT_REMOVE) {
			struct uffdio_range range = {.start = m->arg.remove.start,
						     .len =
							 m->arg.remove.end - m->arg.remove.start};

			/* Unregistered, the range faults in zero pages as the guest expects. */
			/* ENOMEM, ESRCH: the range or the VM's memory is gone already. */
			if (ioctl(h->uffd, UFFDIO_UNREGISTER, &range) && errno != ENOMEM &&
			    errno != ESRCH)
				fprintf(stderr,
					"uffd-handler: UFFDIO_UNREGISTER [0x%llx, 0x%llx): %s\n",
					(unsigned long long)m->arg.remove.start,
					(unsigned long long)m->arg.remove.end, strerror(errno));
		} else {
			fprintf(stderr, "uffd-handler: ignoring userfaultfd event %u\n", m->event);
		}
	}
	for (i = kept = 0; i < h->nr_pending; i++)
		if (!serve(h, h->pending[i]))
			h->pending[kept++] = h->pending[i];
	h->nr_pending = kept;
}

int main(int argc, char **argv)
{
	struct handler *h = calloc(1, sizeof(*h));
	struct stat st;
	void *map;
	int fd;

	if (argc != 3) {
		fputs("usage: uffd-handler SOCKET MEMORY_FILE\n", stderr);
		return 2;
	}
	if (!h)
		fail(NULL, "out of memory");
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		fail(NULL, "%s: %s", argv[2], strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		fail(NULL, "%s: not a regular file with something in it", argv[2]);
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		fail(NULL, "%s: mmap: %s", argv[2], strerror(errno));
	close(fd);
	h->file = map;
	h->file_size = st.st_size;
	signal(SIGPIPE, SIG_IGN);

	h->sock = listen_once(argv[1]);
	handshake(h);
	for (;;) {
		struct pollfd fds[2] = {
		    {.fd = h->uffd, .events = POLLIN},
		    {.fd = h->sock, .events = POLLIN | POLLRDHUP},
		};
		char byte;

		/* A fault left pending waits for an event that is on its way: look again soon. */
		if (poll(fds, 2, h->nr_pending ? 1 : -1) < 0 && errno != EINTR)
			fail(h, "poll: %s", strerror(errno));
		if (fds[0].revents & (POLLERR | POLLNVAL))
			fail(h, "the userfaultfd reports an error");
		if (fds[0].revents & POLLIN || h->nr_pending)
			handle_events(h);
		if (fds[1].revents) {
			ssize_t n = recv(h->sock, &byte, 1, MSG_DONTWAIT);

			if (n > 0)
				fail(h, "unexpected data from the VMM after the mappings");
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	printf("uffd-handler: served %llu pages; the VMM hung up\n", h->served);
	return 0;
}
