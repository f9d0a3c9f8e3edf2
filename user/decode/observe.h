/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Deep decoding: an exchange's captured frames through the codec generated
 * from the specs, and what they tell: records and bytes per topic and
 * partition, partition errors, consumer groups and offsets (fed to the
 * group tracker), client software, SASL mechanism, admin operations,
 * invalid requests. The result is a struct kt_annot (decode/annot.h).
 */
#ifndef KAFKATAP_OBSERVE_H
#define KAFKATAP_OBSERVE_H

#include "kafkatap.h"
#include "decode/annot.h"

struct kt_exchange;
struct kt_groups;
struct kt_observer;

struct kt_observer *kt_observer_new(struct kt_groups *groups);
void kt_observer_free(struct kt_observer *o);
/* Feed another group tracker from now on (the fuzzer's, one per input). */
void kt_observer_set_groups(struct kt_observer *o, struct kt_groups *groups);

/* Decode and observe one exchange; valid until the next call. */
const struct kt_annot *kt_observer_exchange(struct kt_observer *o, const struct kt_exchange *x);

/* The capture policy the observer needs, per api_key (users may override). */
void kt_default_capture(struct kt_policy *policy);

#endif
