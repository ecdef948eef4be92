#include "wire/status.h"

#include <type_traits>
#include <utility>

namespace iptv::wire {

namespace {

using nlohmann::json;

// Reads the fields of one message strictly; errors name the message kind and the field.
class Reader {
 public:
  Reader(const json &j, std::string kind) : j_(j), kind_(std::move(kind)) {}

  // Required fields.
  template <typename T>
  void req(const char *key, T &out) const {
    auto it = j_.find(key);
    if (it == j_.end()) fail(key, "is required");
    read(key, *it, out);
  }
  // Optional fields: `out` keeps its default when absent.
  template <typename T>
  void opt(const char *key, T &out) const {
    auto it = j_.find(key);
    if (it != j_.end()) read(key, *it, out);
  }
  [[noreturn]] void fail(const std::string &key, const std::string &why) const {
    throw WireError(kind_ + ": field '" + key + "' " + why);
  }

 private:
  void read(const char *key, const json &v, std::string &out) const {
    if (!v.is_string()) fail(key, "expected a string");
    out = v.get<std::string>();
  }
  void read(const char *key, const json &v, bool &out) const {
    if (!v.is_boolean()) fail(key, "expected a boolean");
    out = v.get<bool>();
  }
  void read(const char *key, const json &v, double &out) const {
    if (!v.is_number()) fail(key, "expected a number");
    out = v.get<double>();
  }
  void read(const char *key, const json &v, int64_t &out) const {
    if (!v.is_number_integer()) fail(key, "expected an integer");
    out = v.get<int64_t>();
  }
  void read(const char *key, const json &v, uint64_t &out) const {
    if (!v.is_number_unsigned()) fail(key, "expected an unsigned integer");
    out = v.get<uint64_t>();
  }

  const json &j_;
  std::string kind_;
};

// ---- one to_json / read per status kind

json fields(const Hello &m) {
  return {{"pid", m.pid}, {"channel_id", m.channel_id}};
}
void read(const Reader &r, Hello &m) {
  r.req("pid", m.pid);
  r.req("channel_id", m.channel_id);
}

json fields(const Heartbeat &m) {
  json j = {{"media_age_ms", m.media_age_ms}};
  if (!m.part_at_ms.empty()) j["part_at_ms"] = m.part_at_ms;
  return j;
}
void read(const Reader &r, Heartbeat &m, const json &j) {
  r.req("media_age_ms", m.media_age_ms);
  auto it = j.find("part_at_ms");
  if (it == j.end()) return;
  if (!it->is_object()) r.fail("part_at_ms", "expected an object");
  for (const auto &[name, v] : it->items()) {
    if (!v.is_number_integer()) r.fail("part_at_ms." + name, "expected an integer");
    m.part_at_ms[name] = v.get<int64_t>();
  }
}

json fields(const State &m) {
  return {{"state", m.state}, {"reason", m.reason}, {"active_source", m.active_source}};
}
void read(const Reader &r, State &m) {
  r.req("state", m.state);
  r.opt("reason", m.reason);
  r.opt("active_source", m.active_source);
}

json fields(const Segment &m) {
  return {{"rendition", m.rendition},
          {"sequence", m.sequence},
          {"media_sequence", m.media_sequence},
          {"discontinuity_sequence", m.discontinuity_sequence},
          {"discontinuity", m.discontinuity},
          {"duration", m.duration},
          {"bytes", m.bytes},
          {"uri", m.uri},
          {"pdt", m.pdt},
          {"key_id", m.key_id}};
}
void read(const Reader &r, Segment &m) {
  r.req("rendition", m.rendition);
  r.req("sequence", m.sequence);
  r.req("discontinuity_sequence", m.discontinuity_sequence);
  r.req("duration", m.duration);
  r.req("bytes", m.bytes);
  r.req("uri", m.uri);
  r.opt("pdt", m.pdt);
  r.opt("media_sequence", m.media_sequence);
  r.opt("discontinuity", m.discontinuity);
  r.opt("key_id", m.key_id);
}

json fields(const Encoder &m) {
  return {{"rendition", m.rendition}, {"factory", m.factory}, {"hardware", m.hardware}};
}
void read(const Reader &r, Encoder &m) {
  r.req("rendition", m.rendition);
  r.req("factory", m.factory);
  r.opt("hardware", m.hardware);
}

json fields(const Probe &m) {
  return {{"condition", m.condition},
          {"active", m.active},
          {"stream", m.stream},
          {"detail", m.detail},
          {"source", m.source}};
}
void read(const Reader &r, Probe &m) {
  r.req("condition", m.condition);
  r.req("active", m.active);
  r.opt("stream", m.stream);
  r.opt("detail", m.detail);
  r.opt("source", m.source);
}

json fields(const Event &m) {
  return {{"event_type", m.event_type}, {"reason", m.reason}, {"source", m.source}};
}
void read(const Reader &r, Event &m) {
  r.req("event_type", m.event_type);
  r.opt("reason", m.reason);
  r.opt("source", m.source);
}

json fields(const Source &m) {
  return {{"source", m.source}, {"healthy", m.healthy}, {"detail", m.detail}};
}
void read(const Reader &r, Source &m) {
  r.req("source", m.source);
  r.req("healthy", m.healthy);
  r.opt("detail", m.detail);
}

json fields(const Stats &m) {
  json rs = json::object();
  for (const auto &[name, s] : m.renditions) rs[name] = {{"fps", s.fps}, {"bitrate", s.bitrate}};
  json in = json::object();
  for (const auto &[role, s] : m.inputs)
    in[role] = {{"bitrate_bps", s.bitrate_bps},
                {"video_codec", s.video_codec},
                {"audio_codec", s.audio_codec},
                {"last_packet_age_ms", s.last_packet_age_ms},
                {"gaps", s.gaps}};
  json qs = json::array();
  for (const auto &q : m.queues)
    qs.push_back({{"name", q.name},
                  {"level_ms", q.level_ms},
                  {"max_ms", q.max_ms},
                  {"level_bytes", q.level_bytes},
                  {"max_bytes", q.max_bytes},
                  {"level_buffers", q.level_buffers},
                  {"max_buffers", q.max_buffers},
                  {"fill", q.fill}});
  return {{"renditions", rs}, {"inputs", in}, {"queues", qs}};
}
void read(const Reader &r, Stats &m, const json &j) {
  auto it = j.find("renditions");
  if (it == j.end()) r.fail("renditions", "is required");
  if (!it->is_object()) r.fail("renditions", "expected an object");
  for (const auto &[name, v] : it->items()) {
    std::string path = "renditions." + name;
    if (!v.is_object()) r.fail(path, "expected an object");
    Reader rr(v, std::string(Stats::kType) + ": " + path);
    RenditionStats s;
    rr.req("fps", s.fps);
    rr.req("bitrate", s.bitrate);
    m.renditions[name] = s;
  }
  if (auto in = j.find("inputs"); in != j.end()) {
    if (!in->is_object()) r.fail("inputs", "expected an object");
    for (const auto &[role, v] : in->items()) {
      std::string path = "inputs." + role;
      if (!v.is_object()) r.fail(path, "expected an object");
      Reader rr(v, std::string(Stats::kType) + ": " + path);
      InputStats s;
      rr.req("bitrate_bps", s.bitrate_bps);
      rr.opt("video_codec", s.video_codec);
      rr.opt("audio_codec", s.audio_codec);
      rr.req("last_packet_age_ms", s.last_packet_age_ms);
      rr.opt("gaps", s.gaps);
      m.inputs[role] = s;
    }
  }
  if (auto qs = j.find("queues"); qs != j.end()) {
    if (!qs->is_array()) r.fail("queues", "expected an array");
    for (size_t i = 0; i < qs->size(); ++i) {
      const json &v = (*qs)[i];
      std::string path = "queues[" + std::to_string(i) + "]";
      if (!v.is_object()) r.fail(path, "expected an object");
      Reader rr(v, std::string(Stats::kType) + ": " + path);
      QueueFill q;
      rr.req("name", q.name);
      rr.opt("level_ms", q.level_ms);
      rr.opt("max_ms", q.max_ms);
      rr.opt("level_bytes", q.level_bytes);
      rr.opt("max_bytes", q.max_bytes);
      rr.opt("level_buffers", q.level_buffers);
      rr.opt("max_buffers", q.max_buffers);
      rr.req("fill", q.fill);
      m.queues.push_back(q);
    }
  }
}

json fields(const Error &m) {
  return {{"message", m.message}};
}
void read(const Reader &r, Error &m) {
  r.req("message", m.message);
}

json fields(const Ack &m) {
  return {{"cmd", m.cmd}, {"ok", m.ok}, {"detail", m.detail}};
}
void read(const Reader &r, Ack &m) {
  r.req("cmd", m.cmd);
  r.req("ok", m.ok);
  r.opt("detail", m.detail);
}

template <typename T>
void read_any(const Reader &r, T &m, const json &j) {
  if constexpr (std::is_same_v<T, Stats> || std::is_same_v<T, Heartbeat>)
    read(r, m, j);
  else
    read(r, m);
}

// Tries every alternative of V whose kType is `t`.
template <typename V, size_t I = 0>
std::optional<V> read_kind(const std::string &t, const json &j) {
  if constexpr (I == std::variant_size_v<V>) {
    return std::nullopt;
  } else {
    using T = std::variant_alternative_t<I, V>;
    if (t == T::kType) {
      T m;
      if constexpr (std::is_same_v<V, StatusLine>)
        read_any(Reader(j, t), m, j);
      else if constexpr (std::is_same_v<T, CmdRendition>) {
        Reader r(j, t);
        r.req("name", m.name);
        r.req("enabled", m.enabled);
      } else if constexpr (std::is_same_v<T, CmdKey>) {
        Reader r(j, t);
        r.req("period", m.period);
        r.req("key_id", m.key_id);
        r.req("key", m.key);
        r.req("iv", m.iv);
      } else if constexpr (std::is_same_v<T, CmdFencingToken>) {
        Reader r(j, t);
        r.req("token", m.token);
        if (m.token <= 0) throw WireError(std::string(t) + ": field 'token' must be positive");
      }
      return V(std::move(m));
    }
    return read_kind<V, I + 1>(t, j);
  }
}

// The kind of a message object: the string in `key`.
std::string kind_of(const json &j, const char *key, const char *what) {
  if (!j.is_object()) throw WireError(std::string(what) + ": not a JSON object");
  auto it = j.find(key);
  if (it == j.end()) throw WireError(std::string(what) + ": no \"" + key + "\" field");
  if (!it->is_string())
    throw WireError(std::string(what) + ": field '" + key + "' expected a string");
  return it->get<std::string>();
}

json parse_object(const std::string &line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw WireError("not a JSON object");
  return j;
}

}  // namespace

const std::vector<std::string> &status_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> v;
    [&]<size_t... I>(std::index_sequence<I...>) {
      (v.push_back(std::variant_alternative_t<I, StatusLine>::kType), ...);
    }
    (std::make_index_sequence<std::variant_size_v<StatusLine>>{});
    return v;
  }();
  return types;
}

json to_json(const StatusLine &line) {
  return std::visit(
      [](const auto &m) {
        json j = fields(m);
        j["t"] = std::decay_t<decltype(m)>::kType;
        return j;
      },
      line);
}

StatusLine status_from_json(const json &j) {
  std::string t = kind_of(j, "t", "status line");
  auto line = read_kind<StatusLine>(t, j);
  if (!line) throw WireError("unknown status type '" + t + "'");
  return *line;
}

std::string encode_status(const StatusLine &line) {
  return to_json(line).dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusLine parse_status(const std::string &line) {
  return status_from_json(parse_object(line));
}

std::optional<StatusLine> parse_status_line(const std::string &line, std::string *error) {
  try {
    return parse_status(line);
  } catch (const WireError &e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

// ---- commands

std::string command_name(const Command &c) {
  return std::visit([](const auto &m) { return std::string(std::decay_t<decltype(m)>::kType); }, c);
}

json to_json(const Command &c) {
  json j = {{"cmd", command_name(c)}};
  if (auto *r = std::get_if<CmdRendition>(&c)) {
    j["name"] = r->name;
    j["enabled"] = r->enabled;
  }
  if (auto *k = std::get_if<CmdKey>(&c)) {
    j["period"] = k->period;
    j["key_id"] = k->key_id;
    j["key"] = k->key;
    j["iv"] = k->iv;
  }
  if (auto *f = std::get_if<CmdFencingToken>(&c)) j["token"] = f->token;
  return j;
}

Command command_from_json(const json &j) {
  std::string cmd = kind_of(j, "cmd", "command");
  auto c = read_kind<Command>(cmd, j);
  if (!c) throw WireError("unknown command '" + cmd + "'");
  return *c;
}

std::string encode_command(const Command &c) {
  return to_json(c).dump();
}

Command parse_command(const std::string &line) {
  return command_from_json(parse_object(line));
}

}  // namespace iptv::wire
