// Time-addressed URLs over the warm tier (docs/timeshift.md), answered for the origin after its
// token check. Free of libsoup: the origin passes the request's channel, path and query, and
// serves what comes back (a generated playlist, or a file to stream with its usual headers).
//
//   /hls/<ch>/<token>/index.m3u8?start=T[&end=T]          multivariant, URIs carry the range
//   /hls/<ch>/<token>/<rendition>/index.m3u8?start=T&end=T VOD playlist (ENDLIST)
//   /hls/<ch>/<token>/<rendition>/index.m3u8?start=T       EVENT playlist, live from T
//   /hls/<ch>/<token>/manifest.mpd?start=T&end=T           static DASH MPD (fMP4 channels with
//   DASH) /hls/<ch>/<token>/<rendition>/archive/<start_ms>.<ext> an archived segment
//   /hls/<ch>/<token>/<rendition>/archive/init-<start_ms>.mp4  its fMP4 init segment
//
// Times are unix seconds or ISO 8601 with a zone (core/timeshift/time_arg.h). Refusals carry a
// reason (X-Iptv-Deny at the origin): 400 malformed/inverted/future, 403 beyond_rights (older
// than rights.catchup_days allows), 404 not_retained / no_catchup (the channel keeps nothing).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "archive/archive_index.h"

namespace iptv::archive {

struct CatchupRules {
  double catchup_days = 0;  // catchup.days of the record (0: the channel keeps nothing)
  double rights_days = 0;   // rights.catchup_days
  double target_seconds = 2;
  std::string hot_dir;  // where the live multivariant playlist is (for the ranged copy)
  // AES-128 channels: the EXT-X-KEY attributes of a key id (URI and IV), "" when unknown.
  std::function<std::string(const std::string &key_id)> key_line;
};

struct CatchupAnswer {
  int status = 200;
  std::string reason;        // refusal reason ("" when 200)
  std::string content_type;  // of `body`
  std::string body;          // a generated playlist
  std::string file;          // or a file to serve (an archived segment)
  int max_age = 0;           // Cache-Control max-age for the answer
};

class CatchupService {
 public:
  using RulesFn = std::function<std::optional<CatchupRules>(const std::string &channel)>;
  using ClockFn = std::function<int64_t()>;  // unix ms
  CatchupService(ArchiveIndex &index, RulesFn rules, ClockFn now = {});

  // True when the request is time-addressed (a query with start=, or an archive path): the
  // origin then serves answer() instead of a file of the live tree.
  // Where a segment's bytes are when its warm file is gone (the object tier): returns a local
  // path, or "" when they cannot be had. Unset: only warm files are served.
  using LocalFileFn = std::function<std::string(const Entry &e, bool init)>;
  void set_local_file(LocalFileFn fn) { local_file_ = std::move(fn); }

  static bool wants(const std::string &rel, const std::string &query);
  CatchupAnswer answer(const std::string &channel, const std::string &rel,
                       const std::string &query);

 private:
  CatchupAnswer playlist(const std::string &channel, const CatchupRules &rules,
                         const std::string &rel, int64_t start_ms, int64_t end_ms,
                         const std::string &range_query);
  CatchupAnswer mpd(const std::string &channel, const CatchupRules &rules, const std::string &rel,
                    int64_t start_ms, int64_t end_ms);
  CatchupAnswer segment(const std::string &channel, const std::string &rel);
  ArchiveIndex &index_;
  RulesFn rules_;
  ClockFn now_;
  LocalFileFn local_file_;
};

// The multivariant playlist with the range appended to every URI (variant lines and URI="..."
// attributes), so players that resolve relative URIs keep asking for the same range.
std::string ranged_multivariant(const std::string &text, const std::string &range_query);

}  // namespace iptv::archive
