// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kafkatap top: placeholder until the live view lands. */
#include <stdio.h>
#include "cmds.h"

int cmd_top(int argc, char **argv)
{
	fprintf(stderr, "kafkatap top: not built yet\n");
	return 1;
}
