#include "archive/archiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "timeshift/time_arg.h"

namespace iptv::archive {
namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Copies src to dst through a temporary name and a rename; returns 0 or an errno.
int copy_atomic(const std::string &src, const std::string &dst, uint64_t *bytes) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno;
  std::string tmp = dst + ".part";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return e;
  }
  int err = 0;
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 20, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      char buf[1 << 16];  // a filesystem without copy_file_range: plain reads and writes
      n = ::read(in, buf, sizeof buf);
      if (n > 0) {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(out, buf + off, n - off);
          if (w < 0) {
            err = errno;
            break;
          }
          off += w;
        }
      }
    }
    if (n < 0) err = errno;
    if (n <= 0 || err) break;
    total += n;
  }
  if (::close(out) != 0 && !err) err = errno;
  ::close(in);
  if (!err && ::rename(tmp.c_str(), dst.c_str()) != 0) err = errno;
  if (err) ::unlink(tmp.c_str());
  *bytes = total;
  return err;
}

}  // namespace

Archiver::Archiver(db::Db &db, std::string warm_dir, EventFn on_event, int sweep_seconds)
    : index_(db),
      warm_dir_(std::move(warm_dir)),
      on_event_(std::move(on_event)),
      sweep_seconds_(sweep_seconds) {}

Archiver::~Archiver() {
  stop();
}

void Archiver::start() {
  std::vector<std::string> channels;
  {
    std::lock_guard lk(mu_);
    if (thread_.joinable()) return;
    for (auto &[ch, p] : policies_) channels.push_back(ch);
    stop_ = false;
  }
  for (auto &ch : channels) index_.reindex(ch, warm_dir_);
  thread_ = std::thread([this] { run(); });
}

void Archiver::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Archiver::set_policy(const std::string &channel, const ChannelPolicy &p) {
  bool fresh;
  {
    std::lock_guard lk(mu_);
    fresh = !policies_.count(channel);
    policies_[channel] = p;
  }
  // A channel added while running gets its folder re-indexed (files kept from an earlier run).
  if (fresh && thread_.joinable()) index_.reindex(channel, warm_dir_);
}

void Archiver::remove_policy(const std::string &channel) {
  std::lock_guard lk(mu_);
  policies_.erase(channel);
}

bool Archiver::archiving(const std::string &channel) const {
  std::lock_guard lk(mu_);
  return policies_.count(channel) > 0;
}

void Archiver::on_segment(const std::string &channel, const wire::Segment &seg) {
  {
    std::lock_guard lk(mu_);
    if (!policies_.count(channel)) return;
    queue_.push_back({channel, seg});
  }
  cv_.notify_one();
}

void Archiver::sweep_now() {
  {
    std::lock_guard lk(mu_);
    sweep_requested_ = true;
  }
  cv_.notify_one();
  flush();
}

void Archiver::flush() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] {
    return (queue_.empty() && !busy_ && !sweep_requested_) || !thread_.joinable() || stop_;
  });
}

std::map<std::string, ChannelPolicy> Archiver::policies() const {
  std::lock_guard lk(mu_);
  return policies_;
}

ArchiverStats Archiver::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void Archiver::run() {
  auto next_sweep = std::chrono::steady_clock::now() + std::chrono::seconds(sweep_seconds_);
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait_until(lk, next_sweep, [&] { return stop_ || !queue_.empty() || sweep_requested_; });
    if (stop_ && queue_.empty()) break;
    std::deque<Job> jobs;
    jobs.swap(queue_);
    bool sweep_due = sweep_requested_ || std::chrono::steady_clock::now() >= next_sweep;
    busy_ = true;
    lk.unlock();
    std::vector<Entry> batch;
    for (const Job &j : jobs) archive_one(j, &batch);
    if (!batch.empty()) {
      try {
        index_.add(batch);
      } catch (const std::exception &e) {
        write_failed(batch.front().channel, std::string("index: ") + e.what(), 0);
      }
    }
    if (sweep_due) sweep();
    lk.lock();
    if (sweep_due) {
      sweep_requested_ = false;
      next_sweep = std::chrono::steady_clock::now() + std::chrono::seconds(sweep_seconds_);
    }
    busy_ = false;
    idle_cv_.notify_all();
  }
  busy_ = false;
  idle_cv_.notify_all();
}

bool Archiver::archive_one(const Job &job, std::vector<Entry> *batch) {
  ChannelPolicy p;
  {
    std::lock_guard lk(mu_);
    auto it = policies_.find(job.channel);
    if (it == policies_.end()) return false;
    p = it->second;
  }
  const wire::Segment &seg = job.seg;
  timeshift::TimeArg t = timeshift::parse_time_arg(seg.pdt);
  int64_t dur = std::llround(seg.duration * 1000);
  if (!t.ok() || dur <= 0 || seg.uri.empty() || seg.uri.find("..") != std::string::npos) {
    std::lock_guard lk(mu_);
    stats_.skipped_no_time++;
    return false;
  }
  Entry e;
  e.channel = job.channel;
  e.rendition = seg.rendition;
  e.start_ms = t.unix_ms;
  e.duration_ms = dur;
  e.discontinuity_sequence = static_cast<int64_t>(seg.discontinuity_sequence);
  e.key_id = seg.key_id;
  std::string src = p.hot_dir + "/" + seg.uri;
  size_t dot = seg.uri.rfind('.');
  std::string ext = dot == std::string::npos ? "ts" : seg.uri.substr(dot + 1);
  fs::path dst = fs::path(warm_dir_) / warm_relpath(e, ext);
  std::error_code ec;
  fs::create_directories(dst.parent_path(), ec);
  if (ec) {
    write_failed(job.channel, "mkdir " + dst.parent_path().string(), ec.value());
    return false;
  }
  uint64_t bytes = 0;
  bool linked = false, repeated = false;
  if (::link(src.c_str(), dst.c_str()) == 0) {
    linked = true;
  } else if (errno == EEXIST) {
    repeated = true;  // a repeated report: the file is already kept
  } else if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
    write_failed(job.channel, "link " + seg.uri, errno);
    return false;
  } else if (int err = copy_atomic(src, dst.string(), &bytes)) {
    write_failed(job.channel, "copy " + seg.uri, err);
    return false;
  }
  struct stat st {};
  e.bytes = ::stat(dst.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : bytes;
  e.path = dst.string();
  if (ext != "ts") {
    // fMP4: keep the rendition's init segment beside the day's segments.
    fs::path init_src = fs::path(p.hot_dir) / seg.rendition / "init.mp4";
    fs::path init_dst = dst.parent_path() / "init.mp4";
    if (!fs::exists(init_dst, ec)) {
      uint64_t ib = 0;
      if (int err = copy_atomic(init_src.string(), init_dst.string(), &ib)) {
        write_failed(job.channel, "copy " + seg.rendition + "/init.mp4", err);
        return false;
      }
    }
    e.init_path = init_dst.string();
  }
  batch->push_back(e);
  {
    std::lock_guard lk(mu_);
    if (!repeated) {
      stats_.segments++;
      (linked ? stats_.bytes_linked : stats_.bytes_written) += linked ? e.bytes : bytes;
    }
  }
  write_ok(job.channel);
  return true;
}

void Archiver::sweep() {
  std::map<std::string, ChannelPolicy> policies;
  {
    std::lock_guard lk(mu_);
    policies = policies_;
  }
  int64_t now = now_ms();
  for (auto &[channel, p] : policies) {
    std::vector<Entry> victims;
    try {
      victims = index_.retention_victims(channel, p.keep_ms > 0 ? now - p.keep_ms : 0, p.max_bytes,
                                         now - p.live_window_ms);
    } catch (const std::exception &) {
      continue;
    }
    std::error_code ec;
    std::set<fs::path> dirs;
    for (auto &v : victims) {
      if (v.path.empty()) continue;  // only in the object tier now
      fs::remove(v.path, ec);
      dirs.insert(fs::path(v.path).parent_path());
    }
    if (removal_hook_ && !victims.empty()) removal_hook_(victims);
    try {
      index_.remove(victims);
    } catch (const std::exception &) {
      continue;
    }
    // Empty rendition and day folders go too (an init segment alone is not worth keeping).
    for (auto &d : dirs) {
      bool only_init = true;
      for (auto &f : fs::directory_iterator(d, ec))
        if (f.path().filename() != "init.mp4") only_init = false;
      if (only_init) {
        fs::remove_all(d, ec);
        fs::remove(d.parent_path(), ec);  // the day folder, when it is empty now
      }
    }
    std::lock_guard lk(mu_);
    stats_.removed += victims.size();
  }
}

void Archiver::write_failed(const std::string &channel, const std::string &what, int err) {
  bool raise;
  {
    std::lock_guard lk(mu_);
    stats_.errors++;
    raise = !failing_[channel];
    failing_[channel] = true;
  }
  if (raise && on_event_)
    on_event_(channel, "archive.write_failed",
              {{"what", what},
               {"error", err ? std::string(std::strerror(err)) : std::string("database")},
               {"disk_full", err == ENOSPC || err == EDQUOT}});
}

void Archiver::write_ok(const std::string &channel) {
  bool cleared;
  {
    std::lock_guard lk(mu_);
    cleared = failing_[channel];
    failing_[channel] = false;
  }
  if (cleared && on_event_) on_event_(channel, "archive.recovered", nlohmann::json::object());
}

}  // namespace iptv::archive
