/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-event-group.c: valkka's EventGroup and SyncIndex (issue 15, seed 003).
 *
 * N MpkEvents made before fork, plus one shared block that says which are
 * reserved and keeps the free ones in a FIFO ring (valkka's free list is a
 * Python list per process: pop(0) to reserve, append to release). The
 * block is guarded by a robust process-shared mutex; a process that dies
 * holding it leaves a block the next locker rebuilds from the reserved
 * flags. A reserve that finds nothing free sleeps on a futex signal that
 * every release notifies. Values read from the shared block are checked
 * before they are used as indices. */

#include "mpk-msgproc-private.h"

#include <errno.h>
#include <string.h>

typedef struct
{
  pthread_mutex_t mutex;
  MpkShmSignal    signal;                         /* notified by every release */
  guint32         n_free;
  guint32         head;                           /* ring position of the oldest free index */
  guint8          reserved[MPK_EVENT_GROUP_MAX];  /* 1 while reserved */
  guint32         ring[MPK_EVENT_GROUP_MAX];      /* free indices, oldest first */
} GroupShared;

struct _MpkEventGroup
{
  guint        n;         /* this process's copy: never trust shared memory for it */
  GroupShared *shm;
  MpkEvent   **events;
};

/* Rebuilds the ring from the reserved flags, lowest free index first: after
 * a holder died in the middle of a change, the flags are what counts. */
static void
rebuild (MpkEventGroup *group)
{
  GroupShared *shm = group->shm;
  guint32 k = 0;

  for (guint i = 0; i < group->n; i++)
    {
      if (shm->reserved[i] > 1)
        shm->reserved[i] = 1;
      if (shm->reserved[i] == 0)
        shm->ring[k++] = i;
    }
  shm->head = 0;
  shm->n_free = k;
}

static gboolean
group_lock (MpkEventGroup  *group,
            MpkDeadline     deadline,
            GError        **error)
{
  int err = mpk__mutex_lock (&group->shm->mutex, deadline);

  if (err == EOWNERDEAD)
    {
      rebuild (group);
      pthread_mutex_consistent (&group->shm->mutex);
      return TRUE;
    }
  if (err == ETIMEDOUT)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_EMPTY,
                           "event group: timed out waiting for its lock");
      return FALSE;
    }
  if (err != 0)
    return mpk__set_error_from_errno (error, err, "event group: locking");
  /* A block that does not add up (someone scribbled on it) is rebuilt too. */
  if (group->shm->n_free > group->n || group->shm->head >= MAX (group->n, 1))
    rebuild (group);
  return TRUE;
}

static void
group_unlock (MpkEventGroup *group)
{
  pthread_mutex_unlock (&group->shm->mutex);
}

/**
 * mpk_event_group_new:
 * @n: how many events, 1 to %MPK_EVENT_GROUP_MAX (valkka's default is 10)
 * @error: return location for a #GError, or %NULL
 *
 * Makes @n process-shared events, all free, with indices 0 to @n - 1.
 * Call it before starting the processes that will use the group.
 *
 * Returns: (transfer full): the group, free with mpk_event_group_free();
 *   %NULL with %MPK_ERROR_INVALID for @n out of range, or %MPK_ERROR_FAILED
 */
MpkEventGroup *
mpk_event_group_new (guint    n,
                     GError **error)
{
  g_autofree MpkEventGroup *group = NULL;
  GroupShared *shm;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (n == 0 || n > MPK_EVENT_GROUP_MAX)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "event group: %u events; a group holds 1 to %d", n, MPK_EVENT_GROUP_MAX);
      return NULL;
    }
  shm = mpk__shm_alloc (sizeof *shm, error);
  if (shm == NULL)
    return NULL;
  if (!mpk__mutex_init (&shm->mutex, PTHREAD_MUTEX_NORMAL, error))
    {
      mpk__shm_free (shm, sizeof *shm);
      return NULL;
    }
  group = g_new0 (MpkEventGroup, 1);
  group->n = n;
  group->shm = shm;
  group->events = g_new0 (MpkEvent *, n);
  for (guint i = 0; i < n; i++)
    {
      group->events[i] = mpk_event_new (error);
      if (group->events[i] == NULL)
        {
          mpk_event_group_free (g_steal_pointer (&group));
          return NULL;
        }
    }
  rebuild (group);
  return g_steal_pointer (&group);
}

/**
 * mpk_event_group_free:
 * @group: (transfer full) (nullable): an event group
 *
 * Frees this process's copy of @group (each process that has one frees it).
 */
void
mpk_event_group_free (MpkEventGroup *group)
{
  if (group == NULL)
    return;
  for (guint i = 0; i < group->n; i++)
    if (group->events[i] != NULL)
      mpk_event_free (group->events[i]);
  g_free (group->events);
  mpk__shm_free (group->shm, sizeof *group->shm);
  g_free (group);
}

/**
 * mpk_event_group_get_size:
 * @group: (transfer none): an event group
 *
 * valkka's `len(group)`.
 *
 * Returns: how many events @group holds
 */
guint
mpk_event_group_get_size (MpkEventGroup *group)
{
  g_return_val_if_fail (group != NULL, 0);

  return group->n;
}

/**
 * mpk_event_group_get_n_free:
 * @group: (transfer none): an event group
 *
 * How many events a reserve could take now, in all processes.
 *
 * Returns: how many events are free now (others may change it at once)
 */
guint
mpk_event_group_get_n_free (MpkEventGroup *group)
{
  guint n;

  g_return_val_if_fail (group != NULL, 0);

  n = g_atomic_int_get ((gint *) &group->shm->n_free);
  return MIN (n, group->n);
}

static int
has_free (gpointer data)
{
  GroupShared *shm = data;

  return g_atomic_int_get ((gint *) &shm->n_free) > 0;
}

/**
 * mpk_event_group_reserve:
 * @group: (transfer none): an event group
 * @timeout_us: microseconds to wait for a free event, or
 *   %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @event: (out) (optional) (transfer none): the event reserved, owned by @group
 * @error: return location for a #GError, or %NULL
 *
 * Takes the free event that was released longest ago (the lowest index
 * before any release) and clears it, valkka's `reserve()`. Where valkka
 * raises `NotEnoughEvents` at once, this waits until the timeout for
 * another thread or process to release one.
 *
 * Returns: the event's index; -1 with %MPK_ERROR_EMPTY when none was free
 *   before the timeout
 */
gint
mpk_event_group_reserve (MpkEventGroup  *group,
                         gint64          timeout_us,
                         MpkEvent      **event,
                         GError        **error)
{
  MpkDeadline deadline;

  g_return_val_if_fail (group != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  deadline = mpk__deadline_from_timeout (timeout_us);
  while (TRUE)
    {
      GroupShared *shm = group->shm;
      guint32 index = G_MAXUINT32;

      if (!group_lock (group, deadline, error))
        return -1;
      while (shm->n_free > 0 && index == G_MAXUINT32)
        {
          guint32 candidate = shm->ring[shm->head];

          shm->head = (shm->head + 1) % group->n;
          shm->n_free--;
          /* A stale or scribbled entry is skipped, never handed out twice. */
          if (candidate < group->n && shm->reserved[candidate] == 0)
            index = candidate;
        }
      if (index != G_MAXUINT32)
        {
          shm->reserved[index] = 1;
          group_unlock (group);
          /* valkka sets then clears (a bare clear crashed libValkka's
           * EventFd); a plain clear is enough for an MpkEvent. */
          mpk_event_clear (group->events[index]);
          if (event != NULL)
            *event = group->events[index];
          return (gint) index;
        }
      group_unlock (group);
      if (!mpk__signal_wait_until (&shm->signal, has_free, shm, deadline, 0))
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_EMPTY,
                       "event group: all %u events are reserved (valkka's NotEnoughEvents)",
                       group->n);
          return -1;
        }
    }
}

static gboolean
check_index (MpkEventGroup  *group,
             gint            index,
             const char     *what,
             GError        **error)
{
  if (index < 0 || (guint) index >= group->n)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "event group: %s: index %d is not in 0..%u", what, index, group->n - 1);
      return FALSE;
    }
  return TRUE;
}

/**
 * mpk_event_group_release:
 * @group: (transfer none): an event group
 * @index: the index a reserve returned
 * @error: return location for a #GError, or %NULL
 *
 * Gives a reserved event back, valkka's `release_ind()`. It goes to the
 * end of the free list.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID for an index out of range
 *   or one that is not reserved (a double release: valkka accepts it and
 *   later hands the event to two users)
 */
gboolean
mpk_event_group_release (MpkEventGroup  *group,
                         gint            index,
                         GError        **error)
{
  GroupShared *shm;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (group, index, "release", error))
    return FALSE;
  shm = group->shm;
  if (!group_lock (group, MPK__DEADLINE_NEVER, error))
    return FALSE;
  if (shm->reserved[index] == 0)
    {
      group_unlock (group);
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "event group: release: event %d is not reserved (released twice?)", index);
      return FALSE;
    }
  shm->reserved[index] = 0;
  shm->ring[(shm->head + shm->n_free) % group->n] = (guint32) index;
  shm->n_free++;
  group_unlock (group);
  mpk__signal_notify (&shm->signal);
  return TRUE;
}

/**
 * mpk_event_group_release_event:
 * @group: (transfer none): an event group
 * @event: (transfer none): an event of @group
 * @error: return location for a #GError, or %NULL
 *
 * valkka's `release(event)`: mpk_event_group_release() by event.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID for an event of another
 *   group or one that is not reserved
 */
gboolean
mpk_event_group_release_event (MpkEventGroup  *group,
                               MpkEvent       *event,
                               GError        **error)
{
  gint index;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  index = mpk_event_group_as_index (group, event);
  if (index < 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "event group: release: the event is not in this group");
      return FALSE;
    }
  return mpk_event_group_release (group, index, error);
}

/**
 * mpk_event_group_set:
 * @group: (transfer none): an event group
 * @index: the index the frontend sent
 * @error: return location for a #GError, or %NULL
 *
 * Sets the event at @index, valkka's `set(i)`: typically the backend's
 * answer that a command is done. With tracing on (`lock`), the diagram
 * draws a dotted arrow from this set to the wait it woke.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID for an index out of range
 *   or not reserved (its user gave up and released it: setting it now
 *   could wake the next user too early)
 */
gboolean
mpk_event_group_set (MpkEventGroup  *group,
                     gint            index,
                     GError        **error)
{
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (group, index, "set", error))
    return FALSE;
  if (group->shm->reserved[index] == 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "event group: set: event %d is not reserved", index);
      return FALSE;
    }
  mpk_event_set (group->events[index]);
  return TRUE;
}

/**
 * mpk_event_group_from_index:
 * @group: (transfer none): an event group
 * @index: an index
 *
 * valkka's `fromIndex(i)`.
 *
 * Returns: (transfer none) (nullable): the event at @index, owned by
 *   @group; %NULL for an index out of range
 */
MpkEvent *
mpk_event_group_from_index (MpkEventGroup *group,
                            gint           index)
{
  g_return_val_if_fail (group != NULL, NULL);

  if (index < 0 || (guint) index >= group->n)
    return NULL;
  return group->events[index];
}

/**
 * mpk_event_group_as_index:
 * @group: (transfer none): an event group
 * @event: (transfer none) (nullable): an event
 *
 * valkka's `asIndex(event)`.
 *
 * Returns: @event's index in @group, or -1 if it is not one of its events
 */
gint
mpk_event_group_as_index (MpkEventGroup *group,
                          MpkEvent      *event)
{
  g_return_val_if_fail (group != NULL, -1);

  for (guint i = 0; event != NULL && i < group->n; i++)
    if (group->events[i] == event)
      return (gint) i;
  return -1;
}

/**
 * mpk_event_group_to_string:
 * @group: (transfer none): an event group
 *
 * valkka's `str(group)`: `<EventGroup: R0 f1 f2 >`, R for reserved and f
 * for free, by index.
 *
 * Returns: (transfer full): the text, free with g_free()
 */
char *
mpk_event_group_to_string (MpkEventGroup *group)
{
  GString *text;

  g_return_val_if_fail (group != NULL, NULL);

  text = g_string_new ("<EventGroup: ");
  for (guint i = 0; i < group->n; i++)
    g_string_append_printf (text, "%c%u ", group->shm->reserved[i] != 0 ? 'R' : 'f', i);
  g_string_append_c (text, '>');
  return g_string_free (text, FALSE);
}

/**
 * mpk_event_group_sync_begin:
 * @group: (transfer none): an event group
 * @timeout_us: microseconds to wait for a free event, or
 *   %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * The start of valkka's `with SyncIndex(group) as i:` block: reserves an
 * event. Send its index with a command, then call
 * mpk_event_group_sync_end(), whatever happened in between.
 *
 * Returns: the index; -1 with %MPK_ERROR_EMPTY as mpk_event_group_reserve()
 */
gint
mpk_event_group_sync_begin (MpkEventGroup  *group,
                            gint64          timeout_us,
                            GError        **error)
{
  return mpk_event_group_reserve (group, timeout_us, NULL, error);
}

/* The longest slice of a sync wait before it looks at the watched process
 * again: what a dead backend costs a waiter at most. */
#define SYNC_SLICE_US (50 * 1000)

/**
 * mpk_event_group_sync_end:
 * @group: (transfer none): an event group
 * @index: the index mpk_event_group_sync_begin() returned
 * @watch: (transfer none) (nullable): the process expected to set the
 *   event (the backend), or %NULL
 * @timeout_us: microseconds to wait for the set, or %MPK_WAIT_FOREVER /
 *   %MPK_NO_WAIT (pass %MPK_NO_WAIT when the command could not be sent)
 * @error: return location for a #GError, or %NULL
 *
 * The end of valkka's `SyncIndex` block: waits until the event at @index
 * is set, then releases it. Unlike valkka's, which waits forever (even when
 * the block failed or the backend died), the wait has a timeout, ends as
 * soon as @watch has ended, and the index is released in every case.
 *
 * Returns: %TRUE once the event was set; %FALSE with %MPK_ERROR_TIMED_OUT,
 *   %MPK_ERROR_PEER_DIED (@watch ended without setting it) or
 *   %MPK_ERROR_INVALID (@index was not reserved)
 */
gboolean
mpk_event_group_sync_end (MpkEventGroup  *group,
                          gint            index,
                          MpkProcess     *watch,
                          gint64          timeout_us,
                          GError        **error)
{
  MpkDeadline deadline;
  MpkEvent *event;
  gboolean set = FALSE;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (group, index, "sync_end", error))
    return FALSE;
  if (group->shm->reserved[index] == 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "event group: sync_end: event %d is not reserved", index);
      return FALSE;
    }
  event = group->events[index];
  deadline = mpk__deadline_from_timeout (timeout_us);
  while (TRUE)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 slice;
      gboolean ended;

      /* Looked at before the wait: a backend that set the event and then
       * exited still counts as a success. */
      ended = watch != NULL && !mpk_process_is_alive (watch);
      slice = deadline == MPK__DEADLINE_NEVER ? SYNC_SLICE_US
              : MAX (0, MIN (deadline - now, SYNC_SLICE_US));
      if (watch == NULL && deadline == MPK__DEADLINE_NEVER)
        slice = MPK_WAIT_FOREVER;
      if (mpk_event_wait (event, ended ? MPK_NO_WAIT : slice))
        {
          set = TRUE;
          break;
        }
      if (ended)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED,
                       "event group: process %s ended without setting event %d",
                       mpk_process_get_name (watch), index);
          break;
        }
      if (deadline != MPK__DEADLINE_NEVER && g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                       "event group: event %d was not set before the timeout", index);
          break;
        }
    }
  mpk_event_group_release (group, index, NULL);
  return set;
}
