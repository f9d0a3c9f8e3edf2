/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKATAP_PCAP_IN_H
#define KAFKATAP_PCAP_IN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Turn one captured packet of `linktype` (Ethernet, Linux cooked v1/v2,
 * raw IP, BSD loopback) into an Ethernet frame in out. Returns 0, -ENOENT
 * for non-IP packets, another negative errno for what cannot be converted.
 */
int kt_pcap_to_eth(int linktype, const uint8_t *pkt, size_t caplen,
		   uint8_t *out, size_t outlen, size_t *olen);

#endif
