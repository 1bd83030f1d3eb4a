/* Host TAP devices with virtio-net headers: the backend of virtio-net. */
#ifndef EMBER_UTIL_TAP_H
#define EMBER_UTIL_TAP_H

#include <stdbool.h>

/* The size of struct virtio_net_hdr_v1, which the TAP prepends to every frame. */
#define TAP_VNET_HDR_LEN 12

/* Offloads the guest can take (TAP -> guest), as TUN_F_* bits. */
#define TAP_OFFLOAD_CSUM 0x01
#define TAP_OFFLOAD_TSO4 0x02
#define TAP_OFFLOAD_TSO6 0x04
#define TAP_OFFLOAD_UFO	 0x10

/*
 * Attach to the existing TAP interface (name) with IFF_VNET_HDR and a 12-byte header,
 * non-blocking. Returns the fd or -errno (-ENODEV: no such interface, -EBUSY: in use).
 */
int tap_open(const char *name);

/* Tell the TAP which offloads the guest negotiated. 0 or -errno. */
int tap_set_offload(int fd, unsigned int offloads);

#endif
