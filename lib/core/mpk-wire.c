/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-wire.c: the frame every message travels in (Python's Connection uses a
 * bare length prefix and pickle; we add the fields the tracer needs and use
 * GVariant, which cannot run code on the receiver). Everything decoded here
 * comes from another process and is checked before it is trusted. */
#include "mpk-core-private.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* Per-process message identity. getpid() is a syscall in glibc, so the pid is
 * cached and refreshed in forked children by the atfork handler below. */
static guint32 wire_pid;
static guint64 wire_seq;      /* last sequence number used (atomic) */
static guint64 wire_clock;    /* Lamport clock (atomic) */

static void
wire_after_fork_child (void)
{
  wire_pid = (guint32) getpid ();
  __atomic_store_n (&wire_seq, 0, __ATOMIC_RELAXED);
}

__attribute__ ((constructor)) static void
wire_init (void)
{
  wire_pid = (guint32) getpid ();
  pthread_atfork (NULL, NULL, wire_after_fork_child);
}

void
mpk__wire_stamp (MpkWireHeader *header,
                 MpkWireKind    kind,
                 guint64        length)
{
  header->kind = kind;
  header->flags = (G_BYTE_ORDER == G_BIG_ENDIAN) ? MPK__WIRE_FLAG_BIG_ENDIAN : 0;
  header->type_len = 0;
  header->length = length;
  header->pid = wire_pid;
  /* Message ids and clocks are for the tracer. Untraced, they stay 0: two
   * locked instructions per message would stall a queue's put until its
   * item had reached the consumer's CPU. */
  if (!MPK__TRACING (~0u))
    {
      header->seq = header->clock = 0;
      return;
    }
  header->seq = __atomic_add_fetch (&wire_seq, 1, __ATOMIC_RELAXED);
  header->clock = __atomic_add_fetch (&wire_clock, 1, __ATOMIC_RELAXED);
}

guint64
mpk__wire_clock_tick (void)
{
  return __atomic_add_fetch (&wire_clock, 1, __ATOMIC_RELAXED);
}

guint32
mpk__wire_pid (void)
{
  /* The tracer's constructor may run before ours. */
  if (G_UNLIKELY (wire_pid == 0))
    wire_pid = (guint32) getpid ();
  return wire_pid;
}

guint64
mpk__wire_clock_receive (guint64 seen)
{
  guint64 cur = __atomic_load_n (&wire_clock, __ATOMIC_RELAXED);
  guint64 next;

  /* A clock read from shared memory may be garbage: saturate, never wrap. */
  do
    next = MAX (cur, seen) == G_MAXUINT64 ? G_MAXUINT64 : MAX (cur, seen) + 1;
  while (!__atomic_compare_exchange_n (&wire_clock, &cur, next, TRUE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return next;
}

static inline void
put_le32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static inline void
put_le64 (guint8 *p, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, 8);
}

static inline guint32
get_le32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static inline guint64
get_le64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

void
mpk__wire_encode_header (const MpkWireHeader *header,
                         guint8               out[MPK__WIRE_HEADER_SIZE])
{
  guint16 type_len = GUINT16_TO_LE (header->type_len);

  put_le32 (out + 0, MPK__WIRE_MAGIC);
  out[4] = header->kind;
  out[5] = header->flags;
  memcpy (out + 6, &type_len, 2);
  put_le64 (out + 8, header->length);
  put_le32 (out + 16, header->pid);
  put_le32 (out + 20, 0);             /* reserved, must be zero */
  put_le64 (out + 24, header->seq);
  put_le64 (out + 32, header->clock);
}

gboolean
mpk__wire_decode_header (const guint8   in[MPK__WIRE_HEADER_SIZE],
                         guint64        max_length,
                         MpkWireHeader *header,
                         GError       **error)
{
  guint32 magic = get_le32 (in);
  guint16 type_len;

  if (magic != MPK__WIRE_MAGIC)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad frame: magic 0x%08x is not mpkit's 0x%08x", magic, MPK__WIRE_MAGIC);
      return FALSE;
    }
  memcpy (&type_len, in + 6, 2);
  header->kind = in[4];
  header->flags = in[5];
  header->type_len = GUINT16_FROM_LE (type_len);
  header->length = get_le64 (in + 8);
  header->pid = get_le32 (in + 16);
  header->seq = get_le64 (in + 24);
  header->clock = get_le64 (in + 32);

  if (header->kind != MPK__WIRE_KIND_BYTES && header->kind != MPK__WIRE_KIND_VARIANT)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad frame: unknown message kind %u", header->kind);
      return FALSE;
    }
  if ((header->flags & ~MPK__WIRE_KNOWN_FLAGS) != 0 || get_le32 (in + 20) != 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad frame: unknown flags 0x%02x or reserved bits set", header->flags);
      return FALSE;
    }
  if (header->kind == MPK__WIRE_KIND_VARIANT
      ? (header->type_len == 0 || header->type_len > MPK__WIRE_MAX_TYPE_LEN
         || header->type_len > header->length)
      : header->type_len != 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad frame: type length %u impossible for a %s payload of %" G_GUINT64_FORMAT " bytes",
                   header->type_len,
                   header->kind == MPK__WIRE_KIND_VARIANT ? "GVariant" : "bytes",
                   header->length);
      return FALSE;
    }
  if (header->length > max_length)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG,
                   "message of %" G_GUINT64_FORMAT " bytes exceeds the receiver's limit of %"
                   G_GUINT64_FORMAT " bytes", header->length, max_length);
      return FALSE;
    }
  return TRUE;
}

/* Whether @value is in normal form. GLib checks an array element by element
 * (about 15 ns a byte for "ay", so 15 ms for 1 MiB). For an array of
 * fixed-size numbers any byte string of whole elements is normal, so there
 * the check is arithmetic. Everything else gets GLib's full check. */
static gboolean
is_normal_form (GVariant *value, const char *type_str)
{
  static const struct { char code; gsize size; } numbers[] = {
    { 'y', 1 }, { 'n', 2 }, { 'q', 2 }, { 'i', 4 }, { 'u', 4 }, { 'h', 4 },
    { 'x', 8 }, { 't', 8 }, { 'd', 8 },
  };

  if (type_str[0] == 'a' && type_str[1] != '\0' && type_str[2] == '\0')
    for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
      if (numbers[i].code == type_str[1])
        return g_variant_get_size (value) % numbers[i].size == 0;
  return g_variant_is_normal_form (value);
}

GVariant *
mpk__wire_decode_variant (const MpkWireHeader *header,
                          GBytes              *payload,
                          GError             **error)
{
  const guint8 *p = g_bytes_get_data (payload, NULL);
  gsize n = g_bytes_get_size (payload);
  char type_str[MPK__WIRE_MAX_TYPE_LEN + 1];
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *end;

  g_assert (header->kind == MPK__WIRE_KIND_VARIANT && header->type_len <= n);
  memcpy (type_str, p, header->type_len);
  type_str[header->type_len] = '\0';
  /* The type must use every byte the header gave it: "u\0junk" is refused. */
  if (!g_variant_type_string_scan (type_str, NULL, &end) || end != type_str + header->type_len
      || !g_variant_type_is_definite (G_VARIANT_TYPE (type_str)))
    {
      g_autofree char *shown = g_strescape (type_str, NULL);

      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad frame: \"%s\" is not a definite GVariant type", shown);
      return NULL;
    }
  data = g_bytes_new_from_bytes (payload, header->type_len, n - header->type_len);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_str), data, FALSE));
  if (((header->flags & MPK__WIRE_FLAG_BIG_ENDIAN) != 0) != (G_BYTE_ORDER == G_BIG_ENDIAN))
    {
      GVariant *swapped = g_variant_byteswap (value);   /* (transfer full), not floating */
      g_variant_unref (value);
      value = swapped;
    }
  /* Non-normal data decodes to defaults without crashing, but it means the
   * sender is not mpkit or the frame is corrupt: say so rather than guess. */
  if (!is_normal_form (value, type_str))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad frame: %" G_GSIZE_FORMAT " bytes are not a valid GVariant of type %s",
                   n - header->type_len, type_str);
      return NULL;
    }
  return g_steal_pointer (&value);
}

gboolean
mpk__wire_outgoing_init (MpkWireOutgoing  *out,
                         GVariant         *msg,
                         GError          **error)
{
  GVariant *value = g_variant_ref_sink (msg);

  /* Values from GLib's constructors are normal already: no cost. */
  if (!g_variant_is_normal_form (value))
    {
      GVariant *normal = g_variant_ref_sink (g_variant_get_normal_form (value));

      g_variant_unref (value);
      value = normal;
    }
  out->type = g_variant_get_type_string (value);
  out->type_len = strlen (out->type);
  if (out->type_len > MPK__WIRE_MAX_TYPE_LEN)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "GVariant type string of %" G_GSIZE_FORMAT
                   " characters is over the limit of %d", out->type_len, MPK__WIRE_MAX_TYPE_LEN);
      g_variant_unref (value);
      out->value = NULL;
      return FALSE;
    }
  out->value = value;
  out->size = g_variant_get_size (value);
  out->data = g_variant_get_data (value);
  mpk__wire_stamp (&out->header, MPK__WIRE_KIND_VARIANT, out->type_len + out->size);
  out->header.type_len = out->type_len;
  return TRUE;
}

void
mpk__wire_outgoing_clear (MpkWireOutgoing *out)
{
  g_clear_pointer (&out->value, g_variant_unref);
}
