// iptvd's catch-up wiring: follows the channels' output for the warm tier (archive/archiver.h)
// and answers the origin's time-addressed requests (archive/catchup_service.h) from the records
// the channel manager holds.
//
// - A channel whose record sets catchup.days gets an archive policy when its output starts:
//   keep catchup.days, cap catchup.max_gigabytes, never delete the live window (window_segments
//   x segment_seconds, or hls.dvr_seconds when larger, plus two segments of slack).
// - A reload that turns catch-up off stops archiving and sweeping, and its time-addressed URLs
//   answer 404 no_catchup; the files stay on disk (and in the index) until catch-up is turned on
//   again, when retention applies to them, or an operator removes the folder.
// - The archiver's events (archive.write_failed, archive.recovered) go to the channel's event
//   stream through ChannelManager::post_event.
//
// Threads: the OutputObserver calls come on the main loop; route() on the origin's thread(s);
// the archiver has its own. Everything here is thread-safe through the archiver, the catch-up
// service and ChannelManager's thread-safe views.
#pragma once

#include <optional>
#include <string>

#include <memory>

#include "archive/archiver.h"
#include "archive/catchup_service.h"
#include "archive/object_tier.h"
#include "daemon/channel_manager.h"

namespace iptv::log {
class Logger;
}

namespace iptv::daemon {

// The live window's folder: `hot_dir` when given and usable (a RAM-backed filesystem, tmpfs or
// ramfs, is the point; any other filesystem is used with a warning), else data_dir/hls with a
// warning saying why. "" hot_dir: data_dir/hls, silently (the default).
std::string resolve_hot_root(const std::string &hot_dir, const std::string &data_dir,
                             log::Logger &logger);

class ArchiveAdapter : public OutputObserver {
 public:
  ArchiveAdapter(db::Db &db, std::string warm_dir, int sweep_seconds, ChannelManager &channels);
  ~ArchiveAdapter() override;
  // The optional archive tier (storage.archive): uploads finished periods to object storage and
  // reads them back for catch-up. Call before start().
  void enable_object_tier(archive::ObjectTierConfig cfg);
  void start();
  void stop();

  void channel_started(const ChannelRecord &rec, const std::string &hls_dir) override;
  void channel_retired(const std::string &id) override;
  void segment(const std::string &channel, const StSegment &seg) override;

  // The origin's time-shift route: nullopt when the request is not time-addressed.
  std::optional<archive::CatchupAnswer> route(const std::string &channel, const std::string &rel,
                                              const std::string &query);

  archive::Archiver &archiver() { return archiver_; }
  archive::ObjectTier *object_tier() { return tier_.get(); }
  // AES-128: the EXT-X-KEY attributes of a channel's key id, for catch-up playlists. Set once
  // before the origin's route is installed.
  using KeyLineFn =
      std::function<std::string(const std::string &channel, const std::string &key_id)>;
  void set_key_line(KeyLineFn f) { key_line_ = std::move(f); }

 private:
  ChannelManager &channels_;
  KeyLineFn key_line_;
  archive::Archiver archiver_;
  archive::CatchupService catchup_;
  std::unique_ptr<archive::ObjectTier> tier_;
};

}  // namespace iptv::daemon
