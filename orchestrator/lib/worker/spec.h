// The worker spec from a channel record. The spec's types and JSON are part of the daemon-worker
// protocol (wire/spec.h); they are named here too, so the worker's code says WorkerSpec.
//
// The daemon turns the last good channel record into a WorkerSpec (make_worker_spec), writes it
// to a file and starts `iptvd-worker --spec FILE --status-fd 3`. The worker never reads channel
// records itself, so a record that fails validation never reaches a running pipeline.
// GStreamer-free.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "records/channel.h"
#include "wire/spec.h"

namespace iptv::worker {

using wire::FailoverEntry;
using wire::from_json;
using wire::HlsEntry;
using wire::load_spec_file;
using wire::OutputEntry;
using wire::ProfileEntry;
using wire::QualityEntry;
using wire::SourceEntry;
using wire::ThumbnailEntry;
using wire::to_json;
using wire::WorkerSpec;

struct WorkerDefaults {
  std::string hls_root = "var/hls";  // spec.hls.dir = hls_root/channel_id
  // spec.thumbnail.path = thumbnail_dir/channel_id.jpg; "" = no thumbnails.
  std::string thumbnail_dir;
  int heartbeat_ms = 1000;
  int fps = 30;
  int audio_kbps = 128;
  int source_retry_ms = 1000;
};

// Builds the spec of `record`. `all` maps channel_id to every loaded record: failover's
// backup_source names another channel, whose source becomes this channel's backup.
WorkerSpec make_worker_spec(const ChannelRecord &record,
                            const std::map<std::string, ChannelRecord> &all,
                            const WorkerDefaults &defaults);

// The EXT-X-KEY URI format of an encrypted channel (iptvhlssink key-uri-format): relative to a
// media playlist /hls/<channel>/<token>/<rendition>/index.m3u8, reaching the origin's key route
// /keys/<channel>/<token>/<key-id>; the origin fills {token} per viewer, the sink {key-id}.
std::string key_uri_format(const std::string &channel_id);

// The rendition name of a profile: "<height>p", with "-<kbps>k" appended when two rungs share a
// height.
std::vector<std::string> rendition_names(const std::vector<Profile> &profiles);
// "1280x720@3000" or "1280x720@3000@30": the explicit profile form iptvabrladder parses, so the
// worker needs no profile catalog.
std::string ladder_profile(const ProfileEntry &p);

}  // namespace iptv::worker
