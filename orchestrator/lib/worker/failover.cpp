#include "worker/failover.h"

#include <cstdio>

namespace iptv::worker {

namespace {

// "2 s", "0.5 s": whole seconds without a fraction, others to the tenth.
std::string seconds_text(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  return buf;
}

}  // namespace

const char *to_string(OnAir a) {
  switch (a) {
    case OnAir::kPrimary:
      return "primary";
    case OnAir::kBackup:
      return "backup";
    case OnAir::kSlate:
      return "slate";
  }
  return "?";
}

static const char *role_name(int role) {
  return role == 0 ? "primary" : "backup";
}

FailoverMachine::FailoverMachine(const FailoverParams &params, int64_t now_ms)
    : p_(params), start_ms_(now_ms) {}

void FailoverMachine::on_data(int role, int64_t now_ms) {
  Source &s = src_[role];
  s.last_data = now_ms;
  s.failed = false;
  if (role == static_cast<int>(on_air_)) ever_data_ = true;
}

void FailoverMachine::on_failed(int role, const std::string &reason, int64_t) {
  src_[role].failed = true;
  src_[role].fail_reason = reason;
}

void FailoverMachine::on_condition(int role, const std::string &condition, bool active, int64_t) {
  if (active)
    src_[role].conditions.insert(condition);
  else
    src_[role].conditions.erase(condition);
}

std::string FailoverMachine::unhealthy_reason(int role, int64_t now_ms) const {
  if (role == 1 && !p_.has_backup) return "no backup";
  const Source &s = src_[role];
  if (s.failed) return s.fail_reason;
  int64_t last = s.last_data;
  if (role == 0 && last < 0) last = start_ms_;  // grace at start
  if (last < 0) return "no data";
  if (now_ms - last >= p_.loss_ms)
    return "no data for " + std::to_string((now_ms - last) / 1000.0).substr(0, 4) + " s";
  for (const auto &c : s.conditions)
    if (p_.triggers.count(c)) return c;
  return {};
}

bool FailoverMachine::healthy(int role, int64_t now_ms) const {
  if (role == 0 && src_[0].last_data < 0) return false;  // grace is not health
  return unhealthy_reason(role, now_ms).empty();
}

bool FailoverMachine::degraded() const {
  if (on_air_ == OnAir::kSlate) return false;
  return !src_[static_cast<int>(on_air_)].conditions.empty();
}

std::string FailoverMachine::state() const {
  switch (on_air_) {
    case OnAir::kSlate:
      return "slate";
    case OnAir::kBackup:
      return "failover";
    case OnAir::kPrimary:
      if (!ever_data_) return "starting";
      return degraded() ? "degraded" : "live";
  }
  return "starting";
}

bool FailoverMachine::command_failover(int64_t now_ms) {
  if (!p_.has_backup || src_[1].last_data < 0 || src_[1].failed) return false;
  (void)now_ms;
  manual_hold_ = true;
  return true;
}

bool FailoverMachine::command_return(int64_t now_ms) {
  manual_hold_ = false;
  if (!healthy(0, now_ms)) return false;
  // Make the primary count as healthy long enough for the next tick to return.
  src_[0].healthy_since = now_ms - p_.return_after_ms;
  return true;
}

void FailoverMachine::switch_to(OnAir to, const std::string &reason,
                                std::vector<FailoverEvent> &events) {
  if (to == on_air_) return;
  OnAir from = on_air_;
  on_air_ = to;
  reason_ = reason;
  if (from == OnAir::kSlate) events.push_back({"slate.left", reason, to_string(to)});
  if (to == OnAir::kBackup) events.push_back({"failover.activated", reason, "backup"});
  if (to == OnAir::kPrimary && from == OnAir::kBackup)
    events.push_back({"failover.returned", reason, "primary"});
  if (to == OnAir::kSlate) events.push_back({"slate.entered", reason, "slate"});
  if (on_air_ != OnAir::kSlate) ever_data_ = src_[static_cast<int>(on_air_)].last_data >= 0;
}

void FailoverMachine::tick(int64_t now_ms, std::vector<FailoverEvent> &events) {
  std::string why[2];
  bool ok[2];
  for (int r = 0; r < 2; ++r) {
    why[r] = unhealthy_reason(r, now_ms);
    ok[r] = why[r].empty() && src_[r].last_data >= 0;
    Source &s = src_[r];
    if (r == 1 && !p_.has_backup) continue;
    if (ok[r]) {
      if (s.healthy_since < 0) s.healthy_since = now_ms;
      if (s.reported_lost) {
        s.reported_lost = false;
        events.push_back({"source.recovered", "data flows", role_name(r)});
      }
    } else {
      s.healthy_since = -1;
      // A source is lost once it had data (or, for the primary, once its grace ran out).
      bool lost = !why[r].empty() && (s.last_data >= 0 || r == 0);
      if (lost && !s.reported_lost) {
        s.reported_lost = true;
        events.push_back({"source.lost", why[r], role_name(r)});
      }
    }
  }
  bool grace = src_[0].last_data < 0 && why[0].empty();  // primary still starting

  if (manual_hold_ && !ok[1]) manual_hold_ = false;
  if (manual_hold_) {
    switch_to(OnAir::kBackup, "failover command", events);
    return;
  }
  switch (on_air_) {
    case OnAir::kPrimary:
      if (ok[0] || grace) return;
      if (ok[1])
        switch_to(OnAir::kBackup, "primary: " + why[0], events);
      else
        switch_to(OnAir::kSlate,
                  "primary: " + why[0] + (p_.has_backup ? "; backup: " + why[1] : ""), events);
      return;
    case OnAir::kBackup:
      if (ok[0] && now_ms - src_[0].healthy_since >= p_.return_after_ms) {
        switch_to(OnAir::kPrimary, "primary healthy for " + seconds_text(p_.return_after_ms),
                  events);
        return;
      }
      if (ok[1]) return;
      if (ok[0])
        switch_to(OnAir::kPrimary, "backup: " + why[1], events);
      else
        switch_to(OnAir::kSlate, "primary: " + why[0] + "; backup: " + why[1], events);
      return;
    case OnAir::kSlate:
      if (ok[0])
        switch_to(OnAir::kPrimary, "primary recovered", events);
      else if (ok[1])
        switch_to(OnAir::kBackup, "backup recovered", events);
      return;
  }
}

}  // namespace iptv::worker
