/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKATAP_TC_H
#define KAFKATAP_TC_H

#include "kernel/loader.h"

/* h->ifindex and h->egress are set by the caller. Returns 0 or -errno. */
int kt_tc_attach(int prog_fd, struct kt_hook *h, enum kt_attach_mode mode);
void kt_tc_detach(struct kt_hook *h);

#endif
