/*
 * The API server: HTTP/1.1 on a Unix socket, on its own thread with its own event loop.
 *
 * It only speaks HTTP. Every complete request becomes a struct api_request that the VMM
 * thread takes with api_server_take() (after api_server_request_fd() polls readable) and
 * answers with api_server_reply(); the API thread never touches VM state. Errors of HTTP
 * itself (bad syntax, a body over the payload limit, a method or version it cannot parse)
 * are answered by the API thread alone, in Firecracker's shape: a 400 with a JSON
 * {"fault_message": "..."} body.
 */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "../seccomp/confine.h"
#include "../util/log.h"

#define API_DEFAULT_MAX_PAYLOAD 51200 /* --http-api-max-payload-size, as Firecracker */

enum api_method {
	API_GET,
	API_PUT,
	API_PATCH,
	API_OTHER, /* any other method the parser knows: the router refuses it */
};

/* One request, owned by the VMM thread between api_server_take() and api_server_reply(). */
struct api_request {
	enum api_method method;
	const char *method_name; /* "GET", "DELETE"...: for messages */
	char *path;		 /* the request target's path, NUL-terminated, query removed */
	char *body;		 /* NUL-terminated; body_len bytes (may hold NULs), "" if none */
	size_t body_len;
	/* The rest is the server's: which connection, and where the reply goes. */
	uint64_t conn_id;
	struct api_request *next;
};

struct api_server;

/*
 * Bind (sock_path) (it must not exist), listen, and start the API thread. Bodies over
 * (max_payload) bytes are refused. The thread logs to (log), which must outlive the
 * server. The thread installs the API filter of (seccomp) on itself before it reads a
 * byte (NULL: none), and the server starts only if it could. (*out) is the server. 0, or -errno with one line in (err, err_len).
 */
int api_server_start(const char *sock_path, size_t max_payload, struct logger *log,
		     struct seccomp_filters *seccomp, struct api_server **out, char *err,
		     size_t err_len);

/* An fd that polls readable while requests wait for api_server_take(). */
int api_server_request_fd(struct api_server *s);

/* The next waiting request, or NULL. Clears the fd's readiness when none is left. */
struct api_request *api_server_take(struct api_server *s);

/*
 * Answer (req) with (status) and (json_body) (NULL: no body; a 204 never has one) and
 * free (req). The API thread writes the response; a client that went away is fine.
 */
void api_server_reply(struct api_server *s, struct api_request *req, int status,
		      const char *json_body);

/* Stop the thread, close every connection, unlink the socket and free (s). */
void api_server_stop(struct api_server *s);

#endif
