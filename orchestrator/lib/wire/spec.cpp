#include "wire/spec.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace iptv::wire {

namespace {

const std::set<std::string> kModes = {"transcode", "passthrough"};
const std::set<std::string> kKinds = {"udp", "srt", "rtmp", "rtsp", "hls", "file", "test"};
const std::set<std::string> kRoles = {"primary", "backup"};
const std::set<std::string> kTriggers = {"silence", "black", "freeze"};
const std::set<std::string> kOutputs = {"srt", "rtmp", "udp"};

[[noreturn]] void bad(const std::string &field, const std::string &why) {
  throw std::runtime_error("spec: " + field + ": " + why);
}

template <typename T>
T get(const nlohmann::json &j, const char *key, const std::string &path, T fallback) {
  if (!j.contains(key)) return fallback;
  const nlohmann::json &v = j.at(key);
  // nlohmann's get<int>() converts a float, a bool or an out-of-range integer silently (a float
  // beyond int's range is undefined behaviour): integers must be JSON integers within range.
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!v.is_number_integer()) bad(path + key, "wrong type (expected an integer)");
    if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(std::numeric_limits<T>::max())
                               : (v.get<int64_t>() < int64_t(std::numeric_limits<T>::min()) ||
                                  v.get<int64_t>() > int64_t(std::numeric_limits<T>::max())))
      bad(path + key, "out of range");
    return static_cast<T>(v.is_number_unsigned() ? int64_t(v.get<uint64_t>()) : v.get<int64_t>());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) bad(path + key, "wrong type (expected a number)");
    return v.get<T>();
  } else {
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception &) {
      bad(path + key, "wrong type");
    }
  }
}

void check_in(const std::set<std::string> &allowed, const std::string &v,
              const std::string &field) {
  if (!allowed.count(v)) bad(field, "'" + v + "' is not allowed");
}

}  // namespace

nlohmann::json to_json(const WorkerSpec &s) {
  using nlohmann::json;
  json j;
  j["channel_id"] = s.channel_id;
  j["mode"] = s.mode;
  j["sources"] = json::array();
  for (const auto &e : s.sources)
    j["sources"].push_back({{"role", e.role},
                            {"uri", e.uri},
                            {"kind", e.kind},
                            {"program", e.program},
                            {"latency_ms", e.latency_ms},
                            {"interface", e.interface}});
  j["profiles"] = json::array();
  for (const auto &p : s.profiles)
    j["profiles"].push_back({{"name", p.name},
                             {"profile", p.profile},
                             {"width", p.width},
                             {"height", p.height},
                             {"kbps", p.kbps},
                             {"fps", p.fps}});
  j["encoder"] = s.encoder;
  j["preset"] = s.preset;
  j["keyframe_seconds"] = s.keyframe_seconds;
  j["width"] = s.width;
  j["height"] = s.height;
  j["fps"] = s.fps;
  j["audio"] = {{"rate", s.audio_rate}, {"channels", s.audio_channels}, {"kbps", s.audio_kbps}};
  j["hls"] = {{"dir", s.hls.dir},
              {"segment_seconds", s.hls.segment_seconds},
              {"window", s.hls.window},
              {"dvr_seconds", s.hls.dvr_seconds},
              {"playlist_type", s.hls.playlist_type},
              {"sequence_mode", s.hls.sequence_mode},
              {"segment_format", s.hls.segment_format},
              {"dash", s.hls.dash},
              {"audio_language", s.hls.audio_language},
              {"audio_name", s.hls.audio_name},
              {"part_seconds", s.hls.part_seconds},
              {"key_rotation", s.hls.key_rotation},
              {"key_uri_format", s.hls.key_uri_format}};
  j["quality"] = {{"silence_threshold_db", s.quality.silence_threshold_db},
                  {"silence_seconds", s.quality.silence_seconds},
                  {"black_threshold", s.quality.black_threshold},
                  {"black_seconds", s.quality.black_seconds},
                  {"freeze_seconds", s.quality.freeze_seconds},
                  {"keyframe_gap_seconds", s.quality.keyframe_gap_seconds}};
  j["thumbnail"] = {{"path", s.thumbnail.path},
                    {"interval_seconds", s.thumbnail.interval_seconds},
                    {"width", s.thumbnail.width}};
  j["failover"] = {{"enabled", s.failover.enabled},
                   {"primary_loss_seconds", s.failover.primary_loss_seconds},
                   {"return_after_seconds", s.failover.return_after_seconds},
                   {"triggers", s.failover.triggers}};
  j["outputs"] = json::array();
  for (const auto &o : s.outputs) j["outputs"].push_back({{"kind", o.kind}, {"uri", o.uri}});
  j["heartbeat_ms"] = s.heartbeat_ms;
  j["source_retry_ms"] = s.source_retry_ms;
  return j;
}

// spec.hls: where and how the channel is packaged (from_json's part for "hls").
static void hls_from_json(const nlohmann::json &j, WorkerSpec &s) {
  if (!j.contains("hls") || !j["hls"].is_object()) bad("hls", "is required");
  const auto &h = j["hls"];
  s.hls.dir = get<std::string>(h, "dir", "hls.", "");
  if (s.hls.dir.empty()) bad("hls.dir", "is required");
  s.hls.segment_seconds = get<double>(h, "segment_seconds", "hls.", s.hls.segment_seconds);
  if (s.hls.segment_seconds < 0.5) bad("hls.segment_seconds", "must be at least 0.5");
  s.hls.window = get<int>(h, "window", "hls.", s.hls.window);
  s.hls.dvr_seconds = get<double>(h, "dvr_seconds", "hls.", s.hls.dvr_seconds);
  s.hls.playlist_type = get<std::string>(h, "playlist_type", "hls.", s.hls.playlist_type);
  check_in({"live", "event", "vod"}, s.hls.playlist_type, "hls.playlist_type");
  s.hls.sequence_mode = get<std::string>(h, "sequence_mode", "hls.", s.hls.sequence_mode);
  check_in({"epoch", "counter"}, s.hls.sequence_mode, "hls.sequence_mode");
  s.hls.segment_format = get<std::string>(h, "segment_format", "hls.", s.hls.segment_format);
  check_in({"ts", "fmp4"}, s.hls.segment_format, "hls.segment_format");
  s.hls.dash = get<bool>(h, "dash", "hls.", s.hls.dash);
  if (s.hls.dash && s.hls.segment_format != "fmp4") bad("hls.dash", "needs segment_format fmp4");
  s.hls.audio_language = get<std::string>(h, "audio_language", "hls.", s.hls.audio_language);
  s.hls.audio_name = get<std::string>(h, "audio_name", "hls.", s.hls.audio_name);
  s.hls.part_seconds = get<double>(h, "part_seconds", "hls.", s.hls.part_seconds);
  if (s.hls.part_seconds < 0 ||
      (s.hls.part_seconds > 0 && s.hls.part_seconds >= s.hls.segment_seconds))
    bad("hls.part_seconds", "must be 0 or below segment_seconds");
  s.hls.key_rotation = get<int>(h, "key_rotation", "hls.", s.hls.key_rotation);
  s.hls.key_uri_format = get<std::string>(h, "key_uri_format", "hls.", s.hls.key_uri_format);
}

WorkerSpec from_json(const nlohmann::json &j) {
  if (!j.is_object()) bad("(root)", "expected an object");
  WorkerSpec s;
  s.channel_id = get<std::string>(j, "channel_id", "", "");
  if (s.channel_id.empty()) bad("channel_id", "is required");
  s.mode = get<std::string>(j, "mode", "", s.mode);
  check_in(kModes, s.mode, "mode");
  if (!j.contains("sources") || !j["sources"].is_array() || j["sources"].empty())
    bad("sources", "at least one source is required");
  for (size_t i = 0; i < j["sources"].size(); ++i) {
    const auto &js = j["sources"][i];
    std::string p = "sources[" + std::to_string(i) + "].";
    SourceEntry e;
    e.role = get<std::string>(js, "role", p, i == 0 ? "primary" : "backup");
    check_in(kRoles, e.role, p + "role");
    e.uri = get<std::string>(js, "uri", p, "");
    if (e.uri.find("://") == std::string::npos) bad(p + "uri", "is not a URI");
    e.kind = get<std::string>(js, "kind", p, "");
    check_in(kKinds, e.kind, p + "kind");
    e.program = get<int>(js, "program", p, 0);
    e.latency_ms = get<int>(js, "latency_ms", p, 200);
    e.interface = get<std::string>(js, "interface", p, "");
    s.sources.push_back(e);
  }
  if (s.sources[0].role != "primary") bad("sources[0].role", "the first source is the primary");
  if (j.contains("profiles")) {
    if (!j["profiles"].is_array()) bad("profiles", "expected a list");
    for (size_t i = 0; i < j["profiles"].size(); ++i) {
      const auto &jp = j["profiles"][i];
      std::string p = "profiles[" + std::to_string(i) + "].";
      ProfileEntry e;
      e.name = get<std::string>(jp, "name", p, "");
      e.profile = get<std::string>(jp, "profile", p, e.name);
      e.width = get<int>(jp, "width", p, 0);
      e.height = get<int>(jp, "height", p, 0);
      e.kbps = get<int>(jp, "kbps", p, 0);
      e.fps = get<int>(jp, "fps", p, 0);
      if (e.name.empty()) bad(p + "name", "is required");
      if (e.width <= 0 || e.height <= 0 || e.kbps <= 0) bad(p + "width", "size and kbps > 0");
      s.profiles.push_back(e);
    }
  }
  if (s.mode == "transcode" && s.profiles.empty())
    bad("profiles", "a transcoded channel needs at least one profile");
  s.encoder = get<std::string>(j, "encoder", "", s.encoder);
  s.preset = get<std::string>(j, "preset", "", s.preset);
  s.keyframe_seconds = get<double>(j, "keyframe_seconds", "", s.keyframe_seconds);
  s.width = get<int>(j, "width", "", s.width);
  s.height = get<int>(j, "height", "", s.height);
  s.fps = get<int>(j, "fps", "", s.fps);
  if (s.width <= 0 || s.height <= 0 || s.fps <= 0) bad("width", "width, height and fps > 0");
  if (j.contains("audio")) {
    const auto &a = j["audio"];
    s.audio_rate = get<int>(a, "rate", "audio.", s.audio_rate);
    s.audio_channels = get<int>(a, "channels", "audio.", s.audio_channels);
    s.audio_kbps = get<int>(a, "kbps", "audio.", s.audio_kbps);
  }
  hls_from_json(j, s);
  if (j.contains("thumbnail")) {
    const auto &t = j["thumbnail"];
    s.thumbnail.path = get<std::string>(t, "path", "thumbnail.", "");
    s.thumbnail.interval_seconds =
        get<double>(t, "interval_seconds", "thumbnail.", s.thumbnail.interval_seconds);
    s.thumbnail.width = get<int>(t, "width", "thumbnail.", s.thumbnail.width);
    if (s.thumbnail.interval_seconds < 0.5) bad("thumbnail.interval_seconds", "must be >= 0.5");
    if (s.thumbnail.width < 16 || s.thumbnail.width > 1920)
      bad("thumbnail.width", "must be 16..1920");
  }
  if (j.contains("quality")) {
    const auto &q = j["quality"];
    auto &o = s.quality;
    o.silence_threshold_db =
        get<double>(q, "silence_threshold_db", "quality.", o.silence_threshold_db);
    o.silence_seconds = get<double>(q, "silence_seconds", "quality.", o.silence_seconds);
    o.black_threshold = get<double>(q, "black_threshold", "quality.", o.black_threshold);
    o.black_seconds = get<double>(q, "black_seconds", "quality.", o.black_seconds);
    o.freeze_seconds = get<double>(q, "freeze_seconds", "quality.", o.freeze_seconds);
    o.keyframe_gap_seconds =
        get<double>(q, "keyframe_gap_seconds", "quality.", o.keyframe_gap_seconds);
  }
  if (j.contains("failover")) {
    const auto &f = j["failover"];
    s.failover.enabled = get<bool>(f, "enabled", "failover.", false);
    s.failover.primary_loss_seconds =
        get<double>(f, "primary_loss_seconds", "failover.", s.failover.primary_loss_seconds);
    s.failover.return_after_seconds =
        get<double>(f, "return_after_seconds", "failover.", s.failover.return_after_seconds);
    s.failover.triggers = get<std::vector<std::string>>(f, "triggers", "failover.", {});
    for (const auto &t : s.failover.triggers) check_in(kTriggers, t, "failover.triggers");
    if (s.failover.primary_loss_seconds <= 0) bad("failover.primary_loss_seconds", "must be > 0");
  }
  if (j.contains("outputs")) {
    for (size_t i = 0; i < j["outputs"].size(); ++i) {
      std::string p = "outputs[" + std::to_string(i) + "].";
      OutputEntry o{get<std::string>(j["outputs"][i], "kind", p, ""),
                    get<std::string>(j["outputs"][i], "uri", p, "")};
      check_in(kOutputs, o.kind, p + "kind");
      if (o.uri.find("://") == std::string::npos) bad(p + "uri", "is not a URI");
      s.outputs.push_back(o);
    }
  }
  s.heartbeat_ms = get<int>(j, "heartbeat_ms", "", s.heartbeat_ms);
  if (s.heartbeat_ms < 50) bad("heartbeat_ms", "must be at least 50");
  s.source_retry_ms = get<int>(j, "source_retry_ms", "", s.source_retry_ms);
  return s;
}

WorkerSpec load_spec_file(const std::string &path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("spec: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error("spec: " + path + ": " + e.what());
  }
  return from_json(j);
}

}  // namespace iptv::wire
