// Which source feeds a channel's output: the failover state machine of iptvd-worker.
//
// GStreamer-free and clock-free: the worker feeds it observations (data seen, a source failed,
// a probe condition started or ended, commands) with a monotonic time in ms, and calls tick()
// from its main loop; the machine answers with the source that should be on air and the status
// events to report. Unit-tested in tests/worker/test_failover.cpp.
//
// Rules:
// - A source is healthy when it delivered data within `loss_ms`, has not failed since its last
//   data, and none of the record's trigger conditions (silence, black, freeze) is active on it.
//   The primary gets `loss_ms` of grace from the start.
// - On air: the primary while it is healthy. When it is not: the backup if healthy
//   (failover.activated), else the slate (slate.entered).
// - Back to the primary once it has been healthy for `return_after_ms` (failover.returned). From
//   the slate, any healthy source goes on air at once, the primary first.
// - The `failover` command puts the backup on air (if it has data) and holds it there until the
//   `return` command or the backup's loss; `return` goes back to the primary if it is healthy.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace iptv::worker {

enum class OnAir { kPrimary, kBackup, kSlate };
const char *to_string(OnAir a);

struct FailoverParams {
  int64_t loss_ms = 3000;
  int64_t return_after_ms = 10000;
  bool has_backup = false;
  std::set<std::string> triggers;  // conditions that make a source unhealthy
};

struct FailoverEvent {
  std::string event_type;  // failover.activated, failover.returned, slate.entered, slate.left,
                           // source.lost, source.recovered
  std::string reason;
  std::string source;  // primary | backup | slate
};

class FailoverMachine {
 public:
  FailoverMachine(const FailoverParams &params, int64_t now_ms);

  // Observations. `role` is 0 for the primary, 1 for the backup.
  void on_data(int role, int64_t now_ms);
  void on_failed(int role, const std::string &reason, int64_t now_ms);
  void on_condition(int role, const std::string &condition, bool active, int64_t now_ms);
  // Commands. Return false (and change nothing) when they cannot be honoured now.
  bool command_failover(int64_t now_ms);
  bool command_return(int64_t now_ms);

  // Re-evaluates; appends the events of what changed.
  void tick(int64_t now_ms, std::vector<FailoverEvent> &events);

  OnAir on_air() const { return on_air_; }
  // starting | live | degraded | failover | slate
  std::string state() const;
  // Why the current state was entered.
  const std::string &reason() const { return reason_; }
  bool healthy(int role, int64_t now_ms) const;
  // Why `role` is not healthy ("no data for 3.2 s", "EOS", a trigger condition); "" if it is.
  std::string why_unhealthy(int role, int64_t now_ms) const {
    if (role == 0 && src_[0].last_data < 0) return "no data yet";
    return unhealthy_reason(role, now_ms);
  }
  // Any probe condition (trigger or not) active on the source on air.
  bool degraded() const;

 private:
  struct Source {
    int64_t last_data = -1;
    int64_t healthy_since = -1;  // -1: not healthy
    bool failed = false;
    std::string fail_reason;
    std::set<std::string> conditions;
    bool reported_lost = false;
  };
  std::string unhealthy_reason(int role, int64_t now_ms) const;
  void switch_to(OnAir to, const std::string &reason, std::vector<FailoverEvent> &events);

  FailoverParams p_;
  int64_t start_ms_;
  Source src_[2];
  OnAir on_air_ = OnAir::kPrimary;
  bool manual_hold_ = false;
  bool ever_data_ = false;
  std::string reason_ = "start";
};

}  // namespace iptv::worker
