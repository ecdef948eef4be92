// The strict channel-record loader (yaml-cpp).
//
// - An unknown key is an error that suggests the nearest known key.
// - A wrong type or value is an error.
// - Every error carries file, line, column and the field path:
//     channels/news.yaml:7:3: profiles[1]: unknown profile '720p-3mbs' (did you mean '720p-3mbps'?)
// - Cross-file checks: duplicate channel_id, a backup_source naming no channel, failover cycles,
//   a file name that disagrees with channel_id.
// - All errors are reported in one run.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "records/channel.h"
#include "profiles/profiles.h"

namespace iptv {

struct LoadError {
  std::string file;
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string path;  // field path, e.g. "profiles[1]" or "failover.backup_source"
  std::string message;
  std::string channel_id;  // when known

  // "file:line:col: path: message"
  std::string str() const;
};

struct LoadResult {
  std::vector<ChannelRecord> channels;  // only the valid ones
  std::vector<LoadError> errors;
  std::vector<std::string> files;  // every record file read
  bool ok() const { return errors.empty(); }
};

// Parses one record. Appends errors; returns true when the record is valid on its own.
bool parse_channel(std::string_view yaml_text, const std::string &file,
                   const ProfileCatalog &catalog, ChannelRecord &out,
                   std::vector<LoadError> &errors);

// Loads records from files and folders (*.yaml / *.yml, except profiles.yaml, which extends the
// catalog of the records in its folder), then runs the cross-file checks.
LoadResult load_channels(const std::vector<std::string> &paths);

// Cross-file checks over a set of parsed records (duplicates, backups, cycles, file names).
void check_channel_set(const std::vector<ChannelRecord> &records, std::vector<LoadError> &errors);

// The admission rule: everything that keeps iptvd from running a well-formed record (no source,
// no rights metadata, expired rights, a file:// source that does not exist, a test:// pattern
// the worker cannot draw), each with its
// file:line and field. iptvd refuses to start such a channel with the first message as its
// reason; `iptvctl validate` reports them as errors for active records (warnings otherwise).
std::vector<LoadError> admission_problems(const ChannelRecord &r);

// test:// sources: the pattern part of "test://PATTERN?tone=HZ" ("" for "test://", the default
// smpte), and the patterns the worker can draw (videotestsrc's).
std::string test_source_pattern(const std::string &uri);
const std::vector<std::string> &test_patterns();
bool is_test_pattern(const std::string &pattern);

// The messages of admission_problems(), for logs and the daemon's channel reason.
std::vector<std::string> record_warnings(const ChannelRecord &r);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace iptv
