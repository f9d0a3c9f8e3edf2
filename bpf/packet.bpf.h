/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * L2/L3/L4 parsing for kafkatap's TC program: Ethernet (or no L2), IPv4 and
 * IPv6 (with a bounded walk over extension headers), TCP.
 *
 * Headers are read in place when they are in the linear area (they are,
 * for packets the stack builds), else copied with bpf_skb_load_bytes(),
 * which reaches non-linear data.
 */
#ifndef KAFKATAP_PACKET_BPF_H
#define KAFKATAP_PACKET_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "types.bpf.h"

#ifndef KT_MAX_IPV6_EXT
#define KT_MAX_IPV6_EXT 4
#endif



/*
 * A pointer to len bytes at off: into the packet when linear there, else
 * into buf. NULL if the packet is shorter.
 */
static __always_inline void *hdr_at(struct __sk_buff *skb, __u32 off, __u32 len, void *buf)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (off <= 0xffff && data + off + len <= end)
		return data + off;
	return bpf_skb_load_bytes(skb, off, buf, len) ? NULL : buf;
}

/* ip_end: offset one past the IP packet (Ethernet padding excluded). */
static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off,
				      struct pkt *pk, __u32 *l4, __u32 *ip_end)
{
	struct iphdr buf, *ip = hdr_at(skb, off, sizeof(buf), &buf);
	__u32 ihl, tot;

	if (!ip)
		return -1;
	if (ip->version != 4 || ip->protocol != IPPROTO_TCP)
		return -1;
	/* A fragment (MF set or non-zero offset) carries no TCP header we can use. */
	if (ip->frag_off & bpf_htons(0x3fff))
		return -1;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(buf))
		return -1;
	tot = bpf_ntohs(ip->tot_len);
	/* BIG TCP GSO packets carry tot_len 0: the skb length is the truth. */
	*ip_end = tot ? off + tot : skb->len;
	pk->family = 4;
	__builtin_memcpy(pk->saddr, &ip->saddr, 4);
	__builtin_memcpy(pk->daddr, &ip->daddr, 4);
	*l4 = off + ihl;
	return 0;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off,
				      struct pkt *pk, __u32 *l4, __u32 *ip_end)
{
	struct ipv6hdr ip6;
	struct { __u8 nexthdr; __u8 len; } ext;
	__u32 plen;
	__u8 nh;
	int i;

	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
		return -1;
	if (ip6.version != 6)
		return -1;
	plen = bpf_ntohs(ip6.payload_len);
	*ip_end = plen ? off + sizeof(ip6) + plen : skb->len;
	__builtin_memcpy(pk->saddr, &ip6.saddr, 16);
	__builtin_memcpy(pk->daddr, &ip6.daddr, 16);
	pk->family = 6;
	nh = ip6.nexthdr;
	off += sizeof(ip6);
	/* A bounded loop: the verifier walks it, no unrolling needed. */
	for (i = 0; i < KT_MAX_IPV6_EXT; i++) {
		if (nh == IPPROTO_TCP)
			break;
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
		    nh != IPPROTO_DSTOPTS && nh != IPPROTO_AH)
			return -1;	/* fragments, ESP, no next header ... */
		if (bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)))
			return -1;
		off += nh == IPPROTO_AH ? (ext.len + 2) * 4 : (ext.len + 1) * 8;
		nh = ext.nexthdr;
	}
	if (nh != IPPROTO_TCP)
		return -1;
	*l4 = off;
	return 0;
}

/* l2_len: bytes before the IP header (14 for Ethernet, 0 for tun/wireguard). */
static __always_inline int parse_pkt(struct __sk_buff *skb, __u32 l2_len,
				     struct pkt *pk)
{
	struct tcphdr buf, *th;
	__u32 l4, ip_end, doff, end;
	int err;

	__builtin_memset(pk, 0, sizeof(*pk));
	if (skb->protocol == bpf_htons(ETH_P_IP))
		err = parse_ipv4(skb, l2_len, pk, &l4, &ip_end);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		err = parse_ipv6(skb, l2_len, pk, &l4, &ip_end);
	else
		return -1;
	if (err)
		return -1;
	th = hdr_at(skb, l4, sizeof(buf), &buf);
	if (!th)
		return -1;
	doff = th->doff * 4;
	if (doff < sizeof(buf))
		return -1;
	end = ip_end < skb->len ? ip_end : skb->len;
	pk->sport = bpf_ntohs(th->source);
	pk->dport = bpf_ntohs(th->dest);
	pk->seq = bpf_ntohl(th->seq);
	pk->tcp_flags = ((__u8 *)th)[13];
	pk->payload_off = l4 + doff;
	pk->payload_len = end > l4 + doff ? end - (l4 + doff) : 0;
	return 0;
}

#endif
