/*
 * Firecracker's API paths on the VMM side: one request, checked and applied to the
 * instance on the main thread, then answered through the API server.
 */
#ifndef EMBER_API_ROUTES_H
#define EMBER_API_ROUTES_H

#include <jansson.h>

#include "server.h"

struct instance;

/* Handle (req) and reply to it; (req) is freed by the reply. */
void api_route(struct instance *in, struct api_request *req);

/* Add the API request counters (get/put/patch_api_requests) since the last call to (root). */
void api_route_metrics(struct instance *in, json_t *root);

#endif
