/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "raw-dbus.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>

/* ---- marshalling, little endian, every offset from the start of the message ---------------------------------------- */

static void
pad (GByteArray *m, guint alignment)
{
  static const guint8 zero[8] = { 0 };

  g_byte_array_append (m, zero, (alignment - m->len % alignment) % alignment);
}

static void
put_u32 (GByteArray *m, guint32 value)
{
  guint8 bytes[4] = { value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >> 24 };

  pad (m, 4);
  g_byte_array_append (m, bytes, 4);
}

static void
set_u32 (GByteArray *m, guint offset, guint32 value)
{
  m->data[offset] = value & 0xff;
  m->data[offset + 1] = (value >> 8) & 0xff;
  m->data[offset + 2] = (value >> 16) & 0xff;
  m->data[offset + 3] = value >> 24;
}

/* A STRING or OBJECT_PATH: length, bytes (taken as given, valid or not), NUL. */
static void
put_string (GByteArray *m, const char *text, gsize length)
{
  put_u32 (m, (guint32) length);
  g_byte_array_append (m, (const guint8 *) text, (guint) length);
  g_byte_array_append (m, (const guint8 *) "", 1);
}

static void
put_signature (GByteArray *m, const char *signature)
{
  guint8 length = (guint8) strlen (signature);

  g_byte_array_append (m, &length, 1);
  g_byte_array_append (m, (const guint8 *) signature, length + 1);
}

/* One header field: (code, variant of type). */
static void
put_field (GByteArray *m, guint8 code, const char *type, const char *value)
{
  pad (m, 8);
  g_byte_array_append (m, &code, 1);
  put_signature (m, type);
  if (g_str_equal (type, "g"))
    put_signature (m, value);
  else
    put_string (m, value, strlen (value));
}

/* A method call: header fields as given (interface may be NULL), then body with body_signature (NULL for none). */
static GByteArray *
method_call (guint32 serial, const char *path, const char *interface, const char *member, const char *destination,
             const char *body_signature, const GByteArray *body)
{
  static const guint8 start[4] = { 'l', 1 /* METHOD_CALL */, 0, 1 /* protocol version */ };
  GByteArray *m = g_byte_array_new ();
  guint fields_start;

  g_byte_array_append (m, start, 4);
  put_u32 (m, body != NULL ? body->len : 0);
  put_u32 (m, serial);
  put_u32 (m, 0); /* the fields' length, set below */
  pad (m, 8);
  fields_start = m->len;
  put_field (m, 1, "o", path);
  if (interface != NULL)
    put_field (m, 2, "s", interface);
  put_field (m, 3, "s", member);
  put_field (m, 6, "s", destination);
  if (body_signature != NULL)
    put_field (m, 8, "g", body_signature);
  set_u32 (m, 12, m->len - fields_start);
  pad (m, 8);
  if (body != NULL)
    g_byte_array_append (m, body->data, body->len);
  return m;
}

/* ---- the connection -------------------------------------------------------------------------------------------------- */

static gboolean
write_all (int fd, const guint8 *data, gsize length, GError **error)
{
  while (length > 0)
    {
      ssize_t n = send (fd, data, length, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot write to the bus: %s",
                       g_strerror (errno));
          return FALSE;
        }
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* Waits up to timeout_ms for data; returns what arrived (0 bytes at EOF), or -1 on timeout or error. */
static gssize
read_some (int fd, guint8 *buffer, gsize size, int timeout_ms)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int ready = poll (&p, 1, timeout_ms);

  if (ready <= 0)
    {
      if (ready == 0)
        errno = ETIMEDOUT;
      return -1;
    }
  return recv (fd, buffer, size, 0);
}

static gboolean
authenticate (int fd, GError **error)
{
  g_autofree char *uid = g_strdup_printf ("%u", (unsigned) getuid ());
  g_autoptr (GString) hex = g_string_new (NULL);
  g_autofree char *auth = NULL;
  guint8 answer[256];
  gssize n;

  for (const char *p = uid; *p != '\0'; p++)
    g_string_append_printf (hex, "%02x", (guint8) *p);
  auth = g_strdup_printf ("AUTH EXTERNAL %s\r\n", hex->str);
  if (!write_all (fd, (const guint8 *) "", 1, error) || !write_all (fd, (const guint8 *) auth, strlen (auth), error))
    return FALSE;
  n = read_some (fd, answer, sizeof answer, 5000);
  if (n < 2 || memcmp (answer, "OK", 2) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the bus did not accept EXTERNAL authentication");
      return FALSE;
    }
  return write_all (fd, (const guint8 *) "BEGIN\r\n", 7, error);
}

static GByteArray *
invalid_message (RawDbusProblem problem, const char *destination)
{
  g_autoptr (GByteArray) body = g_byte_array_new ();
  const char *path = "/org/hkp/PluginManager1", *interface = "org.hkp.PluginManager1.Manager";
  const char *member = "GetPlugin";

  switch (problem)
    {
    case RAW_DBUS_BAD_PATH:
      path = "/org//hkp";
      break;
    case RAW_DBUS_PATH_TRAILING_SLASH:
      path = "/org/hkp/PluginManager1/";
      break;
    case RAW_DBUS_PATH_BAD_CHARACTER:
      path = "/org/hkp-plugin";
      break;
    case RAW_DBUS_BAD_MEMBER:
      member = "1Reload";
      break;
    case RAW_DBUS_BAD_INTERFACE:
      interface = "org..hkp";
      break;
    case RAW_DBUS_SHORT_BODY:
      put_string (body, "alpha", 5);
      return method_call (2, path, interface, "SetPluginConfig", destination, "ss", body);
    case RAW_DBUS_BAD_UTF8:
      put_string (body, "al\xff\xfepha", 8);
      return method_call (2, path, interface, member, destination, "s", body);
    case RAW_DBUS_N_PROBLEMS:
    default:
      g_assert_not_reached ();
    }
  put_string (body, "alpha", 5);
  return method_call (2, path, interface, member, destination, "s", body);
}

gboolean
raw_dbus_send_invalid (const char *address, const char *destination, RawDbusProblem problem, gboolean *hung_up,
                       GError **error)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  /* "unix:path=/run/bus,guid=…": the path ends at the next key. */
  g_autofree char *path = g_str_has_prefix (address, "unix:path=")
    ? g_strndup (address + strlen ("unix:path="), strcspn (address + strlen ("unix:path="), ","))
    : NULL;
  g_autoptr (GByteArray) hello = NULL;
  g_autoptr (GByteArray) message = NULL;
  gboolean ok = FALSE;
  int fd;

  *hung_up = FALSE;
  if (path == NULL || strlen (path) >= sizeof sa.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a unix:path= address: %s", address);
      return FALSE;
    }
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot connect to %s: %s", address,
                   g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  hello = method_call (1, "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "org.freedesktop.DBus", NULL, NULL);
  message = invalid_message (problem, destination);
  if (authenticate (fd, error) && write_all (fd, hello->data, hello->len, error) &&
      write_all (fd, message->data, message->len, error))
    {
      guint8 buffer[4096];
      gssize n;
      ok = TRUE;
      /* The Hello reply and NameAcquired come first; then the bus hangs up. */
      while ((n = read_some (fd, buffer, sizeof buffer, 2000)) > 0)
        ;
      *hung_up = n == 0 || (n < 0 && errno == ECONNRESET);
    }
  close (fd);
  return ok;
}
