/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-trace.c: the tracer hook. Every message a connection sends or receives
 * passes through mpk__trace() (mpk-private.h); while no hook is installed
 * that costs one predictable branch. The recording tracer behind MPK_TRACE
 * installs itself here. */
#include "mpk-private.h"

MpkTraceHook mpk__trace_hook = NULL;
