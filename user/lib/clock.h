/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Nanoseconds on CLOCK_MONOTONIC (the BPF records' clock) and CLOCK_REALTIME. */
#ifndef KAFKATAP_CLOCK_H
#define KAFKATAP_CLOCK_H

#include <stdint.h>

uint64_t now_mono_ns(void);
uint64_t now_real_ns(void);

#endif
