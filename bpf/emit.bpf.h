/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ring buffer records that carry no frame bytes: connection announcements,
 * client_id changes, stream events; and the wakeup policy of every record.
 */
#ifndef KAFKATAP_EMIT_BPF_H
#define KAFKATAP_EMIT_BPF_H

#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "maps.bpf.h"
#include "packet.bpf.h"
#include "types.bpf.h"

/* Loader knob: see rb_flags(). */
const volatile __u32 wakeup_bytes = 1 << 20;

/*
 * Waking the consumer is an irq_work, a self-IPI: on a VM a VM exit, ~8 us
 * inside the sender's transmit path. So records go without a wakeup and
 * the agent polls on a short timer; only the record that takes the backlog
 * past wakeup_bytes wakes it, once: the ones after it do not, so a burst
 * never pays a wakeup per record (edge, not level). `size` is the record's.
 */
static __always_inline __u64 rb_flags(__u32 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return avail <= wakeup_bytes && avail + size + 8 > wakeup_bytes ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Next connection id (ids are never reused while kafkatap runs). */
__u64 next_conn_id = 0;

static __always_inline __u64 conn_id_new(void)
{
	return __sync_fetch_and_add(&next_conn_id, 1) + 1;
}

/* The client and broker ends, from a packet going `dir`, as the socket sees them. */
static __always_inline void conn_of(struct kt_conn *c, const struct pkt *pk, __u8 dir, __u8 side)
{
	const __u8 *client = dir == KT_DIR_REQ ? pk->saddr : pk->daddr;
	const __u8 *broker = dir == KT_DIR_REQ ? pk->daddr : pk->saddr;

	__builtin_memcpy(c->client_addr, client, 16);
	__builtin_memcpy(c->broker_addr, broker, 16);
	c->client_port = dir == KT_DIR_REQ ? pk->sport : pk->dport;
	c->broker_port = dir == KT_DIR_REQ ? pk->dport : pk->sport;
	c->family = pk->family;
	c->side = side;
	c->_pad[0] = c->_pad[1] = 0;
}

/*
 * Before a connection's first record: what its id stands for. The flag is
 * set once the record is reserved: a record reserved later (on any CPU) is
 * read after it. Returns -1 (counted) if the ring buffer is full.
 */
static __always_inline int announce(struct kt_cstate *cs, const struct pkt *pk, __u8 dir)
{
	struct kt_rec_conn *r;

	if (cs->flags & KT_CS_ANNOUNCED)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		cnt_inc(KT_C_RB_FAIL);
		return -1;
	}
	r->type = KT_EV_CONN;
	r->version = KT_FORMAT_VERSION;
	r->flags = cs->wire_set ? KT_CONN_WIRE_PEER : 0;
	r->_pad = 0;
	r->ifindex = cs->ifindex;
	r->conn_id = cs->id;
	r->client_cgroup = cs->cgroup[0];
	r->broker_cgroup = cs->cgroup[1];
	conn_of(&r->conn, pk, dir, cs->side);
	__builtin_memcpy(r->wire_addr, cs->wire_addr, 16);
	r->wire_port = cs->wire_port;
	r->_pad2 = 0;
	r->_pad3 = 0;
	cs->flags |= KT_CS_ANNOUNCED;
	bpf_ringbuf_submit(r, rb_flags(sizeof(*r)));
	return 0;
}

/* The client_id words of the head (frame offset 14, 8-aligned at KT_HOFF). */
static __always_inline const __u64 *cid_words(const __u8 *head)
{
	return (const __u64 *)(head + KT_HOFF + KT_OFF_CLIENT_ID);
}

static __always_inline __u64 cid_mask(__s32 len, int i)
{
	if (len <= i * 8)
		return 0;
	if (len - i * 8 >= 8)
		return ~0ULL;
	return (1ULL << ((len - i * 8) * 8)) - 1;
}

/*
 * A request's client_id (len bytes at frame offset 14 of the head; -1
 * null): if it is not the connection's last, send it (KT_EV_CLIENT_ID)
 * and remember it. Returns -1 (counted) if the ring buffer is full: the
 * frame must not be reported with another's client_id.
 */
static __always_inline int client_id_sync(struct kt_cstate *cs, const __u8 *head, __s16 len)
{
	const __u64 *w = cid_words(head);
	struct kt_rec_client_id *r;
	__s32 n = len > KT_CLIENT_ID_MAX ? KT_CLIENT_ID_MAX : len;
	__u64 diff = cs->cid_len != len;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < KT_CLIENT_ID_MAX / 8; i++)
		diff |= (w[i] & cid_mask(n, i)) ^ cs->cid[i];
	if (!diff)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		cnt_inc(KT_C_RB_FAIL);
		return -1;
	}
	r->type = KT_EV_CLIENT_ID;
	r->version = KT_FORMAT_VERSION;
	r->len = len;
	r->_pad = 0;
	r->conn_id = cs->id;
	cs->cid_len = len;
#pragma clang loop unroll(disable)
	for (i = 0; i < KT_CLIENT_ID_MAX / 8; i++) {
		__u64 v = w[i] & cid_mask(n, i);

		cs->cid[i] = v;
		__builtin_memcpy(&r->client_id[i * 8], &v, 8);
	}
	bpf_ringbuf_submit(r, rb_flags(sizeof(*r)));
	return 0;
}

static __always_inline void emit_stream_ev(struct kt_cstate *cs, const struct pkt *pk,
					   __u8 type, __u8 dir, __u32 seq, __u16 flags,
					   __u64 ts)
{
	struct kt_rec_stream *ev;

	if (announce(cs, pk, dir))
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		cnt_inc(KT_C_RB_FAIL);
		return;
	}
	ev->type = type;
	ev->version = KT_FORMAT_VERSION;
	ev->dir = dir;
	ev->_pad = 0;
	ev->flags = flags;
	ev->_pad2 = 0;
	ev->seq = seq;
	ev->_pad3 = 0;
	ev->conn_id = cs->id;
	ev->ts_ns = ts;
	bpf_ringbuf_submit(ev, rb_flags(sizeof(*ev)));
}

#endif
