// The channel manager and the state store seen through the control plane's narrow interfaces
// (control/directory.h): channel list and detail, actions, records, events and metrics. Every call
// answers from snapshots (runner views copied under their mutex, the store's SQLite rows); actions
// are validated here and posted to the daemon's main loop without waiting for the media plane.
#pragma once

#include "control/directory.h"
#include "daemon/channel_manager.h"

namespace iptv::store {
class StateStore;
}

namespace iptv::daemon {

class ControlAdapter : public control::ChannelDirectory,
                       public control::RecordSource,
                       public control::EventLog,
                       public control::MetricsSource {
 public:
  ControlAdapter(ChannelManager &channels, store::StateStore &store)
      : channels_(channels), store_(store) {}

  std::vector<control::ChannelView> list() override;
  std::optional<control::ChannelDetail> get(const std::string &id) override;
  control::ActionResult act(const std::string &id, control::Action action,
                            const control::ActionArgs &args) override;
  control::ActionResult note_incident(const std::string &id,
                                      const control::IncidentNote &note) override;

  std::vector<ChannelRecord> records() override { return channels_.records(); }
  std::optional<ChannelRecord> record(const std::string &id) override {
    return channels_.record(id);
  }

  control::EventPage page(const control::EventFilter &filter) override;
  std::vector<control::EventView> wait_after(int64_t after_id,
                                             std::chrono::milliseconds timeout) override;
  int64_t last_id() override;

  control::MetricsSnapshot metrics() override;

  // Webhook figures come from the deliverer, which the app wires in.
  void set_webhook_figures(std::function<void(control::MetricsSnapshot &)> f) {
    webhook_figures_ = std::move(f);
  }

 private:
  control::ChannelView row(const ChannelRecord &rec, const ChannelView &v) const;
  ChannelManager &channels_;
  store::StateStore &store_;
  std::function<void(control::MetricsSnapshot &)> webhook_figures_;
};

}  // namespace iptv::daemon
