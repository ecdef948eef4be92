// The answer and body helpers every API handler uses (declared in api_impl.h): headers, JSON
// and text answers, errors, query arguments, strict JSON bodies and their fields.
#include <glib.h>
#include <libsoup/soup.h>

#include <nlohmann/json.hpp>

#include "control/api_impl.h"
#include "util/strutil.h"

namespace iptv::control {

using nlohmann::json;

namespace api {

std::string header(SoupServerMessage *msg, const char *name) {
  const char *v = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), name);
  return v ? v : "";
}

void set_body(Ctx &c, int status, const std::string &content_type, const std::string &body) {
  soup_server_message_set_status(c.msg, status, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(c.msg);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  soup_server_message_set_response(c.msg, content_type.c_str(), SOUP_MEMORY_COPY, body.data(),
                                   body.size());
  c.status = status;
}

void reply(Ctx &c, int status, const json &j) {
  set_body(c, status, "application/json", j.dump() + "\n");
}

void error(Ctx &c, int status, const std::string &code, const std::string &message) {
  c.error_code = code;
  reply(c, status, {{"error", code}, {"message", message}});
}

std::optional<int64_t> query_int(const Ctx &c, const std::string &k) {
  auto it = c.query.find(k);
  if (it == c.query.end() || it->second.empty()) return std::nullopt;
  char *end = nullptr;
  long long v = g_ascii_strtoll(it->second.c_str(), &end, 10);
  if (!end || *end) return std::nullopt;
  return v;
}

std::string query_str(const Ctx &c, const std::string &k) {
  auto it = c.query.find(k);
  return it == c.query.end() ? std::string() : it->second;
}

bool parse_body(Ctx &c, json &out) {
  std::string why;
  out = parse_strict_json(c.body.empty() ? std::string("{}") : c.body, &why);
  if (out.is_discarded()) {
    error(c, 400, "invalid_request", "the body must be a JSON object: " + why);
    return false;
  }
  if (!out.is_object()) {
    error(c, 400, "invalid_request", "the body must be a JSON object");
    return false;
  }
  return true;
}

bool get_string(Ctx &c, const json &j, const char *k, std::string &out, bool required) {
  if (!j.contains(k) || j[k].is_null()) {
    if (required) {
      error(c, 400, "invalid_request", std::string("'") + k + "' is required");
      return false;
    }
    return true;
  }
  if (!j[k].is_string()) {
    error(c, 400, "invalid_request", std::string("'") + k + "' must be a string");
    return false;
  }
  out = j[k].get<std::string>();
  return true;
}

bool get_string_list(Ctx &c, const json &j, const char *k, std::vector<std::string> &out) {
  if (!j.contains(k) || j[k].is_null()) return true;
  if (!j[k].is_array()) {
    error(c, 400, "invalid_request", std::string("'") + k + "' must be a list of names");
    return false;
  }
  for (const auto &e : j[k]) {
    if (!e.is_string() || !valid_name(e.get<std::string>())) {
      error(c, 400, "invalid_request", std::string("'") + k + "' must be a list of names");
      return false;
    }
    out.push_back(e.get<std::string>());
  }
  return true;
}

}  // namespace api

}  // namespace iptv::control
