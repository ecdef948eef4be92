// ChannelManager in a cluster (docs/cluster.md): which channels this node owns (from the
// etcd thread, posted to the main loop), the fencing token a worker carries, and the fence when
// the node's lease can no longer be trusted. Split from channel_manager.cpp.
#include <glib.h>

#include <filesystem>
#include <functional>

#include <set>

#include "daemon/channel_manager.h"
#include "log/log.h"
#include "origin/origin.h"
#include "store/state_store.h"

namespace iptv::daemon {

namespace {

// Before this node starts a channel it did not run a moment ago (a claim, a takeover, a warm
// start for a move-back), what an earlier run left in its folder is stale: another node served
// the channel since. The sink would resume that playlist (its old segments, a lower media
// sequence than viewers already saw from the other node), so the folder goes, and the worker
// starts a new window at the epoch number, continuing the other node's numbering.
void remove_stale_output(const std::string &dir,
                         const std::function<void(const std::string &)> &log) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return;
  std::filesystem::remove_all(dir, ec);
  log(ec ? "cluster: cannot remove this node's earlier output of the channel (" + dir +
               "): " + ec.message()
         : "cluster: removed this node's earlier output of the channel (another node served it "
           "since)");
}

}  // namespace

void ChannelManager::enable_ownership(const std::string &node_id) {
  cluster_node_ = node_id;
}

int64_t ChannelManager::fencing_token(const std::string &id) const {
  std::lock_guard lk(mu_);
  auto it = owned_.find(id);
  return it != owned_.end() ? it->second : 0;
}

void ChannelManager::post_ownership(std::map<std::string, int64_t> owned,
                                    std::map<std::string, std::string> why_not,
                                    int64_t valid_until_us, std::set<std::string> warm,
                                    std::map<std::string, int64_t> standby) {
  struct Call {
    ChannelManager *self;
    std::map<std::string, int64_t> owned;
    std::map<std::string, std::string> why_not;
    int64_t valid_until_us;
    std::set<std::string> warm;
    std::map<std::string, int64_t> standby;
  };
  g_main_context_invoke_full(
      g_main_context_default(), G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Call *>(d);
        c->self->apply_ownership(c->owned, c->why_not, c->valid_until_us, c->warm, c->standby);
        return G_SOURCE_REMOVE;
      },
      new Call{this, std::move(owned), std::move(why_not), valid_until_us, std::move(warm),
               std::move(standby)},
      [](gpointer d) { delete static_cast<Call *>(d); });
}

int64_t ChannelManager::standby_token(const std::string &id) const {
  std::lock_guard lk(mu_);
  auto it = standby_.find(id);
  return it != standby_.end() ? it->second : 0;
}

void ChannelManager::give_fencing_token(const std::string &id, int64_t token) {
  ChannelRunner *r = find_runner(id);
  auto rec = record(id);
  if (!r || !rec) return;
  {
    // The runner restarts its worker with --fencing-token from now on.
    std::lock_guard lk(mu_);
    r->set_options(runner_options(*rec));
  }
  r->command(wire::CmdFencingToken{token});
}

bool ChannelManager::is_warm(const std::string &id) const {
  std::lock_guard lk(warm_mu_);
  return warm_.count(id) > 0;
}

std::set<std::string> ChannelManager::warm_ready(int segments) const {
  std::lock_guard lk(warm_mu_);
  std::set<std::string> out;
  for (const auto &[id, n] : warm_)
    if (n >= segments) out.insert(id);
  return out;
}

void ChannelManager::lose_ownership(const std::string &id, const std::string &why) {
  int64_t token;
  {
    std::lock_guard lk(mu_);
    auto it = owned_.find(id);
    if (it == owned_.end()) return;
    token = it->second;
    owned_.erase(it);
  }
  // Fenced: the origin stops serving at once, then the worker stops.
  origin_->remove_channel(id);
  logger_.warn(id, "cluster: stopped publishing: " + why,
               {{"fencing_token", std::to_string(token)}});
  if (ChannelRunner *r = find_runner(id)) r->stop("offline", why);
  on_event(id, "cluster.fenced", {{"fencing_token", token}, {"reason", why}});
}

void ChannelManager::lose_standby(const std::string &id, const std::string &why) {
  int64_t token;
  {
    std::lock_guard lk(mu_);
    auto it = standby_.find(id);
    if (it == standby_.end()) return;
    token = it->second;
    standby_.erase(it);
  }
  {
    std::lock_guard lk(warm_mu_);
    warm_.erase(id);
  }
  origin_->remove_channel(id);
  logger_.warn(id, "cluster: stopped the hot standby: " + why,
               {{"standby_token", std::to_string(token)}});
  if (ChannelRunner *r = find_runner(id)) r->stop("offline", why);
  on_event(id, "cluster.standby_stopped", {{"standby_token", token}, {"reason", why}});
}

// A warm worker (move-back, make-before-break) or a hot standby's (standby_token > 0): started
// here unserved, not archived (counted in warm_ by on_segment).
void ChannelManager::start_unserved(const std::string &id, int64_t standby_token) {
  {
    std::lock_guard lk(mu_);
    if (owned_.count(id) || standby_.count(id) || !records_.count(id) || !specs_.count(id)) return;
  }
  {
    std::lock_guard lk(warm_mu_);
    if (!warm_.emplace(id, 0).second) return;
  }
  auto rec = record(id);
  auto sp = spec(id);
  if (!rec || !sp) return;
  if (standby_token) {
    {
      std::lock_guard lk(mu_);
      standby_[id] = standby_token;
    }
    log(id, "info",
        "cluster: hot standby (standby key revision " + std::to_string(standby_token) +
            "): starting its worker; served once its first segment left the window");
    on_event(id, "cluster.standby", {{"standby_token", standby_token}, {"node", cluster_node_}});
  } else {
    log(id, "info",
        "cluster: this node is the channel's preferred node again: starting its worker "
        "unserved, to take it over once live (make-before-break)");
  }
  if (ChannelRunner *r = find_runner(id); !r || !r->pid())
    remove_stale_output(hls_dir(id), [&](const std::string &m) { log(id, "info", m); });
  start_channel(*rec, *sp);
}

void ChannelManager::apply_ownership(const std::map<std::string, int64_t> &owned,
                                     const std::map<std::string, std::string> &why_not,
                                     int64_t valid_until_us, const std::set<std::string> &warm,
                                     const std::map<std::string, int64_t> &standby) {
  if (cluster_node_.empty() || stopping_) return;
  not_owned_why_ = why_not;
  bool valid = g_get_monotonic_time() < valid_until_us;
  owned_valid_until_us_ = valid ? valid_until_us : 0;
  std::vector<std::string> lost, lost_standby;
  {
    std::lock_guard lk(mu_);
    for (const auto &[id, token] : owned_) {
      auto it = owned.find(id);
      if (!valid || it == owned.end() || it->second != token) lost.push_back(id);
    }
    // A standby that became the owner goes on (below); any other that is no longer one stops.
    for (const auto &[id, token] : standby_)
      if (!valid || (!standby.count(id) && !owned.count(id))) lost_standby.push_back(id);
  }
  for (const auto &id : lost) {
    auto w = why_not.find(id);
    lose_ownership(id, !valid               ? "ownership expired before it could be applied"
                       : w != why_not.end() ? "no longer the owner: " + w->second
                                            : "no longer the owner in etcd");
  }
  for (const auto &id : lost_standby) {
    auto w = why_not.find(id);
    lose_standby(id, !valid               ? "ownership expired before it could be applied"
                     : w != why_not.end() ? "no longer its standby: " + w->second
                                          : "no longer its standby in etcd");
  }
  // Warm channels no longer wanted (and not owned now): their unserved workers stop.
  std::vector<std::string> cold;
  {
    std::lock_guard lk(warm_mu_);
    for (const auto &[id, n] : warm_)
      if ((!valid || !warm.count(id)) && !owned.count(id) && !standby.count(id)) cold.push_back(id);
    for (const auto &id : cold) warm_.erase(id);
  }
  for (const auto &id : cold) {
    bool mine;
    {
      std::lock_guard lk(mu_);
      mine = owned_.count(id) > 0 || standby_.count(id) > 0;
    }
    if (mine) continue;
    log(id, "info", "cluster: no longer taking the channel back: stopping its unserved worker");
    auto w = why_not.find(id);
    if (ChannelRunner *r = find_runner(id))
      r->stop("offline", w != why_not.end() ? w->second : "not owned by this node");
  }
  if (!valid) return;
  for (const auto &[id, token] : owned) {
    bool was_standby;
    {
      std::lock_guard lk(mu_);
      if (owned_.count(id)) continue;
      if (!records_.count(id) || !specs_.count(id)) continue;
      owned_[id] = token;
      was_standby = standby_.erase(id) > 0;
    }
    auto rec = record(id);
    auto sp = spec(id);
    if (!rec || !sp) continue;
    bool was_warm;
    {
      std::lock_guard lk(warm_mu_);
      was_warm = warm_.erase(id) > 0;
    }
    ChannelRunner *r = was_warm || was_standby ? find_runner(id) : nullptr;
    if (r && r->pid()) {
      // Make-before-break (a move-back), or the hot standby taking over: the worker has been
      // packaging here (the same epoch numbers); the origin serves it from now, and the worker
      // publishes under the owner key's revision.
      origin_->add_channel(id, hls_dir(id));
      if (observer_) observer_->channel_started(*rec, hls_dir(id));
      give_fencing_token(id, token);
      log(id, "info",
          "cluster: owner (fencing token " + std::to_string(token) +
              (was_standby ? "): the hot standby takes over, its worker goes on"
                           : "): serving the worker that was already running here "
                             "(make-before-break)"));
      on_event(id, "cluster.owned",
               {{"fencing_token", token},
                {"node", cluster_node_},
                {was_standby ? "hot_standby" : "make_before_break", true}});
      continue;
    }
    log(id, "info", "cluster: owner (fencing token " + std::to_string(token) + "): starting");
    on_event(id, "cluster.owned", {{"fencing_token", token}, {"node", cluster_node_}});
    if (ChannelRunner *cur = find_runner(id); !cur || !cur->pid())
      remove_stale_output(hls_dir(id), [&](const std::string &m) { log(id, "info", m); });
    start_channel(*rec, *sp);
  }
  // Newly warm (move-back) or standby: start the worker unserved.
  for (const auto &[id, token] : standby) start_unserved(id, token);
  for (const auto &id : warm) start_unserved(id, 0);
}

void ChannelManager::fence_if_expired() {
  if (cluster_node_.empty()) return;
  std::vector<std::string> ids;
  {
    std::lock_guard lk(mu_);
    if ((owned_.empty() && standby_.empty()) || g_get_monotonic_time() < owned_valid_until_us_)
      return;
    for (const auto &[id, t] : owned_) ids.push_back(id);
  }
  for (const auto &id : ids)
    lose_ownership(id,
                   "etcd not reached within the lease TTL: ownership no longer proven (fenced)");
  {
    std::lock_guard lk(mu_);
    ids.clear();
    for (const auto &[id, t] : standby_) ids.push_back(id);
  }
  for (const auto &id : ids)
    lose_standby(id, "etcd not reached within the lease TTL: the standby key no longer proven");
}

}  // namespace iptv::daemon
