/*
 * The Uffd memory backend of a snapshot restore: guest RAM is anonymous memory registered
 * with a userfaultfd, and a page-fault handler process, listening on a Unix socket, fills
 * each page as the guest first touches it. ember hands the handler the userfaultfd and
 * where each region lies, in Firecracker's message format (docs/snapshot.md), so handlers
 * written for Firecracker serve ember unchanged.
 */
#ifndef EMBER_VMM_UFFD_H
#define EMBER_VMM_UFFD_H

#include <stddef.h>

#include "memory.h"

/*
 * Register every region of (mem) with a new userfaultfd (missing-page faults), connect to
 * the handler at (socket_path) and send it the region mappings with the descriptor. 0 with
 * the userfaultfd in (*uffd) and the connection in (*sock), both for the caller to close
 * when the memory is gone (the handler takes the hang-up for the VM's end, as
 * Firecracker's do), or -errno with the reason in (why, why_len) and neither left open.
 */
int uffd_handoff(const struct guest_mem *mem, const char *socket_path, int *uffd, int *sock,
		 char *why, size_t why_len);

#endif
