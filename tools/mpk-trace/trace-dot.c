/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-dot.c: the sequence diagram as Graphviz DOT with pinned coordinates
 * (research/anchor-tracing.md §3.3): lane k at x = 0.6 + 2.6k in, row r at
 * y = -0.4r in, layout=neato, straight lines. Nodes come out in (row, lane)
 * order and edges in event order, so the text is byte-stable. */

#include <stdio.h>
#include <string.h>
#include "trace-render.h"

#define LANE_X0     0.6   /* in */
#define LANE_GAP    2.6
#define ROW_H       0.4
#define AXIS_X      -0.45 /* row numbers, clear of lane 0's widest box */
#define LABEL_DY    0.12  /* a label sits this far above its arrow's start */
#define STUB_LEN    1.4   /* arrows to "not received", "?", "→ p2" */
#define HEADER_ROOM 1.45  /* widest lane name in a header: "MainProcess (2)" */
#define BOX_ROOM    2.4   /* widest text in a box on a lane (one event per row: no box beside it) */
#define FAILED_INK  "#c62828" /* the label of a failed Manager call's reply */
#define MAX_LANE_X  11.4  /* the rightmost lane of a page: a PNG stays within 1280 px */
#define QUEUE_GAP   1.7   /* a queue's lane: this far right of the lane before it, and
                           * of the next lane (its puts' labels fit before it) */

/* Lane header fills, and the darker colour of messages a lane sends. */
static const char * const lane_fill[] = {
  "#dbe8f7", "#e3f2d9", "#fbe5d6", "#ecdff5", "#fff2c2", "#d7f0ef", "#f6dbe3", "#e6e6e6",
};
static const char * const lane_ink[] = {
  "#1f5fa8", "#3b7d23", "#b2561b", "#7a3fa0", "#8a6d00", "#1b7c78", "#a8325a", "#555555",
};

/* A queue drawn as a lane of its own (issue 16 §2): items enter it at
 * their put and leave at their get, so its FIFO reads down the lane and
 * no arrow runs from a producer across the diagram to a consumer. */
typedef struct
{
  const char *obj;        /* "queue:4100.1" */
  const char *name;       /* "queue#1" */
  TraceLane  *after;      /* its lane comes right after this one's: its first putter's */
  double      x;
  guint       index;      /* in order of first appearance */
  guint       first_row;  /* its first and last drawn put or get */
  guint       last_row;
  gboolean    put_seen;   /* placed after its first putter's lane */
  gboolean    on_page;    /* an item of it is drawn on the page being written */
} QueueLane;

/* Where the lanes go across: a process lane's x by lane index (a queue's
 * lane shifts those after it), and the queues drawn as lanes. */
typedef struct
{
  double     *x;          /* by lane index */
  GPtrArray  *queues;     /* QueueLane (owned) */
  GHashTable *by_obj;     /* obj → QueueLane */
} Columns;

/* The columns of the diagram being drawn (one at a time). */
static Columns *columns;

/* One page being written. */
typedef struct
{
  TraceRun              *run;
  TraceRows             *rows;
  const TraceDotOptions *o;
  guint                  page;
  guint                  n_pages;
  guint                  first;   /* the page's first and last rows */
  guint                  last;
  GString               *nodes;
  GString               *edges;
  char                 **prev;    /* by lane: the node its lifeline continues from */
  char                 **qprev;   /* by queue lane: the same */
} Dot;

static double
lane_x (const TraceLane *lane)
{
  return columns != NULL ? columns->x[lane->index] : LANE_X0 + LANE_GAP * lane->index;
}

/* A put or get drawn through its queue's lane, or NULL. */
static QueueLane *
queue_lane_of (const TraceEvent *e)
{
  if (columns == NULL || e->obj == NULL
      || (e->kind != TRACE_KIND_SEND && e->kind != TRACE_KIND_RECV))
    return NULL;
  return g_hash_table_lookup (columns->by_obj, e->obj);
}

/* Row first - 1 is the top of a page, where continued lanes get headers. */
static double
row_y (const Dot *d,
       guint      row)
{
  return -ROW_H * ((double) row - d->first + 1) + 0.0;
}

static guint
page_of (const Dot *d,
         guint      row)
{
  return d->o->max_rows > 0 ? (row - 1) / d->o->max_rows + 1 : 1;
}

static gboolean
on_page (const Dot *d,
         guint      row)
{
  return row >= d->first && row <= d->last;
}

static guint
row_of (const Dot        *d,
        const TraceEvent *e)
{
  return d->rows->row_of[e->pos];
}

static const char *
ink (const TraceLane *lane)
{
  return lane_ink[lane->index % G_N_ELEMENTS (lane_ink)];
}

/* Appends @text as a DOT string: quoted, with '"' and '\' escaped and '&'
 * as "&amp;" (Graphviz reads entities in every label), then @raw_tail (a
 * justification escape like \l) as it is. */
static void
append_quoted (GString    *s,
               const char *text,
               const char *raw_tail)
{
  g_autofree char *clean = trace_clean (text);
  const char *p;

  g_string_append_c (s, '"');
  for (p = clean; *p != '\0'; p++)
    {
      if (*p == '&')
        {
          g_string_append (s, "&amp;");
          continue;
        }
      if (*p == '"' || *p == '\\')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  g_string_append_printf (s, "%s\"", raw_tail);
}

static void
node_begin (Dot        *d,
            const char *id,
            double      x,
            double      y)
{
  g_string_append_printf (d->nodes, "  %s [pos=\"%.3f,%.3f!\", ", id, x, y + 0.0);
}

/* Ends a node with its label (a DOT string) and tooltip. */
static void
node_end (Dot        *d,
          const char *label,
          const char *raw_tail,
          const char *tooltip)
{
  g_string_append (d->nodes, ", label=");
  append_quoted (d->nodes, label, raw_tail);
  if (tooltip != NULL)
    {
      g_string_append (d->nodes, ", tooltip=");
      append_quoted (d->nodes, tooltip, "");
    }
  g_string_append (d->nodes, "];\n");
}

static void
edge (Dot        *d,
      const char *from,
      const char *to,
      const char *attrs,
      const char *tooltip)
{
  g_string_append_printf (d->edges, "  %s -> %s [%s", from, to, attrs);
  if (tooltip != NULL)
    {
      g_string_append (d->edges, ", tooltip=");
      append_quoted (d->edges, tooltip, "");
    }
  g_string_append (d->edges, "];\n");
}

static char *
node_id (char  prefix,
         guint n)
{
  return g_strdup_printf ("%c%u", prefix, n);
}

static char *
event_tooltip (const Dot        *d,
               const TraceEvent *e)
{
  g_autofree char *lane = trace_lane_label (e->lane, &d->o->view);
  g_autofree char *local = trace_event_local (e, &d->o->view);
  g_autofree char *details = trace_event_details (e, d->run, &d->o->view);
  g_autofree char *what = e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV
                          ? g_strdup_printf ("%s %s", trace_event_verb (e), local)
                          : g_steal_pointer (&local);

  if (*details == '\0')
    return g_strdup_printf ("%u: %s: %s", row_of (d, e), lane, what);
  return g_strdup_printf ("%u: %s: %s (%s)", row_of (d, e), lane, what, details);
}

/* A character's width in em, on the wide side of the sans fonts Graphviz
 * may pick for Helvetica (DejaVu Sans is the widest common one): labels are
 * cut to fit by this estimate, and one that still overflows just spills
 * over (fixedsize=shape), without a Graphviz warning. */
static double
char_em (gunichar c)
{
  if (c == 'W' || c == 'm' || c == 'M' || c == '@' || g_unichar_iswide (c))
    return 1.0;
  if (strchr ("il.,:;!|'` ", c) != NULL)
    return 0.34;
  if (strchr ("fjrtI()[]{}\"/-", c) != NULL)
    return 0.45;
  if (c >= 'A' && c <= 'Z')
    return 0.78;
  if (c == 'w')
    return 0.85;
  return 0.66;
}

/* The estimated width of @text at @size points, in inches. */
static double
text_width (const char *text,
            double      size)
{
  double em = 0;
  const char *p;

  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    em += char_em (g_utf8_get_char (p));
  return em * size / 72;
}

/* @text cut to fit @room inches at @size points, ending in "…" when cut. */
static char *
fit (const char *text,
     double      room,
     double      size)
{
  double limit = room * 72 / size, used = 0;
  const char *p, *cut = text;
  g_autofree char *head = NULL;

  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      used += char_em (g_utf8_get_char (p));
      if (used > limit)
        break;
      if (used <= limit - 1.0)  /* room left for the ellipsis, one em */
        cut = g_utf8_next_char (p);
    }
  if (*p == '\0')
    return g_strdup (text);
  head = g_strndup (text, cut - text);
  return g_strconcat (head, "…", NULL);
}

/* A lane's name cut to fit its header (10 pt bold: sized as 11 pt). The
 * " (2)" that tells a repeated name from the first lane of that name is
 * kept, and the name cut before it: "a-long-process-n… (2)". */
static char *
header_name (const TraceLane *lane)
{
  gsize base_len = strlen (lane->name);
  g_autofree char *base = NULL, *cut = NULL;
  const char *suffix;

  if (text_width (lane->name, 11) <= HEADER_ROOM)
    return g_strdup (lane->name);
  /* name_lanes() made "base (N)" only from a header name "base". */
  suffix = strrchr (lane->name, ' ');
  if (suffix != NULL && g_str_has_prefix (suffix, " (") && g_str_has_suffix (suffix, ")")
      && strlen (suffix + 2) >= 2 && strspn (suffix + 2, "0123456789") == strlen (suffix + 2) - 1
      && g_strcmp0 (lane->header_name, lane->name) != 0)
    base_len = suffix - lane->name;
  else
    suffix = "";
  base = g_strndup (lane->name, base_len);
  cut = fit (base, MAX (HEADER_ROOM - text_width (suffix, 11), 0.3), 11);
  return g_strconcat (cut, suffix, NULL);
}

/* Half the width of a lane's header box, in inches: at least width=1.1,
 * or its name and margins. */
static double
header_half_width (const TraceLane *lane)
{
  g_autofree char *name = header_name (lane);

  return MAX (1.1, text_width (name, 11) + 0.16) / 2;
}

/* A lane header: a rounded box, bold name, pid with --pids. */
static void
emit_header (Dot             *d,
             const char      *id,
             const TraceLane *lane,
             double           y,
             gboolean         continued,
             const char      *tooltip)
{
  g_autofree char *cut = header_name (lane);
  g_autofree char *clean = trace_clean (cut);
  g_autofree char *name = g_markup_escape_text (clean, -1);
  GString *s = d->nodes;

  node_begin (d, id, lane_x (lane), y);
  g_string_append_printf (s, "shape=box, style=\"rounded,filled\", fillcolor=\"%s\", "
                          "color=gray40, fontsize=10, width=1.1, height=0.34, "
                          "margin=\"0.08,0.02\", label=<<b>%s</b>",
                          lane_fill[lane->index % G_N_ELEMENTS (lane_fill)], name);
  if (d->o->view.pids || continued)
    {
      g_autofree char *pid = d->o->view.pids
                             ? g_strdup_printf ("pid %" G_GINT64_FORMAT, lane->pid) : g_strdup ("");

      g_string_append_printf (s, "<br/><font point-size=\"9\">%s%s%s</font>", pid,
                              *pid != '\0' && continued ? " " : "", continued ? "(cont.)" : "");
    }
  g_string_append (s, ">");
  if (tooltip != NULL)
    {
      g_string_append (s, ", tooltip=");
      append_quoted (s, tooltip, "");
    }
  g_string_append (s, "];\n");
}

/* What a box says: the event in words; a lane whose process never
 * returned from a call ends in who is stuck, and since when. */
static char *
box_text (const Dot        *d,
          const TraceEvent *e)
{
  if (e->kind == TRACE_KIND_NO_EXIT && e->lane->blocked != NULL)
    {
      g_autofree char *call = trace_wait_call (e->lane->blocked, &d->o->view);

      return g_strdup_printf ("blocked in %s since row %u", call, row_of (d, e->lane->blocked));
    }
  if (d->rows->locked[e->pos])
    {
      g_autofree char *text = trace_event_local (e, &d->o->view);

      return g_strdup_printf ("%s (locked)", text);
    }
  if (d->rows->held[e->pos])
    return g_strdup_printf ("held %s", e->obj_name != NULL ? e->obj_name : "a lock");
  return trace_event_local (e, &d->o->view);
}

/* A lane's last box may be wider: nothing is drawn beside it on its row
 * but the other lanes' lifelines, and who is stuck must be read whole. */
static double
box_room (const TraceEvent *e)
{
  return e->kind == TRACE_KIND_NO_EXIT && e->lane->blocked != NULL ? BOX_ROOM + 0.6 : BOX_ROOM;
}

/* How an event that is not a message end looks on its lane. */
static const char *
box_style (const TraceEvent *e)
{
  switch (e->kind)
    {
    case TRACE_KIND_MARK:
      return "shape=note, style=filled, fillcolor=\"#fff7c2\", color=\"#c9b200\", fontsize=9";
    case TRACE_KIND_EXIT:
      return "shape=box, style=filled, fillcolor=\"#f2f2f2\", color=gray30, fontcolor=gray20";
    case TRACE_KIND_REAPED:
      if (g_strcmp0 (e->status, "signal") == 0)
        return "shape=box, style=filled, fillcolor=\"#fde4e4\", color=red, fontcolor=red";
      return "shape=box, style=filled, fillcolor=\"#f2f2f2\", color=gray30, fontcolor=gray20";
    case TRACE_KIND_DROPPED:
      return "shape=box, style=\"filled,dashed\", fillcolor=white, color=red, fontcolor=red, "
             "fontsize=9";
    case TRACE_KIND_NO_EXIT:
      if (e->lane->blocked != NULL)
        return "shape=box, style=filled, fillcolor=\"#fde4e4\", color=red, fontcolor=red, "
               "fontsize=9";
      return "shape=box, style=\"filled,dashed\", fillcolor=white, color=gray50, "
             "fontcolor=gray35, fontsize=9";
    default:
      if (trace_is_wait (e))
        return "shape=box, style=filled, fillcolor=white, color=red, fontcolor=red, fontsize=9";
      return "shape=box, style=filled, fillcolor=white, color=gray40, fontcolor=gray20, "
             "fontsize=9";
    }
}

static void
emit_event_node (Dot        *d,
                 TraceEvent *e,
                 const char *id)
{
  g_autofree char *tooltip = event_tooltip (d, e);
  g_autofree char *text = NULL, *cut = NULL;

  if (e->kind == TRACE_KIND_START)
    return emit_header (d, id, e->lane, row_y (d, row_of (d, e)), FALSE, tooltip);
  node_begin (d, id, lane_x (e->lane), row_y (d, row_of (d, e)));
  if (e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV
      || (e->kind == TRACE_KIND_SPAWN && e->child_lane != NULL))
    {
      g_string_append (d->nodes, "shape=point, width=0.07, height=0.07, color=gray20");
      return node_end (d, "", "", tooltip);
    }
  text = box_text (d, e);
  cut = fit (text, box_room (e), 9);
  g_string_append_printf (d->nodes, "%s, height=0.22, width=0.3, margin=\"0.06,0.02\"",
                          box_style (e));
  node_end (d, cut, "", tooltip);
}

/* A label just above an arrow's start, on the side the arrow goes to, left-
 * or right-justified so the text never crosses its own arrow. */
static void
emit_label (Dot        *d,
            const char *id,
            double      x_from,
            double      x_to,
            double      y,
            double      room,
            const char *text,
            const char *colour,
            double      size)
{
  gboolean right = x_to >= x_from;
  double w = room - 0.25;
  g_autofree char *cut = fit (text, w, size);

  /* As wide as the text, white: drawn after the edges, it hides the bits
   * of other arrows that cross it, so the text stays readable. */
  w = MIN (w, text_width (cut, size) + 0.06);
  node_begin (d, id, x_from + (right ? 1 : -1) * (0.08 + w / 2), y + LABEL_DY);
  g_string_append_printf (d->nodes, "shape=plaintext, fixedsize=shape, width=%.3f, height=0.16, "
                          "margin=0, style=filled, fillcolor=white, fontsize=%g, "
                          "fontcolor=\"%s\"", w, size, colour);
  node_end (d, cut, right ? "\\l" : "\\r", NULL);
}

/* The end of a stub arrow: "not received", "?", "→ p2", "from p1". Its
 * near edge is at @x_edge and the text runs to @side (+1 right, -1 left,
 * 0 centred), so the arrow's label above never runs into it. */
static void
emit_stub_node (Dot        *d,
                const char *id,
                double      x_edge,
                int         side,
                double      y,
                const char *text,
                const char *colour)
{
  double w = 0.1;
  const char *p;

  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    w += char_em (g_utf8_get_char (p)) * 9 / 72;
  node_begin (d, id, x_edge + side * w / 2, y);
  g_string_append_printf (d->nodes, "shape=plaintext, fixedsize=shape, width=%.3f, height=0.2, "
                          "fontsize=9, fontcolor=\"%s\"", w, colour);
  node_end (d, text, "", NULL);
}

/* The label of the arrow that starts at @e: the payload summary, "×N" for
 * a fold. */
static char *
arrow_text (const Dot        *d,
            const TraceEvent *e)
{
  g_autofree char *sum = trace_event_local (e, &d->o->view);
  guint n = e->kind == TRACE_KIND_SEND ? d->rows->fold_n[e->pos] : 1;

  return n > 1 ? g_strdup_printf ("%s ×%u", sum, n) : g_steal_pointer (&sum);
}

static char *
arrow_tooltip (const Dot        *d,
               const TraceEvent *e)
{
  g_autofree char *text = arrow_text (d, e);
  g_autofree char *details = trace_event_details (e, d->run, &d->o->view);
  const TraceEvent *end = e->kind == TRACE_KIND_SEND ? d->rows->arrow_end[e->pos] : NULL;

  if (end != NULL && end->msg_no != e->msg_no)
    return g_strdup_printf ("%s (%s; the last is m%u)", text, details, end->msg_no);
  return g_strdup_printf ("%s (%s)", text, details);
}

/* An arrow from @e (a send or a spawn) that ends off this page or nowhere:
 * a short stub toward @toward with @text at its end. */
static void
emit_out_stub (Dot        *d,
               TraceEvent *e,
               const char *id,
               double      toward,
               const char *text,
               const char *colour,
               const char *attrs)
{
  g_autofree char *stub = node_id ('s', e->pos);
  double x = lane_x (e->lane);

  int side = toward >= x ? 1 : -1;

  emit_stub_node (d, stub, x + side * STUB_LEN, side, row_y (d, row_of (d, e)), text, colour);
  edge (d, id, stub, attrs, NULL);
}

/* An arrow into @e that starts off this page or at an unknown sender: a
 * stub from @from_x's side with @origin at its start, and the label. */
static void
emit_in_stub_as (Dot        *d,
                 TraceEvent *e,
                 const char *id,
                 const char *stub,
                 const char *lid,
                 double      from_x,
                 const char *origin,
                 const char *label,
                 const char *colour,
                 const char *attrs)
{
  double x = lane_x (e->lane), y = row_y (d, row_of (d, e));
  int side = from_x > x ? 1 : -1;
  double x0 = x + side * STUB_LEN;

  emit_stub_node (d, stub, x0, side, y, origin, colour);
  if (*label != '\0')
    emit_label (d, lid, x0, x, y, STUB_LEN, label, colour, 9);
  edge (d, stub, id, attrs, NULL);
}

/* The same, with the stub and label named after @e: "r" and "q". */
static void
emit_in_stub (Dot        *d,
              TraceEvent *e,
              const char *id,
              double      from_x,
              const char *origin,
              const char *label,
              const char *colour,
              const char *attrs)
{
  g_autofree char *stub = node_id ('r', e->pos), *lid = node_id ('q', e->pos);

  emit_in_stub_as (d, e, id, stub, lid, from_x, origin, label, colour, attrs);
}

/* The point where a put enters, or a get leaves, its queue's lane; the
 * lane's dashed line continues through it. */
static char *
emit_queue_point (Dot        *d,
                  QueueLane  *q,
                  TraceEvent *e)
{
  char *id = node_id ('k', e->pos);

  node_begin (d, id, q->x, row_y (d, row_of (d, e)));
  g_string_append (d->nodes, "shape=point, width=0.07, height=0.07, color=gray40");
  node_end (d, "", "", NULL);
  if (d->qprev[q->index] != NULL)
    edge (d, d->qprev[q->index], id, "arrowhead=none, style=dashed, color=gray60", NULL);
  g_free (d->qprev[q->index]);
  d->qprev[q->index] = g_strdup (id);
  return id;
}

/* A put into a queue drawn as a lane: a short arrow into the lane, with
 * the item (×N for a fold). Whether and where it was taken, its get says. */
static void
emit_put (Dot        *d,
          TraceEvent *e,
          const char *id,
          QueueLane  *q)
{
  g_autofree char *text = arrow_text (d, e), *tooltip = arrow_tooltip (d, e);
  g_autofree char *lid = node_id ('l', e->pos), *attrs = NULL, *to = NULL;
  double x = lane_x (e->lane), y = row_y (d, row_of (d, e));

  attrs = g_strdup_printf ("color=\"%s\"", ink (e->lane));
  emit_label (d, lid, x, q->x, y, ABS (q->x - x), text, ink (e->lane), 9);
  to = emit_queue_point (d, q, e);
  edge (d, id, to, attrs, tooltip);
}

/* A get from a queue drawn as a lane: an arrow out of the lane, with the
 * item, in the colour of whoever put it. */
static void
emit_get (Dot        *d,
          TraceEvent *e,
          const char *id,
          QueueLane  *q)
{
  TraceEvent *from = d->rows->arrow_from[e->pos];
  TraceEvent *said = from != NULL ? from : e;
  g_autofree char *text = arrow_text (d, said), *tooltip = arrow_tooltip (d, said);
  g_autofree char *lid = node_id ('l', e->pos), *attrs = NULL, *start = NULL;
  const char *colour = from != NULL ? ink (from->lane) : "gray35";
  double x = lane_x (e->lane), y = row_y (d, row_of (d, e));

  attrs = g_strdup_printf ("color=\"%s\"", colour);
  start = emit_queue_point (d, q, e);
  emit_label (d, lid, q->x, x, y, ABS (q->x - x), text, colour, 9);
  edge (d, start, id, attrs, tooltip);
}

static void
emit_send (Dot        *d,
           TraceEvent *e,
           const char *id)
{
  TraceEvent *end = d->rows->arrow_end[e->pos];
  g_autofree char *text = NULL, *tooltip = NULL;
  g_autofree char *lid = node_id ('l', e->pos), *attrs = NULL, *to = NULL;
  double x = lane_x (e->lane), y = row_y (d, row_of (d, e));
  double x_to = end != NULL ? lane_x (end->lane) : x + STUB_LEN;
  gboolean whole = end != NULL && on_page (d, row_of (d, end));
  QueueLane *q = queue_lane_of (e);

  if (q != NULL)
    return emit_put (d, e, id, q);
  text = arrow_text (d, e);
  tooltip = arrow_tooltip (d, e);

  /* A stub's label stops where the stub's text begins. A failed Manager
   * call's reply ("✗ INDEX: …") is written in red. */
  attrs = g_strdup_printf ("color=\"%s\"", end != NULL ? ink (e->lane) : "red");
  emit_label (d, lid, x, x_to, y, whole ? MIN (LANE_GAP, ABS (x_to - x)) : STUB_LEN, text,
              end == NULL ? "red" : e->error != NULL ? FAILED_INK : ink (e->lane), 9);
  if (end == NULL)
    {
      g_autofree char *stub = node_id ('s', e->pos);

      emit_stub_node (d, stub, x + STUB_LEN, 1, y, "not received", "red");
      return edge (d, id, stub, "color=red, arrowhead=odot", tooltip);
    }
  if (!whole)
    {
      to = g_strdup_printf ("→ p%u", page_of (d, row_of (d, end)));
      return emit_out_stub (d, e, id, x_to, to, ink (e->lane), attrs);
    }
  to = node_id ('e', end->pos);
  edge (d, id, to, attrs, tooltip);
}

/* A receive draws only what its send did not: an arrow from an earlier
 * page, or from an unknown sender. */
static void
emit_recv (Dot        *d,
           TraceEvent *e,
           const char *id)
{
  TraceEvent *from = d->rows->arrow_from[e->pos];
  g_autofree char *origin = NULL, *text = NULL, *attrs = NULL;
  QueueLane *q = queue_lane_of (e);

  if (q != NULL)
    return emit_get (d, e, id, q);
  if (from == NULL && e->peer != NULL)
    return;  /* not reached: a drawn receive with a send ends an arrow */
  if (from != NULL && on_page (d, row_of (d, from)))
    return;
  text = arrow_text (d, from != NULL ? from : e);
  if (from == NULL)
    return emit_in_stub (d, e, id, lane_x (e->lane) - 1, "?", text, "gray35",
                         "color=gray35, style=dashed");
  origin = g_strdup_printf ("from p%u", page_of (d, row_of (d, from)));
  attrs = g_strdup_printf ("color=\"%s\"", ink (from->lane));
  emit_in_stub (d, e, id, lane_x (from->lane), origin, text, ink (from->lane), attrs);
}

static void emit_execs (Dot        *d,
                        TraceEvent *e,
                        const char *id);

#define CREATE_ATTRS "style=dashed, color=gray35, arrowsize=0.6"

/* Process creation: a dashed arrow from the spawn point to the header. */
static void
emit_spawn (Dot        *d,
            TraceEvent *e,
            const char *id)
{
  TraceEvent *head = g_ptr_array_index (e->child_lane->events, 0);
  g_autofree char *lid = node_id ('l', e->pos), *to = NULL;
  double x = lane_x (e->lane), x_to = lane_x (e->child_lane);

  emit_label (d, lid, x, x_to, row_y (d, row_of (d, e)), MIN (LANE_GAP, ABS (x_to - x)),
              "start()", "gray35", 9);
  if (e->child_lane->spawn != e)
    return;
  if (!on_page (d, row_of (d, head)))
    {
      to = g_strdup_printf ("→ p%u", page_of (d, row_of (d, head)));
      return emit_out_stub (d, e, id, x_to, to, "gray35", CREATE_ATTRS);
    }
  to = node_id ('e', head->pos);
  if (row_of (d, head) == row_of (d, e))
    {
      /* The header shares this row (trace-rows.c) and is drawn here. */
      emit_event_node (d, head, to);
      g_free (d->prev[head->lane->index]);
      d->prev[head->lane->index] = g_strdup (to);
      edge (d, id, to, CREATE_ATTRS, NULL);
      return emit_execs (d, head, to);
    }
  edge (d, id, to, CREATE_ATTRS, NULL);
}

/* A header whose spawn (or exec) is on an earlier page: a stub "from p1". */
static void
emit_start (Dot        *d,
            TraceEvent *e,
            const char *id)
{
  TraceEvent *spawn = e->lane->spawn;
  TraceEvent *from = spawn != NULL ? spawn
                     : e->lane_pos == 0 ? d->rows->exec_from[e->lane->index] : NULL;
  g_autofree char *origin = NULL;

  if (from == NULL || on_page (d, row_of (d, from)))
    return;
  origin = g_strdup_printf ("from p%u", page_of (d, row_of (d, from)));
  emit_in_stub (d, e, id, lane_x (from->lane), origin, spawn != NULL ? "start()" : "exec",
                "gray35", CREATE_ATTRS);
}

/* A program its parent started by exec, without a proc.spawn: a dashed
 * arrow "exec" from the parent's event before it started (@e) to its
 * header. The label sits beside the header, above a level arrow or under
 * a slanting one (which comes down from above it). */
static void
emit_exec (Dot        *d,
           TraceEvent *e,
           const char *id,
           TraceLane  *child)
{
  TraceEvent *head = g_ptr_array_index (child->events, 0);
  g_autofree char *lid = node_id ('x', head->pos), *to = node_id ('e', head->pos);
  double x = lane_x (e->lane), x_to = lane_x (child), y;
  double edge_x = x_to + (x < x_to ? -1 : 1) * header_half_width (child);

  if (!on_page (d, row_of (d, head)))
    {
      g_autofree char *stub = g_strdup_printf ("→ p%u", page_of (d, row_of (d, head)));
      g_autofree char *sid = node_id ('s', head->pos);
      int side = x_to >= x ? 1 : -1;

      /* Half a row down: @e may be a send with a stub of its own here. */
      emit_stub_node (d, sid, x + side * STUB_LEN, side, row_y (d, row_of (d, e)) - ROW_H / 2,
                      stub, "gray35");
      return edge (d, id, sid, CREATE_ATTRS, NULL);
    }
  y = row_y (d, row_of (d, head));
  if (row_of (d, head) == row_of (d, e))
    {
      /* The header shares this row (trace-rows.c) and is drawn here. */
      emit_event_node (d, head, to);
      g_free (d->prev[child->index]);
      d->prev[child->index] = g_strdup (to);
      emit_label (d, lid, edge_x, x, y, LANE_GAP, "exec", "gray35", 9);
      edge (d, id, to, CREATE_ATTRS, NULL);
      return emit_execs (d, head, to);
    }
  emit_label (d, lid, edge_x, x, y - 2 * LABEL_DY, LANE_GAP, "exec", "gray35", 9);
  edge (d, id, to, CREATE_ATTRS, NULL);
}

/* The "exec" arrows that start at @e, in lane order. */
static void
emit_execs (Dot        *d,
            TraceEvent *e,
            const char *id)
{
  GPtrArray *lanes = g_hash_table_lookup (d->rows->execs, e);
  guint i;

  for (i = 0; lanes != NULL && i < lanes->len; i++)
    emit_exec (d, e, id, g_ptr_array_index (lanes, i));
}

/* Half the width of the node @e is drawn as, in inches (emit_event_node):
 * a header, a point, or a box as wide as its text and margins. */
static double
node_half_width (const Dot        *d,
                 const TraceEvent *e)
{
  g_autofree char *text = NULL, *cut = NULL;
  double size = 9;

  if (e->kind == TRACE_KIND_START)
    return header_half_width (e->lane);
  if (e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV
      || (e->kind == TRACE_KIND_SPAWN && e->child_lane != NULL))
    return 0.035;
  text = box_text (d, e);
  cut = fit (text, box_room (e), 9);
  return MAX (0.3, text_width (cut, size) + 0.12) / 2;
}

/* The end of programs its parent started by exec (@e is the parent's
 * first event after it): a dashed arrow "exec ended" from the program's
 * last drawn event, labelled beside it, or a stub "from p1". It orders by
 * time only: nothing says the parent waited (trace-order.c). */
static void
emit_resumes (Dot        *d,
              TraceEvent *e,
              const char *id)
{
  GPtrArray *lanes = g_hash_table_lookup (d->rows->resumes, e);
  guint i;

  for (i = 0; lanes != NULL && i < lanes->len; i++)
    {
      TraceLane *child = g_ptr_array_index (lanes, i);
      TraceEvent *last = d->rows->exec_last[child->index];
      g_autofree char *from = node_id ('e', last->pos), *lid = node_id ('y', last->pos);
      double x = lane_x (child), x_to = lane_x (e->lane);

      if (!on_page (d, row_of (d, last)))
        {
          g_autofree char *stub = node_id ('z', last->pos);
          g_autofree char *origin = g_strdup_printf ("from p%u", page_of (d, row_of (d, last)));

          emit_in_stub_as (d, e, id, stub, lid, x, origin, "exec ended", "gray35", CREATE_ATTRS);
          continue;
        }
      emit_label (d, lid, x + (x_to >= x ? 1 : -1) * node_half_width (d, last), x_to,
                  row_y (d, row_of (d, last)), LANE_GAP, "exec ended", "gray35", 9);
      edge (d, from, id, CREATE_ATTRS, NULL);
    }
}

/* A join: a dashed arrow from the child's last drawn event (its end) to
 * the box where the parent learnt of it. */
static void
emit_join (Dot        *d,
           TraceEvent *e,
           const char *id)
{
  guint end_row = d->rows->last_row[e->child_lane->index];
  TraceEvent *end = g_ptr_array_index (d->rows->rows, end_row - 1);
  g_autofree char *from = NULL;

  if (!on_page (d, end_row))
    {
      from = g_strdup_printf ("from p%u", page_of (d, end_row));
      return emit_in_stub (d, e, id, lane_x (end->lane), from, "", "gray35", CREATE_ATTRS);
    }
  from = node_id ('e', end->pos);
  edge (d, from, id, CREATE_ATTRS, NULL);
}

#define CAUSE_ATTRS "style=dotted, color=gray40, arrowhead=vee, arrowsize=0.6"

/* End of file: a dotted arrow from the close that let it arrive (the last
 * close of the other end), when both are on this page. */
static void
emit_eof (Dot        *d,
          TraceEvent *e,
          const char *id)
{
  TraceEvent *cause = trace_eof_cause (d->run, e);
  g_autofree char *from = NULL;

  if (cause == NULL || row_of (d, cause) == 0 || !on_page (d, row_of (d, cause)))
    return;
  from = node_id ('e', cause->pos);
  edge (d, from, id, CAUSE_ATTRS, NULL);
}

/* An "after" cause (the task_done that let a join return, the set that
 * woke a wait): the same dotted arrow, when both ends are on this page and
 * in different lanes (down one lane, the order says it already). */
static void
emit_after (Dot        *d,
            TraceEvent *e,
            const char *id)
{
  g_autofree char *from = NULL;

  if (e->cause->lane == e->lane || row_of (d, e->cause) == 0
      || !on_page (d, row_of (d, e->cause)))
    return;
  from = node_id ('e', e->cause->pos);
  edge (d, from, id, CAUSE_ATTRS, NULL);
}

static void
emit_row (Dot  *d,
          guint row)
{
  TraceEvent *e = g_ptr_array_index (d->rows->rows, row - 1);
  g_autofree char *id = node_id ('e', e->pos), *axis = node_id ('t', row);
  g_autofree char *number = g_strdup_printf ("%u", row);
  char **prev = &d->prev[e->lane->index];

  node_begin (d, axis, AXIS_X, row_y (d, row));
  g_string_append (d->nodes, "shape=plaintext, fixedsize=shape, width=0.3, height=0.15, "
                             "fontsize=9, fontcolor=gray50");
  node_end (d, number, "", NULL);
  emit_event_node (d, e, id);
  if (*prev != NULL)
    edge (d, *prev, id, "arrowhead=none, style=dashed, color=gray60", NULL);
  g_free (*prev);
  *prev = g_strdup (id);
  if (e->kind == TRACE_KIND_SEND)
    emit_send (d, e, id);
  else if (e->kind == TRACE_KIND_RECV)
    emit_recv (d, e, id);
  else if (e->kind == TRACE_KIND_SPAWN && e->child_lane != NULL)
    emit_spawn (d, e, id);
  else if (e->kind == TRACE_KIND_START)
    emit_start (d, e, id);
  else if (e->kind == TRACE_KIND_JOIN && e->child_lane != NULL)
    emit_join (d, e, id);
  else if (e->kind == TRACE_KIND_EOF)
    emit_eof (d, e, id);
  if (e->cause != NULL)
    emit_after (d, e, id);
  emit_execs (d, e, id);
  emit_resumes (d, e, id);
}

/* Lanes that started on an earlier page get their header again on top. */
static void
emit_continued_headers (Dot *d)
{
  guint i;

  for (i = 0; i < d->run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (d->run->lanes, i);

      if (d->rows->first_row[i] >= d->first || d->rows->last_row[i] < d->first)
        continue;
      d->prev[i] = node_id ('h', i);
      emit_header (d, d->prev[i], lane, row_y (d, d->first - 1), TRUE, NULL);
    }
}

/* Each queue drawn as a lane and used on this page gets its header on
 * top of the page, above the first row (it exists before anyone uses it). */
static void
emit_queue_headers (Dot *d)
{
  guint i;

  for (i = 0; i < columns->queues->len; i++)
    {
      QueueLane *q = g_ptr_array_index (columns->queues, i);
      g_autofree char *id = NULL;

      if (q->first_row > d->last || q->last_row < d->first)
        continue;
      id = node_id ('Q', i);
      node_begin (d, id, q->x, row_y (d, d->first - 1));
      g_string_append (d->nodes, "shape=box, style=\"rounded,filled\", fillcolor=\"#eeeeee\", "
                                 "color=gray50, fontsize=10, width=0.9, height=0.3, "
                                 "margin=\"0.06,0.02\"");
      node_end (d, q->name, "", "a queue: items enter at their put and leave at their get");
      d->qprev[i] = g_steal_pointer (&id);
    }
}

/* Lanes that go on past the page end in "↓ p2". */
static void
emit_continuations (Dot *d)
{
  guint i;

  for (i = 0; i < d->run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (d->run->lanes, i);
      g_autofree char *id = NULL, *text = NULL;

      if (d->rows->first_row[i] > d->last || d->rows->last_row[i] <= d->last)
        continue;
      id = node_id ('b', i);
      text = g_strdup_printf ("↓ p%u", d->page + 1);
      emit_stub_node (d, id, lane_x (lane), 0, row_y (d, d->last + 1), text, "gray35");
      edge (d, d->prev[i], id, "arrowhead=none, style=dashed, color=gray60", NULL);
    }
}

/* The graph's title, its page, and a banner when events are missing. */
static void
append_title (GString   *s,
              const Dot *d)
{
  g_autofree char *clean = trace_clean (d->o->title);
  g_autofree char *title = g_markup_escape_text (clean, -1);

  g_string_append_printf (s, "<<b>%s</b>", title);
  if (d->n_pages > 1)
    g_string_append_printf (s, "  (page %u of %u)", d->page, d->n_pages);
  if (d->run->n_dropped > 0 || d->run->n_torn > 0)
    {
      g_string_append (s, "<br/><font point-size=\"10\" color=\"#c00000\">incomplete trace:");
      if (d->run->n_dropped > 0)
        g_string_append_printf (s, " %" G_GINT64_FORMAT " event(s) dropped", d->run->n_dropped);
      if (d->run->n_torn > 0)
        g_string_append_printf (s, "%s %u torn line(s) ignored",
                                d->run->n_dropped > 0 ? ";" : "", d->run->n_torn);
      g_string_append (s, "</font>");
    }
  g_string_append (s, ">");
}

/* Every node is pinned, so neato's stress iterations would move nothing:
 * maxiter=0 skips them and renders 1 000 events about 3× faster. */
static char *
assemble (Dot *d)
{
  GString *s = g_string_new ("digraph trace {\n  graph [layout=neato, maxiter=0, splines=line, "
                             "outputorder=edgesfirst, pad=0.3, fontname=\"Helvetica\", "
                             "fontsize=12, labelloc=t, label=");

  append_title (s, d);
  g_string_append (s, "];\n  node [fontname=\"Helvetica\", fontsize=9];\n"
                      "  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.7];\n\n"
                      "  // nodes, by row then lane\n");
  g_string_append_len (s, d->nodes->str, d->nodes->len);
  g_string_append (s, "\n  // edges, in event order\n");
  g_string_append_len (s, d->edges->str, d->edges->len);
  g_string_append (s, "}\n");
  return g_string_free (s, FALSE);
}

static gboolean
is_queue_item (const TraceEvent *e)
{
  return (e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV) && e->obj != NULL
         && e->obj_name != NULL && g_str_has_prefix (e->obj, "queue:")
         && (strcmp (e->ev, "queue.put") == 0 || strcmp (e->ev, "queue.get") == 0);
}

/* A page with more lanes than a slide holds at full size (six or more)
 * narrows its gaps, never its boxes, so that the rightmost lane sits at
 * MAX_LANE_X at most: the gaps stay wider than any box (BOX_ROOM) until
 * about eight lanes, and arrow labels are cut to the gap they span. */
static void
columns_squeeze (Columns *c,
                 guint    n_lanes)
{
  double right = LANE_X0, f;
  guint i;

  for (i = 0; i < n_lanes; i++)
    right = MAX (right, c->x[i]);
  for (i = 0; i < c->queues->len; i++)
    right = MAX (right, ((QueueLane *) g_ptr_array_index (c->queues, i))->x);
  if (right <= MAX_LANE_X)
    return;
  f = (MAX_LANE_X - LANE_X0) / (right - LANE_X0);
  for (i = 0; i < n_lanes; i++)
    c->x[i] = LANE_X0 + (c->x[i] - LANE_X0) * f;
  for (i = 0; i < c->queues->len; i++)
    {
      QueueLane *q = g_ptr_array_index (c->queues, i);

      q->x = LANE_X0 + (q->x - LANE_X0) * f;
    }
}

/* The columns of the page of rows @first to @last. Only the lanes that
 * have a row on it take room, so a long story whose processes come and go
 * (lab 25's rounds) stays as narrow as its busiest page; a lane that
 * does not (an arrow's stub may still point toward it) sits where the
 * next one starts. Every queue whose items are drawn on the page gets a
 * lane right after the lane of its first putter (or getter), in order of
 * first use. */
static Columns *
columns_new (TraceRun              *run,
             TraceRows             *rows,
             const TraceDotOptions *o,
             guint                  first,
             guint                  last)
{
  Columns *c = g_new0 (Columns, 1);
  double x = LANE_X0;
  guint i, j;

  c->x = g_new0 (double, run->lanes->len);
  c->queues = g_ptr_array_new_with_free_func (g_free);
  c->by_obj = g_hash_table_new (g_str_hash, g_str_equal);
  for (i = 0; !o->queue_arrows && i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);
      guint row = rows->row_of[e->pos];
      QueueLane *q;

      if (row == 0 || !is_queue_item (e))
        continue;
      q = g_hash_table_lookup (c->by_obj, e->obj);
      if (q == NULL)
        {
          q = g_new0 (QueueLane, 1);
          q->obj = e->obj;
          q->name = e->obj_name;
          q->after = e->lane;
          q->index = c->queues->len;
          q->first_row = row;
          g_ptr_array_add (c->queues, q);
          g_hash_table_insert (c->by_obj, (gpointer) q->obj, q);
        }
      /* Its first put decides where its lane goes. */
      if (e->kind == TRACE_KIND_SEND && !q->put_seen)
        {
          q->after = e->lane;
          q->put_seen = TRUE;
        }
      q->first_row = MIN (q->first_row, row);
      q->last_row = MAX (q->last_row, row);
      q->on_page |= row >= first && row <= last;
    }
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      gboolean active = rows->first_row[i] <= last && rows->last_row[i] >= first
                        && rows->last_row[i] > 0;

      c->x[i] = x;
      if (active)
        x += LANE_GAP;
      for (j = 0; j < c->queues->len; j++)
        {
          QueueLane *q = g_ptr_array_index (c->queues, j);

          if (q->after != lane || !q->on_page)
            continue;
          q->x = active ? c->x[i] + QUEUE_GAP : x;
          x = q->x + QUEUE_GAP;
        }
    }
  columns_squeeze (c, run->lanes->len);
  return c;
}

static void
columns_free (Columns *c)
{
  g_free (c->x);
  g_ptr_array_unref (c->queues);
  g_hash_table_unref (c->by_obj);
  g_free (c);
}

static char *
dot_page (TraceRun              *run,
          TraceRows             *rows,
          const TraceDotOptions *o,
          guint                  page,
          guint                  n_pages)
{
  Dot d = { run, rows, o, page, n_pages, 1, rows->rows->len, NULL, NULL, NULL, NULL };
  char *text;
  guint r;

  if (o->max_rows > 0)
    {
      d.first = (page - 1) * o->max_rows + 1;
      d.last = MIN (page * o->max_rows, rows->rows->len);
    }
  columns = columns_new (run, rows, o, d.first, d.last);
  d.nodes = g_string_new (NULL);
  d.edges = g_string_new (NULL);
  d.prev = g_new0 (char *, run->lanes->len);
  d.qprev = g_new0 (char *, columns->queues->len + 1);
  emit_continued_headers (&d);
  emit_queue_headers (&d);
  for (r = d.first; r <= d.last; r++)
    emit_row (&d, r);
  emit_continuations (&d);
  text = assemble (&d);
  g_string_free (d.nodes, TRUE);
  g_string_free (d.edges, TRUE);
  for (r = 0; r < run->lanes->len; r++)
    g_free (d.prev[r]);  /* not g_strfreev: lanes off this page left holes */
  g_free (d.prev);
  for (r = 0; r < columns->queues->len; r++)
    g_free (d.qprev[r]);
  g_free (d.qprev);
  g_clear_pointer (&columns, columns_free);
  return text;
}

/* FILE.dot -> FILE-p2.dot */
static char *
page_path (const char *output,
           guint       page)
{
  g_autofree char *stem = g_str_has_suffix (output, ".dot")
                          ? g_strndup (output, strlen (output) - 4) : g_strdup (output);

  return g_strdup_printf ("%s-p%u.dot", stem, page);
}

static gboolean
write_pages (TraceRun              *run,
             TraceRows             *rows,
             const TraceDotOptions *o,
             guint                  n_pages,
             GError               **error)
{
  guint page;

  for (page = 1; page <= n_pages; page++)
    {
      g_autofree char *text = dot_page (run, rows, o, page, n_pages);
      g_autofree char *path = n_pages > 1 ? page_path (o->output, page) : g_strdup (o->output);

      if (!g_file_set_contents (path, text, -1, error))
        return FALSE;
      if (n_pages > 1)
        g_printerr ("mpk-trace: wrote %s\n", path);
    }
  return TRUE;
}

gboolean
trace_dot_print (TraceRun              *run,
                 const TraceDotOptions *options,
                 GError               **error)
{
  g_autoptr(TraceRows) rows = trace_rows_new (run);
  g_autofree char *text = NULL;
  guint n_pages = 1;

  if (options->max_rows > 0)
    n_pages = MAX (1, (rows->rows->len + options->max_rows - 1) / options->max_rows);
  if (options->output != NULL)
    return write_pages (run, rows, options, n_pages, error);
  if (options->page > n_pages)
    {
      g_set_error (error, TRACE_ERROR, TRACE_ERROR_USAGE,
                   "--page=%u: the diagram has %u page(s)", options->page, n_pages);
      return FALSE;
    }
  text = dot_page (run, rows, options, options->page, n_pages);
  fputs (text, stdout);
  if (n_pages > 1)
    trace_note ("page %u of %u (--page=K for another, -o FILE.dot writes them all)",
                options->page, n_pages);
  return TRUE;
}
