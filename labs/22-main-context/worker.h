/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* worker.h: lab 22's worker processes (worker.c). */
#ifndef LAB22_WORKER_H
#define LAB22_WORKER_H

#include <mpkit.h>

/* A message process "worker N" (not started) whose backend answers "job"
 * (n) with "ready" (n * n), prints a line at its post-run, and ignores
 * SIGINT. NULL with @error set if it cannot be made. */
MpkMessageProcess *worker_new (int n, GError **error);

#endif /* LAB22_WORKER_H */
