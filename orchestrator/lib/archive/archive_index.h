// The warm tier's index: one row per archived segment (channel, rendition, start time, duration,
// discontinuity sequence, file path, bytes, init segment), in the daemon's SQLite database.
//
// - Rows are keyed by (channel, rendition, start_ms): adding the same segment twice (a repeated
//   status line, a re-index after a restart) changes nothing, so adds are idempotent.
// - Every change runs in one transaction (db::Db::tx).
// - Range queries walk the primary key (a WITHOUT ROWID table clustered on it), so a catch-up
//   playlist over days of 2 s segments costs one index range scan (bench/archive).
// - Files are laid out so that the index can be rebuilt from disk alone (reindex()):
//   <warm>/<channel>/<YYYY-MM-DD>/<rendition>/<start_ms>_<duration_ms>_<dseq>.<ext>
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "db/sqlite_db.h"
#include "timeshift/catchup.h"

namespace iptv::archive {

struct Entry {
  std::string channel, rendition;
  int64_t start_ms = 0, duration_ms = 0, discontinuity_sequence = 0;
  std::string path;       // absolute file path, wherever the tier keeps it now
  std::string init_path;  // fMP4 init segment ("" for TS)
  uint64_t bytes = 0;
  std::string key_id;  // AES-128: the key that encrypts the file ("" clear); kept by re-indexing

  timeshift::ArchivedSegment segment() const;
};

// The file name a segment gets in the warm tier, relative to the warm folder, and its parse.
std::string warm_relpath(const Entry &e, const std::string &ext);
// Parses "<channel>/<YYYY-MM-DD>/<rendition>/<start>_<dur>_<dseq>.<ext>"; false if it is not one.
bool parse_warm_relpath(const std::string &rel, Entry *out);

class ArchiveIndex {
 public:
  // Applies the 'archive' migrations to `db` (which the caller owns and keeps open).
  explicit ArchiveIndex(db::Db &db);

  // Adds or updates rows, all in one transaction.
  void add(const std::vector<Entry> &batch);
  // Moves a row to another file (a tier change); false when no such row.
  bool set_path(const std::string &channel, const std::string &rendition, int64_t start_ms,
                const std::string &path);
  void remove(const std::vector<Entry> &entries);

  // Segments of one rendition overlapping [start_ms, end_ms) (end_ms 0: up to now), in order.
  std::vector<Entry> range(const std::string &channel, const std::string &rendition,
                           int64_t start_ms, int64_t end_ms);
  // One segment by its start (the origin's lookup for an archive URI); false when unknown.
  bool find(const std::string &channel, const std::string &rendition, int64_t start_ms, Entry *out);

  struct Extent {
    int64_t oldest_ms = 0, newest_end_ms = 0;
    uint64_t segments = 0, bytes = 0;
  };
  Extent extent(const std::string &channel);

  // What retention removes now, oldest first: every segment that started before `keep_after_ms`,
  // then the oldest while the channel's bytes exceed `size_cap_bytes` (0: no cap). A segment that
  // starts at or after `protect_from_ms` (the live window) is never chosen.
  std::vector<Entry> retention_victims(const std::string &channel, int64_t keep_after_ms,
                                       uint64_t size_cap_bytes, int64_t protect_from_ms);

  // Rebuilds the channel's rows from the files under `warm_dir`/<channel>: adds the files the
  // index lacks and drops rows (under that folder) whose files are gone. Returns {added, dropped}.
  std::pair<int, int> reindex(const std::string &channel, const std::string &warm_dir);

  // The object tier (object_tier.h), in its own table (ar_objects): which segments have been
  // uploaded, under which object keys (the segment's and its init segment's, "" for TS).
  void set_object(const Entry &e, const std::string &key, const std::string &init_key);
  bool object(const Entry &e, std::string *key, std::string *init_key);
  // Rows rebuilt from the bucket's listing (ObjectTier::rebuild): each segment the index lacks is
  // added (and a known one keeps its row), with its object keys, all in one transaction. Returns
  // how many segment rows were added.
  struct ListedObject {
    Entry entry;  // path "" (only the archive holds it), init_path where the warm copy would be
    std::string key, init_key;
  };
  int restore_objects(const std::vector<ListedObject> &objects);
  // Segments with a warm file and no object that ended at or before `before_ms`, oldest first.
  std::vector<Entry> upload_due(const std::string &channel, int64_t before_ms, int limit);
  // Uploaded segments that still have a warm file and started before `before_ms`, oldest first.
  std::vector<Entry> warm_evictable(const std::string &channel, int64_t before_ms, int limit);

 private:
  db::Db &db_;
};

}  // namespace iptv::archive
