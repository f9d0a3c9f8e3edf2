/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKATAP_FUZZ_BPF_STUBS_H
#define KAFKATAP_FUZZ_BPF_STUBS_H

#include <stddef.h>

/* Called in place of BPF_PROG_TEST_RUN with the packet it would run. */
typedef int (*kt_stub_run_fn)(const void *data, size_t len);
extern kt_stub_run_fn kt_stub_run;

#endif
