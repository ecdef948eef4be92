// The archive tier (optional, docs/timeshift.md): finished periods (hours by default) of the warm
// tier are uploaded to object storage through the S3 API (s3_client.h), their warm copies are
// deleted once older than `warm_keep`, and catch-up reads them back on demand into a bounded
// local cache.
//
// - Its own thread, every `sweep_seconds`: for each archiving channel, uploads the segments (and
//   their fMP4 init segments) that ended before the start of the current period, oldest first,
//   and records each object in the index (ArchiveIndex::set_object); then deletes the warm files
//   of uploaded segments that started more than `warm_keep` ago and are outside the live window
//   (the row stays, with no warm path: catch-up now reads the object).
// - The first pass for each channel lists its objects in the bucket and restores the rows the
//   database lacks (rebuild()), so a new node or a restored database loses no archived segment.
// - Retention (Archiver's sweep) hands its victims here: their objects are deleted too.
// - fetch() runs on the origin's threads: a cached copy when there is one (its mtime refreshed),
//   else a GET into the cache (temporary name, then rename), then the cache is trimmed to
//   `cache_bytes`, least recently used first.
// - Errors (network, S3 error codes) raise `archive.upload_failed` once per channel with the S3
//   error code and clear with `archive.upload_recovered`; a segment not uploaded stays warm and
//   is tried again on the next pass. Credentials never appear in an event or a log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "archive/archiver.h"
#include "archive/s3_client.h"

namespace iptv::archive {

struct ObjectTierConfig {
  S3Client::Config s3;
  int64_t period_ms = 3'600'000;      // a period is uploaded once it has finished
  int64_t warm_keep_ms = 86'400'000;  // warm copies of uploaded segments are kept this long
  std::string cache_dir;              // read-back cache
  uint64_t cache_bytes = 256ull << 20;
  int sweep_seconds = 30;
};

struct ObjectTierStats {
  uint64_t uploaded = 0, bytes_uploaded = 0, evicted = 0, deleted = 0, fetched = 0, cache_hits = 0,
           errors = 0, rebuilt = 0;  // rebuilt: rows restored from the bucket's listing
  double upload_seconds = 0;         // time spent in PUTs
};

class ObjectTier {
 public:
  using PoliciesFn = std::function<std::map<std::string, ChannelPolicy>()>;
  using ClockFn = std::function<int64_t()>;  // unix ms
  ObjectTier(ArchiveIndex &index, std::string warm_dir, ObjectTierConfig cfg, PoliciesFn policies,
             Archiver::EventFn on_event, ClockFn now = {});
  ~ObjectTier();
  ObjectTier(const ObjectTier &) = delete;
  ObjectTier &operator=(const ObjectTier &) = delete;

  void start();
  void stop();
  void run_now();  // one pass on the caller's thread (tests)

  // Rebuilds the channel's index rows from the bucket (ListObjectsV2 under
  // <prefix><channel>/): every object whose key is a warm-tier path and that the database does
  // not know gets its row and its object record back, in one transaction (a new node, a database
  // restored from an older backup or lost). Rows the database has are left as they are. Returns
  // the rows added, or -1 (with `error`: the S3 error code) when the bucket cannot be listed.
  // The tier's thread runs it once per archiving channel (again after a failure).
  int rebuild(const std::string &channel, std::string *error = nullptr);
  // Retention victims (before their rows go): their objects are deleted on the tier's thread.
  void forget(const std::vector<Entry> &victims);
  // The local path of the segment's (or its init segment's) bytes for catch-up: the warm file
  // when it is still there, else the object through the cache. "" when neither can be had.
  std::string local_file(const Entry &e, bool init);

  ObjectTierStats stats() const;
  const ObjectTierConfig &config() const { return cfg_; }

 private:
  void run();
  void pass();
  std::string fetch(const std::string &key);
  void trim_cache();
  void failed(const std::string &channel, const std::string &what, const S3Client::Result &r);
  void ok(const std::string &channel);

  ArchiveIndex &index_;
  std::string warm_dir_;
  ObjectTierConfig cfg_;
  PoliciesFn policies_;
  Archiver::EventFn on_event_;
  ClockFn now_;
  S3Client client_;
  mutable std::mutex mu_;  // guards below
  std::condition_variable cv_;
  std::deque<std::string> deletes_;  // object keys to delete
  std::map<std::string, bool> failing_;
  std::set<std::string> rebuilt_;  // channels whose rows were rebuilt from the bucket
  ObjectTierStats stats_;
  bool stop_ = false;
  std::thread thread_;
  std::mutex cache_mu_;  // cache trimming
};

// The object key of a warm segment file (its path below the warm folder) and of its init segment.
std::string object_key_for(const std::string &warm_dir, const std::string &path);

}  // namespace iptv::archive
