// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafkatap's program: finds every Kafka frame start in the TCP streams to
 * and from broker ports and reports each frame's header to userspace
 * through a ring buffer, with as many of the frame's bytes as the capture
 * policy of its API allows. The packet always passes unchanged (TC_ACT_UNSPEC:
 * the next program or the default action decides, as if we were not there).
 *
 * This file holds the load-time settings and the entry points; the work is
 * in track.bpf.h (frame tracking), walk.bpf.h (STRUCTURE walks), head.bpf.h
 * (frame heads), emit.bpf.h (records), packet.bpf.h (L2-L4), maps.bpf.h.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "maps.bpf.h"
#include "packet.bpf.h"
#include "track.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Loader knobs. */
const volatile __u8 broker_filter = 0;	/* only addresses in `brokers` */
const volatile __u8 any_l3_iface = 0;	/* some interface lacks Ethernet */

/* The broker ports: a global, read without a map lookup. Set before load. */
struct kt_port_bitmap ports = {};

static __always_inline bool port_set(__u16 port)
{
	return ports.bits[(port >> 6) & (KT_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

/* A new connection's state, in `scratch` until inserted. */
static __always_inline struct kt_cstate *conn_new(struct kt_scratch *sc, void *map,
						  const void *key, __u32 ifindex)
{
	struct kt_cstate *init = &sc->init;

	__builtin_memset(init, 0, sizeof(*init));
	init->id = conn_id_new();
	init->ifindex = ifindex;
	init->cid_len = -2;
	/* (A CPU that inserted it first wins: its state is the one looked up.) */
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/*
 * Everything after the packet is parsed: direction, filters, counters, the
 * connection, then the fast path or the exact tracker.
 */
static __always_inline void kt_packet(struct __sk_buff *skb, struct kt_scratch *sc)
{
	struct pkt *pk = &sc->pk;
	struct kt_cstate *cs;
	struct kt_counters *c;
	__u32 zero = 0;
	__u8 dir;

	/* A pure ACK moves no frame boundary and opens or closes nothing. */
	if (!pk->payload_len && !(pk->tcp_flags & (KT_TCP_SYN | KT_TCP_FIN | KT_TCP_RST)))
		return;
	if (port_set(pk->dport))
		dir = KT_DIR_REQ;
	else if (port_set(pk->sport))
		dir = KT_DIR_RESP;
	else
		return;
	if (broker_filter) {
		struct kt_addr_key ak = { .family = pk->family };

		__builtin_memcpy(ak.addr, dir == KT_DIR_REQ ? pk->daddr : pk->saddr, 16);
		if (!bpf_map_lookup_elem(&brokers, &ak))
			return;
	}
	c = bpf_map_lookup_elem(&counters, &zero);
	if (c) {
		c->c[KT_C_PACKETS]++;
		c->c[KT_C_PAYLOAD_BYTES] += pk->payload_len;
	}
	/* The connection: the client end first, whichever way the packet goes. */
	if (pk->family == 4) {
		struct kt_key4 k4;

		__builtin_memcpy(&k4.caddr, dir == KT_DIR_REQ ? pk->saddr : pk->daddr, 4);
		__builtin_memcpy(&k4.baddr, dir == KT_DIR_REQ ? pk->daddr : pk->saddr, 4);
		k4.cport = dir == KT_DIR_REQ ? pk->sport : pk->dport;
		k4.bport = dir == KT_DIR_REQ ? pk->dport : pk->sport;
		cs = bpf_map_lookup_elem(&conns4, &k4);
		if (cs && kt_fast(cs, pk, dir))
			return;
		if (!cs) {
			/* No state and a FIN or RST: the end of something we never saw. */
			if (pk->tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
				return;
			cs = conn_new(sc, &conns4, &k4, skb->ifindex);
			if (!cs)
				return;
		}
	} else {
		struct kt_key6 *k6 = &sc->k6;

		__builtin_memcpy(k6->caddr, dir == KT_DIR_REQ ? pk->saddr : pk->daddr, 16);
		__builtin_memcpy(k6->baddr, dir == KT_DIR_REQ ? pk->daddr : pk->saddr, 16);
		k6->cport = dir == KT_DIR_REQ ? pk->sport : pk->dport;
		k6->bport = dir == KT_DIR_REQ ? pk->dport : pk->sport;
		cs = bpf_map_lookup_elem(&conns6, k6);
		if (cs && kt_fast(cs, pk, dir))
			return;
		if (!cs) {
			if (pk->tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
				return;
			cs = conn_new(sc, &conns6, k6, skb->ifindex);
			if (!cs)
				return;
		}
	}
	kt_track(skb, pk, dir, cs, sc);
}

SEC("tc")
int kafkatap_tc(struct __sk_buff *skb)
{
	struct kt_scratch *sc;
	__u32 l2 = 14, zero = 0;

	if (any_l3_iface) {
		__u32 ifindex = skb->ifindex, *v;

		v = bpf_map_lookup_elem(&l2len, &ifindex);
		if (v)
			l2 = *v;
	}
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (sc && !parse_pkt(skb, l2, &sc->pk))
		kt_packet(skb, sc);
	return TC_ACT_UNSPEC;
}

/*
 * The first write to each page of a new ring buffer costs ~10 us on a VM
 * (the host backs the page then): the loader runs this once through
 * BPF_PROG_TEST_RUN, so that traffic never pays it. It reserves page-sized
 * records, discarded at once, until the ring is full; userspace consumes
 * them and runs it again until every page was written.
 */
#define KT_WARM_REC (4096 - 8)	/* with its 8-byte header, one page */

static long warm_one(__u32 i, void *ctx)
{
	void *r = bpf_ringbuf_reserve(&events, KT_WARM_REC, 0);

	if (!r)
		return 1;
	bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
	(*(__u32 *)ctx)++;
	return 0;
}

SEC("tc")
int kafkatap_warm(struct __sk_buff *skb)
{
	__u32 n = 0;

	bpf_loop(1 << 16, warm_one, &n, 0);
	return n;
}
