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

/*
 * What decides whether a packet matters, read first and kept on the stack:
 * a pure ACK or a packet of another port leaves before anything else is
 * touched. Addresses are copied later, for packets that matter.
 */
struct l4 {
	__u32	seq;
	__u32	payload_off;	/* offset of the TCP payload in the skb */
	__u32	payload_len;
	__u16	sport;		/* host order */
	__u16	dport;
	__u16	l3;		/* offset of the IP header */
	__u8	family;		/* 4 or 6 */
	__u8	tcp_flags;
};

/* ip_end: offset one past the IP packet (Ethernet padding excluded). */
static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off, __u32 *l4,
				      __u32 *ip_end)
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
	*l4 = off + ihl;
	return 0;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off, __u32 *l4,
				      __u32 *ip_end)
{
	struct ipv6hdr buf, *ip6 = hdr_at(skb, off, sizeof(buf), &buf);
	struct { __u8 nexthdr; __u8 len; } ext;
	__u32 plen;
	__u8 nh;
	int i;

	if (!ip6 || ip6->version != 6)
		return -1;
	plen = bpf_ntohs(ip6->payload_len);
	*ip_end = plen ? off + sizeof(buf) + plen : skb->len;
	nh = ip6->nexthdr;
	off += sizeof(buf);
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

/* l2_len: bytes before the IP header (14 for Ethernet, 0 for tun/wireguard, cgroup). */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 l2_len, struct l4 *h)
{
	struct tcphdr buf, *th;
	__u32 l4, ip_end, doff, end;
	int err;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		h->family = 4;
		err = parse_ipv4(skb, l2_len, &l4, &ip_end);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		h->family = 6;
		err = parse_ipv6(skb, l2_len, &l4, &ip_end);
	} else {
		return -1;
	}
	if (err)
		return -1;
	th = hdr_at(skb, l4, sizeof(buf), &buf);
	if (!th)
		return -1;
	doff = th->doff * 4;
	if (doff < sizeof(buf))
		return -1;
	end = ip_end < skb->len ? ip_end : skb->len;
	h->l3 = l2_len;
	h->sport = bpf_ntohs(th->source);
	h->dport = bpf_ntohs(th->dest);
	h->seq = bpf_ntohl(th->seq);
	h->tcp_flags = ((__u8 *)th)[13];
	h->payload_off = l4 + doff;
	h->payload_len = end > l4 + doff ? end - (l4 + doff) : 0;
	return 0;
}

/* The whole of a packet that matters: the header fields and its addresses. */
static __always_inline int pkt_fill(struct __sk_buff *skb, const struct l4 *h, struct pkt *pk)
{
	__u32 off = h->l3 + (h->family == 4 ? 12 : 8);

	__builtin_memset(pk->saddr, 0, sizeof(pk->saddr) + sizeof(pk->daddr));
	if (h->family == 4) {
		if (bpf_skb_load_bytes(skb, off, pk->saddr, 4) ||
		    bpf_skb_load_bytes(skb, off + 4, pk->daddr, 4))
			return -1;
	} else if (bpf_skb_load_bytes(skb, off, pk->saddr, 16) ||
		   bpf_skb_load_bytes(skb, off + 16, pk->daddr, 16)) {
		return -1;
	}
	pk->sport = h->sport;
	pk->dport = h->dport;
	pk->family = h->family;
	pk->tcp_flags = h->tcp_flags;
	pk->_pad = 0;
	pk->seq = h->seq;
	pk->payload_off = h->payload_off;
	pk->payload_len = h->payload_len;
	return 0;
}

#endif
