/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The interfaces of this host: which are up, what link header they carry. */
#ifndef KAFKATAP_IFACES_H
#define KAFKATAP_IFACES_H

/* All interfaces that are up, at most max; names are strdup'ed (free them). */
int kt_default_ifaces(const char **out, int max);

/* 14 for Ethernet-like links (Ethernet header at TC), 0 for raw IP (tun, wireguard). */
int kt_iface_l2_len(const char *name);

#endif
