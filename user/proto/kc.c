// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The runtime of the generated Kafka codec: see kc.h. */
#include <stdlib.h>
#include <string.h>
#include "proto/kc.h"

static const char *const kc_errs[] = {
	[KC_OK] = "ok",
	[KC_ERR_LENGTH] = "impossible length",
	[KC_ERR_VARINT] = "overlong varint",
	[KC_ERR_NULL] = "null in a non-nullable field",
	[KC_ERR_TAG] = "tagged field overruns its size",
	[KC_ERR_ARENA] = "arena full",
	[KC_ERR_VERSION] = "unsupported version",
	[KC_ERR_API] = "unknown api key",
	[KC_ERR_RECORDS] = "record set not walkable in structure mode",
};

const char *kc_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(kc_errs) / sizeof(kc_errs[0]))
		return "unknown error";
	return kc_errs[err];
}

/*
 * In test builds (KC_WITH_ENCODERS) under AddressSanitizer the free part of
 * an arena is poisoned and allocations are separated by redzones, so that
 * an access past an array the decoder allocated is caught too. Such an
 * arena must be given back with kc_arena_fini() before its memory is.
 */
#if defined(KC_WITH_ENCODERS) && defined(__SANITIZE_ADDRESS__)
#define KC_ASAN 1
#elif defined(KC_WITH_ENCODERS) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KC_ASAN 1
#endif
#endif
#ifdef KC_ASAN
#include <sanitizer/asan_interface.h>
#define KC_REDZONE	16
#else
#define ASAN_POISON_MEMORY_REGION(p, n)		((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n)	((void)(p), (void)(n))
#define KC_REDZONE	0
#endif

void kc_arena_init(struct kc_arena *a, void *mem, size_t cap)
{
	a->base = mem;
	a->cap = mem ? cap : 0;
	a->used = 0;
	ASAN_POISON_MEMORY_REGION(a->base, a->cap);
}

void kc_arena_reset(struct kc_arena *a)
{
	ASAN_POISON_MEMORY_REGION(a->base, a->used);
	a->used = 0;
}

void kc_arena_fini(struct kc_arena *a)
{
	ASAN_UNPOISON_MEMORY_REGION(a->base, a->cap);
	a->base = NULL;
	a->cap = a->used = 0;
}

void *kc_arena_alloc(struct kc_arena *a, size_t n, size_t size)
{
	size_t pad, bytes, room;
	uint8_t *p;

	if (!a || !a->base || (size && n > SIZE_MAX / size))
		return NULL;
	bytes = n * size;
	pad = (size_t)(-(uintptr_t)(a->base + a->used) & 15);
	room = a->cap - a->used;
	if (bytes > SIZE_MAX - 32 || pad > room ||
	    bytes + KC_REDZONE > room - pad)
		return NULL;
	p = a->base + a->used + pad;
	a->used += pad + bytes + KC_REDZONE;
	ASAN_UNPOISON_MEMORY_REGION(p, bytes);
	memset(p, 0, bytes);
	return p;
}

/* ---- reader ---- */

static int kc_fail(struct kc_reader *r, int err)
{
	if (!r->error)
		r->error = err;
	return -1;
}

static size_t kc_left(const struct kc_reader *r)
{
	return r->pos < r->len ? r->len - r->pos : 0;
}

/* n more bytes, or truncated. Also refuses once anything went wrong. */
static int kc_need(struct kc_reader *r, size_t n)
{
	if (r->error || r->truncated)
		return -1;
	if (kc_left(r) < n) {
		r->truncated = 1;
		return -1;
	}
	return 0;
}

static uint64_t kc_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static int kc_read_be(struct kc_reader *r, int n, uint64_t *v)
{
	if (kc_need(r, n))
		return -1;
	*v = kc_be(r->p + r->pos, n);
	r->pos += n;
	return 0;
}

#define KC_READ_BE(name, type, utype, n)				\
int kc_read_##name(struct kc_reader *r, type *v)			\
{									\
	uint64_t x;							\
									\
	if (kc_read_be(r, n, &x))					\
		return -1;						\
	*v = (type)(utype)x;						\
	return 0;							\
}

KC_READ_BE(int8, int8_t, uint8_t, 1)
KC_READ_BE(int16, int16_t, uint16_t, 2)
KC_READ_BE(uint16, uint16_t, uint16_t, 2)
KC_READ_BE(int32, int32_t, uint32_t, 4)
KC_READ_BE(int64, int64_t, uint64_t, 8)
KC_READ_BE(bool, bool, uint8_t, 1)	/* any non-zero byte is true */

int kc_read_float64(struct kc_reader *r, double *v)
{
	uint64_t x;

	if (kc_read_be(r, 8, &x))
		return -1;
	memcpy(v, &x, sizeof(*v));
	return 0;
}

int kc_read_uuid(struct kc_reader *r, struct kc_uuid *v)
{
	if (kc_need(r, sizeof(v->b)))
		return -1;
	memcpy(v->b, r->p + r->pos, sizeof(v->b));
	r->pos += sizeof(v->b);
	return 0;
}

/* An unsigned LEB128 of at most max bytes (5: 32 bits, 10: 64 bits). */
static int kc_read_uvar(struct kc_reader *r, int max, uint64_t *v)
{
	uint64_t x = 0;
	int i;

	if (kc_need(r, 1))
		return -1;
	for (i = 0;; i++) {
		uint8_t b;

		if (i == max)
			return kc_fail(r, KC_ERR_VARINT);
		if ((size_t)i >= kc_left(r)) {
			r->truncated = 1;
			return -1;
		}
		b = r->p[r->pos + i];
		if (i == 9 && b > 1)
			return kc_fail(r, KC_ERR_VARINT);
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	r->pos += i + 1;
	*v = x;
	return 0;
}

int kc_read_uvarint(struct kc_reader *r, uint32_t *v)
{
	uint64_t x;

	if (kc_read_uvar(r, 5, &x))
		return -1;
	if (x > UINT32_MAX)
		return kc_fail(r, KC_ERR_VARINT);
	*v = (uint32_t)x;
	return 0;
}

int kc_read_varint(struct kc_reader *r, int32_t *v)
{
	uint32_t u;

	if (kc_read_uvarint(r, &u))
		return -1;
	*v = (int32_t)((u >> 1) ^ (0u - (u & 1)));
	return 0;
}

int kc_read_varlong(struct kc_reader *r, int64_t *v)
{
	uint64_t u;

	if (kc_read_uvar(r, 10, &u))
		return -1;
	*v = (int64_t)((u >> 1) ^ (0ull - (u & 1)));
	return 0;
}

/* A length or count: compact (uvarint n+1) or int16/int32; -1 is null. */
static int kc_read_len(struct kc_reader *r, int flex, int width, int nullable,
		       int64_t *n)
{
	uint32_t u;
	int16_t s;
	int32_t l;

	if (flex) {
		if (kc_read_uvarint(r, &u))
			return -1;
		*n = (int64_t)u - 1;
	} else if (width == 2) {
		if (kc_read_int16(r, &s))
			return -1;
		*n = s;
	} else {
		if (kc_read_int32(r, &l))
			return -1;
		*n = l;
	}
	if (*n < -1 || *n > INT32_MAX)
		return kc_fail(r, KC_ERR_LENGTH);
	if (*n == -1 && !nullable)
		return kc_fail(r, KC_ERR_NULL);
	return 0;
}

/* A string (width 2, at most 0x7fff bytes) or bytes, left in the input. */
static int kc_read_blob(struct kc_reader *r, int flex, int width,
			int nullable, const uint8_t **p, int32_t *len)
{
	int64_t n;

	if (kc_read_len(r, flex, width, nullable, &n))
		return -1;
	if (width == 2 && n > 0x7fff)
		return kc_fail(r, KC_ERR_LENGTH);
	if (n >= 0 && kc_need(r, n))
		return -1;
	*p = n > 0 ? r->p + r->pos : NULL;
	*len = (int32_t)n;
	if (n > 0)
		r->pos += n;
	return 0;
}

int kc_read_str(struct kc_reader *r, int flex, int nullable, struct kc_str *s)
{
	const uint8_t *p;

	if (kc_read_blob(r, flex, 2, nullable, &p, &s->len))
		return -1;
	s->p = (const char *)p;
	return 0;
}

int kc_read_bytes(struct kc_reader *r, int flex, int nullable,
		  struct kc_bytes *b)
{
	return kc_read_blob(r, flex, 4, nullable, &b->p, &b->len);
}

int kc_read_count(struct kc_reader *r, int flex, int nullable, int32_t *n)
{
	int64_t v;

	if (kc_read_len(r, flex, 4, nullable, &v))
		return -1;
	*n = (int32_t)v;
	return 0;
}

void *kc_alloc_elems(struct kc_reader *r, uint32_t n, size_t size,
		     size_t min_size, uint32_t *cap)
{
	size_t c = n, most;
	void *p;

	/* More elements than bytes left cannot all be there: a short
	 * capture. One more than fit is kept for a partial element. */
	if (min_size) {
		most = kc_left(r) / min_size + 1;
		if (c > most)
			c = most;
	}
	p = kc_arena_alloc(r->arena, c, size);
	if (!p) {
		kc_fail(r, KC_ERR_ARENA);
		return NULL;
	}
	*cap = (uint32_t)c;
	return p;
}

/* Arrays of primitives; an element cut short is not counted. */
#define KC_READ_ARR(name, min, rd)					\
int kc_read_arr_##name(struct kc_reader *r, int flex, int nullable,	\
		       struct kc_arr_##name *a)				\
{									\
	uint32_t cap, i;						\
	int32_t n;							\
									\
	if (kc_read_count(r, flex, nullable, &n))			\
		return -1;						\
	a->v = NULL;							\
	a->n = 0;							\
	a->null = n < 0;						\
	if (n <= 0)							\
		return 0;						\
	a->v = kc_alloc_elems(r, n, sizeof(*a->v), (min), &cap);	\
	if (!a->v)							\
		return -1;						\
	for (i = 0; i < (uint32_t)n; i++) {				\
		if (i == cap) {						\
			r->truncated = 1;				\
			return -1;					\
		}							\
		if (rd(r, &a->v[i]))					\
			return -1;					\
		a->n = i + 1;						\
	}								\
	return 0;							\
}

#define KC_RD_STR(r, s) kc_read_str(r, flex, 0, s)
KC_READ_ARR(int8, 1, kc_read_int8)
KC_READ_ARR(int32, 4, kc_read_int32)
KC_READ_ARR(int64, 8, kc_read_int64)
KC_READ_ARR(uuid, 16, kc_read_uuid)
KC_READ_ARR(str, flex ? 1 : 2, KC_RD_STR)

int kc_read_tags(struct kc_reader *r, int16_t version, kc_tag_fn fn,
		 void *obj, uint32_t *unknown)
{
	uint32_t n, i, tag, size;
	struct kc_reader sub;
	size_t left;
	int known;

	if (kc_read_uvarint(r, &n))
		return -1;
	/* Each tag takes at least two bytes: the loop ends with the input. */
	for (i = 0; i < n; i++) {
		if (kc_read_uvarint(r, &tag) || kc_read_uvarint(r, &size))
			return -1;
		left = kc_left(r);
		known = 0;
		if (fn) {
			/* Decode within the declared size only. */
			sub = *r;
			if (size < left)
				sub.len = r->pos + size;
			known = fn(&sub, tag, version, obj);
			if (sub.error)
				return kc_fail(r, sub.error);
			if (sub.truncated) {
				if (size <= left)
					return kc_fail(r, KC_ERR_TAG);
				r->truncated = 1;
				return -1;
			}
		}
		if (known <= 0)
			(*unknown)++;
		if (kc_need(r, size))
			return -1;
		r->pos += size;
	}
	return 0;
}

/* ---- record batches ---- */

#define KC_MAGIC_AT	16	/* baseOffset i64, batchLength i32, epoch i32 */

static void kc_batch_hdr(const uint8_t *q, struct kc_batch *b)
{
	b->base_offset = (int64_t)kc_be(q, 8);
	b->batch_length = (int32_t)kc_be(q + 8, 4);
	b->partition_leader_epoch = (int32_t)kc_be(q + 12, 4);
	b->magic = (int8_t)q[16];
	b->crc = (uint32_t)kc_be(q + 17, 4);
	b->attributes = (int16_t)kc_be(q + 21, 2);
	b->last_offset_delta = (int32_t)kc_be(q + 23, 4);
	b->base_timestamp = (int64_t)kc_be(q + 27, 8);
	b->max_timestamp = (int64_t)kc_be(q + 35, 8);
	b->producer_id = (int64_t)kc_be(q + 43, 8);
	b->producer_epoch = (int16_t)kc_be(q + 51, 2);
	b->base_sequence = (int32_t)kc_be(q + 53, 4);
	b->record_count = (int32_t)kc_be(q + 57, 4);
}

/*
 * Walk a record set of declared length len, `have` bytes of it at p,
 * filling o (and v[] with the batch headers, when given). The walk keeps
 * two offsets: `off` in the record set as sent (logical) and `ph` in the
 * buffer (physical); the return value is ph and *cut says the buffer ended
 * before the set did. In normal mode they move together.
 *
 * STRUCTURE MODE HOOK (r->structure): the capture kept only the 61-byte
 * header of each magic 2 batch, so `ph` moves by KC_BATCH_HDR_LEN per batch
 * while `off` moves by the whole batch, and a batch is complete when the
 * set as sent held all of it. Legacy (magic 0/1) message sets and a short
 * trailing partial batch have no header to keep and are not in the buffer:
 * legacy entries are corrupt (the reader's KC_ERR_RECORDS: where the set
 * ends in the buffer is unknown), tail bytes move `off` only.
 * These rules are the single place to change for the owner's final format.
 */
static size_t kc_walk(const uint8_t *p, size_t have, size_t len,
		      int structure, struct kc_records *o, struct kc_batch *v,
		      int *cut)
{
	size_t off = 0, ph = 0, rem, left, total, take;
	int32_t blen;
	int8_t magic;

	o->n = o->legacy_msgs = o->legacy_bytes = o->tail_bytes = 0;
	o->corrupt = 0;
	*cut = 0;
	while (off < len) {
		rem = len - off;
		left = have - ph;
		if (rem <= KC_MAGIC_AT) {
			/* Partial batch at the end; the kernel keeps it whole. */
			o->tail_bytes = rem;
			if (structure) {
				if (left < rem)
					*cut = 1;
				else
					ph += rem;
			}
			break;
		}
		if (left <= KC_MAGIC_AT) {
			*cut = 1;
			break;
		}
		blen = (int32_t)kc_be(p + ph + 8, 4);
		magic = (int8_t)p[ph + KC_MAGIC_AT];
		if (magic == 2 && blen >= KC_BATCH_HDR_LEN - 12) {
			if (rem < KC_BATCH_HDR_LEN) {
				o->tail_bytes = rem;
				if (structure) {
					if (left < rem)
						*cut = 1;
					else
						ph += rem;
				}
				break;
			}
			if (left < KC_BATCH_HDR_LEN) {
				*cut = 1;
				break;
			}
		} else if ((magic != 0 && magic != 1) || blen < (magic ? 22 : 14)) {
			o->corrupt = 1;
			break;
		}
		total = 12 + (size_t)blen;
		take = total < rem ? total : rem;
		if (magic == 2) {
			if (v) {
				kc_batch_hdr(p + ph, &v[o->n]);
				v[o->n].complete = total <= rem &&
						   (structure || total <= left);
			}
			o->n++;
		} else {
			o->legacy_msgs++;
			o->legacy_bytes += take;
		}
		off += take;
		if (structure) {
			/*
			 * STRUCTURE capture keeps min(61, rest) bytes of a magic 2
			 * batch and min(18, rest) of a legacy message (offset, size,
			 * crc, magic, attributes): bpf/structure.bpf.h, wbatch().
			 */
			size_t keep = magic == 2 ? KC_BATCH_HDR_LEN : KC_LEGACY_HDR_LEN;

			if (keep > take)
				keep = take;
			if (left < keep) {
				*cut = 1;
				break;
			}
			ph += keep;
		} else if (take > left) {
			*cut = 1;
			ph = have;
			break;
		} else {
			ph += take;
		}
	}
	return ph;
}

int kc_read_records(struct kc_reader *r, int32_t len, struct kc_records *out)
{
	size_t have, ph;
	int cut;

	memset(out, 0, sizeof(*out));
	out->len = len < 0 ? -1 : len;
	if (len < 0)
		return 0;
	if (kc_need(r, 0))
		return -1;
	have = kc_left(r);
	if (!r->structure && have > (size_t)len)
		have = len;
	out->p = r->p + r->pos;
	ph = kc_walk(out->p, have, len, r->structure, out, NULL, &cut);
	if (out->n) {
		out->v = kc_arena_alloc(r->arena, out->n, sizeof(*out->v));
		if (!out->v) {
			out->n = 0;	/* no v[] to hold them */
			return kc_fail(r, KC_ERR_ARENA);
		}
		kc_walk(out->p, have, len, r->structure, out, out->v, &cut);
	}
	if (!r->structure) {
		/* The set is length-delimited: skip it whatever it held. */
		ph = have;
		cut = have < (size_t)len;
	} else if (out->corrupt) {
		return kc_fail(r, KC_ERR_RECORDS);	/* its end is unknown */
	}
	out->avail = (int32_t)ph;
	r->pos += ph;
	if (cut)
		r->truncated = 1;
	return cut ? -1 : 0;
}

int kc_read_records_field(struct kc_reader *r, int flex, int nullable,
			  struct kc_records *out)
{
	int64_t n;

	if (kc_read_len(r, flex, 4, nullable, &n))
		return -1;
	return kc_read_records(r, (int32_t)n, out);
}

/* ---- writer ---- */

void kc_writer_init(struct kc_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max ? max : (size_t)64 << 20;
}

void kc_writer_free(struct kc_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static uint8_t *kc_room(struct kc_writer *w, size_t n)
{
	size_t cap;
	uint8_t *b;

	if (w->error)
		return NULL;
	if (n > w->max - w->len) {
		w->error = 1;
		return NULL;
	}
	if (w->cap - w->len < n) {
		cap = w->cap ? w->cap : 256;
		while (cap - w->len < n && cap <= w->max / 2)
			cap *= 2;
		if (cap - w->len < n)
			cap = w->len + n;	/* <= max */
		b = realloc(w->buf, cap);
		if (!b) {
			w->error = 1;
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	return w->buf + w->len;
}

void kc_write_raw(struct kc_writer *w, const void *p, size_t n)
{
	uint8_t *d = kc_room(w, n);

	if (!d || !n)
		return;
	memcpy(d, p, n);
	w->len += n;
}

static void kc_write_be(struct kc_writer *w, uint64_t v, int n)
{
	uint8_t b[8];
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	kc_write_raw(w, b, n);
}

void kc_write_int8(struct kc_writer *w, int8_t v) { kc_write_be(w, (uint8_t)v, 1); }
void kc_write_int16(struct kc_writer *w, int16_t v) { kc_write_be(w, (uint16_t)v, 2); }
void kc_write_uint16(struct kc_writer *w, uint16_t v) { kc_write_be(w, v, 2); }
void kc_write_int32(struct kc_writer *w, int32_t v) { kc_write_be(w, (uint32_t)v, 4); }
void kc_write_int64(struct kc_writer *w, int64_t v) { kc_write_be(w, (uint64_t)v, 8); }
void kc_write_bool(struct kc_writer *w, bool v) { kc_write_be(w, v ? 1 : 0, 1); }

void kc_write_float64(struct kc_writer *w, double v)
{
	uint64_t x;

	memcpy(&x, &v, sizeof(x));
	kc_write_be(w, x, 8);
}

void kc_write_uuid(struct kc_writer *w, const struct kc_uuid *v)
{
	kc_write_raw(w, v->b, sizeof(v->b));
}

static size_t kc_uvar_enc(uint8_t *b, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	return n;
}

void kc_write_uvarint(struct kc_writer *w, uint32_t v)
{
	uint8_t b[10];

	kc_write_raw(w, b, kc_uvar_enc(b, v));
}

void kc_write_varint(struct kc_writer *w, int32_t v)
{
	kc_write_uvarint(w, (uint32_t)v << 1 ^ (uint32_t)(v < 0 ? -1 : 0));
}

void kc_write_varlong(struct kc_writer *w, int64_t v)
{
	uint8_t b[10];

	kc_write_raw(w, b, kc_uvar_enc(b, (uint64_t)v << 1 ^
				       (uint64_t)(v < 0 ? -1 : 0)));
}

static void kc_write_len(struct kc_writer *w, int flex, int width, int64_t n)
{
	if (flex)
		kc_write_uvarint(w, n < 0 ? 0 : (uint32_t)(n + 1));
	else if (width == 2)
		kc_write_int16(w, n < 0 ? -1 : (int16_t)n);
	else
		kc_write_int32(w, n < 0 ? -1 : (int32_t)n);
}

void kc_write_str(struct kc_writer *w, int flex, const struct kc_str *s)
{
	kc_write_len(w, flex, 2, s->len);
	if (s->len > 0)
		kc_write_raw(w, s->p, s->len);
}

void kc_write_bytes(struct kc_writer *w, int flex, const struct kc_bytes *b)
{
	kc_write_len(w, flex, 4, b->len);
	if (b->len > 0)
		kc_write_raw(w, b->p, b->len);
}

void kc_write_count(struct kc_writer *w, int flex, int64_t n)
{
	kc_write_len(w, flex, 4, n);
}

/* Only a record set decoded whole can be written back. */
void kc_write_records(struct kc_writer *w, int flex,
		      const struct kc_records *rec)
{
	if (rec->len > 0 && rec->avail != rec->len) {
		w->error = 1;
		return;
	}
	kc_write_len(w, flex, 4, rec->len);
	if (rec->len > 0)
		kc_write_raw(w, rec->p, rec->len);
}

#define KC_WRITE_ARR(name, wr)						\
void kc_write_arr_##name(struct kc_writer *w, int flex,		\
			 const struct kc_arr_##name *a)			\
{									\
	uint32_t i;							\
									\
	kc_write_count(w, flex, a->null ? -1 : (int64_t)a->n);		\
	for (i = 0; !a->null && i < a->n; i++)				\
		wr;							\
}

KC_WRITE_ARR(int8, kc_write_int8(w, a->v[i]))
KC_WRITE_ARR(int32, kc_write_int32(w, a->v[i]))
KC_WRITE_ARR(int64, kc_write_int64(w, a->v[i]))
KC_WRITE_ARR(uuid, kc_write_uuid(w, &a->v[i]))
KC_WRITE_ARR(str, kc_write_str(w, flex, &a->v[i]))

size_t kc_write_tag_begin(struct kc_writer *w, uint32_t tag)
{
	kc_write_uvarint(w, tag);
	return w->len;
}

void kc_write_tag_end(struct kc_writer *w, size_t mark)
{
	size_t size = w->len - mark, n;
	uint8_t b[10];

	if (size > UINT32_MAX) {
		w->error = 1;
		return;
	}
	n = kc_uvar_enc(b, size);
	if (!kc_room(w, n))
		return;
	memmove(w->buf + mark + n, w->buf + mark, size);
	memcpy(w->buf + mark, b, n);
	w->len += n;
}
