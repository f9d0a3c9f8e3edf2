/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* C helpers every layer uses: array length, the struct around a member. */
#ifndef KAFKATAP_UTIL_H
#define KAFKATAP_UTIL_H

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#endif
