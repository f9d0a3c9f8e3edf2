/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Numbers from the command line, strictly: all of the string, in range. */
#ifndef KAFKATAP_PARSE_H
#define KAFKATAP_PARSE_H

#include <stdint.h>

/* Return 0, or -1 (not a number, trailing bytes, out of [min, max]). */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int parse_double(const char *s, double min, double max, double *out);
/* "9092,9093" appended to ports[have..max). Returns the new count or -1. */
int parse_ports(const char *s, uint16_t *ports, int max, int have);

#endif
