/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-model.h: mpk-trace's in-memory model of one run: lanes (one per traced
 * process), their events, the messages between them, and the causal order the
 * renderers draw from. Loading fills it (trace-load.c, trace-order.c); the
 * renderers only read it. */
#ifndef MPK_TRACE_MODEL_H
#define MPK_TRACE_MODEL_H

#include <glib.h>

G_BEGIN_DECLS

#define TRACE_ERROR (trace_error_quark ())

typedef enum
{
  TRACE_ERROR_FAILED,  /* bad input: exit status 1 */
  TRACE_ERROR_USAGE,   /* a bad option value found late: exit status 2 */
} TraceError;

typedef enum
{
  TRACE_ORDER_CAUSAL,
  TRACE_ORDER_TIME,
} TraceOrder;

typedef enum
{
  TRACE_KIND_START,    /* proc.start, or synthesized when a lane lacks one */
  TRACE_KIND_SPAWN,
  TRACE_KIND_EXIT,
  TRACE_KIND_REAPED,
  TRACE_KIND_JOIN,     /* proc.join: the parent learns the child ended */
  TRACE_KIND_SIGNAL,   /* proc.signal: the parent sends a child SIGTERM/SIGKILL */
  TRACE_KIND_SEND,     /* any event with "dir":"out" */
  TRACE_KIND_RECV,     /* any event with "dir":"in" */
  TRACE_KIND_EOF,
  TRACE_KIND_MARK,
  TRACE_KIND_DROPPED,
  TRACE_KIND_OTHER,    /* an event this version does not know: kept, drawn by name */
  TRACE_KIND_NO_EXIT,  /* synthesized: the lane ends without exit or reaped */
} TraceKind;

typedef struct _TraceLane  TraceLane;
typedef struct _TraceEvent TraceEvent;
typedef struct _TraceRun   TraceRun;

/* One event line (or a synthesized event, line == NULL). Strings point into
 * the run's string chunk. The fields after "ordering" are filled by
 * trace-order.c and are valid once trace_run_load() returns. */
struct _TraceEvent
{
  TraceKind   kind;
  const char *line;      /* the raw JSON line, without its newline */
  TraceLane  *writer;    /* the lane of the file that holds the line */
  guint       lineno;
  gint64      ts;
  gint64      seq;
  gint64      lc;
  gint64      th;        /* the writer's thread, from 1 ("th"; 1 when absent) */
  const char *ev;
  const char *msg;       /* message events */
  const char *obj;
  const char *sum;
  gint64      bytes;     /* -1 when absent */
  gint64      end;       /* which end of a pipe (1 or 2); 0 when absent */
  gint64      child;     /* proc.spawn, proc.reaped, proc.join */
  const char *name;      /* proc.start, proc.spawn */
  gint64      code;      /* proc.exit, proc.reaped exited */
  const char *status;    /* proc.reaped: "exited", "signal", … */
  const char *sig;       /* proc.reaped signal: "SIGKILL" */
  const char *text;      /* mark text, trace.dropped why */
  gint64      n;         /* trace.dropped */
  gint64      after_pid; /* "after":"<pid>.<seq>": the event that caused this one; */
  gint64      after_seq; /* after_seq 0 when absent */
  gint64      dead;      /* *.recovered: the pid whose death was repaired; 0 when absent */
  gint64      index;     /* value.*: the array item; -1 when absent (a Value) */
  const char *old_text;  /* value.*: the number before ... */
  const char *new_text;  /* ... and after (not on value.read) */
  const char *otype;     /* manager.*: the type of the object called ("list") */
  const char *oid;       /* manager.*: the server's number of that object, as text */
  const char *method;    /* manager.*: the method called ("append") */
  const char *error;     /* manager.reply/result: why it failed ("INDEX: …") */
  const char *req;       /* msg.*: the request protocol's request ("DO"), or NULL */
  gint64      to;        /* msg.*: the recipient pid; 0 when absent (everybody) */
  const char *ref;       /* msg.left: the msg id of the message passed over, or NULL */
  gint64      exec_pid;  /* proc.exec_end: "exec":"<pid>.<seq>", the proc.exec of the */
  gint64      exec_seq;  /* program it waited for; exec_seq 0 when absent */
  const char *call;      /* call.wait: the call that went to sleep ("get"), or NULL */
  gint64      ord;       /* "ord": the place among its object's events (one direction of
                          * a queue's) that the object's lock gave it; 0 when absent */

  /* ordering */
  TraceLane  *lane;      /* where it is drawn: the writer, except proc.reaped */
  guint       lane_pos;  /* index in lane->events */
  guint       pos;       /* index in run->causal */
  guint       rank;      /* recomputed Lamport clock, from 1 */
  TraceEvent *peer;      /* the other end of a message, or NULL */
  guint       msg_no;    /* m<N>: the send's position among sends, from 1; 0 = none */
  const char *obj_name;  /* "pipe#1", or NULL */
  const char *obj_key;   /* the object as named: obj, but a remote client's manager
                          * handle is its server's (the obj of the other end) */
  const char *target;    /* manager.*: the object called, "list#1", or NULL */
  const char *shown_sum; /* manager.*: sum with references named ("list#1"), or NULL */
  const char *to_name;   /* msg.*: the recipient as named: its lane, "all" (no "to"), or
                          * "pid N" for a process that left no trace */
  TraceLane  *child_lane;/* proc.spawn, proc.reaped, proc.join: the child's lane if traced */
  TraceEvent *cause;     /* the event "after" names, if it is in this run; else NULL */
  TraceEvent *ord_prev;  /* the event of the same object and direction with the next */
  TraceEvent *ord_next;  /* smaller / larger "ord", or NULL */
};

/* One traced process: its header, its own events and the events drawn in
 * its lane. */
struct _TraceLane
{
  const char *path;        /* the file, for messages */
  guint       header_lineno;
  const char *header_line;
  gint64      pid;
  gint64      ppid;
  const char *header_name;
  const char *run;
  const char *clock;
  const char *boot_id;
  gint64      t0_mono_ns;
  gint64      exec_pid;    /* header "exec":"<pid>.<seq>": the proc.exec that started */
  gint64      exec_seq;    /* this program; exec_seq 0 when absent */
  GPtrArray  *own;         /* TraceEvent, the file's events in seq order (owned);
                            * the lane's order is by thread and clock (events) */
  gboolean    torn;        /* its file ended in a torn line, which was dropped */

  /* ordering */
  guint       index;       /* position in run->lanes */
  const char *name;        /* header_name, made unique: "worker (2)" */
  GPtrArray  *events;      /* TraceEvent, the lane's sequence (not owned) */
  GPtrArray  *synth;       /* TraceEvent synthesized for this lane (owned) */
  TraceEvent *spawn;       /* the proc.spawn that created it, or NULL */
  TraceEvent *exec_from;   /* a program its traced parent started without a proc.spawn
                            * (fork and exec): the proc.exec its header names, else
                            * the parent's last event before its start, or NULL */
  TraceEvent *exec_last;   /* such a program's last own event (not "no exit recorded"),
                            * when its parent has an event after it, or NULL */
  TraceEvent *exec_resume; /* ... and that event: the parent's proc.exec_end naming the
                            * same proc.exec (it waited), else, for a program linked by
                            * time, the parent's first event whose ts is after
                            * exec_last's (it waited, or just came later) */
  GPtrArray  *joins;       /* TraceEvent, the proc.joins that waited for its end */
  gboolean    has_exit;    /* a proc.exit is among its events */
  TraceEvent *blocked;     /* a lane that ends without exit or reap: the call.wait its
                            * process was still in (its last thread's), or NULL */
};

struct _TraceRun
{
  char         *dir;
  char         *id;
  GStringChunk *strings;
  GPtrArray    *lanes;     /* TraceLane, in lane order (owned) */
  GPtrArray    *causal;    /* TraceEvent, every event, in causal order */
  gint64        t0_ns;     /* the earliest t0_mono_ns */
  guint         n_torn;    /* torn last lines dropped */
  gint64        n_dropped; /* events lost, from trace.dropped */
  guint         n_sends;
  GHashTable   *closes;    /* "obj end" → GPtrArray of the *.close events of that pipe end */
  GHashTable   *eofs;      /* "obj end" → GPtrArray of the *.eof events at that pipe end */
  GHashTable   *effects;   /* TraceEvent → GPtrArray of the events whose "after" names it */
  GHashTable   *execs;     /* TraceEvent → GPtrArray of the lanes whose exec_from it is,
                            * in lane order */
  GHashTable   *resumes;   /* TraceEvent → GPtrArray of the lanes whose exec_resume it is,
                            * in lane order */
};

typedef struct
{
  const char *run_id;      /* NULL: the newest run */
  gboolean    verbose;
} TraceLoadOptions;

/* How renderers name things. */
typedef struct
{
  gboolean   pids;         /* "name [pid]" instead of "name" */
  gboolean   times;        /* timestamps (relative to run->t0_ns) */
  TraceOrder order;
} TraceViewOptions;

GQuark      trace_error_quark   (void);

/* Reads every trace-*.jsonl of @dir, selects one run, orders it.
 * Returns (transfer full) the run, or NULL with @error set. Notes and
 * warnings go to stderr. */
TraceRun   *trace_run_load      (const char             *dir,
                                 const TraceLoadOptions *options,
                                 GError                **error);
void        trace_run_free      (TraceRun *run);

/* Returns (transfer container) the events in @order, with or without the
 * synthesized ones (a missing proc.start, "no exit recorded"). */
GPtrArray  *trace_run_sorted    (TraceRun  *run,
                                 TraceOrder order,
                                 gboolean   synthetic);

/* Display helpers shared by the renderers; every string is newly allocated. */
char       *trace_lane_label    (const TraceLane        *lane,
                                 const TraceViewOptions *view);
char       *trace_event_local   (const TraceEvent       *event,
                                 const TraceViewOptions *view);
char       *trace_event_details (const TraceEvent       *event,
                                 const TraceRun         *run,
                                 const TraceViewOptions *view);
const char *trace_event_verb    (const TraceEvent *event);
/* What a message carries, in words: its summary, or for a Manager call
 * "list#1.append ('Jeff', 8)" and its reply "→ int 4" / "✗ INDEX: …".
 * NULL when there is nothing to say. *@fixed (may be NULL) is set to the
 * length in bytes of the leading part that does not come from the payload
 * ("list#1.append " or "→ "), which `signature` never masks. */
char       *trace_message_words (const TraceEvent *event,
                                 gsize            *fixed);
char       *trace_truncate      (const char *text,
                                 guint       max_chars);
char       *trace_clean         (const char *text);
gboolean    trace_is_synthetic  (const TraceEvent *event);
/* A call.wait: a call that went to sleep (kept only where it never returned). */
gboolean    trace_is_wait       (const TraceEvent *event);
/* "get(queue#1)", "join(worker 1)", "recv(pipe#1 end 2)" for a call.wait. */
char       *trace_wait_call     (const TraceEvent       *event,
                                 const TraceViewOptions *view);
/* For a *.eof: the close of the other end that came last (the one that let
 * end of file arrive), or NULL if no close of it was recorded. */
TraceEvent *trace_eof_cause     (const TraceRun   *run,
                                 const TraceEvent *eof);

/* Internal to loading: trace-order.c computes lanes, ranks and names. */
void        trace__run_order    (TraceRun *run);
TraceEvent *trace__event_new    (TraceKind  kind,
                                 TraceLane *writer);

/* Messages on stderr, prefixed "mpk-trace: ". */
void        trace_warn          (const char *format,
                                 ...) G_GNUC_PRINTF (1, 2);
void        trace_note          (const char *format,
                                 ...) G_GNUC_PRINTF (1, 2);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceRun, trace_run_free)

G_END_DECLS

#endif /* MPK_TRACE_MODEL_H */
