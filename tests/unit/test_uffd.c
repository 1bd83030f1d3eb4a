/*
 * The Uffd memory backend without a VM: guest memory from guest_mem_init handed to a page-fault
 * handler with uffd_handoff. The message's exact text (Firecracker's format), the pages that
 * tests/snapshot/uffd_handler.c (build/uffd-handler, or $UFFD_HANDLER) fills from a memory
 * file as another thread touches them, and the refusals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/uffd.h"
#include "unit.h"

/* Two regions, so that the second one's file offset is not 0. */
static const struct mem_region layout[] = {
    {.gpa = 0, .size = 1 * MiB},
    {.gpa = 1 * GiB, .size = 2 * MiB},
};
#define MEM_SIZE (3 * MiB)

struct scratch {
	char dir[64];
	char sock[128];
	char mem_file[128];
	char out_file[128];
	char err_file[128];
};

/* Whether this kernel (and container) gives us a userfaultfd at all. */
static bool uffd_available(void)
{
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0 && access("/dev/userfaultfd", R_OK | W_OK))
		return false;
	if (fd >= 0)
		close(fd);
	return true;
}

static void scratch_init(struct scratch *s)
{
	strcpy(s->dir, "/tmp/ember-uffd-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/uffd.sock", s->dir);
	snprintf(s->mem_file, sizeof(s->mem_file), "%s/mem", s->dir);
	snprintf(s->out_file, sizeof(s->out_file), "%s/handler.out", s->dir);
	snprintf(s->err_file, sizeof(s->err_file), "%s/handler.err", s->dir);
}

static void scratch_remove(struct scratch *s)
{
	unlink(s->sock);
	unlink(s->mem_file);
	unlink(s->out_file);
	unlink(s->err_file);
	rmdir(s->dir);
}

/* What the memory file holds at (offset): no two words alike, none zero. */
static uint64_t pattern(uint64_t offset)
{
	return (offset * 0x9e3779b97f4a7c15ULL) ^ 0x5eed5eed5eed5eedULL;
}

static void write_mem_file(const char *path)
{
	uint64_t *buf = malloc(MEM_SIZE);
	uint64_t i;
	int fd;

	assert_non_null(buf);
	for (i = 0; i < MEM_SIZE / 8; i++)
		buf[i] = pattern(i * 8);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, buf, MEM_SIZE), 0);
	close(fd);
	free(buf);
}

static void test_message_is_firecrackers(void **state)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char text[1024], expect[1024], link[64], target[64];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = text, .iov_len = sizeof(text) - 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct guest_mem mem;
	struct scratch s;
	int lsock, conn, uffd, usock, passed;
	char why[256] = "";
	ssize_t n;

	(void)state;
	if (!uffd_available())
		skip();
	scratch_init(&s);
	strcpy(addr.sun_path, s.sock);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lsock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lsock, 1), 0);
	assert_int_equal(guest_mem_init(&mem, layout, 2), 0);

	/* The connection waits in the backlog: the message is there to read after accept. */
	assert_int_equal(uffd_handoff(&mem, s.sock, &uffd, &usock, why, sizeof(why)), 0);
	assert_true(uffd >= 0);
	conn = accept(lsock, NULL, NULL);
	assert_true(conn >= 0);
	n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	text[n] = '\0';
	snprintf(expect, sizeof(expect),
		 "[{\"base_host_virt_addr\":%llu,\"size\":1048576,\"offset\":0,\"page_size\":4096,"
		 "\"page_size_kib\":4096},"
		 "{\"base_host_virt_addr\":%llu,\"size\":2097152,\"offset\":1048576,"
		 "\"page_size\":4096,\"page_size_kib\":4096}]",
		 (unsigned long long)(uintptr_t)mem.regions[0].hva,
		 (unsigned long long)(uintptr_t)mem.regions[1].hva);
	assert_string_equal(text, expect);

	/* Exactly one descriptor, and it is a userfaultfd. */
	assert_non_null(CMSG_FIRSTHDR(&msg));
	assert_int_equal(CMSG_FIRSTHDR(&msg)->cmsg_type, SCM_RIGHTS);
	assert_int_equal(CMSG_FIRSTHDR(&msg)->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	snprintf(link, sizeof(link), "/proc/self/fd/%d", passed);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "anon_inode:[userfaultfd]");
	/* Non-blocking, as a handler's poll needs (the flag is the open file's, shared). */
	assert_true(fcntl(passed, F_GETFL) & O_NONBLOCK);

	close(passed);
	close(conn);
	close(lsock);
	close(uffd);
	close(usock);
	guest_mem_destroy(&mem);
	scratch_remove(&s);
}

struct toucher {
	const struct guest_mem *mem;
	int mismatches;
};

/* Reads every word of guest memory, as a vCPU would: each first touch of a page faults. */
static void *touch_all(void *opaque)
{
	struct toucher *t = opaque;
	uint64_t offset = 0;
	unsigned int i;

	for (i = 0; i < t->mem->nr_regions; i++) {
		const uint64_t *words = (const uint64_t *)t->mem->regions[i].hva;
		uint64_t w;

		for (w = 0; w < t->mem->regions[i].size / 8; w++, offset += 8)
			t->mismatches += words[w] != pattern(offset);
	}
	return NULL;
}

/*
 * The VM's side, in a child process: the handler exits when the VMM process ends (its
 * end of the socket closes), and kills it if it must give up. Returns the exit status.
 */
static int vmm_side(const char *sock)
{
	struct toucher t = {0};
	struct guest_mem mem;
	pthread_t thread;
	char why[256] = "";
	int uffd, usock, ret;
	uint64_t i;

	alarm(20); /* a page never served must not hang the test */
	if (guest_mem_init(&mem, layout, 2))
		return 10;
	ret = uffd_handoff(&mem, sock, &uffd, &usock, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "uffd_handoff: %s\n", why);
		return 11;
	}
	/* Nothing is resident until touched: the pages come from the handler, not from us. */
	if (guest_mem_resident(&mem))
		return 12;
	t.mem = &mem;
	if (pthread_create(&thread, NULL, touch_all, &t) || pthread_join(thread, NULL))
		return 13;
	if (t.mismatches) {
		fprintf(stderr, "%d words differ from the memory file\n", t.mismatches);
		return 14;
	}
	if (guest_mem_resident(&mem) != MEM_SIZE)
		return 15;
	/* The guest's writes are its own now. */
	mem.regions[1].hva[5] = 0;
	if (mem.regions[1].hva[5])
		return 16;
	/*
	 * Pages given back (the balloon's MADV_DONTNEED) reach the handler as
	 * UFFD_EVENT_REMOVE; it unregisters them, and they read as zeros, not as the file.
	 */
	if (madvise(mem.regions[0].hva + 64 * KiB, 64 * KiB, MADV_DONTNEED))
		return 17;
	for (i = 64 * KiB; i < 128 * KiB; i++)
		if (mem.regions[0].hva[i])
			return 18;
	if (*(uint64_t *)(mem.regions[0].hva + 128 * KiB) != pattern(128 * KiB))
		return 19;
	close(uffd);
	close(usock);
	guest_mem_destroy(&mem);
	return 0;
}

/* Wait up to 20 s for (pid); its wait status, or -1 after killing it. */
static int wait_for(pid_t pid)
{
	int status, i;

	for (i = 0; i < 2000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* The first (len - 1) bytes of file (path), NUL-terminated, into (buf). */
static void read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
}

static pid_t start_handler(const struct scratch *s)
{
	const char *handler = getenv("UFFD_HANDLER") ?: "build/uffd-handler";
	struct stat st;
	pid_t pid;
	int i;

	assert_int_equal(access(handler, X_OK), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(s->out_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(s->err_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execl(handler, handler, s->sock, s->mem_file, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && stat(s->sock, &st); i++)
		usleep(10000);
	assert_true(S_ISSOCK(st.st_mode));
	return pid;
}

static void test_handler_fills_pages_from_the_file(void **state)
{
	char out[256] = "";
	struct scratch s;
	pid_t handler, vmm;
	int status;

	(void)state;
	if (!uffd_available())
		skip();
	scratch_init(&s);
	write_mem_file(s.mem_file);
	handler = start_handler(&s);

	vmm = fork();
	assert_true(vmm >= 0);
	if (vmm == 0)
		_exit(vmm_side(s.sock));
	status = wait_for(vmm);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* The VMM gone, the handler ends by itself, having served each page once. */
	status = wait_for(handler);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	read_text(s.out_file, out, sizeof(out));
	assert_non_null(strstr(out, "served 768 pages"));
	scratch_remove(&s);
}

/* (text), with the descriptor (fd) attached unless it is -1. */
static void send_message(int sock, const char *text, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		CMSG_FIRSTHDR(&msg)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&msg)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&msg)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msg)), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* The handler refuses a message that is not the mappings, and says why. */
static void test_handler_refuses_a_bad_message(void **state)
{
	static const char good[] =
	    "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4096}]";
	static const struct {
		const char *text, *reason;
		bool with_fd;
	} bad[] = {
	    {good, "without exactly one descriptor", false},
	    {"not json", "is not JSON", true},
	    {"[]", "not an array of 1 to", true},
	    {"{\"base_host_virt_addr\":4096}", "not an array of 1 to", true},
	    {"[4096]", "mapping 0 is not an object", true},
	    {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0}]",
	     "\"page_size_kib\" is missing", true},
	    {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":\"4k\"}]",
	     "\"page_size\" is missing or not an unsigned integer", true},
	    {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4095}]",
	     "not a power of two", true},
	    {"[{\"base_host_virt_addr\":4097,\"size\":4096,\"offset\":0,\"page_size\":4096}]",
	     "not a multiple of the page", true},
	    {"[{\"base_host_virt_addr\":4096,\"size\":8192,\"offset\":3141632,"
	     "\"page_size\":4096}]",
	     "offset 3141632 + size 8192 is past the file's end (3145728)", true},
	    {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":-4096,\"page_size\":4096}]",
	     "\"offset\" is missing or not an unsigned integer", true},
	};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char err[1024];
	struct scratch s;
	unsigned int i;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)state;
	assert_true(devnull >= 0);
	scratch_init(&s);
	write_mem_file(s.mem_file);
	strcpy(addr.sun_path, s.sock);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		pid_t handler = start_handler(&s);
		int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), status;

		assert_int_equal(connect(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
		send_message(sock, bad[i].text, bad[i].with_fd ? devnull : -1);
		status = wait_for(handler);
		close(sock);
		unlink(s.sock);
		read_text(s.err_file, err, sizeof(err));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || !strstr(err, bad[i].reason))
			fail_msg("message %u (%s): status 0x%x, stderr '%s', expected '%s'", i,
				 bad[i].text, status, err, bad[i].reason);
		/* Refused before the handshake ended: nobody was killed (we are still here). */
		assert_int_equal(strncmp(err, "uffd-handler: ", 14), 0);
	}
	close(devnull);
	scratch_remove(&s);
}

static void test_handoff_refusals(void **state)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char why[256], long_path[200];
	struct guest_mem mem;
	struct scratch s;
	int uffd = 7, usock = 7, sock;

	(void)state;
	if (!uffd_available())
		skip();
	scratch_init(&s);
	assert_int_equal(guest_mem_init(&mem, layout, 2), 0);

	*why = '\0';
	assert_int_equal(uffd_handoff(&mem, s.sock, &uffd, &usock, why, sizeof(why)), -ENOENT);
	assert_int_equal(uffd, -1);
	assert_non_null(strstr(why, "no page-fault handler's socket at"));
	assert_non_null(strstr(why, s.sock));

	/* A socket file nobody listens on any more. */
	strcpy(addr.sun_path, s.sock);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(sock);
	*why = '\0';
	assert_int_equal(uffd_handoff(&mem, s.sock, &uffd, &usock, why, sizeof(why)), -ECONNREFUSED);
	assert_non_null(strstr(why, "no page-fault handler listening on"));

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	*why = '\0';
	assert_int_equal(uffd_handoff(&mem, long_path, &uffd, &usock, why, sizeof(why)), -ENAMETOOLONG);
	assert_non_null(strstr(why, "longer than"));

	/* After a refusal the memory is plain again: touching it must not wait for a handler. */
	alarm(10);
	assert_int_equal(mem.regions[0].hva[0], 0);
	assert_int_equal(mem.regions[1].hva[mem.regions[1].size - 1], 0);
	alarm(0);
	guest_mem_destroy(&mem);
	scratch_remove(&s);
}

/*
 * In a child (seccomp cannot be undone): refuse the userfaultfd syscall, and with
 * (no_device) /dev/userfaultfd's USERFAULTFD_IOC_NEW too, then hand off. 0: as expected.
 */
static int handoff_refused(const char *sock, bool no_device)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	char why[256] = "";
	struct guest_mem mem;
	int uffd, usock, ret;

	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(userfaultfd), 0) ||
	    (no_device && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
					   SCMP_A1(SCMP_CMP_EQ, USERFAULTFD_IOC_NEW))) ||
	    seccomp_load(ctx))
		return 10;
	if (guest_mem_init(&mem, layout, 2))
		return 11;
	ret = uffd_handoff(&mem, sock, &uffd, &usock, why, sizeof(why));
	if (!no_device)
		return ret ? fprintf(stderr, "%s\n", why), 12 : 0;
	if (ret != -EPERM || !strstr(why, "the userfaultfd syscall: Operation not permitted") ||
	    !strstr(why, "/dev/userfaultfd: Operation not permitted"))
		return fprintf(stderr, "%d: %s\n", ret, why), 13;
	return 0;
}

/* The syscall refused (unprivileged, or a container's filter): /dev/userfaultfd instead. */
static void test_falls_back_to_dev_userfaultfd(void **state)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct scratch s;
	int lsock, status, pass;
	pid_t pid;

	(void)state;
	if (access("/dev/userfaultfd", R_OK | W_OK))
		skip();
	scratch_init(&s);
	strcpy(addr.sun_path, s.sock);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lsock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lsock, 4), 0);
	for (pass = 0; pass < 2; pass++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(handoff_refused(s.sock, pass == 1));
		status = wait_for(pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(lsock);
	scratch_remove(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_message_is_firecrackers),
	    cmocka_unit_test(test_handler_fills_pages_from_the_file),
	    cmocka_unit_test(test_handler_refuses_a_bad_message),
	    cmocka_unit_test(test_handoff_refusals),
	    cmocka_unit_test(test_falls_back_to_dev_userfaultfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
