/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* worker.h: what the two files of lab 24 share.  worker.c is the worker
 * role; main.c the main program, which kills worker 1 and checks the work. */
#ifndef LAB24_WORKER_H
#define LAB24_WORKER_H

#include "../lab.h"

/* A worker's arguments (copied by fork(); the queues and event are shared). */
typedef struct
{
  MpkQueue *work;      /* the items, then one sentinel per surviving worker */
  MpkQueue *results;   /* "(ii)": (worker number, item) for each item processed */
  MpkEvent *started;   /* worker 1 only: set just before its first get() */
  int       number;
} WorkerArgs;

/* The body of every worker process (a WorkerArgs); 0 at the sentinel. */
int worker (gpointer user_data);

#endif /* LAB24_WORKER_H */
