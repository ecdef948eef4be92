// parse_strict_json (api_server.h), alone in its file so the fuzz target (tests/fuzz/) builds it
// without the server.
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "control/api_server.h"

namespace iptv::control {

using json = nlohmann::json;

// Strict JSON (RFC 8259 as nlohmann parses it) that also refuses a key given twice in one object:
// with "last one wins", {"role":"read",...,"role":"admin"} would mean what a reviewer or a
// filtering proxy reading the first key did not see.
json parse_strict_json(const std::string &text, std::string *error) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string dup;
  auto cb = [&](int, json::parse_event_t ev, json &parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && dup.empty())
          dup = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  json out = json::parse(text, cb, false);
  if (out.is_discarded()) {
    if (error) *error = "not valid JSON";
    return json(json::value_t::discarded);
  }
  if (!dup.empty()) {
    if (error) *error = "duplicate key '" + dup + "'";
    return json(json::value_t::discarded);
  }
  return out;
}

}  // namespace iptv::control
