/*
 * The MMDS on a network interface: an MMDS stack (mmds/stack.h) put in a virtio-net
 * device's data path as its detour, answering with the VM's one MMDS service
 * (mmds/mmds.h), and the timer that brings the stack's retransmissions out on time.
 */
#ifndef EMBER_MACHINE_MMDS_LINK_H
#define EMBER_MACHINE_MMDS_LINK_H

#include <stdint.h>

#include "../mmds/stack.h"

struct mmds;
struct mmds_link;
struct virtio_net;
struct event_loop;
struct logger;

/*
 * Answer MMDS requests to (ipv4, a dotted quad) on (net) from (mmds), both of which must
 * outlive the device. The device owns the link from then on (it frees it when it goes);
 * (*slot) points at the link until then, for mmds_link_stats. 0 or -errno.
 */
int mmds_link_attach(struct virtio_net *net, struct event_loop *loop, struct logger *log,
		     struct mmds *mmds, const char *ipv4, struct mmds_link **slot);

/* Add the link's counters to (sum). */
void mmds_link_stats_add(const struct mmds_link *l, struct mmds_stack_stats *sum);

#endif
