/* The Uffd backend: see uffd.h. */
#include <errno.h>
#include <stdio.h>

#include "uffd.h"

int uffd_handoff(const struct guest_mem *mem, const char *socket_path, int *uffd, char *why,
		 size_t why_len)
{
	(void)mem;
	*uffd = -1;
	snprintf(why, why_len, "mem_backend Uffd ('%s'): not implemented yet", socket_path);
	return -ENOSYS;
}
