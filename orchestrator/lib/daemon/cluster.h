// Channel ownership in etcd (docs/cluster.md): which node of a cluster runs which channel.
//
// One thread talks to etcd's v3 JSON gateway (POST /v3/lease/grant, /v3/lease/keepalive,
// /v3/kv/put, /v3/kv/range, /v3/kv/txn, /v3/lease/revoke; keys and values base64) with libsoup,
// synchronously: it never blocks the main loop. Every lease_ttl / 3 seconds it
//   - keeps this node's lease alive (or grants a new one) and its node key
//     <prefix>nodes/<node_id> = {"node","url","role"} attached to the lease;
//   - reads the live nodes and the owner keys <prefix>owners/<channel>;
//   - claims each unowned channel this node may run when it is the channel's preferred node
//     (rendezvous hash over the live nodes matching the record's placement), or when the
//     channel stayed unowned for 3 rounds (the preferred node cannot take it): a transaction
//     that creates the owner key only if it does not exist (create_revision == 0), attached to
//     this node's lease;
//   - move-back (make-before-break): when this node is a channel's preferred node again but
//     another node owns it, it runs the channel's worker unserved ("warm"); once that worker
//     wrote 2 segments it puts <prefix>handover/<channel> = {"to": this node} on its lease. The
//     owner then stops serving the channel, deletes its owner key once its main loop dropped
//     it, and the preferred node claims it and serves the worker already running (the same
//     epoch segment numbers: no gap);
//   - posts the set of channels it owns, each with its fencing token (the owner key's
//     mod_revision), and how long that knowledge holds, to the main loop.
// The main loop (ChannelManager::apply_ownership) runs exactly the owned channels. A 200 ms
// timer fences them all once the last successful keep-alive is older than lease_ttl - margin:
// the lease can have expired in etcd only after that, so a partitioned node has stopped
// publishing before another node can own its channels.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/daemon_config.h"
#include "daemon/rendezvous.h"

namespace iptv {
struct ChannelRecord;
}
namespace iptv::log {
class Logger;
}

namespace iptv::daemon {

class ChannelManager;
struct EtcdKv;  // one key read from etcd (cluster.cpp)

class Cluster {
 public:
  Cluster(config::ClusterConfig cfg, std::string role, std::string advertise_url,
          ChannelManager &channels, log::Logger &logger);
  ~Cluster();  // stops the thread and revokes the lease (the channels move at once)
  Cluster(const Cluster &) = delete;
  Cluster &operator=(const Cluster &) = delete;

  void start();
  void stop();
  // For /healthz and logs: "" while etcd answers, else why not.
  std::string problem() const;

 private:
  void run();
  void tick();
  bool refresh_lease(int64_t sent, int64_t ttl_us);
  void fence_check();
  struct Round;
  bool read_round(Round &rd);
  void owned_channel(const ChannelRecord &rec, const EtcdKv &kv, Round &rd);
  bool claim(const ChannelRecord &rec, Round &rd);
  void standby_channel(const ChannelRecord &rec, const EtcdKv &owner_kv, const std::string &owner,
                       Round &rd);
  bool delete_if_unchanged(const std::string &key, int64_t mod_revision);

  config::ClusterConfig cfg_;
  std::string role_, url_;
  ChannelManager &channels_;
  log::Logger &logger_;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  unsigned fence_timer_ = 0;
  struct Etcd;
  // The cluster thread's own state.
  Etcd *etcd_ = nullptr;
  int64_t lease_ = 0;                  // this node's lease (0: none yet, or lost)
  int64_t last_ok_us_ = 0;             // when the last successful keep-alive (or grant) was sent
  bool fresh_lease_ = false;           // granted this round: claim nothing yet
  std::map<std::string, int> absent_;  // rounds a channel has been seen without an owner
  std::map<std::string, int> standby_absent_;  // rounds a hot-standby channel had no standby
  int64_t last_problem_log_us_ = 0;
  void set_problem(const std::string &why);
  mutable std::mutex mu_;
  std::string problem_ = "not yet registered in etcd";
};

}  // namespace iptv::daemon
