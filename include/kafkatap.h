/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The wire format between bpf/kafkatap.bpf.c and the agent in user/.
 *
 * Everything in this file crosses the kernel/user boundary through BPF maps
 * and the ring buffer, so it is written like a network protocol: fixed-width
 * types only, explicit padding, a format version, and a size assertion next
 * to every struct. No libc, no vmlinux.h: both sides include it as is.
 */
#ifndef KAFKATAP_H
#define KAFKATAP_H

#include <linux/types.h>

#define KT_FORMAT_VERSION	2

/* Bounds shared by both sides. */
#define KT_CLIENT_ID_MAX	64	/* bytes of client_id copied per request */
#define KT_HEAD_MAX		128	/* frame bytes the kernel parses per frame */
#define KT_CHUNK_MAX		4096	/* capture bytes per record */
#define KT_RUNS_MAX		16	/* runs per record */
#define KT_API_MAX		128	/* api_key must be below this */
#define KT_PORT_WORDS		1024	/* 65536-bit port bitmap */

/* Record types in the ring buffer. */
enum kt_ev_type {
	KT_EV_REQUEST	= 1,	/* a request frame starts */
	KT_EV_RESPONSE	= 2,	/* a response frame starts */
	KT_EV_DATA	= 3,	/* captured bytes of the current frame */
	KT_EV_CLOSE	= 4,	/* FIN or RST seen on a stream */
	KT_EV_GAP	= 5,	/* bytes lost on a stream: state dropped */
	KT_EV_CONN	= 6,	/* a connection's addresses, before its first record */
	KT_EV_CLIENT_ID	= 7,	/* the client_id of the connection's next requests */
};

enum kt_dir {
	KT_DIR_REQ	= 0,	/* client -> broker */
	KT_DIR_RESP	= 1,	/* broker -> client */
};

/* Capture policy modes (per api_key, per direction). */
enum kt_cap_mode {
	KT_CAP_HEADER	 = 0,	/* header fields only, no frame bytes */
	KT_CAP_BOUNDED	 = 1,	/* the first `limit` bytes of the frame */
	KT_CAP_FULL	 = 2,	/* the whole frame, in chunks, up to `limit` */
	KT_CAP_STRUCTURE = 3,	/* everything but record-batch bodies */
};

/* Flags in kt_rec_frame.flags. */
#define KT_FF_RESYNC		0x0001	/* frame found by resync, not by tracking */
#define KT_FF_ACKS_KNOWN	0x0002	/* acks field holds Produce acks */
#define KT_FF_API_KNOWN		0x0004	/* response: api_key/version from in-flight map */
#define KT_FF_CAPTURE		0x0008	/* captured bytes follow for this frame */
#define KT_FF_SASL_REDACTED	0x0010	/* capture suppressed: SaslAuthenticate */
#define KT_FF_STRUCTURE		0x0020	/* STRUCTURE capture: runs skip record bodies */
#define KT_FF_LATE		0x0040	/* found in a retransmission that filled a gap:
					 * reported after later frames, never captured */

/* Flags of a run of captured bytes (struct kt_run). */
#define KT_DF_LAST		0x0001	/* last captured bytes of the frame */
#define KT_DF_TRUNCATED		0x0002	/* capture stopped before the frame end */
#define KT_DF_AFTER_HOLE	0x0004	/* STRUCTURE: record bytes were skipped before this */
#define KT_DF_WALK_FAILED	0x0008	/* STRUCTURE: the frame did not follow its schema */

/* Flags in kt_rec_stream.flags. */
#define KT_CF_FIN		0x0001
#define KT_CF_RST		0x0002

/* Connection as seen from the broker: the client and broker ends. */
struct kt_conn {
	__u8	client_addr[16];	/* IPv4 uses the first 4 bytes */
	__u8	broker_addr[16];
	__u16	client_port;		/* host byte order */
	__u16	broker_port;
	__u8	family;			/* 4 or 6 */
	__u8	side;			/* enum kt_side: whose socket saw it */
	__u8	_pad[2];
};
_Static_assert(sizeof(struct kt_conn) == 40, "kt_conn is a wire format");

/*
 * Which end of a connection kafkatap saw it from. At socket level (cgroup
 * mode) each local socket is one side: a node running both ends reports
 * the connection once per side. At TC level, an interface sees the wire.
 */
enum kt_side {
	KT_SIDE_WIRE	= 0,	/* TC: packets on an interface */
	KT_SIDE_CLIENT	= 1,	/* cgroup: the local socket is the client's */
	KT_SIDE_BROKER	= 2,	/* cgroup: the local socket is the broker's */
};

/*
 * Records. Every record starts with its type and KT_FORMAT_VERSION, and
 * names its connection by the id of a KT_EV_CONN record sent before it:
 * addresses travel once per connection, not once per frame. A connection
 * is announced again after it closed, and whenever the kernel state that
 * knew it was announced was lost; an id never names two connections.
 */

/* kt_rec_conn.flags */
#define KT_CONN_WIRE_PEER	0x01	/* the peer on the wire differs (NAT): wire_* */

/* KT_EV_CONN: what the id stands for. */
struct kt_rec_conn {
	__u8	type;
	__u8	version;
	__u8	flags;			/* KT_CONN_* */
	__u8	_pad;
	__u32	ifindex;		/* the hook that first saw it (0: a cgroup's) */
	__u64	conn_id;
	/*
	 * The cgroup (v2 id) of the client's and of the broker's local
	 * socket, 0 where unknown: a socket on another host, or not seen.
	 */
	__u64	client_cgroup;
	__u64	broker_cgroup;
	/* The addresses as the local socket sees them (a Service VIP). */
	struct kt_conn conn;
	/* The remote end as the packets carry it, with KT_CONN_WIRE_PEER. */
	__u8	wire_addr[16];
	__u16	wire_port;
	__u16	_pad2;
	__u32	_pad3;
};
_Static_assert(sizeof(struct kt_rec_conn) == 96, "kt_rec_conn is a wire format");

/* KT_EV_CLIENT_ID: sent when a request's client_id differs from the last one. */
struct kt_rec_client_id {
	__u8	type;
	__u8	version;
	__s16	len;			/* true length; -1 = null */
	__u32	_pad;
	__u64	conn_id;
	char	client_id[KT_CLIENT_ID_MAX];	/* zero-filled past its length */
};
_Static_assert(sizeof(struct kt_rec_client_id) == 80, "kt_rec_client_id is a wire format");

/*
 * Captured bytes travel as runs: a run header, then `len` bytes of the
 * frame from `offset` (from the frame's first byte, its size field). A
 * STRUCTURE capture has one run per stretch of kept bytes.
 */
struct kt_run {
	__u32	offset;
	__u16	len;
	__u16	flags;			/* KT_DF_* */
};
_Static_assert(sizeof(struct kt_run) == 8, "kt_run is a wire format");

/*
 * KT_EV_REQUEST and KT_EV_RESPONSE: 48 bytes, then `nruns` runs of the
 * frame's capture found in the same packet. For responses api_key and
 * api_version come from the kernel's in-flight table (KT_FF_API_KNOWN).
 * A request's client_id is the connection's last KT_EV_CLIENT_ID.
 */
struct kt_rec_frame {
	__u8	type;
	__u8	version;
	__u16	flags;			/* KT_FF_* */
	__s32	size;			/* the frame's size field */
	__u64	conn_id;
	__u64	ts_ns;			/* CLOCK_MONOTONIC */
	__u32	frame_seq;		/* TCP seq of the frame's size field */
	__s32	correlation_id;
	__s16	api_key;
	__s16	api_version;
	__s16	acks;			/* Produce only, with KT_FF_ACKS_KNOWN */
	__u8	nruns;
	__u8	_pad;
	__u32	capture_len;		/* capture bytes of the frame in all */
	__u32	walk_info;		/* KT_DF_WALK_FAILED: pc << 16 | walk state */
};
_Static_assert(sizeof(struct kt_rec_frame) == 48, "kt_rec_frame is a wire format");

/* KT_EV_DATA: more runs of the capture of the frame at frame_seq. */
struct kt_rec_data {
	__u8	type;
	__u8	version;
	__u8	dir;			/* enum kt_dir */
	__u8	nruns;
	__u32	frame_seq;
	__u64	conn_id;
	__u32	walk_info;		/* as in kt_rec_frame */
	__u32	_pad;
};
_Static_assert(sizeof(struct kt_rec_data) == 24, "kt_rec_data is a wire format");

/* KT_EV_CLOSE and KT_EV_GAP. */
struct kt_rec_stream {
	__u8	type;
	__u8	version;
	__u8	dir;
	__u8	_pad;
	__u16	flags;			/* KT_CF_* */
	__u16	_pad2;
	__u32	seq;			/* where it happened */
	__u32	_pad3;
	__u64	conn_id;
	__u64	ts_ns;
};
_Static_assert(sizeof(struct kt_rec_stream) == 32, "kt_rec_stream is a wire format");

/* The largest record: a frame or data record full of runs. */
#define KT_REC_MAX	(48 + KT_RUNS_MAX * 8 + KT_CHUNK_MAX)

/* Map `policy`: one per api_key. */
struct kt_policy {
	__u8	req_mode;		/* enum kt_cap_mode */
	__u8	resp_mode;
	__u16	_pad;
	__u32	req_limit;		/* bytes; BOUNDED and FULL */
	__u32	resp_limit;
};
_Static_assert(sizeof(struct kt_policy) == 12, "kt_policy is a wire format");

/*
 * STRUCTURE capture walks a frame's body with a small program generated
 * from the specs (tools/gen_structure.py): every field's bytes are kept,
 * record bodies are skipped and of each record batch only its header is
 * kept: the first 61 bytes (magic 2) or 18 bytes (legacy magic 0/1).
 */
enum kt_sop {
	KT_SOP_END = 0,		/* the body ends here */
	KT_SOP_SKIP,		/* arg bytes of fixed-size fields */
	KT_SOP_STR16,		/* int16 length (-1 null), then the bytes */
	KT_SOP_CSTR,		/* uvarint length + 1 (0 null), then the bytes */
	KT_SOP_BYTES32,		/* int32 length (-1 null), then the bytes */
	KT_SOP_CBYTES,		/* uvarint length + 1 (0 null), then the bytes */
	KT_SOP_ARR32,		/* int32 count (-1 null); arg: pc after its ARR_END */
	KT_SOP_CARR,		/* uvarint count + 1 (0 null); arg: pc after its ARR_END */
	KT_SOP_ARR_END,		/* arg: pc of the element's first op */
	KT_SOP_TAGGED,		/* tagged fields: uvarint n, n x (tag, size, bytes) */
	KT_SOP_RECORDS32,	/* int32 length (-1 null), then record batches */
	KT_SOP_CRECORDS,	/* uvarint length + 1 (0 null), then record batches */
};

#define KT_SPROG_MAX		64	/* a power of two: pc & (KT_SPROG_MAX - 1) */
#define KT_WALK_DEPTH		4	/* nested arrays */
#define KT_BATCH_HEADER		61	/* magic 2 record batch header */
#define KT_LEGACY_HEADER	18	/* magic 0/1: offset, size, crc, magic, attributes */

struct kt_sop_insn {
	__u8	op;			/* enum kt_sop */
	__u8	_pad;
	__u16	arg;
};

/*
 * Map `sprogs` value, at index 1..KT_SPROGS_MAX - 1 (0: none); map
 * `sprog_index` gives the index of (dir, api_key, api_version) at
 * (dir * KT_API_MAX + api_key) * KT_SPROG_VERSIONS_MAX + api_version.
 */
#define KT_SPROGS_MAX		256
#define KT_SPROG_VERSIONS_MAX	64
struct kt_sprog {
	__u16	len;
	__u16	_pad;
	struct kt_sop_insn ops[KT_SPROG_MAX];
};
_Static_assert(sizeof(struct kt_sprog) == 4 + 4 * KT_SPROG_MAX, "kt_sprog is a wire format");

/* Read-only config, set by the loader before load (rodata). */
struct kt_api_range {
	__s8	min_version;		/* -1: api_key unknown to the specs */
	__s8	max_version;
	__s8	flexible_min;		/* first flexible version, -1 none */
	__u8	_pad;
};
_Static_assert(sizeof(struct kt_api_range) == 4, "kt_api_range is a wire format");

/* The broker ports: bit (port & 63) of word (port >> 6) (the program's `ports` global). */
struct kt_port_bitmap {
	__u64	bits[KT_PORT_WORDS];
};
_Static_assert(sizeof(struct kt_port_bitmap) == 8192, "kt_port_bitmap is a wire format");

/* Map `brokers` key: a broker address the user asked for. */
struct kt_addr_key {
	__u8	family;
	__u8	_pad[3];
	__u8	addr[16];
};
_Static_assert(sizeof(struct kt_addr_key) == 20, "kt_addr_key is a wire format");

/*
 * Per-CPU counters (map `counters`), indexed by enum kt_counter. Declared
 * once, here: the enum, the names of --stats and the /metrics export are
 * derived from this list, so a counter cannot be added without the others.
 *
 *   X(ENUM, stats_name, metric_family, label_name, label_value, help)
 *
 * Counters may share a family: with different label values (one series
 * each) or the same (their sum is the series). label_name is NULL for a
 * family without labels. The help says what to do when the counter grows.
 * The ones every packet or frame touches come first: one cache line.
 */
#define KT_HELP_MALFORMED							\
	"Frames on a broker port that are not Kafka, by the check that failed. "	\
	"Growth means non-Kafka bytes (TLS, HTTP, another protocol) on a port "	\
	"given with -p: leave that port out, or name the brokers with -b"
#define KT_HELP_DUPLICATES							\
	"Segments seen before (retransmissions, or one packet seen at two hooks); "	\
	"reported once, so harmless. Growth beyond the network's retransmissions "	\
	"means the same packets cross two watched interfaces: attach to fewer"
#define KT_HELP_FRAMES								\
	"Kafka frame heads the kernel reported, by direction. Requests here and "	\
	"not in kafkatap_requests_total are still pending or were lost on the "	\
	"way (see kafkatap_lost_events_total)"

#define KT_COUNTERS(X)								\
	X(PACKETS, "packets", "kafkatap_packets_total", NULL, NULL,		\
	  "TCP segments on broker ports that the kernel program looked at, but "	\
	  "pure ACKs (they leave before any work). Flat "	\
	  "while clients run: check the interfaces (-i), ports (-p), brokers (-b)")	\
	X(PAYLOAD_BYTES, "payload_bytes", "kafkatap_payload_bytes_total", NULL, NULL,	\
	  "TCP payload bytes on broker ports that the kernel program looked at. "	\
	  "Far above request plus response bytes: frames are missed, see "	\
	  "kafkatap_stream_gaps_total")	\
	X(FAST, "fast_segments", "kafkatap_fast_segments_total", NULL, NULL,	\
	  "Segments the kernel's fast path took: in order, inside a frame body with "	\
	  "nothing to report or capture. Informative; nothing to do")	\
	X(REQUESTS, "requests", "kafkatap_kernel_frames_total", "direction", "request",	\
	  KT_HELP_FRAMES)	\
	X(RESPONSES, "responses", "kafkatap_kernel_frames_total", "direction", "response", \
	  KT_HELP_FRAMES)	\
	X(DATA_RECORDS, "data_records", "kafkatap_capture_chunks_total", NULL, NULL,	\
	  "Records carrying captured frame bytes (a frame's own record, or a later "	\
	  "packet's data record). Fast growth costs "	\
	  "ring buffer room and agent CPU: if kafkatap_lost_events_total grows too, "	\
	  "capture less (--capture)")	\
	X(WALK_BATCHES, "structure_batch_headers", "kafkatap_structure_batch_headers_total", \
	  NULL, NULL,								\
	  "Record batch headers kept by STRUCTURE captures, record bodies "	\
	  "skipped. Growth is Produce and Fetch traffic; nothing to do")	\
	X(RB_FAIL, "ringbuf_full", "kafkatap_lost_events_total", NULL, NULL,	\
	  "Records the kernel could not hand over: the ring buffer was full. Raise "	\
	  "--ringbuf-mb, or capture less (--capture)")	\
	X(RESYNCS, "resyncs", "kafkatap_stream_resyncs_total", NULL, NULL,	\
	  "Streams whose frame boundaries were found again mid-stream (no SYN seen, "	\
	  "or after a gap). Steady growth with gaps means packets lost before the "	\
	  "hook: see kafkatap_stream_gaps_total")	\
	X(GAPS, "gaps", "kafkatap_stream_gaps_total", NULL, NULL,		\
	  "Sequence gaps (lost segments): the stream's state was dropped. Growth "	\
	  "means drops before the TC hook or traffic that bypasses it: attach to "	\
	  "every interface the traffic crosses, look for NIC drops")	\
	X(RETRANS, "retransmits", "kafkatap_duplicate_segments_total", NULL, NULL,	\
	  KT_HELP_DUPLICATES)	\
	X(OVERLAPS, "overlaps", "kafkatap_duplicate_segments_total", NULL, NULL,	\
	  KT_HELP_DUPLICATES)	\
	X(UNSYNC_SKIPPED, "unsynced_segments", "kafkatap_unsynced_segments_total", NULL, NULL, \
	  "Segments skipped while their stream had no frame boundary (open before "	\
	  "kafkatap started, or after a gap). Growth without resyncs means bytes "	\
	  "that are not Kafka on a broker port (TLS?): check -p")	\
	X(CARRIES, "split_heads", "kafkatap_split_frame_heads_total", NULL, NULL,	\
	  "Frame heads split across two segments and carried over. Normal; nothing "	\
	  "to do (a high rate only means small segments)")	\
	X(STEP_BUDGET, "step_budget", "kafkatap_step_budget_exceeded_total", NULL, NULL, \
	  "Segments holding more frames than one walk of the kernel program may "	\
	  "step through: the frames past the budget are not reported and the "	\
	  "stream resynchronises. Growth is a kafkatap limit: report it")	\
	X(MAL_SIZE, "malformed_size", "kafkatap_malformed_frames_total", "reason", "size", \
	  KT_HELP_MALFORMED)	\
	X(MAL_API_KEY, "malformed_api_key", "kafkatap_malformed_frames_total", "reason",	\
	  "api_key", KT_HELP_MALFORMED)	\
	X(MAL_VERSION, "malformed_api_version", "kafkatap_malformed_frames_total", "reason", \
	  "api_version", KT_HELP_MALFORMED)	\
	X(MAL_CORR_ID, "malformed_correlation_id", "kafkatap_malformed_frames_total",	\
	  "reason", "correlation_id", KT_HELP_MALFORMED)	\
	X(MAL_CLIENT_ID, "malformed_client_id", "kafkatap_malformed_frames_total",	\
	  "reason", "client_id", KT_HELP_MALFORMED)	\
	X(RESP_UNMATCHED, "responses_unmatched", "kafkatap_kernel_unmatched_responses_total", \
	  NULL, NULL,								\
	  "Responses the kernel found no request in flight for (sent before "	\
	  "kafkatap started, or lost in a gap): reported without their API. "	\
	  "Growth after start-up means lost request segments: see "		\
	  "kafkatap_stream_gaps_total")	\
	X(CLOSES, "closes", "kafkatap_stream_closes_total", NULL, NULL,		\
	  "FIN or RST seen on broker streams. Fast growth is connection churn: "	\
	  "clients that reconnect per request")	\
	X(SASL_REDACTED, "sasl_redacted", "kafkatap_sasl_redacted_frames_total", NULL, NULL, \
	  "SaslAuthenticate frames kept header-only whatever --capture asks: "	\
	  "credentials never leave the kernel. Growth is authentications; "	\
	  "nothing to do")	\
	X(WALK_FAILED, "structure_walks_failed", "kafkatap_structure_walk_failures_total", \
	  NULL, NULL,								\
	  "Produce requests and Fetch responses the kernel found off their schema "	\
	  "(STRUCTURE capture stopped; no record byte sent). Growth means a client "	\
	  "or broker the specs do not describe: report it with its software")	\
	X(INFLIGHT_SPILLED, "inflight_spilled", "kafkatap_inflight_spilled_total", NULL, NULL, \
	  "Requests still in flight when their stream's in-kernel ring was full, "	\
	  "moved to the spill map (pipelined clients). If unmatched responses grow "	\
	  "with it, the spill map is full too: report it")	\
	X(LATE_FRAMES, "late_frames", "kafkatap_late_frames_total", NULL, NULL,	\
	  "Frames found in a retransmission that filled a sequence gap, reported "	\
	  "late and header-only. Growth follows packet loss before the hook: see "	\
	  "kafkatap_stream_gaps_total")

enum kt_counter {
#define X(e, ...) KT_C_##e,
	KT_COUNTERS(X)
#undef X
	KT_C_MAX
};

/* Map `counters`: one per CPU. */
struct kt_counters {
	__u64	c[KT_C_MAX];
};

#define KT_MAX_FRAME_SIZE	(256u << 20)	/* larger sizes are malformed */
#define KT_RESYNC_MAX_SIZE	(64u << 20)	/* resync accepts smaller only */

#define KT_API_PRODUCE		0
#define KT_API_SASL_HANDSHAKE	17
#define KT_API_API_VERSIONS	18
#define KT_API_SASL_AUTHENTICATE 36

#endif /* KAFKATAP_H */
