#include "control/lingering_close.h"

#include <gio/gio.h>

namespace iptv::control {

namespace {

struct LingeringClose {
  GIOStream *stream = nullptr;
  GSocket *sock = nullptr;
  std::string out;
  size_t off = 0;
  GSource *io = nullptr, *timer = nullptr;
};

void lingering_finish(LingeringClose *l) {
  for (GSource **s : {&l->io, &l->timer})
    if (*s) {
      g_source_destroy(*s);
      g_source_unref(*s);
      *s = nullptr;
    }
  g_io_stream_close(l->stream, nullptr, nullptr);
  g_object_unref(l->stream);
  g_object_unref(l->sock);
  delete l;
}

gboolean lingering_io(GSocket *, GIOCondition, gpointer data);

void lingering_wait(LingeringClose *l, GIOCondition cond) {
  if (l->io) {
    g_source_destroy(l->io);
    g_source_unref(l->io);
  }
  l->io = g_socket_create_source(l->sock, cond, nullptr);
  g_source_set_callback(l->io, G_SOURCE_FUNC(lingering_io), l, nullptr);
  g_source_attach(l->io, g_main_context_get_thread_default());
}

gboolean lingering_io(GSocket *, GIOCondition, gpointer data) {
  auto *l = static_cast<LingeringClose *>(data);
  while (l->off < l->out.size()) {
    GError *err = nullptr;
    gssize n =
        g_socket_send(l->sock, l->out.data() + l->off, l->out.size() - l->off, nullptr, &err);
    if (n < 0) {
      bool again = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_error_free(err);
      if (again) return G_SOURCE_CONTINUE;
      lingering_finish(l);
      return G_SOURCE_REMOVE;  // lingering_finish destroyed this source
    }
    l->off += static_cast<size_t>(n);
    if (l->off == l->out.size()) {
      g_socket_shutdown(l->sock, FALSE, TRUE, nullptr);
      lingering_wait(l, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR));
      return G_SOURCE_REMOVE;
    }
  }
  // Discard what the client still sends until it closes (or the timer ends it).
  char buf[65536];
  for (int i = 0; i < 64; ++i) {
    GError *err = nullptr;
    gssize n = g_socket_receive(l->sock, buf, sizeof buf, nullptr, &err);
    if (n > 0) continue;
    bool again = n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    if (err) g_error_free(err);
    if (again) return G_SOURCE_CONTINUE;
    lingering_finish(l);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace

// The response set on `msg` (status, headers, body) as HTTP/1.1 bytes, with Connection: close.
std::string serialize_response(SoupServerMessage *msg) {
  guint status = soup_server_message_get_status(msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  SoupMessageBody *body = soup_server_message_get_response_body(msg);
  GBytes *b = soup_message_body_flatten(body);
  gsize len = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(b, &len));
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + soup_status_get_phrase(status) + "\r\n";
  soup_message_headers_remove(h, "Connection");
  soup_message_headers_remove(h, "Content-Length");
  soup_message_headers_remove(h, "Transfer-Encoding");
  soup_message_headers_foreach(
      h,
      [](const char *name, const char *value, gpointer d) {
        *static_cast<std::string *>(d) += std::string(name) + ": " + value + "\r\n";
      },
      &out);
  out += "Content-Length: " + std::to_string(len) + "\r\nConnection: close\r\n\r\n";
  if (soup_server_message_get_method(msg) != SOUP_METHOD_HEAD) out.append(data, len);
  g_bytes_unref(b);
  return out;
}

GSocket *socket_of_stream(GIOStream *stream) {
  GIOStream *base = nullptr;
  if (G_IS_SOCKET_CONNECTION(stream)) {
    base = G_IO_STREAM(g_object_ref(stream));
  } else if (GParamSpec *p =
                 g_object_class_find_property(G_OBJECT_GET_CLASS(stream), "base-iostream");
             p && (p->flags & G_PARAM_READABLE) && G_IS_PARAM_SPEC_OBJECT(p)) {
    g_object_get(stream, "base-iostream", &base, nullptr);
  }
  GSocket *sock = nullptr;
  if (base && G_IS_SOCKET_CONNECTION(base))
    sock = G_SOCKET(g_object_ref(g_socket_connection_get_socket(G_SOCKET_CONNECTION(base))));
  if (base) g_object_unref(base);
  return sock;
}

void lingering_close(GIOStream *stream, GSocket *sock, std::string out) {
  auto *l = new LingeringClose{stream, sock, std::move(out)};
  l->timer = g_timeout_source_new(2000);
  g_source_set_callback(
      l->timer,
      [](gpointer d) -> gboolean {
        auto *l = static_cast<LingeringClose *>(d);
        g_source_unref(l->timer);  // this source is finishing: only our reference
        l->timer = nullptr;
        lingering_finish(l);
        return G_SOURCE_REMOVE;
      },
      l, nullptr);
  g_source_attach(l->timer, g_main_context_get_thread_default());
  lingering_wait(l, G_IO_OUT);
}

}  // namespace iptv::control
