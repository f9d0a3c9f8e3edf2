/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The fuzzers' invariant checks: a failed one names itself and aborts. */
#ifndef KAFKATAP_FUZZ_CHECK_H
#define KAFKATAP_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); \
	abort(); } } while (0)

#endif
