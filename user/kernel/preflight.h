/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Checks before loading, and errors explained (the loader's own). */
#ifndef KAFKATAP_PREFLIGHT_H
#define KAFKATAP_PREFLIGHT_H

#include <stdbool.h>

/*
 * The capabilities to load (and, with attach, to attach) and the kernel
 * features the program needs. Prints what is missing; returns 0 or -errno.
 */
int kt_preflight(bool attach);

/* A libbpf error of `what` ("loading the BPF program") on stderr, with advice. */
void kt_explain_errno(int err, const char *what);

#endif
