// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/apis.h"
#include "proto/gen/kafka_msgs_gen.h"
#include "proto/kc.h"
#include "decode/observe.h"
#include "decode/internal.h"

#define ARENA_SIZE (8u << 20)	/* decoded structs of one exchange */
#define MAX_TPS 4096

enum invalid_reason {
	INV_UNKNOWN_API, INV_UNKNOWN_VERSION, INV_FIELD_OVERRUN, INV_SIZE_MISMATCH,
	INV_BAD_FIELD,
};

const char *const kt_invalid_reasons[] = {
	[INV_UNKNOWN_API] = "unknown_api",
	[INV_UNKNOWN_VERSION] = "unknown_version",
	[INV_FIELD_OVERRUN] = "field_overrun",
	[INV_SIZE_MISMATCH] = "size_mismatch",
	[INV_BAD_FIELD] = "bad_field",
	NULL,
};



struct kt_observer *kt_observer_new(struct kt_groups *groups)
{
	struct kt_observer *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->mem = malloc(ARENA_SIZE);
	if (!o->mem) {
		free(o);
		return NULL;
	}
	kc_arena_init(&o->arena, o->mem, ARENA_SIZE);
	o->groups = groups;
	return o;
}

void kt_observer_free(struct kt_observer *o)
{
	if (!o)
		return;
	kc_arena_fini(&o->arena);
	free(o->mem);
	free(o);
}

/* A NUL-terminated copy in the arena ("" for null). */
const char *obs_cstr(struct kt_observer *o, const char *s)
{
	size_t n = strlen(s);
	char *p = kc_arena_alloc(&o->arena, n + 1, 1);

	if (!p)
		return "";
	memcpy(p, s, n + 1);
	return p;
}

const char *obs_str(struct kt_observer *o, struct kc_str s)
{
	size_t n = s.len > 0 ? (size_t)s.len : 0;
	char *p = kc_arena_alloc(&o->arena, n + 1, 1);

	if (!p)
		return "";
	if (n)
		memcpy(p, s.p, n);
	p[n] = 0;
	return p;
}

/* Equal strings (two nulls are equal); no memcmp on a null pointer. */
static bool str_eq(struct kc_str a, struct kc_str b)
{
	return a.len == b.len && (a.len <= 0 || !memcmp(a.p, b.p, (size_t)a.len));
}

struct kt_s obs_sv(struct kc_str s)
{
	return (struct kt_s){ s.p, s.len > 0 ? s.len : 0 };
}

struct kt_s obs_sv_c(const char *s)
{
	return (struct kt_s){ s, (int)strlen(s) };
}

struct kt_tp *obs_tp(struct kt_observer *o, const char *topic, int32_t partition)
{
	struct kt_annot *an = &o->an;
	struct kt_tp *t;

	if (an->ntp >= MAX_TPS)
		return NULL;
	if (an->ntp == an->tps_cap) {
		/*
		 * Grown by doubling: the arena zeroes what it hands out, and
		 * 4096 entries up front cost a 128 KiB memset per exchange (half
		 * the agent's CPU on Produce traffic). The old block stays in the
		 * arena until the exchange is done.
		 */
		uint32_t cap = an->tps_cap ? an->tps_cap * 2 : 8;
		struct kt_tp *n = kc_arena_alloc(&o->arena, cap, sizeof(*n));

		if (!n)
			return NULL;
		if (an->ntp)
			memcpy(n, an->tps, an->ntp * sizeof(*n));
		an->tps = n;
		an->tps_cap = cap;
	}
	t = &an->tps[an->ntp++];
	memset(t, 0, sizeof(*t));
	t->topic = topic;
	t->partition = partition;
	t->error = -1;
	return t;
}

void obs_resource(struct kt_observer *o, const char *kind, struct kc_str name,
		  const char *detail)
{
	struct kt_annot *an = &o->an;
	size_t n;
	char *p;

	if (an->nresources >= KT_MAX_RESOURCES)
		return;
	n = strlen(kind) + (name.len > 0 ? name.len : 0) + (detail ? strlen(detail) : 0) + 3;
	p = kc_arena_alloc(&o->arena, n, 1);
	if (!p)
		return;
	snprintf(p, n, "%s:%.*s%s%s", kind, name.len > 0 ? name.len : 0, name.p ? name.p : "",
		 detail ? ":" : "", detail ? detail : "");
	an->resources[an->nresources++] = p;
}

/* Skip a tagged-fields section. */
static int skip_tags(struct kc_reader *r)
{
	uint32_t n, i, tag, size;

	if (kc_read_uvarint(r, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (kc_read_uvarint(r, &tag) || kc_read_uvarint(r, &size))
			return -1;
		if (size > r->len - r->pos) {
			r->truncated = 1;
			return -1;
		}
		r->pos += size;
	}
	return 0;
}

/* Position the reader at a request's body (after size and header). */
static int req_body(struct kc_reader *r, int16_t key, int16_t ver)
{
	int hv = kc_request_header_version(key, ver);
	int16_t cid;

	r->pos = 12;		/* size, api_key, api_version, correlation_id */
	if (r->len < 12)
		return -1;
	if (hv >= 1) {
		if (kc_read_int16(r, &cid))
			return -1;
		if (cid > 0) {
			if ((size_t)cid > r->len - r->pos) {
				r->truncated = 1;
				return -1;
			}
			r->pos += cid;
		}
	}
	return hv >= 2 ? skip_tags(r) : 0;
}

static int resp_body(struct kc_reader *r, int16_t key, int16_t ver)
{
	r->pos = 8;		/* size, correlation_id */
	if (r->len < 8)
		return -1;
	return kc_response_header_version(key, ver) >= 1 ? skip_tags(r) : 0;
}

/*
 * Decode one captured frame. Returns the decoded struct or NULL; for a
 * request whose capture is complete, *invalid says what is wrong with it.
 */
static void *decode(struct kt_observer *o, const struct kt_capture *cap, bool response,
		    int16_t key, int16_t ver, const char **invalid)
{
	size_t size = response ? kc_response_size(key) : kc_request_size(key);
	struct kc_reader r;
	void *out;
	int err;

	if (!cap->len || !size)
		return NULL;
	out = kc_arena_alloc(&o->arena, 1, size);
	if (!out)
		return NULL;
	kc_reader_init(&r, cap->buf, cap->len, &o->arena);
	r.structure = cap->structure;
	if (response ? resp_body(&r, key, ver) : req_body(&r, key, ver))
		goto bad;
	err = response ? kc_decode_response(key, ver, &r, out)
		       : kc_decode_request(key, ver, &r, out);
	if (err && !r.truncated && !r.error)
		return NULL;
	if (r.error)
		goto bad;
	/* What a complete capture holds must be exactly the frame. */
	if (cap->complete && !cap->truncated) {
		if (r.truncated)
			goto bad;
		if (r.pos != cap->len) {
			if (invalid)
				*invalid = kt_invalid_reasons[INV_SIZE_MISMATCH];
			return NULL;
		}
	}
	return out;
bad:
	if (invalid && cap->complete && !cap->truncated)
		*invalid = kt_invalid_reasons[r.error ? INV_BAD_FIELD : INV_FIELD_OVERRUN];
	/* A truncated capture still tells what it holds. */
	return r.truncated && !r.error ? out : NULL;
}

static void tp_records(struct kt_tp *t, const struct kc_records *rec, bool complete_only)
{
	uint32_t i;

	t->has_data = true;
	for (i = 0; i < rec->n; i++) {
		if (complete_only && !rec->v[i].complete)
			continue;
		t->records += rec->v[i].record_count;
		t->bytes += 12 + (int64_t)rec->v[i].batch_length;
	}
	t->records += rec->legacy_msgs;
	t->bytes += rec->legacy_bytes;
}

static void on_produce(struct kt_observer *o, const struct kt_exchange *x,
		       const struct kc_ProduceRequest *q, const struct kc_ProduceResponse *a)
{
	uint32_t i, j, k, l;

	if (!q)
		return;
	o->an.acks = q->acks;
	o->an.acks_known = true;
	if (q->transactional_id.len > 0)
		o->an.txn_id = obs_str(o, q->transactional_id);
	for (i = 0; i < q->topic_data.n; i++) {
		const struct kc_ProduceRequest_TopicProduceData *td = &q->topic_data.v[i];
		const char *topic = obs_str(o, td->name);

		for (j = 0; j < td->partition_data.n; j++) {
			const struct kc_ProduceRequest_PartitionProduceData *pd = &td->partition_data.v[j];
			struct kt_tp *t = obs_tp(o, topic, pd->index);

			if (!t)
				return;
			tp_records(t, &pd->records, false);
			/*
			 * acks=0: every record sent counts, unless a response
			 * (a broker may send one anyway) says otherwise.
			 */
			if (q->acks == 0 || x->status == KT_STATUS_NO_RESPONSE)
				t->error = 0;
			for (k = 0; a && k < a->responses.n; k++) {
				const struct kc_ProduceResponse_TopicProduceResponse *tr = &a->responses.v[k];

				if (!str_eq(tr->name, td->name))
					continue;
				for (l = 0; l < tr->partition_responses.n; l++)
					if (tr->partition_responses.v[l].index == pd->index)
						t->error = tr->partition_responses.v[l].error_code;
			}
		}
	}
}

static void on_fetch(struct kt_observer *o, const struct kt_exchange *x,
		     const struct kc_FetchResponse *a)
{
	uint32_t i, j, b;
	bool any = false;
	char idbuf[37];

	if (!a)
		return;
	if (x->api_version >= 7) {
		o->an.has_error = true;
		o->an.error = a->error_code;
	}
	for (i = 0; i < a->responses.n; i++) {
		const struct kc_FetchResponse_FetchableTopicResponse *tr = &a->responses.v[i];
		const char *topic = x->api_version >= 13 ?
			obs_cstr(o, kt_topics_name(o->groups, tr->topic_id.b, idbuf)) :
			obs_str(o, tr->topic);

		for (j = 0; j < tr->partitions.n; j++) {
			const struct kc_FetchResponse_PartitionData *pd = &tr->partitions.v[j];
			struct kt_tp *t = obs_tp(o, topic, pd->partition_index);

			if (!t)
				return;
			t->error = pd->error_code;
			tp_records(t, &pd->records, true);
			if (t->records)
				any = true;
			if (pd->error_code)
				continue;
			kt_groups_high_watermark(o->groups, obs_sv_c(topic), pd->partition_index,
						 pd->high_watermark, o->ts);
			for (b = 0; b < pd->records.n; b++) {
				const struct kc_batch *bt = &pd->records.v[b];

				kt_groups_batch(o->groups, obs_sv_c(topic), pd->partition_index,
						bt->base_offset, bt->base_offset + bt->last_offset_delta,
						bt->max_timestamp);
			}
		}
	}
	o->an.empty_fetch = !any;
}

static void on_metadata(struct kt_observer *o, const struct kc_MetadataResponse *a, int16_t ver)
{
	static const uint8_t zero[16];
	uint32_t i, j;

	if (!a)
		return;
	for (i = 0; i < a->topics.n; i++) {
		const struct kc_MetadataResponse_MetadataResponseTopic *t = &a->topics.v[i];
		const char *name = obs_str(o, t->name);

		if (ver >= 10 && t->name.len > 0 && memcmp(t->topic_id.b, zero, 16))
			kt_topics_learn(o->groups, t->topic_id.b, obs_sv(t->name));
		if (t->error_code) {
			struct kt_tp *tp = obs_tp(o, name, -1);

			if (tp)
				tp->error = t->error_code;
		}
		for (j = 0; j < t->partitions.n; j++) {
			struct kt_tp *tp;

			if (!t->partitions.v[j].error_code)
				continue;
			tp = obs_tp(o, name, t->partitions.v[j].partition_index);
			if (tp)
				tp->error = t->partitions.v[j].error_code;
		}
	}
}

static void on_list_offsets(struct kt_observer *o, const struct kc_ListOffsetsRequest *q,
			    const struct kc_ListOffsetsResponse *a)
{
	uint32_t i, j, k, l;

	if (!a)
		return;
	for (i = 0; i < a->topics.n; i++) {
		const struct kc_ListOffsetsResponse_ListOffsetsTopicResponse *tr = &a->topics.v[i];
		const char *topic = obs_str(o, tr->name);

		for (j = 0; j < tr->partitions.n; j++) {
			const struct kc_ListOffsetsResponse_ListOffsetsPartitionResponse *pr = &tr->partitions.v[j];
			int64_t off = pr->offset;
			bool latest = false;
			struct kt_tp *t = obs_tp(o, topic, pr->partition_index);

			if (t)
				t->error = pr->error_code;
			if (pr->error_code)
				continue;
			if (pr->old_style_offsets.n)
				off = pr->old_style_offsets.v[0];
			/* Only a LATEST (-1) lookup gives the high watermark. */
			for (k = 0; q && k < q->topics.n; k++) {
				if (!str_eq(q->topics.v[k].name, tr->name))
					continue;
				for (l = 0; l < q->topics.v[k].partitions.n; l++)
					if (q->topics.v[k].partitions.v[l].partition_index == pr->partition_index &&
					    q->topics.v[k].partitions.v[l].timestamp == -1)
						latest = true;
			}
			if (latest && off >= 0)
				kt_groups_high_watermark(o->groups, obs_sv(tr->name), pr->partition_index,
							 off, o->ts);
		}
	}
}

static void on_offset_commit(struct kt_observer *o, const struct kc_OffsetCommitRequest *q,
			     const struct kc_OffsetCommitResponse *a)
{
	uint32_t i, j, k, l;

	if (!q)
		return;
	o->an.group = obs_str(o, q->group_id);
	for (i = 0; i < q->topics.n; i++) {
		const struct kc_OffsetCommitRequest_OffsetCommitRequestTopic *qt = &q->topics.v[i];

		for (j = 0; j < qt->partitions.n; j++) {
			const struct kc_OffsetCommitRequest_OffsetCommitRequestPartition *qp = &qt->partitions.v[j];
			int16_t err = -1;

			for (k = 0; a && k < a->topics.n; k++) {
				if (!str_eq(a->topics.v[k].name, qt->name))
					continue;
				for (l = 0; l < a->topics.v[k].partitions.n; l++)
					if (a->topics.v[k].partitions.v[l].partition_index == qp->partition_index)
						err = a->topics.v[k].partitions.v[l].error_code;
			}
			{
				struct kt_tp *t = obs_tp(o, obs_str(o, qt->name), qp->partition_index);

				if (t)
					t->error = err;
			}
			if (err)
				continue;
			kt_groups_committed(o->groups, obs_sv(q->group_id), obs_sv(qt->name), qp->partition_index,
					    qp->committed_offset, o->ts);
		}
	}
}

static void fetched_offset(struct kt_observer *o, struct kc_str group, struct kc_str topic,
			   int32_t partition, int64_t offset, int16_t err)
{
	struct kt_tp *t = obs_tp(o, obs_str(o, topic), partition);

	if (t)
		t->error = err;
	if (err)
		return;
	if (offset >= 0)
		kt_groups_committed(o->groups, obs_sv(group), obs_sv(topic), partition, offset, o->ts);
}

static void on_offset_fetch(struct kt_observer *o, const struct kc_OffsetFetchRequest *q,
			    const struct kc_OffsetFetchResponse *a)
{
	uint32_t i, j, k;

	if (!q || !a)
		return;
	if (q->group_id.len > 0)
		o->an.group = obs_str(o, q->group_id);
	for (i = 0; i < a->topics.n; i++)
		for (j = 0; j < a->topics.v[i].partitions.n; j++) {
			const struct kc_OffsetFetchResponse_OffsetFetchResponsePartition *p =
				&a->topics.v[i].partitions.v[j];

			fetched_offset(o, q->group_id, a->topics.v[i].name, p->partition_index,
				       p->committed_offset, p->error_code);
		}
	for (k = 0; k < a->groups.n; k++) {
		const struct kc_OffsetFetchResponse_OffsetFetchResponseGroup *g = &a->groups.v[k];

		if (!o->an.group)
			o->an.group = obs_str(o, g->group_id);
		for (i = 0; i < g->topics.n; i++)
			for (j = 0; j < g->topics.v[i].partitions.n; j++) {
				const struct kc_OffsetFetchResponse_OffsetFetchResponsePartitions *p =
					&g->topics.v[i].partitions.v[j];

				fetched_offset(o, g->group_id, g->topics.v[i].name, p->partition_index,
					       p->committed_offset, p->error_code);
			}
	}
}

static void dispatch(struct kt_observer *o, const struct kt_exchange *x, void *q, void *a)
{
	switch (x->api_key) {
	case KAFKA_API_PRODUCE: on_produce(o, x, q, a); break;
	case KAFKA_API_FETCH: on_fetch(o, x, a); break;
	case KAFKA_API_LIST_OFFSETS: on_list_offsets(o, q, a); break;
	case KAFKA_API_METADATA: on_metadata(o, a, x->api_version); break;
	case KAFKA_API_OFFSET_COMMIT: on_offset_commit(o, q, a); break;
	case KAFKA_API_OFFSET_FETCH: on_offset_fetch(o, q, a); break;
	default: obs_more(o, x, q, a); break;
	}
}

const struct kt_annot *kt_observer_exchange(struct kt_observer *o, const struct kt_exchange *x)
{
	const struct kt_api_info *api = kt_api(x->api_key);
	const char *invalid = NULL;
	void *q = NULL, *a = NULL;

	kc_arena_reset(&o->arena);
	memset(&o->an, 0, sizeof(o->an));
	o->ts = x->resp_ts_ns ? x->resp_ts_ns : x->req_ts_ns;
	o->an.acks = x->acks;
	o->an.acks_known = x->acks_known;
	if (!api) {
		o->an.invalid = kt_invalid_reasons[INV_UNKNOWN_API];
		return &o->an;
	}
	if (x->api_version < api->min_version || x->api_version > api->max_version) {
		o->an.invalid = kt_invalid_reasons[INV_UNKNOWN_VERSION];
		return &o->an;
	}
	o->an.deprecated = kt_api_deprecated(x->api_key, x->api_version);
	q = decode(o, &x->req_cap, false, x->api_key, x->api_version, &invalid);
	o->an.invalid = invalid;
	if (x->status == KT_STATUS_OK)
		a = decode(o, &x->resp_cap, true, x->api_key, x->api_version, NULL);
	o->an.req_decoded = q != NULL;
	o->an.resp_decoded = a != NULL;
	dispatch(o, x, q, a);
	return &o->an;
}
