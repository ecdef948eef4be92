#include "probe/http_client.h"

#include <libsoup/soup.h>

namespace iptv::probe {

HttpClient::HttpClient(int timeout_s) {
  session_ =
      soup_session_new_with_options("timeout", timeout_s, "user-agent", "iptvctl-probe/1", nullptr);
}

HttpClient::~HttpClient() {
  g_object_unref(session_);
}

HttpResponse HttpClient::get(const std::string &url, uint64_t offset, uint64_t length) {
  HttpResponse r;
  int64_t t0 = g_get_monotonic_time();
  GError *err = nullptr;
  SoupMessage *msg = soup_message_new("GET", url.c_str());
  if (!msg) {
    r.error = "not a valid URL: " + url;
    return r;
  }
  if (length > 0) {
    soup_message_headers_set_range(soup_message_get_request_headers(msg),
                                   static_cast<goffset>(offset),
                                   static_cast<goffset>(offset + length - 1));
  }
  GBytes *bytes = soup_session_send_and_read(session_, msg, nullptr, &err);
  r.elapsed_ms = (g_get_monotonic_time() - t0) / 1000.0;
  if (!bytes) {
    r.error = err ? err->message : "request failed";
    g_clear_error(&err);
  } else {
    r.status = static_cast<int>(soup_message_get_status(msg));
    gsize n = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &n));
    if (data && n) r.body.assign(data, n);
    g_bytes_unref(bytes);
  }
  if (GUri *u = soup_message_get_uri(msg)) {
    char *s = g_uri_to_string(u);
    r.final_url = s;
    g_free(s);
  }
  g_object_unref(msg);
  return r;
}

std::string resolve_url(const std::string &base, const std::string &ref) {
  GError *err = nullptr;
  char *s = g_uri_resolve_relative(base.c_str(), ref.c_str(), G_URI_FLAGS_NONE, &err);
  if (!s) {
    g_clear_error(&err);
    return "";
  }
  std::string out = s;
  g_free(s);
  return out;
}

int64_t now_ms() {
  return g_get_monotonic_time() / 1000;
}

}  // namespace iptv::probe
