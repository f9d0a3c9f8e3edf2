// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Capture input: whatever the link type, hand out Ethernet frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>
#include "kernel/pcap_in.h"

/* Link types not all pcap headers name. */
#define LT_NULL		0
#define LT_EN10MB	1
#define LT_RAW		101
#define LT_LOOP		108
#define LT_LINUX_SLL	113
#define LT_IPV4		228
#define LT_IPV6		229
#define LT_LINUX_SLL2	276
#define LT_RAW_OLD	12
#define LT_RAW_OLD2	14

static uint16_t ethertype_of_ip(const uint8_t *p, size_t len)
{
	if (len < 1)
		return 0;
	switch (p[0] >> 4) {
	case 4: return 0x0800;
	case 6: return 0x86dd;
	}
	return 0;
}

int kt_pcap_to_eth(int linktype, const uint8_t *pkt, size_t caplen,
		   uint8_t *out, size_t outlen, size_t *olen)
{
	const uint8_t *l3 = NULL;
	uint16_t etype = 0;
	size_t n = 0;

	switch (linktype) {
	case LT_EN10MB:
		if (caplen < 14)
			return -EINVAL;
		/* Drop one 802.1Q tag: at TC the tag lives outside the data. */
		if (caplen >= 18 && pkt[12] == 0x81 && pkt[13] == 0x00) {
			if (caplen - 4 > outlen)
				return -E2BIG;
			memcpy(out, pkt, 12);
			memcpy(out + 12, pkt + 16, caplen - 16);
			*olen = caplen - 4;
			return 0;
		}
		if (caplen > outlen)
			return -E2BIG;
		memcpy(out, pkt, caplen);
		*olen = caplen;
		return 0;
	case LT_LINUX_SLL:
		if (caplen < 16)
			return -EINVAL;
		etype = pkt[14] << 8 | pkt[15];
		l3 = pkt + 16;
		n = caplen - 16;
		break;
	case LT_LINUX_SLL2:
		if (caplen < 20)
			return -EINVAL;
		etype = pkt[0] << 8 | pkt[1];
		l3 = pkt + 20;
		n = caplen - 20;
		break;
	case LT_NULL:
	case LT_LOOP:
		if (caplen < 4)
			return -EINVAL;
		l3 = pkt + 4;
		n = caplen - 4;
		etype = ethertype_of_ip(l3, n);
		break;
	case LT_RAW:
	case LT_RAW_OLD:
	case LT_RAW_OLD2:
	case LT_IPV4:
	case LT_IPV6:
		l3 = pkt;
		n = caplen;
		etype = ethertype_of_ip(l3, n);
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	if (etype != 0x0800 && etype != 0x86dd)
		return -ENOENT;		/* not IP: nothing for kafkatap */
	if (n + 14 > outlen)
		return -E2BIG;
	memset(out, 0, 12);
	out[12] = etype >> 8;
	out[13] = etype & 0xff;
	memcpy(out + 14, l3, n);
	*olen = n + 14;
	return 0;
}
