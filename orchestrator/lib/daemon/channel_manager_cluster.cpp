// ChannelManager in a cluster (docs/cluster.md): which channels this node owns (from the
// etcd thread, posted to the main loop), the fencing token a worker carries, and the fence when
// the node's lease can no longer be trusted. Split from channel_manager.cpp.
#include <glib.h>

#include "daemon/channel_manager.h"
#include "log/log.h"
#include "origin/origin.h"
#include "store/state_store.h"

namespace iptv::daemon {

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
                                    int64_t valid_until_us) {
  struct Call {
    ChannelManager *self;
    std::map<std::string, int64_t> owned;
    std::map<std::string, std::string> why_not;
    int64_t valid_until_us;
  };
  g_main_context_invoke_full(
      g_main_context_default(), G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Call *>(d);
        c->self->apply_ownership(c->owned, c->why_not, c->valid_until_us);
        return G_SOURCE_REMOVE;
      },
      new Call{this, std::move(owned), std::move(why_not), valid_until_us},
      [](gpointer d) { delete static_cast<Call *>(d); });
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

void ChannelManager::apply_ownership(const std::map<std::string, int64_t> &owned,
                                     const std::map<std::string, std::string> &why_not,
                                     int64_t valid_until_us) {
  if (cluster_node_.empty() || stopping_) return;
  not_owned_why_ = why_not;
  bool valid = g_get_monotonic_time() < valid_until_us;
  owned_valid_until_us_ = valid ? valid_until_us : 0;
  std::vector<std::string> lost;
  {
    std::lock_guard lk(mu_);
    for (const auto &[id, token] : owned_) {
      auto it = owned.find(id);
      if (!valid || it == owned.end() || it->second != token) lost.push_back(id);
    }
  }
  for (const auto &id : lost) {
    auto w = why_not.find(id);
    lose_ownership(id, !valid               ? "ownership expired before it could be applied"
                       : w != why_not.end() ? "no longer the owner: " + w->second
                                            : "no longer the owner in etcd");
  }
  if (!valid) return;
  for (const auto &[id, token] : owned) {
    {
      std::lock_guard lk(mu_);
      if (owned_.count(id)) continue;
      if (!records_.count(id) || !specs_.count(id)) continue;
      owned_[id] = token;
    }
    auto rec = record(id);
    auto sp = spec(id);
    if (!rec || !sp) continue;
    log(id, "info", "cluster: owner (fencing token " + std::to_string(token) + "): starting");
    on_event(id, "cluster.owned", {{"fencing_token", token}, {"node", cluster_node_}});
    start_channel(*rec, *sp);
  }
}

void ChannelManager::fence_if_expired() {
  if (cluster_node_.empty()) return;
  std::vector<std::string> ids;
  {
    std::lock_guard lk(mu_);
    if (owned_.empty() || g_get_monotonic_time() < owned_valid_until_us_) return;
    for (const auto &[id, t] : owned_) ids.push_back(id);
  }
  for (const auto &id : ids)
    lose_ownership(id,
                   "etcd not reached within the lease TTL: ownership no longer proven (fenced)");
}

}  // namespace iptv::daemon
