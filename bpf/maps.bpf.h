/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps of kafkatap's program. The loader sizes them before load
 * (events, conns4, conns6, spill) and fills the configuration ones.
 */
#ifndef KAFKATAP_MAPS_BPF_H
#define KAFKATAP_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kafkatap.h"
#include "types.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Connections, both directions in one entry, by family. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct kt_key4);
	__type(value, struct kt_cstate);
} conns4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct kt_key6);
	__type(value, struct kt_cstate);
} conns6 SEC(".maps");

/* cgroup mode: connections by the local socket's cookie (one side each). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct kt_cstate);
} conns_sk SEC(".maps");

/*
 * Frame heads split over segments. Write-only for syscalls: the bytes held
 * here may belong to any frame (a SaslAuthenticate one too) and are never
 * meant for userspace.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_WRONLY);
	__type(key, struct kt_dkey);
	__type(value, struct kt_carry);
} carry SEC(".maps");

/* STRUCTURE walks that go on in a later packet. Write-only: the carry holds frame bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_WRONLY);
	__type(key, struct kt_dkey);
	__type(value, struct kt_walker);
} walks SEC(".maps");

/* Requests in flight pushed out of a connection's ring (deep pipelines). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct kt_spill_key);
	__type(value, struct kt_inflight);
} spill SEC(".maps");

/* Capture policy, one per api_key. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KT_API_MAX);
	__type(key, __u32);
	__type(value, struct kt_policy);
} policy SEC(".maps");

/*
 * STRUCTURE walk programs, loaded by the agent from the specs; `sprog_index`
 * maps (dir, api_key, api_version) to one of them (0: none), so that the
 * walk finds its program by array index, not by hash.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KT_SPROGS_MAX);
	__type(key, __u32);
	__type(value, struct kt_sprog);
} sprogs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KT_API_MAX * KT_SPROG_VERSIONS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} sprog_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct kt_addr_key);
	__type(value, __u8);
} brokers SEC(".maps");

/* ifindex -> bytes before the IP header, for interfaces without Ethernet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} l2len SEC(".maps");

/* One entry per CPU holding all counters: one lookup counts several. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kt_counters);
} counters SEC(".maps");

/* Write-only for syscalls, like `carry`: it holds frame bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_WRONLY);
	__type(key, __u32);
	__type(value, struct kt_scratch);
} scratch SEC(".maps");

static __always_inline void cnt_add(__u32 idx, __u64 v)
{
	__u32 zero = 0;
	struct kt_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c && idx < KT_C_MAX)
		c->c[idx] += v;
}

#define cnt_inc(idx) cnt_add(idx, 1)

#endif
