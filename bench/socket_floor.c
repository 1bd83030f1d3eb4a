/*
 * The floor under bench/snapshot's exec-to-socket and request figures: a static program
 * that does what ember does before and at a snapshot load, minus the work. It listens on
 * the Unix socket argv[1], answers every HTTP request read there with "204 No Content" and
 * exits when the client closes. The same harness timing it and ember tells ember's own
 * share apart from the host's process start and wake-up costs.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char reply[] =
    "HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n";

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char buf[4096];
	ssize_t n;
	int s, c;

	if (argc != 2 || strlen(argv[1]) >= sizeof(addr.sun_path))
		return 2;
	strcpy(addr.sun_path, argv[1]);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) || listen(s, 1))
		return 1;
	c = accept(s, NULL, NULL);
	if (c < 0)
		return 1;
	/* One request per read is enough: the harness sends one and waits for the answer. */
	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write(c, reply, sizeof(reply) - 1) != (ssize_t)sizeof(reply) - 1)
			return 1;
	return 0;
}
