/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Addresses as people read them: "10.0.0.1:9092", "[::1]:9092". */
#ifndef KAFKATAP_ADDR_H
#define KAFKATAP_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define KT_ADDR_STRLEN 56	/* room for the longest: "[v6 address]:65535" */

/* family 4 (the first 4 bytes of addr) or 6; buf needs KT_ADDR_STRLEN. */
void fmt_addr(char *buf, size_t len, const uint8_t *addr, int family, uint16_t port);

#endif
