/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* client.h: what the two files of lab 23 share.  client.c is the client
 * role; main.c the server role, which starts clients, and main(). */
#ifndef LAB23_CLIENT_H
#define LAB23_CLIENT_H

#include <string.h>
#include "../lab.h"

#define KEY_VARIABLE    "MPK_AUTHKEY"  /* the key, in hex: never on a command line (ps) */
#define CLIENT_REFUSED  2              /* the client's exit status when its key is refused */

/* Connects to ADDRESS with KEY and does the jobs: 0, or CLIENT_REFUSED. */
int run_client   (const char *address,
                  GBytes     *key);
/* Runs this program as a client of ADDRESS, the key HEX in its environment;
 * WHICH ("right", "wrong") names it in the trace.  Its exit status. */
int spawn_client (const char *address,
                  const char *hex,
                  const char *which);

#endif /* LAB23_CLIENT_H */
