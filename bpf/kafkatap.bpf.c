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

/*
 * The broker ports: up to KT_PORT_LIST of them in rodata (its first cache
 * line, read anyway), else a bitmap global (no map lookup, but 8 KiB).
 */
#define KT_PORT_LIST 8
const volatile __u16 port_list[KT_PORT_LIST] = {};
const volatile __u8 n_port_list = 0;	/* 0: use the bitmap */
struct kt_port_bitmap ports = {};

static __always_inline bool port_set(__u16 port)
{
	int i;

	if (n_port_list) {
#pragma unroll
		for (i = 0; i < KT_PORT_LIST; i++)
			if (i < n_port_list && port_list[i] == port)
				return true;
		return false;
	}
	return ports.bits[(port >> 6) & (KT_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

/* A new connection's state, in `scratch` until inserted. */
static __always_inline struct kt_cstate *conn_new(struct kt_scratch *sc, void *map,
						  const void *key, __u32 ifindex, __u8 side)
{
	struct kt_cstate *init = &sc->init;

	__builtin_memset(init, 0, sizeof(*init));
	init->id = conn_id_new();
	init->ifindex = ifindex;
	init->cid_len = -2;
	init->side = side;
	/* (A CPU that inserted it first wins: its state is the one looked up.) */
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

static __always_inline bool broker_ok(const __u8 *addr, __u8 family)
{
	struct kt_addr_key ak = { .family = family };

	__builtin_memcpy(ak.addr, addr, 16);
	return bpf_map_lookup_elem(&brokers, &ak) != NULL;
}

static __always_inline struct kt_counters *count(const struct l4 *h)
{
	__u32 zero = 0;
	struct kt_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c) {
		c->c[KT_C_PACKETS]++;
		c->c[KT_C_PAYLOAD_BYTES] += h->payload_len;
	}
	return c;
}

/* The fast path took it: counted with the packet (one lookup, one line). */
static __always_inline bool fast(struct kt_cstate *cs, const struct l4 *h, __u8 dir,
				 struct kt_counters *c)
{
	if (!kt_fast(cs, h, dir))
		return false;
	if (c)
		c->c[KT_C_FAST]++;
	return true;
}

/*
 * The cgroup of the socket that sent the packet (TC egress, or a cgroup
 * hook): the client's for a request, the broker's for a response. Learnt
 * late, the connection is announced again with it.
 */
static __always_inline void learn_cgroup(struct __sk_buff *skb, struct kt_cstate *cs,
					 __u8 end)
{
	__u64 cg;

	if (cs->cgroup[end & 1] || !skb->sk)
		return;
	cg = bpf_skb_cgroup_id(skb);
	if (!cg)
		return;
	cs->cgroup[end & 1] = cg;
	cs->flags &= ~KT_CS_ANNOUNCED;
}

/* The exact tracker, for what the fast path did not take; cs NULL: none yet. */
static __always_inline void slow(struct __sk_buff *skb, const struct l4 *h, __u8 dir,
				 struct kt_cstate *cs, void *map, const void *key,
				 struct kt_scratch *sc)
{
	if (pkt_fill(skb, h, &sc->pk))
		return;
	if (!cs) {
		/* No state and a FIN or RST: the end of something we never saw. */
		if (h->tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
			return;
		cs = conn_new(sc, map, key, skb->ifindex, KT_SIDE_WIRE);
		if (!cs)
			return;
	}
	/* A packet with a local socket is on its way out: its sender's. */
	learn_cgroup(skb, cs, dir == KT_DIR_REQ ? 0 : 1);
	kt_track(skb, &sc->pk, dir, cs, sc, true);
}

/*
 * Everything after the headers are parsed: direction, filters, counters,
 * the connection, then the fast path or the exact tracker.
 */
static __always_inline void kt_packet(struct __sk_buff *skb, const struct l4 *h)
{
	struct kt_counters *c;
	struct kt_scratch *sc;
	struct kt_cstate *cs;
	__u32 zero = 0;
	__u8 dir;

	/* A pure ACK moves no frame boundary and opens or closes nothing. */
	if (!h->payload_len && !(h->tcp_flags & (KT_TCP_SYN | KT_TCP_FIN | KT_TCP_RST)))
		return;
	if (port_set(h->dport))
		dir = KT_DIR_REQ;
	else if (port_set(h->sport))
		dir = KT_DIR_RESP;
	else
		return;
	/* The connection: the client end first, whichever way the packet goes. */
	if (h->family == 4) {
		__u32 buf[2], *a = hdr_at(skb, h->l3 + 12, 8, buf);
		struct kt_key4 k4;

		if (!a)
			return;
		if (broker_filter) {
			__u32 b[4] = { a[dir == KT_DIR_REQ ? 1 : 0] };

			if (!broker_ok((const __u8 *)b, 4))
				return;
		}
		c = count(h);
		k4.caddr = a[dir == KT_DIR_REQ ? 0 : 1];
		k4.baddr = a[dir == KT_DIR_REQ ? 1 : 0];
		k4.cport = dir == KT_DIR_REQ ? h->sport : h->dport;
		k4.bport = dir == KT_DIR_REQ ? h->dport : h->sport;
		cs = bpf_map_lookup_elem(&conns4, &k4);
		if (cs && fast(cs, h, dir, c))
			return;
		sc = bpf_map_lookup_elem(&scratch, &zero);
		if (sc)
			slow(skb, h, dir, cs, &conns4, &k4, sc);
	} else {
		struct kt_key6 *k6;
		struct pkt *pk;

		sc = bpf_map_lookup_elem(&scratch, &zero);
		if (!sc || pkt_fill(skb, h, &sc->pk))
			return;
		pk = &sc->pk;
		if (broker_filter && !broker_ok(dir == KT_DIR_REQ ? pk->daddr : pk->saddr, 6))
			return;
		c = count(h);
		k6 = &sc->k6;
		__builtin_memcpy(k6->caddr, dir == KT_DIR_REQ ? pk->saddr : pk->daddr, 16);
		__builtin_memcpy(k6->baddr, dir == KT_DIR_REQ ? pk->daddr : pk->saddr, 16);
		k6->cport = dir == KT_DIR_REQ ? pk->sport : pk->dport;
		k6->bport = dir == KT_DIR_REQ ? pk->dport : pk->sport;
		cs = bpf_map_lookup_elem(&conns6, k6);
		if (cs && fast(cs, h, dir, c))
			return;
		slow(skb, h, dir, cs, &conns6, k6, sc);
	}
}

SEC("tc")
int kafkatap_tc(struct __sk_buff *skb)
{
	struct l4 h = {};
	__u32 l2 = 14;

	if (any_l3_iface) {
		__u32 ifindex = skb->ifindex, *v;

		v = bpf_map_lookup_elem(&l2len, &ifindex);
		if (v)
			l2 = *v;
	}
	if (!parse_l4(skb, l2, &h))
		kt_packet(skb, &h);
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

static __always_inline bool same16(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/*
 * Socket level (cgroup_skb on the cgroup v2 root, or a cgroup): every
 * local socket's packets, in every network namespace, once per socket.
 * A connection is keyed by its socket's cookie, so NAT between the two
 * directions (a Service VIP, DNAT, masquerade) cannot split it, and is
 * reported with the addresses the socket sees; the data starts at the IP
 * header. A node running both ends of a connection sees it once per end
 * (side client, side broker).
 */
static __always_inline void kt_cg(struct __sk_buff *skb, bool egress)
{
	struct bpf_sock *sk;
	struct kt_counters *c;
	struct kt_scratch *sc;
	struct kt_cstate *cs;
	struct l4 h = {};
	__u16 lport, rport;
	__u32 zero = 0;
	__u64 cookie;
	__u8 dir, side;
	struct pkt *pk;

	if (parse_l4(skb, 0, &h))
		return;
	if (!h.payload_len && !(h.tcp_flags & (KT_TCP_SYN | KT_TCP_FIN | KT_TCP_RST)))
		return;
	lport = egress ? h.sport : h.dport;
	rport = egress ? h.dport : h.sport;
	if (port_set(rport)) {
		side = KT_SIDE_CLIENT;
		dir = egress ? KT_DIR_REQ : KT_DIR_RESP;
	} else if (port_set(lport)) {
		side = KT_SIDE_BROKER;
		dir = egress ? KT_DIR_RESP : KT_DIR_REQ;
	} else {
		return;
	}
	cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		return;
	c = count(&h);
	cs = bpf_map_lookup_elem(&conns_sk, &cookie);
	if (cs && fast(cs, &h, dir, c))
		return;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc || !skb->sk)
		return;
	sk = bpf_sk_fullsock(skb->sk);
	if (!sk)
		return;
	pk = &sc->pk;
	if (pkt_fill(skb, &h, pk))
		return;
	/*
	 * The socket's view of the two ends: the packet's saddr is the
	 * sender. A remote end on the wire other than the socket's (the
	 * egress hook runs after the OUTPUT DNAT) is the wire peer.
	 */
	{
		__u8 local[16] = {}, remote[16] = {}, *wire = egress ? pk->daddr : pk->saddr;
		__u16 rsock = bpf_ntohs(sk->dst_port);

		if (h.family == 4) {
			__builtin_memcpy(local, &sk->src_ip4, 4);
			__builtin_memcpy(remote, &sk->dst_ip4, 4);
		} else {
			__builtin_memcpy(local, sk->src_ip6, 16);
			__builtin_memcpy(remote, sk->dst_ip6, 16);
		}
		if (broker_filter &&
		    !broker_ok(side == KT_SIDE_CLIENT ? remote : local, h.family))
			return;
		if (!cs) {
			if (h.tcp_flags & (KT_TCP_FIN | KT_TCP_RST))
				return;
			cs = conn_new(sc, &conns_sk, &cookie, 0, side);
			if (!cs)
				return;
		}
		if (!cs->wire_set && (rsock != rport || !same16(remote, wire))) {
			__builtin_memcpy(cs->wire_addr, wire, 16);
			cs->wire_port = rport;
			cs->wire_set = 1;
			cs->flags &= ~KT_CS_ANNOUNCED;
		}
		__builtin_memcpy(egress ? pk->saddr : pk->daddr, local, 16);
		__builtin_memcpy(egress ? pk->daddr : pk->saddr, remote, 16);
		if (egress) {
			pk->sport = sk->src_port;
			pk->dport = rsock;
		} else {
			pk->sport = rsock;
			pk->dport = sk->src_port;
		}
	}
	learn_cgroup(skb, cs, side == KT_SIDE_CLIENT ? 0 : 1);
	kt_track(skb, pk, dir, cs, sc, false);
}

SEC("cgroup_skb/egress")
int kafkatap_cg_egress(struct __sk_buff *skb)
{
	kt_cg(skb, true);
	return 1;	/* always pass */
}

SEC("cgroup_skb/ingress")
int kafkatap_cg_ingress(struct __sk_buff *skb)
{
	kt_cg(skb, false);
	return 1;
}
