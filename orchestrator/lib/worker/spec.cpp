#include "worker/spec.h"

#include <algorithm>
#include <set>

namespace iptv::worker {

namespace {

SourceEntry source_entry(const SourceSpec &s, const char *role) {
  SourceEntry e;
  e.role = role;
  e.uri = s.uri;
  e.kind = to_string(s.kind);
  e.program = s.program;
  e.latency_ms = s.latency_ms;
  e.interface = s.interface;
  return e;
}

}  // namespace

std::vector<std::string> rendition_names(const std::vector<Profile> &profiles) {
  std::map<int, int> per_height;
  for (const auto &p : profiles) per_height[p.height]++;
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const auto &p : profiles) {
    std::string n = std::to_string(p.height) + "p";
    if (per_height[p.height] > 1) n += "-" + std::to_string(p.kbps) + "k";
    std::string unique = n;
    for (int i = 2; used.count(unique); ++i) unique = n + "-" + std::to_string(i);
    used.insert(unique);
    names.push_back(unique);
  }
  return names;
}

std::string ladder_profile(const ProfileEntry &p) {
  std::string s =
      std::to_string(p.width) + "x" + std::to_string(p.height) + "@" + std::to_string(p.kbps);
  if (p.fps > 0) s += "@" + std::to_string(p.fps);
  return s;
}

std::string key_uri_format(const std::string &channel_id) {
  return "../../../../keys/" + channel_id + "/{token}/{key-id}";
}

WorkerSpec make_worker_spec(const ChannelRecord &r, const std::map<std::string, ChannelRecord> &all,
                            const WorkerDefaults &d) {
  WorkerSpec s;
  s.channel_id = r.channel_id;
  s.mode = r.passthrough() ? "passthrough" : "transcode";
  s.sources.push_back(source_entry(r.source, "primary"));
  if (r.failover.enabled && !r.failover.backup_source.empty()) {
    auto it = all.find(r.failover.backup_source);
    if (it != all.end()) s.sources.push_back(source_entry(it->second.source, "backup"));
  }
  if (!r.passthrough()) {
    auto names = rendition_names(r.profiles);
    for (size_t i = 0; i < r.profiles.size(); ++i) {
      const Profile &p = r.profiles[i];
      s.profiles.push_back({names[i], p.name, p.width, p.height, p.kbps, p.max_fps});
    }
    // The raw format the encoders see: the largest rung.
    auto top = std::max_element(
        r.profiles.begin(), r.profiles.end(),
        [](const Profile &a, const Profile &b) { return a.width * a.height < b.width * b.height; });
    if (top != r.profiles.end()) {
      s.width = top->width;
      s.height = top->height;
    }
  }
  s.encoder = to_string(r.encoder);
  s.preset = r.preset;
  s.keyframe_seconds = r.keyframe_interval_seconds > 0 ? r.keyframe_interval_seconds : 2.0;
  s.fps = r.frame_rate > 0 ? r.frame_rate : d.fps;
  s.audio_kbps = r.audio_bitrate_kbps > 0 ? r.audio_bitrate_kbps : d.audio_kbps;
  s.hls.dir = d.hls_root + "/" + r.channel_id;
  if (!d.thumbnail_dir.empty()) s.thumbnail.path = d.thumbnail_dir + "/" + r.channel_id + ".jpg";
  s.hls.segment_seconds = r.hls.segment_seconds;
  s.hls.window = r.hls.window_segments;
  s.hls.dvr_seconds = r.hls.dvr_seconds;
  s.hls.playlist_type = to_string(r.hls.playlist_type);
  s.hls.sequence_mode = to_string(r.hls.sequence_mode);
  s.hls.segment_format = to_string(r.hls.segment_format);
  s.hls.dash = r.dash;
  s.hls.audio_language = r.hls.audio_language;
  s.hls.audio_name = r.hls.audio_name;
  s.hls.part_seconds = r.hls.part_seconds;
  if (r.encryption.enabled) {
    // Keys come on the command pipe (iptvd's key store); the URI reaches the origin's key route
    // /keys/<channel>/<token>/<key-id> from /hls/<channel>/<token>/<rendition>/index.m3u8 (and
    // its catch-up copies), the origin filling {token} with the viewer's own token segment.
    s.hls.key_rotation = r.encryption.rotate_segments;
    s.hls.key_uri_format = key_uri_format(r.channel_id);
  }
  s.quality.silence_threshold_db = r.quality.silence_threshold_db;
  s.quality.silence_seconds = r.quality.silence_seconds;
  s.quality.black_threshold = r.quality.black_threshold;
  s.quality.black_seconds = r.quality.black_seconds;
  s.quality.freeze_seconds = r.quality.freeze_seconds;
  s.quality.keyframe_gap_seconds = r.observability.alert_after_segment_gap_seconds;
  s.failover.enabled = r.failover.enabled && s.sources.size() > 1;
  s.failover.primary_loss_seconds = r.failover.primary_loss_seconds;
  s.failover.return_after_seconds = r.failover.return_after_seconds;
  s.failover.triggers = r.failover.triggers;
  for (const auto &o : r.outputs) s.outputs.push_back({to_string(o.kind), o.uri});
  s.heartbeat_ms = d.heartbeat_ms;
  s.source_retry_ms = d.source_retry_ms;
  return s;
}

}  // namespace iptv::worker
