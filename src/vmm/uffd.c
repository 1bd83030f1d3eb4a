/*
 * The Uffd backend: see uffd.h.
 *
 * The handshake is Firecracker's as of v1.17.0-dev (the API version ember implements; the
 * format has been the same since v1.12.0): one connection to the handler's Unix
 * stream socket and on it one message, a compact JSON array with an object per guest
 * memory region, in gpa order, its fields in this order:
 *   base_host_virt_addr  where the region is mapped in ember (the host virtual address)
 *   size                 the region's length in bytes
 *   offset               where the region starts in the snapshot's memory file
 *   page_size            the page size in bytes (4096: ember has no huge pages)
 *   page_size_kib        the same value, in bytes despite its name: the field Firecracker
 *                        1.7 added, which 1.12 deprecated for page_size and still sends
 * and, as ancillary data (SCM_RIGHTS), the userfaultfd. For example:
 *   [{"base_host_virt_addr":140230655823872,"size":134217728,"offset":0,
 *     "page_size":4096,"page_size_kib":4096}]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "uffd.h"
#include "../util/util.h"

/* How long a handler may take to accept the connection before the restore gives up. */
#define UFFD_CONNECT_TIMEOUT_S 5

/*
 * Not UFFD_USER_MODE_ONLY: KVM and ember's device threads touch guest memory from the
 * kernel (get_user_pages), and those faults must reach the handler too.
 */
static int uffd_create(char *why, size_t why_len)
{
	int fd, dev, err;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	err = -errno;
	/*
	 * The syscall is refused to the unprivileged when vm.unprivileged_userfaultfd is 0
	 * (and by some container seccomp profiles); /dev/userfaultfd (Linux 6.1) gives the
	 * same descriptor to whoever may open it, as in ember-jailer's jail.
	 */
	if (err != -EPERM && err != -ENOSYS && err != -EACCES) {
		snprintf(why, why_len, "cannot create a userfaultfd: %s", strerror(-err));
		return err;
	}
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	fd = dev < 0 ? -1 : ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		snprintf(why, why_len,
			 "cannot create a userfaultfd: the userfaultfd syscall: %s; "
			 "/dev/userfaultfd: %s",
			 strerror(-err), strerror(errno));
	if (dev >= 0)
		close(dev);
	/* The syscall's error: the device is only the fallback. */
	return fd < 0 ? err : fd;
}

/*
 * Handshake, then register every region for missing-page faults. EVENT_REMOVE, as
 * Firecracker asks for: the balloon's MADV_DONTNEED then tells the handler that a range
 * went back to zero, rather than leaving it to fill pages the guest gave up.
 */
static int uffd_register(int uffd, const struct guest_mem *mem, char *why, size_t why_len)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE};
	unsigned int i;

	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		snprintf(why, why_len, "UFFDIO_API (with UFFD_FEATURE_EVENT_REMOVE): %s",
			 strerror(errno));
		return -errno;
	}
	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		struct uffdio_register reg = {
		    .range = {.start = (uintptr_t)r->hva, .len = r->size},
		    .mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			snprintf(why, why_len, "UFFDIO_REGISTER of guest memory at 0x%llx: %s",
				 (unsigned long long)r->gpa, strerror(errno));
			return -errno;
		}
		/* What a handler serves missing pages with. */
		if (!(reg.ioctls & (1ULL << _UFFDIO_COPY))) {
			snprintf(why, why_len,
				 "the kernel offers no UFFDIO_COPY on guest memory at 0x%llx",
				 (unsigned long long)r->gpa);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* The message (see the top of the file), malloc'd; NULL when out of memory. */
static char *uffd_mappings_json(const struct guest_mem *mem)
{
	json_t *list = json_array();
	char *text = NULL;
	unsigned int i;

	if (!list)
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		json_t *m = json_object();

		if (!m || json_array_append_new(list, m) ||
		    json_object_set_new(m, "base_host_virt_addr",
					json_integer((json_int_t)(uintptr_t)r->hva)) ||
		    json_object_set_new(m, "size", json_integer((json_int_t)r->size)) ||
		    json_object_set_new(m, "offset",
					json_integer((json_int_t)guest_mem_file_offset(mem, i))) ||
		    json_object_set_new(m, "page_size", json_integer(GUEST_PAGE_SIZE)) ||
		    json_object_set_new(m, "page_size_kib", json_integer(GUEST_PAGE_SIZE)))
			goto out;
	}
	text = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(list);
	return text;
}

static int uffd_connect(const char *path, char *why, size_t why_len)
{
	struct timeval timeout = {.tv_sec = UFFD_CONNECT_TIMEOUT_S};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int sock, err;

	if (unix_addr(&addr, path)) {
		snprintf(why, why_len, "the handler's socket path '%s' is longer than %d bytes",
			 path, UNIX_PATH_LEN_MAX);
		return -ENAMETOOLONG;
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return -errno;
	}
	/* A handler that never accepts must not hang the restore: the timeout bounds both. */
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	while (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EINTR)
			continue;
		err = -errno;
		if (err == -ENOENT)
			snprintf(why, why_len, "no page-fault handler's socket at '%s'", path);
		else if (err == -ECONNREFUSED)
			snprintf(why, why_len, "no page-fault handler listening on '%s'", path);
		else if (err == -EAGAIN)
			snprintf(why, why_len,
				 "the page-fault handler on '%s' did not accept in %d s", path,
				 UFFD_CONNECT_TIMEOUT_S);
		else
			snprintf(why, why_len,
				 "cannot connect to the page-fault handler on '%s': %s", path,
				 strerror(-err));
		close(sock);
		return err;
	}
	return sock;
}

/* All of (text) in one sendmsg, with (uffd) attached to its first byte. */
static int uffd_send(int sock, const char *text, int uffd, const char *path, char *why,
		     size_t why_len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(&control, 0, sizeof(control));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &uffd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(why, why_len, "cannot send the userfaultfd to the handler on '%s': %s",
			 path, strerror(errno));
		return -errno;
	}
	/* Firecracker's handlers read the message with one recvmsg: it must go whole. */
	if ((size_t)n != iov.iov_len) {
		snprintf(why, why_len,
			 "the handler on '%s' took %zd of the %zu bytes of the message", path, n,
			 iov.iov_len);
		return -EIO;
	}
	return 0;
}

int uffd_handoff(const struct guest_mem *mem, const char *socket_path, int *uffd, int *conn,
		 char *why, size_t why_len)
{
	char *text = NULL;
	int fd, sock = -1, ret;

	*uffd = *conn = -1;
	fd = uffd_create(why, why_len);
	if (fd < 0)
		return fd;
	ret = uffd_register(fd, mem, why, why_len);
	if (!ret) {
		text = uffd_mappings_json(mem);
		if (!text) {
			snprintf(why, why_len, "out of memory for the uffd handshake");
			ret = -ENOMEM;
		}
	}
	if (!ret) {
		sock = uffd_connect(socket_path, why, why_len);
		ret = sock < 0 ? sock : 0;
	}
	if (!ret)
		ret = uffd_send(sock, text, fd, socket_path, why, why_len);
	free(text);
	if (ret) {
		if (sock >= 0)
			close(sock);
		/* Closing it unregisters the regions: the memory is plain anonymous again. */
		close(fd);
		return ret;
	}
	/*
	 * The connection stays open as long as the memory does, on purpose, as in
	 * Firecracker: handlers (Firecracker's own examples, and tests/snapshot/uffd_handler.c)
	 * take the socket's hang-up for the VM's end, and one that saw it right after the
	 * message would either stop serving a live guest or, polling the socket for further
	 * userfaultfds, read an empty message and give up.
	 */
	*uffd = fd;
	*conn = sock;
	return 0;
}
