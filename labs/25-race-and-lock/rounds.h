/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rounds.h: what the two files of lab 25 share.  main.c is the adders'
 * body, where the race is, and main(); rounds.c runs one round of adders. */
#ifndef LAB25_ROUNDS_H
#define LAB25_ROUNDS_H

#include "../lab.h"

/* The three ways to add 1, one round each. */
typedef enum { GET_THEN_SET, UNDER_THE_LOCK, ADD } Method;

/* Every adder's arguments (copied by fork(); the value and event are shared). */
typedef struct
{
  MpkValue *counter;   /* this round's shared 'i' Value, which all adders add to */
  MpkEvent *go;        /* set by the parent once every adder is started */
  Method    method;
  int       k;         /* how many times each adder adds 1 */
} AdderArgs;

/* main.c: the body of every adder process (an AdderArgs). */
int    adder      (gpointer  user_data);

/* rounds.c: one round.  N adders add 1 K times each with METHOD to a new
 * Value('i'), which starts at 0, all released at once by GO; returns the
 * total once they have all been joined. */
gint64 run_adders (MpkEvent *go,
                   Method    method,
                   int       n,
                   int       k);

#endif /* LAB25_ROUNDS_H */
