/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* add.h: what the two files of lab 10 share.  add.c is the server's work,
 * Python's "x + y"; main.c the IPC: the server loop, the client, main(). */
#ifndef LAB10_ADD_H
#define LAB10_ADD_H

#include <glib.h>

/* Python's "x + y" on REQUEST, a pair: "(ii)" adds, "(ss)" concatenates.
 * A new floating GVariant, or NULL for any other type (Python's TypeError). */
GVariant *add (GVariant *request);

#endif /* LAB10_ADD_H */
