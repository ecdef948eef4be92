// The warm tier: every segment a channel with catch-up publishes is kept on disk beside the live
// window and indexed (archive_index.h), so time-addressed URLs can play it after the live
// playlist has dropped it.
//
// - on_segment() only queues (the daemon's main loop never waits on a disk); the archiver's own
//   thread hard-links the published file into the warm folder when both are on one filesystem
//   (no bytes written), else copies it (to a temporary name, then rename: a reader never sees a
//   partial file), and adds the index rows in one transaction per batch.
// - fMP4 renditions: the init segment in force is kept once per rendition and day (init.mp4).
// - A sweep (every `sweep_seconds`) applies each channel's retention: oldest first, by age and by
//   size cap, never a segment of the live window (archive_index.h retention_victims).
// - A full disk (ENOSPC) or any other write error raises `archive.write_failed` once (with the
//   errno text) and clears with `archive.recovered` on the next success; the live window is never
//   affected: the worker's own files are only read here.
// - start() re-indexes each known channel's warm folder, so a restart (or a lost database) loses
//   nothing that is on disk.
//
// Lock order: Archiver::mu_ (queue and policies) is never held while touching the disk or the
// database; the database has its own lock (db::Db).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "archive/archive_index.h"
#include "wire/status.h"

namespace iptv::archive {

struct ChannelPolicy {
  std::string hot_dir;         // the channel's HLS folder (where the worker publishes)
  int64_t keep_ms = 0;         // catch-up: how long segments are kept (catchup.days)
  uint64_t max_bytes = 0;      // size cap of the channel's warm folder (0: none)
  int64_t live_window_ms = 0;  // never deleted: the live window (and the DVR window)
};

struct ArchiverStats {
  uint64_t segments = 0, bytes_written = 0, bytes_linked = 0, removed = 0, errors = 0;
  uint64_t skipped_no_time = 0;  // segments reported without a program date-time
};

class Archiver {
 public:
  using EventFn = std::function<void(const std::string &channel, const std::string &type,
                                     const nlohmann::json &detail)>;
  // `db` outlives the archiver. `on_event` is called from the archiver's thread.
  Archiver(db::Db &db, std::string warm_dir, EventFn on_event, int sweep_seconds = 30);
  ~Archiver();
  Archiver(const Archiver &) = delete;
  Archiver &operator=(const Archiver &) = delete;

  // Starts the thread and re-indexes the warm folder of every channel that has a policy.
  void start();
  void stop();  // drains what is queued, then joins

  void set_policy(const std::string &channel, const ChannelPolicy &p);
  void remove_policy(const std::string &channel);  // stops archiving; kept files stay indexed
  bool archiving(const std::string &channel) const;

  // Queues a published segment of a channel with a policy (others are ignored).
  void on_segment(const std::string &channel, const wire::Segment &seg);
  // Runs the retention sweep now (tests; the thread runs it every sweep_seconds).
  void sweep_now();
  // Waits until everything queued so far is archived (tests, shutdown).
  void flush();

  // The policies in force (a copy), for the object tier.
  std::map<std::string, ChannelPolicy> policies() const;
  // Called on the archiver's thread with retention's victims before their rows go (the object
  // tier deletes their objects). Set before start().
  void set_removal_hook(std::function<void(const std::vector<Entry> &)> hook) {
    removal_hook_ = std::move(hook);
  }

  ArchiveIndex &index() { return index_; }
  const std::string &warm_dir() const { return warm_dir_; }
  ArchiverStats stats() const;

 private:
  struct Job {
    std::string channel;
    wire::Segment seg;
  };
  void run();
  bool archive_one(const Job &job, std::vector<Entry> *batch);
  void sweep();
  void write_failed(const std::string &channel, const std::string &what, int err);
  void write_ok(const std::string &channel);

  ArchiveIndex index_;
  std::string warm_dir_;
  EventFn on_event_;
  std::function<void(const std::vector<Entry> &)> removal_hook_;
  int sweep_seconds_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> queue_;
  std::map<std::string, ChannelPolicy> policies_;
  std::map<std::string, bool> failing_;             // channel -> write failure raised
  std::map<std::string, std::string> init_copied_;  // "<channel>/<day>/<rendition>" -> source key
  ArchiverStats stats_;
  bool stop_ = false, busy_ = false, sweep_requested_ = false;
  std::thread thread_;
};

}  // namespace iptv::archive
