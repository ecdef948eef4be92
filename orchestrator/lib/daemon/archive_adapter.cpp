#include "daemon/archive_adapter.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "log/log.h"

namespace iptv::daemon {

std::string resolve_hot_root(const std::string &hot_dir, const std::string &data_dir,
                             log::Logger &logger) {
  std::string fallback = data_dir + "/hls";
  if (hot_dir.empty()) return fallback;
  std::error_code ec;
  std::filesystem::create_directories(hot_dir, ec);
  struct statfs fs {};
  if (ec || ::statfs(hot_dir.c_str(), &fs) != 0 || ::access(hot_dir.c_str(), W_OK) != 0) {
    logger.warn("", "storage.hot_dir is not usable; serving the live window from disk",
                {{"hot_dir", hot_dir},
                 {"error", ec ? ec.message() : std::string(std::strerror(errno))},
                 {"using", fallback}});
    return fallback;
  }
  constexpr long kTmpfs = 0x01021994, kRamfs = 0x858458f6;
  if (fs.f_type != kTmpfs && fs.f_type != kRamfs)
    logger.warn("",
                "storage.hot_dir is not RAM-backed (tmpfs or ramfs): the live window is on disk",
                {{"hot_dir", hot_dir}});
  return hot_dir;
}

ArchiveAdapter::ArchiveAdapter(db::Db &db, std::string warm_dir, int sweep_seconds,
                               ChannelManager &channels)
    : channels_(channels),
      archiver_(
          db, std::move(warm_dir),
          [this](const std::string &ch, const std::string &type, const nlohmann::json &detail) {
            channels_.post_event(ch, type, detail);
          },
          sweep_seconds),
      catchup_(archiver_.index(),
               [this](const std::string &ch) -> std::optional<archive::CatchupRules> {
                 auto rec = channels_.record(ch);
                 if (!rec) return std::nullopt;
                 archive::CatchupRules r;
                 r.catchup_days = rec->catchup.days;
                 r.rights_days = rec->rights.catchup_days;
                 r.target_seconds = rec->hls.segment_seconds;
                 r.hot_dir = channels_.hls_dir(ch);
                 if (key_line_)
                   r.key_line = [this, ch](const std::string &kid) { return key_line_(ch, kid); };
                 return r;
               }) {}

ArchiveAdapter::~ArchiveAdapter() {
  stop();
}

void ArchiveAdapter::enable_object_tier(archive::ObjectTierConfig cfg) {
  tier_ = std::make_unique<archive::ObjectTier>(
      archiver_.index(), archiver_.warm_dir(), std::move(cfg),
      [this] { return archiver_.policies(); },
      [this](const std::string &ch, const std::string &type, const nlohmann::json &detail) {
        channels_.post_event(ch, type, detail);
      });
  archiver_.set_removal_hook(
      [t = tier_.get()](const std::vector<archive::Entry> &victims) { t->forget(victims); });
  catchup_.set_local_file(
      [t = tier_.get()](const archive::Entry &e, bool init) { return t->local_file(e, init); });
}

void ArchiveAdapter::start() {
  archiver_.start();
  if (tier_) tier_->start();
}

void ArchiveAdapter::stop() {
  if (tier_) tier_->stop();
  archiver_.stop();
}

void ArchiveAdapter::channel_started(const ChannelRecord &rec, const std::string &hls_dir) {
  if (rec.catchup.days <= 0) {
    archiver_.remove_policy(rec.channel_id);
    return;
  }
  archive::ChannelPolicy p;
  p.hot_dir = hls_dir;
  p.keep_ms = static_cast<int64_t>(rec.catchup.days * 86400000.0);
  p.max_bytes = static_cast<uint64_t>(rec.catchup.max_gigabytes * 1e9);
  double live = std::max(rec.hls.window_segments * rec.hls.segment_seconds, rec.hls.dvr_seconds) +
                2 * rec.hls.segment_seconds;
  p.live_window_ms = static_cast<int64_t>(std::ceil(live * 1000));
  archiver_.set_policy(rec.channel_id, p);
}

void ArchiveAdapter::channel_retired(const std::string &id) {
  archiver_.remove_policy(id);
}

void ArchiveAdapter::segment(const std::string &channel, const StSegment &seg) {
  archiver_.on_segment(channel, seg);
}

std::optional<archive::CatchupAnswer> ArchiveAdapter::route(const std::string &channel,
                                                            const std::string &rel,
                                                            const std::string &query) {
  if (!archive::CatchupService::wants(rel, query)) return std::nullopt;
  return catchup_.answer(channel, rel, query);
}

}  // namespace iptv::daemon
