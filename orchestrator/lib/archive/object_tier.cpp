#include "archive/object_tier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <set>
#include <tuple>
#include <vector>

namespace iptv::archive {
namespace fs = std::filesystem;

std::string object_key_for(const std::string &warm_dir, const std::string &path) {
  std::string root = warm_dir;
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (path.size() > root.size() + 1 && path.compare(0, root.size(), root) == 0 &&
      path[root.size()] == '/')
    return path.substr(root.size() + 1);
  return "";
}

ObjectTier::ObjectTier(ArchiveIndex &index, std::string warm_dir, ObjectTierConfig cfg,
                       PoliciesFn policies, Archiver::EventFn on_event, ClockFn now)
    : index_(index),
      warm_dir_(std::move(warm_dir)),
      cfg_(std::move(cfg)),
      policies_(std::move(policies)),
      on_event_(std::move(on_event)),
      now_(std::move(now)),
      client_(cfg_.s3) {
  if (!now_)
    now_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  if (cfg_.period_ms <= 0) cfg_.period_ms = 3'600'000;
}

ObjectTier::~ObjectTier() {
  stop();
}

void ObjectTier::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void ObjectTier::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ObjectTier::run() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    lk.unlock();
    pass();
    lk.lock();
    cv_.wait_for(lk, std::chrono::seconds(cfg_.sweep_seconds), [&] { return stop_; });
  }
}

void ObjectTier::run_now() {
  pass();
}

ObjectTierStats ObjectTier::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void ObjectTier::forget(const std::vector<Entry> &victims) {
  std::vector<std::string> keys;
  for (const Entry &e : victims) {
    std::string key;
    if (index_.object(e, &key, nullptr) && !key.empty()) keys.push_back(key);
  }
  std::lock_guard lk(mu_);
  for (auto &k : keys) deletes_.push_back(k);
}

int ObjectTier::rebuild(const std::string &channel, std::string *error) {
  std::vector<S3Client::Listed> listed;
  S3Client::Result r = client_.list(channel + "/", &listed);
  if (!r.ok()) {
    if (error) *error = r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error;
    return -1;
  }
  std::set<std::string> inits;  // "<channel>/<day>/<rendition>/init.mp4"
  for (auto &l : listed)
    if (l.key.size() > 9 && l.key.compare(l.key.size() - 9, 9, "/init.mp4") == 0)
      inits.insert(l.key);
  std::vector<ArchiveIndex::ListedObject> rows;
  for (auto &l : listed) {
    ArchiveIndex::ListedObject o;
    if (!parse_warm_relpath(l.key, &o.entry) || o.entry.channel != channel) continue;
    o.entry.bytes = l.bytes;
    o.key = l.key;
    std::string init = l.key.substr(0, l.key.rfind('/')) + "/init.mp4";
    if (inits.count(init)) {
      o.init_key = init;
      // Where the warm copy would be (as for an evicted row): catch-up lists EXT-X-MAP, and
      // local_file() falls back to the object.
      o.entry.init_path = warm_dir_ + "/" + init;
    }
    rows.push_back(std::move(o));
  }
  int added = index_.restore_objects(rows);
  std::lock_guard lk(mu_);
  stats_.rebuilt += static_cast<uint64_t>(added);
  return added;
}

void ObjectTier::pass() {
  std::deque<std::string> dels;
  {
    std::lock_guard lk(mu_);
    dels.swap(deletes_);
  }
  while (!dels.empty()) {
    S3Client::Result r = client_.remove(dels.front());
    if (!r.ok() && r.status != 404) {
      failed("", "delete", r);
      std::lock_guard lk(mu_);
      for (auto &k : dels) deletes_.push_back(k);  // tried again on the next pass
      break;
    }
    std::lock_guard lk(mu_);
    stats_.deleted++;
    dels.pop_front();
  }

  int64_t now = now_();
  int64_t period_start = now - now % cfg_.period_ms;  // what ended before it is finished
  std::set<std::string> inits_done;
  for (auto &[channel, p] : policies_()) {
    bool failing = false;
    if (!rebuilt_.count(channel)) {
      std::string err;
      int added = -1;
      try {
        added = rebuild(channel, &err);
      } catch (const std::exception &e) {
        err = e.what();
      }
      if (added < 0) {
        S3Client::Result r;
        r.error = err;
        failed(channel, "list " + channel + "/", r);
        continue;  // uploads wait for the rows the bucket holds
      }
      rebuilt_.insert(channel);
      if (added > 0 && on_event_)
        on_event_(channel, "archive.index_rebuilt", {{"segments", added}});
    }
    for (;;) {
      std::vector<Entry> due;
      try {
        due = index_.upload_due(channel, period_start, 256);
      } catch (const std::exception &) {
        break;
      }
      if (due.empty()) break;
      for (const Entry &e : due) {
        std::string key = object_key_for(warm_dir_, e.path);
        std::string init_key =
            e.init_path.empty() ? std::string() : object_key_for(warm_dir_, e.init_path);
        if (key.empty()) continue;  // not under the warm folder: never uploaded
        if (!init_key.empty() && !inits_done.count(init_key)) {
          S3Client::Result r = client_.put_file(init_key, e.init_path);
          if (!r.ok()) {
            failed(channel, "upload " + init_key, r);
            failing = true;
            break;
          }
          inits_done.insert(init_key);
        }
        auto t0 = std::chrono::steady_clock::now();
        S3Client::Result r = client_.put_file(key, e.path);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!r.ok()) {
          failed(channel, "upload " + key, r);
          failing = true;
          break;
        }
        index_.set_object(e, key, init_key);
        std::lock_guard lk(mu_);
        stats_.uploaded++;
        stats_.bytes_uploaded += r.bytes;
        stats_.upload_seconds += secs;
      }
      if (failing) break;
    }
    if (failing) continue;
    ok(channel);

    // Warm copies of uploaded segments older than warm_keep (never the live window) go.
    int64_t before = std::min(now - cfg_.warm_keep_ms, now - p.live_window_ms);
    std::set<fs::path> dirs;
    for (;;) {
      std::vector<Entry> ev;
      try {
        ev = index_.warm_evictable(channel, before, 512);
      } catch (const std::exception &) {
        break;
      }
      if (ev.empty()) break;
      for (const Entry &e : ev) {
        ::unlink(e.path.c_str());
        dirs.insert(fs::path(e.path).parent_path());
        index_.set_path(e.channel, e.rendition, e.start_ms, "");
        std::lock_guard lk(mu_);
        stats_.evicted++;
      }
    }
    // A rendition folder left with its init segment alone goes (the object has it).
    std::error_code ec;
    for (auto &d : dirs) {
      bool only_init = true;
      for (auto &f : fs::directory_iterator(d, ec))
        if (f.path().filename() != "init.mp4") only_init = false;
      if (only_init && !ec) {
        fs::remove_all(d, ec);
        fs::remove(d.parent_path(), ec);  // the day folder, when it is empty now
      }
    }
  }
}

std::string ObjectTier::local_file(const Entry &e, bool init) {
  const std::string &p = init ? e.init_path : e.path;
  if (!p.empty() && ::access(p.c_str(), R_OK) == 0) return p;
  std::string key, init_key;
  if (!index_.object(e, &key, &init_key)) return "";
  return fetch(init ? init_key : key);
}

std::string ObjectTier::fetch(const std::string &key) {
  if (key.empty() || key.find("..") != std::string::npos) return "";
  fs::path local = fs::path(cfg_.cache_dir) / key;
  if (::access(local.c_str(), R_OK) == 0) {
    ::utimensat(AT_FDCWD, local.c_str(), nullptr, 0);  // most recently used
    std::lock_guard lk(mu_);
    stats_.cache_hits++;
    return local.string();
  }
  std::error_code ec;
  fs::create_directories(local.parent_path(), ec);
  S3Client::Result r = client_.get_to_file(key, local.string());
  if (!r.ok()) {
    std::lock_guard lk(mu_);
    stats_.errors++;
    return "";
  }
  {
    std::lock_guard lk(mu_);
    stats_.fetched++;
  }
  trim_cache();
  return local.string();
}

void ObjectTier::trim_cache() {
  std::lock_guard lk(cache_mu_);
  std::vector<std::tuple<int64_t, uint64_t, fs::path>> files;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(cfg_.cache_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (!it->is_regular_file(ec) || ::stat(it->path().c_str(), &st) != 0) continue;
    int64_t mt = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    files.emplace_back(mt, static_cast<uint64_t>(st.st_size), it->path());
    total += static_cast<uint64_t>(st.st_size);
  }
  if (total <= cfg_.cache_bytes) return;
  std::sort(files.begin(), files.end());
  for (auto &[mt, size, path] : files) {
    if (total <= cfg_.cache_bytes) break;
    if (fs::remove(path, ec)) total -= size;
  }
}

void ObjectTier::failed(const std::string &channel, const std::string &what,
                        const S3Client::Result &r) {
  bool raise;
  {
    std::lock_guard lk(mu_);
    stats_.errors++;
    raise = !failing_[channel];
    failing_[channel] = true;
  }
  if (raise && on_event_)
    on_event_(channel, "archive.upload_failed",
              {{"what", what}, {"status", r.status}, {"error", r.error}});
}

void ObjectTier::ok(const std::string &channel) {
  bool cleared;
  {
    std::lock_guard lk(mu_);
    cleared = failing_[channel];
    failing_[channel] = false;
  }
  if (cleared && on_event_)
    on_event_(channel, "archive.upload_recovered", nlohmann::json::object());
}

}  // namespace iptv::archive
