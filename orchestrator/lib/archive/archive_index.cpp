#include "archive/archive_index.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "util/strutil.h"

namespace iptv::archive {
namespace {

const std::vector<db::Migration> kMigrations = {
    {1,
     "CREATE TABLE ar_segments ("
     " channel_id TEXT NOT NULL, rendition TEXT NOT NULL, start_ms INTEGER NOT NULL,"
     " duration_ms INTEGER NOT NULL, dseq INTEGER NOT NULL, path TEXT NOT NULL,"
     " init_path TEXT NOT NULL, bytes INTEGER NOT NULL,"
     " PRIMARY KEY(channel_id, rendition, start_ms)) WITHOUT ROWID;"
     // Retention walks a channel's segments oldest first across renditions.
     "CREATE INDEX ar_segments_age ON ar_segments(channel_id, start_ms);"},
    // AES-128 channels: the key id of each segment, for EXT-X-KEY in catch-up playlists.
    {2, "ALTER TABLE ar_segments ADD COLUMN key_id TEXT NOT NULL DEFAULT '';"},
};

// No segment lasts longer than this: a range query starts this far before `start` so that the
// segment holding `start` is found from the primary key alone.
constexpr int64_t kMaxSegmentMs = 60'000;

constexpr const char *kCols =
    "channel_id, rendition, start_ms, duration_ms, dseq, path, init_path, bytes, key_id";

Entry read_row(db::Stmt &s) {
  Entry e;
  e.channel = s.col_text(0);
  e.rendition = s.col_text(1);
  e.start_ms = s.col_int64(2);
  e.duration_ms = s.col_int64(3);
  e.discontinuity_sequence = s.col_int64(4);
  e.path = s.col_text(5);
  e.init_path = s.col_text(6);
  e.bytes = static_cast<uint64_t>(s.col_int64(7));
  e.key_id = s.col_text(8);
  return e;
}

bool all_digits(const std::string &s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Binds an entry to the nine ar_segments columns of kCols, in order.
void bind_columns(db::Stmt &s, const Entry &e) {
  s.bind(1, e.channel)
      .bind(2, e.rendition)
      .bind(3, e.start_ms)
      .bind(4, e.duration_ms)
      .bind(5, e.discontinuity_sequence)
      .bind(6, e.path)
      .bind(7, e.init_path)
      .bind(8, static_cast<int64_t>(e.bytes))
      .bind(9, e.key_id);
}

}  // namespace

timeshift::ArchivedSegment Entry::segment() const {
  timeshift::ArchivedSegment s;
  s.start_ms = start_ms;
  s.duration_ms = duration_ms;
  s.discontinuity_sequence = discontinuity_sequence;
  s.bytes = bytes;
  s.key_id = key_id;
  return s;
}

std::string warm_relpath(const Entry &e, const std::string &ext) {
  std::string day = iso8601_utc(e.start_ms, false).substr(0, 10);
  return e.channel + "/" + day + "/" + e.rendition + "/" + std::to_string(e.start_ms) + "_" +
         std::to_string(e.duration_ms) + "_" + std::to_string(e.discontinuity_sequence) + "." + ext;
}

bool parse_warm_relpath(const std::string &rel, Entry *out) {
  auto parts = split(rel, '/', false);
  if (parts.size() != 4) return false;
  const std::string &day = parts[1], &file = parts[3];
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return false;
  size_t dot = file.rfind('.');
  if (dot == std::string::npos) return false;
  auto fields = split(file.substr(0, dot), '_', false);
  if (fields.size() != 3) return false;
  for (auto &f : fields)
    if (!all_digits(f)) return false;
  Entry e;
  e.channel = parts[0];
  e.rendition = parts[2];
  e.start_ms = std::stoll(fields[0]);
  e.duration_ms = std::stoll(fields[1]);
  e.discontinuity_sequence = std::stoll(fields[2]);
  if (e.channel.empty() || e.rendition.empty() || e.duration_ms <= 0 ||
      e.duration_ms > kMaxSegmentMs)
    return false;
  // The day folder must be the segment's own day (a file moved by hand is not trusted).
  if (iso8601_utc(e.start_ms, false).substr(0, 10) != day) return false;
  *out = std::move(e);
  return true;
}

// The object tier's table, in its own migration set: a segment uploaded to object storage.
const std::vector<db::Migration> kObjectMigrations = {
    {1,
     "CREATE TABLE ar_objects ("
     " channel_id TEXT NOT NULL, rendition TEXT NOT NULL, start_ms INTEGER NOT NULL,"
     " object_key TEXT NOT NULL, init_key TEXT NOT NULL,"
     " PRIMARY KEY(channel_id, rendition, start_ms)) WITHOUT ROWID;"},
};

ArchiveIndex::ArchiveIndex(db::Db &db) : db_(db) {
  db_.migrate("archive", kMigrations);
  db_.migrate("archive_objects", kObjectMigrations);
}

void ArchiveIndex::add(const std::vector<Entry> &batch) {
  if (batch.empty()) return;
  db_.tx([&] {
    auto s = db_.prepare(std::string("INSERT INTO ar_segments(") + kCols +
                         ") VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(channel_id, rendition, start_ms)"
                         " DO UPDATE SET duration_ms=excluded.duration_ms, dseq=excluded.dseq,"
                         " path=excluded.path, init_path=excluded.init_path, bytes=excluded.bytes,"
                         " key_id=CASE WHEN excluded.key_id<>'' THEN excluded.key_id"
                         " ELSE ar_segments.key_id END");
    for (const Entry &e : batch) {
      if (e.duration_ms <= 0 || e.duration_ms > kMaxSegmentMs)
        throw db::Error("archive: segment " + e.channel + "/" + e.rendition + "@" +
                        std::to_string(e.start_ms) + " has duration " +
                        std::to_string(e.duration_ms) + " ms (1.." + std::to_string(kMaxSegmentMs) +
                        ")");
      bind_columns(s, e);
      s.run();
      s.reset();
    }
  });
}

bool ArchiveIndex::set_path(const std::string &channel, const std::string &rendition,
                            int64_t start_ms, const std::string &path) {
  bool found = false;
  db_.tx([&] {
    db_.prepare("UPDATE ar_segments SET path=? WHERE channel_id=? AND rendition=? AND start_ms=?")
        .bind(1, path)
        .bind(2, channel)
        .bind(3, rendition)
        .bind(4, start_ms)
        .run();
    found = db_.changes() > 0;
  });
  return found;
}

void ArchiveIndex::remove(const std::vector<Entry> &entries) {
  if (entries.empty()) return;
  db_.tx([&] {
    auto s =
        db_.prepare("DELETE FROM ar_segments WHERE channel_id=? AND rendition=? AND start_ms=?");
    auto o =
        db_.prepare("DELETE FROM ar_objects WHERE channel_id=? AND rendition=? AND start_ms=?");
    for (const Entry &e : entries) {
      s.bind(1, e.channel).bind(2, e.rendition).bind(3, e.start_ms);
      s.run();
      s.reset();
      o.bind(1, e.channel).bind(2, e.rendition).bind(3, e.start_ms);
      o.run();
      o.reset();
    }
  });
}

std::vector<Entry> ArchiveIndex::range(const std::string &channel, const std::string &rendition,
                                       int64_t start_ms, int64_t end_ms) {
  std::vector<Entry> out;
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kCols +
                       " FROM ar_segments WHERE channel_id=? AND rendition=? AND start_ms>=?"
                       " AND start_ms<? ORDER BY start_ms");
  s.bind(1, channel)
      .bind(2, rendition)
      .bind(3, start_ms - kMaxSegmentMs)
      .bind(4, end_ms != 0 ? end_ms : INT64_MAX);
  while (s.step()) {
    Entry e = read_row(s);
    if (e.start_ms + e.duration_ms <= start_ms) continue;  // ended before the range
    out.push_back(std::move(e));
  }
  return out;
}

bool ArchiveIndex::find(const std::string &channel, const std::string &rendition, int64_t start_ms,
                        Entry *out) {
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kCols +
                       " FROM ar_segments WHERE channel_id=? AND rendition=? AND start_ms=?");
  s.bind(1, channel).bind(2, rendition).bind(3, start_ms);
  if (!s.step()) return false;
  *out = read_row(s);
  return true;
}

ArchiveIndex::Extent ArchiveIndex::extent(const std::string &channel) {
  Extent x;
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(
      "SELECT MIN(start_ms), MAX(start_ms + duration_ms), COUNT(*), COALESCE(SUM(bytes), 0)"
      " FROM ar_segments WHERE channel_id=?");
  s.bind(1, channel);
  if (s.step() && !s.col_null(0)) {
    x.oldest_ms = s.col_int64(0);
    x.newest_end_ms = s.col_int64(1);
    x.segments = static_cast<uint64_t>(s.col_int64(2));
    x.bytes = static_cast<uint64_t>(s.col_int64(3));
  }
  return x;
}

std::vector<Entry> ArchiveIndex::retention_victims(const std::string &channel,
                                                   int64_t keep_after_ms, uint64_t size_cap_bytes,
                                                   int64_t protect_from_ms) {
  std::vector<Entry> out;
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  uint64_t total = extent(channel).bytes;
  auto s = db_.prepare(std::string("SELECT ") + kCols +
                       " FROM ar_segments WHERE channel_id=? AND start_ms<? ORDER BY start_ms");
  s.bind(1, channel).bind(2, protect_from_ms);
  while (s.step()) {
    Entry e = read_row(s);
    bool expired = e.start_ms < keep_after_ms;
    bool over_cap = size_cap_bytes > 0 && total > size_cap_bytes;
    if (!expired && !over_cap) break;  // oldest first: nothing later qualifies either
    total -= std::min<uint64_t>(total, e.bytes);
    out.push_back(std::move(e));
  }
  return out;
}

std::pair<int, int> ArchiveIndex::reindex(const std::string &channel, const std::string &warm_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::path(warm_dir) / channel;
  std::vector<Entry> found;
  std::set<std::string> on_disk;
  if (fs::is_directory(root, ec)) {
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string rel = fs::relative(it->path(), warm_dir, ec).string();
      if (rel.find("/init") != std::string::npos) continue;  // init segments are not rows
      Entry e;
      if (!parse_warm_relpath(rel, &e) || e.channel != channel) continue;
      e.path = it->path().string();
      e.bytes = static_cast<uint64_t>(it->file_size(ec));
      fs::path init = it->path().parent_path() / "init.mp4";
      if (fs::exists(init, ec)) e.init_path = init.string();
      on_disk.insert(e.path);
      found.push_back(std::move(e));
    }
  }
  std::vector<Entry> known, gone;
  {
    std::lock_guard<std::recursive_mutex> lock(db_.mutex());
    auto s = db_.prepare(std::string("SELECT ") + kCols +
                         " FROM ar_segments WHERE channel_id=? AND substr(path, 1, ?)=?");
    std::string prefix = root.string() + "/";
    s.bind(1, channel).bind(2, static_cast<int64_t>(prefix.size())).bind(3, prefix);
    while (s.step()) known.push_back(read_row(s));
  }
  std::set<std::string> indexed;
  for (auto &e : known) {
    if (!on_disk.count(e.path)) gone.push_back(e);
    indexed.insert(e.path);
  }
  std::vector<Entry> add_list;
  for (auto &e : found)
    if (!indexed.count(e.path)) add_list.push_back(e);
  db_.tx([&] {
    add(add_list);
    remove(gone);
  });
  return {static_cast<int>(add_list.size()), static_cast<int>(gone.size())};
}

void ArchiveIndex::set_object(const Entry &e, const std::string &key, const std::string &init_key) {
  db_.tx([&] {
    db_.prepare(
           "INSERT OR REPLACE INTO ar_objects(channel_id, rendition, start_ms, object_key,"
           " init_key) VALUES(?,?,?,?,?)")
        .bind(1, e.channel)
        .bind(2, e.rendition)
        .bind(3, e.start_ms)
        .bind(4, key)
        .bind(5, init_key)
        .run();
  });
}

int ArchiveIndex::restore_objects(const std::vector<ListedObject> &objects) {
  int added = 0;
  db_.tx([&] {
    auto seg = db_.prepare(std::string("INSERT OR IGNORE INTO ar_segments(") + kCols +
                           ") VALUES(?,?,?,?,?,?,?,?,?)");
    auto obj = db_.prepare(
        "INSERT OR IGNORE INTO ar_objects(channel_id, rendition, start_ms, object_key, init_key)"
        " VALUES(?,?,?,?,?)");
    for (const ListedObject &o : objects) {
      const Entry &e = o.entry;
      if (e.duration_ms <= 0 || e.duration_ms > kMaxSegmentMs) continue;
      bind_columns(seg, e);
      seg.run();
      added += db_.changes() > 0 ? 1 : 0;
      seg.reset();
      obj.bind(1, e.channel)
          .bind(2, e.rendition)
          .bind(3, e.start_ms)
          .bind(4, o.key)
          .bind(5, o.init_key);
      obj.run();
      obj.reset();
    }
  });
  return added;
}

bool ArchiveIndex::object(const Entry &e, std::string *key, std::string *init_key) {
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(
      "SELECT object_key, init_key FROM ar_objects WHERE channel_id=? AND rendition=? AND "
      "start_ms=?");
  s.bind(1, e.channel).bind(2, e.rendition).bind(3, e.start_ms);
  if (!s.step()) return false;
  if (key) *key = s.col_text(0);
  if (init_key) *init_key = s.col_text(1);
  return true;
}

std::vector<Entry> ArchiveIndex::upload_due(const std::string &channel, int64_t before_ms,
                                            int limit) {
  std::vector<Entry> out;
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kCols +
                       " FROM ar_segments s WHERE channel_id=? AND start_ms<? AND path<>''"
                       " AND start_ms+duration_ms<=? AND NOT EXISTS (SELECT 1 FROM ar_objects o"
                       " WHERE o.channel_id=s.channel_id AND o.rendition=s.rendition"
                       " AND o.start_ms=s.start_ms) ORDER BY start_ms LIMIT ?");
  s.bind(1, channel).bind(2, before_ms).bind(3, before_ms).bind(4, static_cast<int64_t>(limit));
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::vector<Entry> ArchiveIndex::warm_evictable(const std::string &channel, int64_t before_ms,
                                                int limit) {
  std::vector<Entry> out;
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kCols +
                       " FROM ar_segments s WHERE channel_id=? AND start_ms<? AND path<>''"
                       " AND EXISTS (SELECT 1 FROM ar_objects o WHERE o.channel_id=s.channel_id"
                       " AND o.rendition=s.rendition AND o.start_ms=s.start_ms)"
                       " ORDER BY start_ms LIMIT ?");
  s.bind(1, channel).bind(2, before_ms).bind(3, static_cast<int64_t>(limit));
  while (s.step()) out.push_back(read_row(s));
  return out;
}

}  // namespace iptv::archive
