// The channel manager's ChannelSink half: what the runners report (transitions, segments,
// events) goes to the state store through one ordered write queue that survives a locked
// database (issue 21), with segments batched once a second (issue 23). Main loop only.
#include <glib.h>

#include "daemon/channel_manager.h"
#include "origin/origin.h"
#include "log/log.h"
#include "store/state_store.h"

namespace iptv::daemon {

namespace {

const char *status_of_state(const std::string &to) {
  if (to == "live") return "success";
  if (to == "offline" || to == "slate") return "failure";
  if (to == "degraded" || to == "failover") return "warning";
  return "info";
}

}  // namespace

// ---- What the runners report (ChannelSink): to the state store ----

void ChannelManager::on_transition(const std::string &channel, const std::string &from,
                                   const std::string &to, const std::string &reason) {
  log(channel, "info", "state " + from + " -> " + to + " (" + reason + ")");
  auto ev = store::make_event("channel.state", channel, status_of_state(to));
  ev.job_id = job_id(channel);
  ev.output_uri = "/hls/" + channel + "/index.m3u8";
  store_write([this, channel, to, reason, ev] { store_->transition(channel, to, reason, ev); });
}

void ChannelManager::on_segment(const std::string &channel, const StSegment &seg) {
  // One transaction a second for every channel's segments, not one commit per segment: 100
  // channels of 2 s segments were 50 commits a second (docs/benchmarks.md, channel density).
  // The API's live view (runner views) has each segment at once; only st_packaging lags, by at
  // most a second, and stop_all() and the destructor write what is pending.
  // A warm channel (cluster move-back, hot standby) is not archived until this node owns it.
  bool warm = false;
  int written = 0;
  {
    std::lock_guard lk(warm_mu_);
    if (auto w = warm_.find(channel); w != warm_.end()) written = ++w->second, warm = true;
  }
  // A hot standby is served once its first segment, partial like every run's first, has left
  // its window: every segment it lists is then the very segment the owner lists under that
  // number (docs/cluster.md).
  if (warm && written >= kStandbyServeAfter && standby_token(channel) > 0)
    if (auto rec = record(channel); rec && written > rec->hls.window_segments)
      origin_->add_channel(channel, hls_dir(channel));
  pending_segments_.emplace_back(channel, seg);
  if (observer_ && !warm) observer_->segment(channel, seg);
  if (segment_timer_) return;
  segment_timer_ = g_timeout_add(
      1000,
      [](gpointer d) -> gboolean {
        auto *self = static_cast<ChannelManager *>(d);
        self->segment_timer_ = 0;
        self->flush_segments();
        return G_SOURCE_REMOVE;
      },
      this);
}

void ChannelManager::flush_segments() {
  if (pending_segments_.empty()) return;
  std::vector<std::pair<std::string, StSegment>> batch;
  batch.swap(pending_segments_);
  // Through the write queue: a locked database keeps the batch, in order, and retries it.
  store_write([this, batch = std::move(batch)] { store_->record_segments(batch); });
}

void ChannelManager::on_event(const std::string &channel, const std::string &event_type,
                              const nlohmann::json &detail) {
  std::string status = "info";
  if (event_type == "failover.activated" || event_type == "slate.entered" ||
      event_type == "source.lost" || event_type == "worker.restarting" ||
      event_type == "probe.condition.raised" || event_type == "archive.write_failed" ||
      event_type == "archive.upload_failed")
    status = "failure";
  else if (event_type == "failover.returned" || event_type == "slate.left" ||
           event_type == "source.recovered" || event_type == "probe.condition.cleared" ||
           event_type == "archive.recovered" || event_type == "archive.upload_recovered")
    status = "success";
  else if (event_type == "action.refused")
    status = "warning";
  // A full warm tier (the archiver's events) degrades the channel until a write succeeds again.
  if (event_type == "archive.write_failed" || event_type == "archive.recovered") {
    bool full = event_type == "archive.write_failed" && detail.value("disk_full", false);
    if (ChannelRunner *r = find_runner(channel))
      r->set_storage("warm", full ? "disk full: warm tier (catch-up archive): " +
                                        detail.value("what", std::string()) + ": " +
                                        detail.value("error", std::string())
                                  : "");
  }
  auto ev = store::make_event(event_type, channel, status, detail.dump());
  {
    std::lock_guard lk(mu_);
    auto rit = records_.find(channel);
    if (rit != records_.end()) ev.input_checksum = rit->second.content_sha256;
  }
  ev.job_id = job_id(channel);
  ev.output_uri = "/hls/" + channel + "/index.m3u8";
  if (detail.contains("attempt") && detail["attempt"].is_number_integer())
    ev.attempt = detail["attempt"].get<int>();
  if (detail.contains("rendition") && detail["rendition"].is_string())
    ev.profile = detail["rendition"].get<std::string>();
  std::string what = event_type;
  for (const char *k : {"condition", "source", "rendition"})
    if (detail.contains(k) && detail[k].is_string() && !detail[k].get<std::string>().empty())
      what += std::string(" ") + k + "=" + detail[k].get<std::string>();
  log(channel, status == "failure" ? "warning" : "info",
      "event " + what +
          (detail.contains("reason") && detail["reason"].is_string() &&
                   !detail["reason"].get<std::string>().empty()
               ? " (" + detail["reason"].get<std::string>() + ")"
               : std::string()));
  store_write([this, ev] { store_->record_event(ev); });
}

void ChannelManager::store_write(std::function<void()> write) {
  if (pending_writes_.empty()) {
    auto &db = store_->db();
    std::lock_guard lk(db.mutex());
    try {
      write();  // iptvd's busy timeout is short (app.cpp): the main loop never waits long
      return;
    } catch (const std::exception &e) {
      log("", "error",
          std::string("cannot write to the database (") + e.what() +
              "); keeping this and later writes in memory and retrying every second");
    }
  }
  pending_writes_.push_back(std::move(write));
  if (!flush_timer_) flush_timer_ = g_timeout_add(1000, flush_store_writes, this);
}

gboolean ChannelManager::flush_store_writes(gpointer data) {
  auto *self = static_cast<ChannelManager *>(data);
  auto &db = self->store_->db();
  std::lock_guard lk(db.mutex());
  db.set_busy_timeout(0);  // never wait on the lock from the main loop: try again in a second
  size_t done = 0;
  bool failed = false;
  while (!self->pending_writes_.empty()) {
    try {
      self->pending_writes_.front()();
    } catch (const std::exception &) {
      failed = true;
      break;
    }
    self->pending_writes_.pop_front();
    ++done;
  }
  db.set_busy_timeout(250);
  if (done > 0 || !failed)
    self->log(
        "", failed ? "warning" : "info",
        "database writable again: " + std::to_string(done) + " pending writes applied" +
            (failed ? ", " + std::to_string(self->pending_writes_.size()) + " still pending" : ""));
  if (failed) return G_SOURCE_CONTINUE;
  self->flush_timer_ = 0;
  return G_SOURCE_REMOVE;
}

std::string ChannelManager::job_id(const std::string &channel) {
  std::lock_guard lk(mu_);
  auto it = runners_.find(channel);
  pid_t pid = it != runners_.end() ? it->second->pid() : 0;
  if (pid) last_pid_[channel] = pid;
  auto lp = last_pid_.find(channel);
  if (lp == last_pid_.end() || !lp->second) return channel;
  return channel + "/" + std::to_string(lp->second);
}

// ---- Views for the API (any thread) ----

}  // namespace iptv::daemon
