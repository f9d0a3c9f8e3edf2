/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* STRUCTURE walk programs, generated from the specs (structure_gen.c). */
#ifndef KAFKATAP_STRUCTURE_H
#define KAFKATAP_STRUCTURE_H

#include "kafkatap.h"

struct kt_sprog_entry {
	int api_key;
	int api_version;
	int dir;
	struct kt_sprog prog;
};

extern const struct kt_sprog_entry kt_sprogs[];
extern const int kt_nsprogs;

#endif
