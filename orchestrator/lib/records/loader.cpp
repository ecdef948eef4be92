#include "records/loader.h"
#include "records/profiles_yaml.h"
#include "records/yaml_walker.h"

#include <glib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "util/atomic_file.h"
#include "util/strutil.h"

namespace fs = std::filesystem;

namespace iptv {

std::string LoadError::str() const {
  if (file.empty()) return message;  // already positioned (profiles.yaml messages)
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column > 0 ? column : 1);
  s += ": ";
  if (!path.empty()) s += path + ": ";
  return s + message;
}

std::string sha256_hex(std::string_view data) {
  gchar *h = g_compute_checksum_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(data.data()), data.size());
  std::string out = h;
  g_free(h);
  return out;
}

namespace {

const std::vector<std::string> kSourceTypes = {"licensed-live-feed", "owned-content",
                                               "public-domain", "creative-commons", "test-pattern"};
const std::vector<std::string> kTriggers = {"silence", "black", "freeze"};
const std::vector<std::string> kPresets = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                           "medium",    "slow",      "slower",   "veryslow"};

using Walker = YamlWalker;

bool valid_channel_id(const std::string &id) {
  if (id.empty() || id.size() > 64) return false;
  if (!g_ascii_isalnum(id[0])) return false;
  for (char c : id)
    if (!(g_ascii_islower(c) || g_ascii_isdigit(c) || c == '-' || c == '_')) return false;
  return true;
}

bool host_port(const std::string &rest, bool host_optional) {
  // rest: "host:port[/path][?query]"
  std::string hp = rest.substr(0, rest.find_first_of("/?"));
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
  if (host.empty() && !host_optional) return false;
  if (port.empty() || port.size() > 5) return false;
  for (char c : port)
    if (!g_ascii_isdigit(c)) return false;
  int p = std::stoi(port);
  return p > 0 && p < 65536;
}

// Validates a source URI and sets its kind. Returns an error message or "".
std::string check_source_uri(const std::string &uri, SourceKind &kind) {
  auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos)
    return "'" + uri +
           "' is not a URI (expected udp://, srt://, rtmp://, rtsp://, "
           "http(s)://...m3u8, file:// or test://)";
  std::string scheme = uri.substr(0, scheme_end), rest = uri.substr(scheme_end + 3);
  if (scheme == "udp") {
    kind = SourceKind::kUdp;
    if (!host_port(rest, true)) return "udp source needs a port: udp://239.0.0.1:5000";
  } else if (scheme == "srt") {
    kind = SourceKind::kSrt;
    if (!host_port(rest, true)) return "srt source needs a port: srt://host:9000 or srt://:9000";
    auto q = rest.find("mode=");
    if (q != std::string::npos) {
      std::string mode = rest.substr(q + 5, rest.find('&', q) - q - 5);
      if (mode != "caller" && mode != "listener" && mode != "rendezvous")
        return "srt mode '" + mode + "' must be caller, listener or rendezvous";
    }
  } else if (scheme == "rtmp" || scheme == "rtmps") {
    kind = SourceKind::kRtmp;
    if (rest.empty() || rest[0] == '/') return "rtmp source needs a host";
  } else if (scheme == "rtsp" || scheme == "rtsps") {
    kind = SourceKind::kRtsp;
    if (rest.empty() || rest[0] == '/') return "rtsp source needs a host";
  } else if (scheme == "http" || scheme == "https") {
    kind = SourceKind::kHls;
    std::string path = rest.substr(0, rest.find('?'));
    if (rest.empty() || rest[0] == '/') return "http(s) source needs a host";
    if (!ends_with(path, ".m3u8")) return "http(s) sources must be HLS playlists ending in .m3u8";
  } else if (scheme == "file") {
    kind = SourceKind::kFile;
    if (rest.empty() || rest[0] != '/') return "file source needs an absolute path: file:///path";
  } else if (scheme == "test") {
    kind = SourceKind::kTest;
  } else {
    std::string near =
        nearest(scheme, {"udp", "srt", "rtmp", "rtmps", "rtsp", "http", "https", "file", "test"});
    return "unsupported source scheme '" + scheme + "'" +
           (near.empty() ? "" : " (did you mean '" + near + "'?)");
  }
  return {};
}

// Parses YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (also with an offset) into unix seconds.
bool parse_iso_time(const std::string &s, int64_t &out) {
  std::string v = s;
  if (v.size() == 10) v += "T00:00:00Z";
  GDateTime *dt = g_date_time_new_from_iso8601(v.c_str(), nullptr);
  if (!dt) return false;
  out = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return true;
}

constexpr size_t kMaxRecordBytes = 1 << 20;

const std::vector<std::string> kTopKeys = {"channel_id",    "name",
                                           "status",        "source_type",
                                           "source",        "rights",
                                           "profiles",      "encoder",
                                           "preset",        "keyframe_interval_seconds",
                                           "frame_rate",    "audio_bitrate_kbps",
                                           "access",        "failover",
                                           "observability", "quality",
                                           "hls",           "outputs",
                                           "epg",           "placement",
                                           "redundancy",    "dvr",
                                           "catchup",       "dash",
                                           "encryption"};

}  // namespace

// loader_timeshift.cpp: dvr, catchup (checked against rights.catchup_days).
// loader_cluster.cpp: placement, redundancy.
void parse_placement(YamlWalker &w, const YAML::Node &root, ChannelRecord &rec);
void parse_timeshift(YamlWalker &w, const YAML::Node &root, ChannelRecord &rec);

static bool parse_channel_impl(std::string_view text, const std::string &file,
                               const ProfileCatalog &catalog, ChannelRecord &rec,
                               std::vector<LoadError> &errors);

bool parse_channel(std::string_view text, const std::string &file, const ProfileCatalog &catalog,
                   ChannelRecord &rec, std::vector<LoadError> &errors) {
  try {
    return parse_channel_impl(text, file, catalog, rec, errors);
  } catch (const YAML::Exception &e) {
    // Defence in depth: the walker checks node kinds before reading them, so this is a bug, but
    // a record must never take the loader (or the daemon) down.
    LoadError err;
    err.file = file;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.message = std::string("unreadable record: ") + e.what();
    errors.push_back(err);
    return false;
  }
}

static void parse_identity(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  if (w.str(root["channel_id"], "channel_id", rec.channel_id, true)) {
    rec.line = root["channel_id"].IsDefined() ? root["channel_id"].Mark().line + 1 : 1;
    if (!rec.channel_id.empty() && !valid_channel_id(rec.channel_id))
      w.error(root["channel_id"], "channel_id",
              "'" + rec.channel_id +
                  "' must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter "
                  "or digit");
  }
  w.str(root["name"], "name", rec.name);
  if (rec.name.empty()) rec.name = rec.channel_id;

  std::string v;
  if (w.choice(root["status"], "status", {"active", "disabled", "retired"}, v) && !v.empty())
    rec.status = v == "active"     ? ChannelStatus::kActive
                 : v == "disabled" ? ChannelStatus::kDisabled
                                   : ChannelStatus::kRetired;
  v.clear();
  if (w.choice(root["source_type"], "source_type", kSourceTypes, v) && !v.empty())
    rec.source_type = v;
}

static void parse_source(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  // source: a URI string, or a mapping. Optional at load time (the article's record has none):
  // a channel without one loads, is reported by record_warnings(), and does not start.
  const YAML::Node src = root["source"];
  if (src.IsDefined() && !src.IsNull()) {
    // Bind by construction: Node::operator= would assign through to the referenced node.
    const YAML::Node uri_node = src.IsMap() ? src["uri"] : src;
    bool ok = true;
    if (src.IsMap()) {
      ok = w.mapping(src, "source", {"uri", "program", "latency_ms", "interface"});
      w.integer(src["program"], "source.program", rec.source.program, 0, 65535);
      w.integer(src["latency_ms"], "source.latency_ms", rec.source.latency_ms, 0, 10000);
      w.str(src["interface"], "source.interface", rec.source.interface);
    }
    std::string path = src.IsMap() ? "source.uri" : "source";
    if (uri_node.IsDefined()) rec.source.line = uri_node.Mark().line + 1;
    if (ok && w.str(uri_node, path, rec.source.uri, true) && !rec.source.uri.empty()) {
      std::string err = check_source_uri(rec.source.uri, rec.source.kind);
      if (!err.empty()) w.error(uri_node, path, err);
    }
  } else {
    rec.source.kind = SourceKind::kNone;
  }
  if (rec.source.kind == SourceKind::kTest && !root["source_type"].IsDefined())
    rec.source_type = "test-pattern";
  if (rec.source.kind == SourceKind::kTest && rec.source_type != "test-pattern" &&
      root["source_type"].IsDefined())
    w.error(root["source_type"], "source_type",
            "a test:// source is a test pattern: use source_type: test-pattern");
}

static void parse_rights(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  // rights: owner and licence of the content. The daemon refuses to run a non-test source
  // without them (record_warnings() says so at validation time).
  const YAML::Node rights = root["rights"];
  if (rights.IsDefined() && !rights.IsNull()) {
    if (w.mapping(rights, "rights", {"owner", "licence", "regions", "expires", "catchup_days"})) {
      w.str(rights["owner"], "rights.owner", rec.rights.owner, true);
      w.str(rights["licence"], "rights.licence", rec.rights.licence, true);
      w.string_list(rights["regions"], "rights.regions", rec.rights.regions, false);
      if (w.str(rights["expires"], "rights.expires", rec.rights.expires) &&
          !rec.rights.expires.empty() &&
          !parse_iso_time(rec.rights.expires, rec.rights.expires_unix))
        w.error(rights["expires"], "rights.expires",
                "'" + rec.rights.expires +
                    "' is not an ISO 8601 date (2027-12-31) or UTC time (2027-12-31T23:59:59Z)");
      w.number(rights["catchup_days"], "rights.catchup_days", rec.rights.catchup_days, 0, 365);
    }
  }
}

static void parse_profiles(Walker &w, const YAML::Node &root, const ProfileCatalog &catalog,
                           ChannelRecord &rec) {
  // profiles
  const YAML::Node profiles = root["profiles"];
  if (profiles.IsDefined() && !profiles.IsNull()) {
    if (!profiles.IsSequence() || profiles.size() == 0) {
      w.error(profiles, "profiles", "expected a non-empty list of profile names");
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < profiles.size(); ++i) {
        std::string p = "profiles[" + std::to_string(i) + "]", name, err;
        if (!w.str(profiles[i], p, name, true)) continue;
        if (!seen.insert(name).second) {
          w.error(profiles[i], p, "duplicate profile '" + name + "'");
          continue;
        }
        auto prof = catalog.resolve(name, &err);
        if (!prof) {
          w.error(profiles[i], p, err);
          continue;
        }
        if (prof->passthrough && profiles.size() > 1) {
          w.error(profiles[i], p, "'passthrough' cannot be combined with transcode profiles");
          continue;
        }
        rec.profiles.push_back(*prof);
      }
    }
  } else {
    for (const char *d : {"720p-3mbps", "480p-1mbps"}) rec.profiles.push_back(*catalog.resolve(d));
  }
}

static void parse_encoding(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  std::string v;
  if (w.choice(root["encoder"], "encoder", {"auto", "x264", "vaapi", "nvenc"}, v) && !v.empty())
    rec.encoder = v == "auto"    ? EncoderChoice::kAuto
                  : v == "x264"  ? EncoderChoice::kX264
                  : v == "vaapi" ? EncoderChoice::kVaapi
                                 : EncoderChoice::kNvenc;
  v.clear();
  if (w.choice(root["preset"], "preset", kPresets, v) && !v.empty()) rec.preset = v;
  w.number(root["keyframe_interval_seconds"], "keyframe_interval_seconds",
           rec.keyframe_interval_seconds, 0.5, 10);
  w.integer(root["frame_rate"], "frame_rate", rec.frame_rate, 1, 120);
  w.integer(root["audio_bitrate_kbps"], "audio_bitrate_kbps", rec.audio_bitrate_kbps, 16, 512);
}

static void parse_access(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  const YAML::Node access = root["access"];
  if (access.IsDefined() && !access.IsNull() &&
      w.mapping(access, "access", {"region", "account_required"})) {
    w.string_list(access["region"], "access.region", rec.access.regions, true);
    w.boolean(access["account_required"], "access.account_required", rec.access.account_required);
  }
}

static void parse_failover(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  const YAML::Node fo = root["failover"];
  if (fo.IsDefined() && !fo.IsNull() &&
      w.mapping(fo, "failover",
                {"enabled", "backup_source", "primary_loss_seconds", "return_after_seconds",
                 "triggers"})) {
    w.boolean(fo["enabled"], "failover.enabled", rec.failover.enabled);
    if (w.str(fo["backup_source"], "failover.backup_source", rec.failover.backup_source) &&
        fo["backup_source"].IsDefined()) {
      rec.failover.backup_source_line = fo["backup_source"].Mark().line + 1;
      rec.failover.backup_source_column = fo["backup_source"].Mark().column + 1;
    }
    w.number(fo["primary_loss_seconds"], "failover.primary_loss_seconds",
             rec.failover.primary_loss_seconds, 0.5, 300);
    w.number(fo["return_after_seconds"], "failover.return_after_seconds",
             rec.failover.return_after_seconds, 0, 3600);
    if (w.string_list(fo["triggers"], "failover.triggers", rec.failover.triggers, false)) {
      for (size_t i = 0; i < rec.failover.triggers.size(); ++i) {
        std::string t;
        w.choice(fo["triggers"][i], "failover.triggers[" + std::to_string(i) + "]", kTriggers, t);
      }
    }
    if (rec.failover.enabled && rec.failover.backup_source.empty())
      w.error(fo, "failover.backup_source", "is required when failover.enabled is true");
    if (!rec.failover.backup_source.empty() && rec.failover.backup_source == rec.channel_id)
      w.error(fo["backup_source"], "failover.backup_source", "a channel cannot be its own backup");
  }
}

static void parse_observability_quality(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  const YAML::Node obs = root["observability"];
  if (obs.IsDefined() && !obs.IsNull() &&
      w.mapping(obs, "observability", {"alert_after_segment_gap_seconds"}))
    w.number(obs["alert_after_segment_gap_seconds"],
             "observability.alert_after_segment_gap_seconds",
             rec.observability.alert_after_segment_gap_seconds, 1, 3600);

  const YAML::Node q = root["quality"];
  if (q.IsDefined() && !q.IsNull() &&
      w.mapping(q, "quality",
                {"silence_threshold_db", "silence_seconds", "black_threshold", "black_seconds",
                 "freeze_seconds"})) {
    w.number(q["silence_threshold_db"], "quality.silence_threshold_db",
             rec.quality.silence_threshold_db, -120, 0);
    w.number(q["silence_seconds"], "quality.silence_seconds", rec.quality.silence_seconds, 0.5,
             3600);
    w.number(q["black_threshold"], "quality.black_threshold", rec.quality.black_threshold, 0, 1);
    w.number(q["black_seconds"], "quality.black_seconds", rec.quality.black_seconds, 0.5, 3600);
    w.number(q["freeze_seconds"], "quality.freeze_seconds", rec.quality.freeze_seconds, 0.5, 3600);
  }
}

static void parse_hls(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  std::string v;
  const YAML::Node hls = root["hls"];
  if (hls.IsDefined() && !hls.IsNull() &&
      w.mapping(
          hls, "hls",
          {"segment_seconds", "window_segments", "dvr_seconds", "playlist_type", "sequence_mode",
           "segment_format", "audio_language", "audio_name", "low_latency"})) {
    w.number(hls["segment_seconds"], "hls.segment_seconds", rec.hls.segment_seconds, 1, 30);
    w.integer(hls["window_segments"], "hls.window_segments", rec.hls.window_segments, 3, 1000);
    w.number(hls["dvr_seconds"], "hls.dvr_seconds", rec.hls.dvr_seconds, 0, 7 * 86400);
    v.clear();
    if (w.choice(hls["playlist_type"], "hls.playlist_type", {"live", "event", "vod"}, v) &&
        !v.empty())
      rec.hls.playlist_type = v == "live"    ? PlaylistType::kLive
                              : v == "event" ? PlaylistType::kEvent
                                             : PlaylistType::kVod;
    v.clear();
    if (w.choice(hls["sequence_mode"], "hls.sequence_mode", {"epoch", "counter"}, v) && !v.empty())
      rec.hls.sequence_mode = v == "epoch" ? SequenceMode::kEpoch : SequenceMode::kCounter;
    v.clear();
    if (w.choice(hls["segment_format"], "hls.segment_format", {"ts", "fmp4"}, v) && !v.empty())
      rec.hls.segment_format = v == "fmp4" ? SegmentFormat::kFmp4 : SegmentFormat::kTs;
    // The fMP4 audio rendition's EXT-X-MEDIA LANGUAGE (a BCP 47 tag) and NAME.
    if (w.str(hls["audio_language"], "hls.audio_language", rec.hls.audio_language)) {
      const std::string &l = rec.hls.audio_language;
      if (!l.empty() && (l.size() > 35 || !std::isalpha((unsigned char)l[0]) ||
                         l.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789-") != std::string::npos))
        w.error(hls["audio_language"], "hls.audio_language",
                "must be a BCP 47 language tag such as en or pt-BR, got '" + l + "'");
    }
    if (w.str(hls["audio_name"], "hls.audio_name", rec.hls.audio_name) &&
        rec.hls.audio_name.find_first_of("\"\r\n") != std::string::npos)
      w.error(hls["audio_name"], "hls.audio_name",
              "may not contain a double quote or a line break");
    // Low-latency HLS: parts of part_seconds (iptvhlssink part-duration), which the element
    // refuses at or above the segment duration. Parts are fMP4 moof+mdat pairs or, with
    // segment_format ts, runs of whole TS packets.
    const YAML::Node ll = hls["low_latency"];
    if (ll.IsDefined() && !ll.IsNull() && w.mapping(ll, "hls.low_latency", {"part_seconds"})) {
      const YAML::Node ps = ll["part_seconds"];
      if (!ps.IsDefined())
        w.error(ll, "hls.low_latency.part_seconds", "is required (e.g. part_seconds: 0.5)");
      else if (w.number(ps, "hls.low_latency.part_seconds", rec.hls.part_seconds, 0.1, 10)) {
        if (rec.hls.part_seconds >= rec.hls.segment_seconds)
          w.error(ps, "hls.low_latency.part_seconds",
                  Walker::fmt(rec.hls.part_seconds) + " must be below hls.segment_seconds (" +
                      Walker::fmt(rec.hls.segment_seconds) + ")");
      }
    }
  }
  // DASH lists the CMAF segments: it needs hls.segment_format fmp4.
  const YAML::Node dash = root["dash"];
  if (w.boolean(dash, "dash", rec.dash) && rec.dash &&
      rec.hls.segment_format != SegmentFormat::kFmp4)
    w.error(dash, "dash",
            "needs hls.segment_format: fmp4 (DASH here lists the CMAF segments; MPEG-TS segments "
            "cannot be listed), got hls.segment_format: " +
                std::string(to_string(rec.hls.segment_format)));
  // Segments cut on keyframes: the segment length must be a whole number of GOPs.
  if (!rec.passthrough() && rec.keyframe_interval_seconds > 0) {
    double ratio = rec.hls.segment_seconds / rec.keyframe_interval_seconds;
    if (std::fabs(ratio - std::round(ratio)) > 1e-6 || ratio < 1)
      w.error(hls.IsDefined() && hls["segment_seconds"].IsDefined() ? hls["segment_seconds"] : root,
              "hls.segment_seconds",
              "must be a whole multiple of keyframe_interval_seconds (" +
                  Walker::fmt(rec.keyframe_interval_seconds) + "), got " +
                  Walker::fmt(rec.hls.segment_seconds));
  }
}

static void parse_outputs(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  const YAML::Node outs = root["outputs"];
  if (outs.IsDefined() && !outs.IsNull()) {
    if (!outs.IsSequence()) {
      w.error(outs, "outputs", "expected a list of outputs, got " + Walker::kind(outs));
    } else {
      for (size_t i = 0; i < outs.size(); ++i) {
        std::string p = "outputs[" + std::to_string(i) + "]";
        if (!w.mapping(outs[i], p, {"type", "uri"})) continue;
        Output o;
        std::string t;
        if (!w.choice(outs[i]["type"], p + ".type", {"srt", "rtmp", "udp"}, t)) continue;
        if (t.empty()) {
          w.error(outs[i], p + ".type", "is required (srt, rtmp or udp)");
          continue;
        }
        o.kind = t == "srt" ? OutputKind::kSrt : t == "rtmp" ? OutputKind::kRtmp : OutputKind::kUdp;
        if (!w.str(outs[i]["uri"], p + ".uri", o.uri, true)) continue;
        std::string scheme = o.uri.substr(0, o.uri.find("://"));
        bool match = (t == "rtmp" && (scheme == "rtmp" || scheme == "rtmps")) || scheme == t;
        if (o.uri.find("://") == std::string::npos || !match)
          w.error(outs[i]["uri"], p + ".uri",
                  "'" + o.uri + "' does not match type " + t + " (expected " + t + "://...)");
        else if (t != "rtmp" && !host_port(o.uri.substr(o.uri.find("://") + 3), t == "srt"))
          w.error(outs[i]["uri"], p + ".uri", "'" + o.uri + "' needs host:port");
        rec.outputs.push_back(o);
      }
    }
  }
}

// epg.logo is a URL (shown as is) or a file beside the record, which iptvd serves at
// /iptv/logos/<channel_id>: it must exist, be a PNG, JPEG, WebP or SVG, and stay small.
static void check_logo(Walker &w, const YAML::Node &n, const ChannelRecord &rec) {
  const std::string &logo = rec.epg.logo;
  if (logo.find("://") != std::string::npos || logo.rfind("data:", 0) == 0) return;
  std::filesystem::path p = logo;
  if (p.is_relative() && !rec.file.empty()) p = std::filesystem::path(rec.file).parent_path() / p;
  std::string ext = p.extension().string();
  for (auto &ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg" && ext != ".webp" && ext != ".svg") {
    w.error(
        n, "epg.logo",
        "'" + logo + "' is neither a URL nor a .png, .jpg, .webp or .svg file beside the record");
    return;
  }
  if (rec.file.empty()) return;  // parsed from text: no folder to look in
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) {
    w.error(n, "epg.logo", "'" + logo + "' is not a file (looked for " + p.string() + ")");
    return;
  }
  if (std::filesystem::file_size(p, ec) > 1024 * 1024)
    w.error(n, "epg.logo", "'" + logo + "' is larger than 1 MiB; a channel logo is a few KB");
}

static void parse_epg(Walker &w, const YAML::Node &root, ChannelRecord &rec) {
  const YAML::Node epg = root["epg"];
  if (epg.IsDefined() && !epg.IsNull() &&
      w.mapping(epg, "epg", {"tvg_id", "logo", "group", "schedule"})) {
    w.str(epg["tvg_id"], "epg.tvg_id", rec.epg.tvg_id);
    if (w.str(epg["logo"], "epg.logo", rec.epg.logo) && !rec.epg.logo.empty())
      check_logo(w, epg["logo"], rec);
    w.str(epg["group"], "epg.group", rec.epg.group);
    w.str(epg["schedule"], "epg.schedule", rec.epg.schedule);
  }
  if (rec.epg.tvg_id.empty()) rec.epg.tvg_id = rec.channel_id;
}

static bool parse_channel_impl(std::string_view text, const std::string &file,
                               const ProfileCatalog &catalog, ChannelRecord &rec,
                               std::vector<LoadError> &errors) {
  Walker w(file, errors);
  rec = ChannelRecord();
  if (text.size() > kMaxRecordBytes) {
    LoadError err;
    err.file = file;
    err.message = "record is larger than 1 MiB; a channel record is a few hundred bytes";
    errors.push_back(err);
    return false;
  }
  rec.file = file;
  rec.content_sha256 = sha256_hex(text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException &e) {
    LoadError err;
    err.file = file;
    err.line = e.mark.line + 1;
    err.column = e.mark.column + 1;
    err.message = "YAML syntax error: " + e.msg;
    errors.push_back(err);
    return false;
  }
  if (!root.IsDefined() || root.IsNull()) {
    LoadError err;
    err.file = file;
    err.line = 1;
    err.column = 1;
    err.message = "empty file: a channel record needs at least channel_id and source";
    errors.push_back(err);
    return false;
  }
  if (!w.mapping(root, "", kTopKeys)) return false;

  parse_identity(w, root, rec);
  parse_source(w, root, rec);
  parse_rights(w, root, rec);
  parse_profiles(w, root, catalog, rec);
  parse_encoding(w, root, rec);
  parse_access(w, root, rec);
  parse_failover(w, root, rec);
  parse_observability_quality(w, root, rec);
  parse_hls(w, root, rec);
  parse_outputs(w, root, rec);
  parse_epg(w, root, rec);
  parse_placement(w, root, rec);  // loader_cluster.cpp
  parse_timeshift(w, root, rec);  // loader_timeshift.cpp: after hls and rights

  for (auto &e : errors)
    if (e.file == file && e.channel_id.empty()) e.channel_id = rec.channel_id;
  return w.count() == 0;
}

void check_channel_set(const std::vector<ChannelRecord> &records, std::vector<LoadError> &errors) {
  auto err = [&](const ChannelRecord &r, const std::string &path, const std::string &msg) {
    LoadError e;
    e.file = r.file;
    bool at_backup = path == "failover.backup_source" && r.failover.backup_source_line > 0;
    e.line = at_backup ? r.failover.backup_source_line : r.line;
    e.column = at_backup ? r.failover.backup_source_column : 1;
    e.path = path;
    e.message = msg;
    e.channel_id = r.channel_id;
    errors.push_back(e);
  };
  std::map<std::string, const ChannelRecord *> by_id;
  for (const auto &r : records) {
    auto [it, inserted] = by_id.emplace(r.channel_id, &r);
    if (!inserted)
      err(r, "channel_id",
          "duplicate channel_id '" + r.channel_id + "' (also in " + it->second->file + ":" +
              std::to_string(it->second->line) + ")");
    std::string stem = fs::path(r.file).stem().string();
    if (!r.file.empty() && stem != r.channel_id && valid_channel_id(r.channel_id))
      err(r, "channel_id",
          "channel_id '" + r.channel_id + "' disagrees with the file name '" +
              fs::path(r.file).filename().string() + "' (name the file " + r.channel_id + ".yaml)");
  }
  std::vector<std::string> ids;
  for (auto &[id, r] : by_id) ids.push_back(id);
  for (const auto &r : records) {
    const std::string &b = r.failover.backup_source;
    if (b.empty() || b == r.channel_id) continue;
    if (!by_id.count(b)) {
      std::string near = nearest(b, ids);
      err(r, "failover.backup_source",
          "backup_source '" + b + "' names no channel" +
              (near.empty() ? "" : " (did you mean '" + near + "'?)"));
      continue;
    }
    // Follow the backup chain; a cycle back to r is an error (reported once, on the first).
    std::set<std::string> seen = {r.channel_id};
    std::string cur = b;
    std::vector<std::string> chain = {r.channel_id};
    while (!cur.empty() && by_id.count(cur)) {
      chain.push_back(cur);
      if (cur == r.channel_id) break;
      if (!seen.insert(cur).second) break;
      cur = by_id[cur]->failover.backup_source;
    }
    if (chain.back() == r.channel_id && chain.size() > 1 &&
        r.channel_id == *std::min_element(chain.begin(), chain.end() - 1)) {
      std::string cycle;
      for (size_t i = 0; i < chain.size(); ++i) cycle += (i ? " -> " : "") + chain[i];
      err(r, "failover.backup_source", "failover cycle: " + cycle);
    }
  }
}

LoadResult load_channels(const std::vector<std::string> &paths) {
  LoadResult res;
  std::vector<std::pair<std::string, const ProfileCatalog *>> files;
  std::map<std::string, ProfileCatalog> catalogs;  // per folder
  auto catalog_for = [&](const fs::path &dir) -> const ProfileCatalog * {
    std::string key = dir.string();
    auto it = catalogs.find(key);
    if (it != catalogs.end()) return &it->second;
    ProfileCatalog &c = catalogs[key];
    fs::path pf = dir / "profiles.yaml";
    std::error_code ec;
    if (fs::exists(pf, ec)) {
      std::vector<std::string> errs;
      if (!load_profiles_file(c, pf.string(), &errs)) {
        for (auto &m : errs) {
          LoadError e;
          e.message = m;  // already "file:line:col: profiles.NAME: ..."
          res.errors.push_back(e);
        }
      }
    }
    return &c;
  };
  for (const auto &p : paths) {
    std::error_code ec;
    fs::path path(p);
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (auto &e : fs::directory_iterator(path, ec)) {
        std::string name = e.path().filename().string();
        std::string ext = e.path().extension().string();
        if ((ext == ".yaml" || ext == ".yml") && name != "profiles.yaml" && name[0] != '.')
          found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      const ProfileCatalog *c = catalog_for(path);
      for (auto &f : found) files.emplace_back(f, c);
    } else if (fs::exists(path, ec)) {
      files.emplace_back(p, catalog_for(path.has_parent_path() ? path.parent_path() : "."));
    } else {
      LoadError e;
      e.file = p;
      e.message = "no such file or directory";
      res.errors.push_back(e);
    }
  }
  std::vector<ChannelRecord> parsed;
  for (auto &[f, cat] : files) {
    res.files.push_back(f);
    std::string text, err;
    if (!read_file(f, text, &err)) {
      LoadError e;
      e.file = f;
      e.message = err;
      res.errors.push_back(e);
      continue;
    }
    ChannelRecord rec;
    bool ok = parse_channel(text, f, *cat, rec, res.errors);
    if (ok)
      parsed.push_back(rec);
    else if (!rec.channel_id.empty()) {
      // Still take part in cross-file checks so one bad file does not hide a duplicate.
      ChannelRecord shadow;
      shadow.file = rec.file;
      shadow.line = rec.line;
      shadow.channel_id = rec.channel_id;
      shadow.failover = rec.failover;
      parsed.push_back(shadow);
      parsed.back().content_sha256.clear();
    }
  }
  check_channel_set(parsed, res.errors);
  std::set<std::string> bad_files;
  for (auto &e : res.errors) bad_files.insert(e.file);
  for (auto &r : parsed)
    if (!r.content_sha256.empty() && !bad_files.count(r.file)) res.channels.push_back(r);
  return res;
}

}  // namespace iptv
