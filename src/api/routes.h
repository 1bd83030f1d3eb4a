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

struct metrics;

/* Tell (m) how each route's request counters are named (get/put/patch_api_requests). */
void api_routes_name_metrics(struct metrics *m);

#endif
