#include "control/client.h"

#include <glib.h>
#include <libsoup/soup.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptv::control {

using nlohmann::json;

bool parse_client_options(int argc, char **argv, const std::vector<std::string> &value_flags,
                          const std::vector<std::string> &switch_flags, ClientOptions &out,
                          std::string *error) {
  std::string url, key, key_file, config;
  auto is = [](const std::vector<std::string> &v, const std::string &s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string name = a, value;
    bool inline_value = false;
    if (starts_with(a, "--") && a.find('=') != std::string::npos) {
      name = a.substr(0, a.find('='));
      value = a.substr(a.find('=') + 1);
      inline_value = true;
    }
    auto take = [&](std::string &dst) {
      if (inline_value) {
        dst = value;
        return true;
      }
      if (i + 1 >= argc) {
        if (error) *error = name + " needs a value";
        return false;
      }
      dst = argv[++i];
      return true;
    };
    if (name == "--url") {
      if (!take(url)) return false;
    } else if (name == "--key") {
      if (!take(key)) return false;
    } else if (name == "--key-file") {
      if (!take(key_file)) return false;
    } else if (name == "--config") {
      if (!take(config)) return false;
    } else if (name == "--format") {
      if (!take(out.format)) return false;
      if (out.format != "text" && out.format != "json") {
        if (error) *error = "--format must be text or json";
        return false;
      }
    } else if (starts_with(name, "--") && is(value_flags, name.substr(2))) {
      if (!take(out.flags[name.substr(2)])) return false;
    } else if (starts_with(name, "--") && is(switch_flags, name.substr(2)) && !inline_value) {
      out.switches.push_back(name.substr(2));
    } else if (starts_with(a, "-") && a != "-") {
      if (error) *error = "unknown option '" + a + "'";
      return false;
    } else {
      out.args.push_back(a);
    }
  }
  auto read_key_file = [&](const std::string &path, std::string &dst) {
    std::string text, err;
    if (!read_file(path, text, &err)) {
      if (error) *error = err;
      return false;
    }
    dst = trim(split(text, '\n').empty() ? std::string() : split(text, '\n')[0]);
    return true;
  };
  if (!key_file.empty() && key.empty() && !read_key_file(key_file, key)) return false;
  if (url.empty() && g_getenv("IPTV_URL")) url = g_getenv("IPTV_URL");
  if (key.empty() && g_getenv("IPTV_API_KEY")) key = g_getenv("IPTV_API_KEY");
  if (url.empty() || key.empty()) {
    std::string path = config;
    if (path.empty()) path = std::string(g_get_user_config_dir()) + "/iptvctl.yaml";
    if (g_file_test(path.c_str(), G_FILE_TEST_EXISTS)) {
      try {
        YAML::Node n = YAML::LoadFile(path);
        for (const auto &kv : n) {
          std::string k = kv.first.as<std::string>();
          if (k != "url" && k != "key" && k != "key_file") {
            if (error) *error = path + ": unknown key '" + k + "' (url, key, key_file)";
            return false;
          }
        }
        if (url.empty() && n["url"]) url = n["url"].as<std::string>();
        if (key.empty() && n["key"]) key = n["key"].as<std::string>();
        if (key.empty() && n["key_file"] && !read_key_file(n["key_file"].as<std::string>(), key))
          return false;
      } catch (const YAML::Exception &e) {
        if (error) *error = path + ": " + e.what();
        return false;
      }
    } else if (!config.empty()) {
      if (error) *error = "cannot read " + config;
      return false;
    }
  }
  if (url.empty()) url = "http://127.0.0.1:8080";
  while (ends_with(url, "/")) url.pop_back();
  out.url = url;
  out.key = key;
  return true;
}

ApiClient::ApiClient(std::string url, std::string key)
    : url_(std::move(url)), key_(std::move(key)) {
  session_ = soup_session_new_with_options("timeout", 30, "user-agent", "iptvctl", nullptr);
}

ApiClient::~ApiClient() {
  g_object_unref(session_);
}

namespace {
SoupMessage *make_message(const std::string &method, const std::string &url,
                          const std::string &key) {
  SoupMessage *m = soup_message_new(method.c_str(), url.c_str());
  if (!m) return nullptr;
  SoupMessageHeaders *h = soup_message_get_request_headers(m);
  if (!key.empty()) soup_message_headers_replace(h, "Authorization", ("Bearer " + key).c_str());
  soup_message_headers_replace(h, "Accept", "application/json");
  return m;
}

void fill(ApiResponse &r) {
  r.json = json::parse(r.body, nullptr, false);
  if (r.json.is_discarded()) r.json = nullptr;
  if (r.status >= 400 && r.json.is_object()) {
    std::string code = r.json.value("error", "");
    if (r.json.contains("reason")) code = r.json["reason"].get<std::string>();
    r.error = code + ": " + r.json.value("message", "");
  }
}
}  // namespace

ApiResponse ApiClient::request(const std::string &method, const std::string &path,
                               const std::optional<json> &body) {
  ApiResponse r;
  SoupMessage *m = make_message(method, url_ + path, key_);
  if (!m) {
    r.error = "invalid URL '" + url_ + path + "'";
    return r;
  }
  if (body) {
    std::string text = body->dump();
    GBytes *b = g_bytes_new(text.data(), text.size());
    soup_message_set_request_body_from_bytes(m, "application/json", b);
    g_bytes_unref(b);
  }
  GError *err = nullptr;
  GBytes *out = soup_session_send_and_read(session_, m, nullptr, &err);
  if (!out) {
    r.error = err ? err->message : "no answer";
    g_clear_error(&err);
    g_object_unref(m);
    return r;
  }
  gsize len = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(out, &len));
  r.body.assign(data ? data : "", len);
  g_bytes_unref(out);
  r.status = static_cast<int>(soup_message_get_status(m));
  g_object_unref(m);
  fill(r);
  return r;
}

ApiResponse ApiClient::follow(
    const std::string &path_and_query, const std::function<bool(const json &)> &on_event,
    const std::function<void(const std::string &, const std::string &)> &on_reconnect) {
  std::string last_id;
  int backoff_ms = 500;
  bool connected_once = false, announced = false;
  std::string why;
  while (true) {
    SoupMessage *m = make_message("GET", url_ + path_and_query, key_);
    ApiResponse r;
    if (!m) {
      r.error = "invalid URL";
      return r;
    }
    soup_message_headers_replace(soup_message_get_request_headers(m), "Accept",
                                 "text/event-stream");
    if (!last_id.empty())
      soup_message_headers_replace(soup_message_get_request_headers(m), "Last-Event-ID",
                                   last_id.c_str());
    GError *err = nullptr;
    // No read timeout on a stream: keepalive comments arrive every few seconds.
    g_object_set(session_, "timeout", 0, nullptr);
    GInputStream *in = soup_session_send(session_, m, nullptr, &err);
    g_object_set(session_, "timeout", 30, nullptr);
    if (in) {
      r.status = static_cast<int>(soup_message_get_status(m));
      if (r.status >= 500 || (r.status == 404 && connected_once)) {
        // The daemon is restarting (its origin answers before the API is mounted) or busy: try
        // again, like after a drop.
        why = "HTTP " + std::to_string(r.status) + " (the daemon is restarting?)";
        g_object_unref(in);
        in = nullptr;
      } else if (r.status >= 400) {
        GBytes *b = g_input_stream_read_bytes(in, 65536, nullptr, nullptr);
        if (b) {
          gsize len = 0;
          const char *d = static_cast<const char *>(g_bytes_get_data(b, &len));
          r.body.assign(d ? d : "", len);
          g_bytes_unref(b);
        }
        g_object_unref(in);
        g_object_unref(m);
        fill(r);
        return r;
      }
    }
    if (in) {
      backoff_ms = 500;
      connected_once = true;
      if (announced && on_reconnect) on_reconnect("reconnected", last_id);
      announced = false;
      why = "the event stream was closed";
      GDataInputStream *lines = g_data_input_stream_new(in);
      std::string data, id;
      while (true) {
        gsize n = 0;
        char *line = g_data_input_stream_read_line_utf8(lines, &n, nullptr, nullptr);
        if (!line) break;
        std::string l = line;
        g_free(line);
        if (!l.empty() && l.back() == '\r') l.pop_back();
        if (l.empty()) {
          if (!data.empty()) {
            json j = json::parse(data, nullptr, false);
            if (!id.empty()) last_id = id;
            if (!j.is_discarded() && !on_event(j)) {
              g_object_unref(lines);
              g_object_unref(in);
              g_object_unref(m);
              r.status = 200;
              return r;
            }
          }
          data.clear();
          id.clear();
        } else if (starts_with(l, "data: ")) {
          data += l.substr(6);
        } else if (starts_with(l, "id: ")) {
          id = l.substr(4);
        }
      }
      g_object_unref(lines);
      g_object_unref(in);
    } else if (err) {
      why = err->message;
      g_clear_error(&err);
    }
    g_object_unref(m);
    if (!announced && on_reconnect) on_reconnect(why, last_id);
    announced = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 10000);
  }
}

std::string format_table(const std::vector<std::string> &header,
                         const std::vector<std::vector<std::string>> &rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto &r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::string out;
  auto line = [&](const std::vector<std::string> &cells) {
    std::string l;
    for (size_t i = 0; i < cells.size() && i < w.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l += std::string(w[i] - cells[i].size() + 2, ' ');
    }
    out += l + "\n";
  };
  line(header);
  for (const auto &r : rows) line(r);
  return out;
}

std::string format_age(const json &seconds) {
  if (!seconds.is_number() || seconds.get<double>() < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", seconds.get<double>());
  return buf;
}

int report_failure(const std::string &cmd, const ApiResponse &r) {
  if (r.status == 0)
    std::fprintf(stderr, "iptvctl %s: %s\n", cmd.c_str(), r.error.c_str());
  else
    std::fprintf(stderr, "iptvctl %s: HTTP %d %s\n", cmd.c_str(), r.status,
                 r.error.empty() ? r.body.c_str() : r.error.c_str());
  return 1;
}

}  // namespace iptv::control
