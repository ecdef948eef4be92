#include "daemon/worker_status.h"

#include <nlohmann/json.hpp>

namespace iptv::daemon {

namespace {

template <typename T>
T get(const nlohmann::json &j, const char *key, T def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception &) {
    return def;
  }
}

}  // namespace

std::optional<StatusLine> parse_status_line(const std::string &line, std::string *error) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    if (error) *error = "not a JSON object";
    return std::nullopt;
  }
  std::string t = get<std::string>(j, "t", "");
  if (t == "hello")
    return StHello{get<int64_t>(j, "pid", 0), get<std::string>(j, "channel_id", "")};
  if (t == "hb") return StHeartbeat{get<int64_t>(j, "media_age_ms", -1)};
  if (t == "state")
    return StState{get<std::string>(j, "state", ""), get<std::string>(j, "reason", ""),
                   get<std::string>(j, "active_source", "")};
  if (t == "segment")
    return StSegment{get<std::string>(j, "rendition", ""),
                     get<uint64_t>(j, "sequence", 0),
                     get<uint64_t>(j, "discontinuity_sequence", 0),
                     get<double>(j, "duration", 0),
                     get<uint64_t>(j, "bytes", 0),
                     get<std::string>(j, "uri", ""),
                     get<std::string>(j, "pdt", "")};
  if (t == "encoder")
    return StEncoder{get<std::string>(j, "rendition", ""), get<std::string>(j, "factory", "")};
  if (t == "probe")
    return StProbe{get<std::string>(j, "condition", ""), get<bool>(j, "active", false),
                   get<std::string>(j, "stream", ""), get<std::string>(j, "detail", ""),
                   get<std::string>(j, "source", "")};
  if (t == "event")
    return StEvent{get<std::string>(j, "event_type", ""), get<std::string>(j, "reason", ""),
                   get<std::string>(j, "source", "")};
  if (t == "stats") {
    StStats s;
    auto it = j.find("renditions");
    if (it != j.end() && it->is_object())
      for (auto &[name, v] : it->items())
        if (v.is_object())
          s.renditions[name] = {get<double>(v, "fps", 0), get<double>(v, "bitrate", 0)};
    return s;
  }
  if (t == "ack")
    return StAck{get<std::string>(j, "cmd", ""), get<bool>(j, "ok", false),
                 get<std::string>(j, "detail", "")};
  if (t == "source")
    return StSource{get<std::string>(j, "source", ""), get<bool>(j, "healthy", false),
                    get<std::string>(j, "detail", "")};
  if (t == "error") return StError{get<std::string>(j, "message", "")};
  if (error) *error = t.empty() ? "no \"t\" field" : "unknown status type '" + t + "'";
  return std::nullopt;
}

}  // namespace iptv::daemon
