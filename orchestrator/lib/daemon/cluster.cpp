#include "daemon/cluster.h"

#include <glib.h>
#include <libsoup/soup.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/channel_manager.h"
#include "log/log.h"

namespace iptv::daemon {

namespace {

const std::string kPrefix = "/iptv/";

std::string b64(const std::string &s) {
  gchar *e = g_base64_encode(reinterpret_cast<const guchar *>(s.data()), s.size());
  std::string out(e);
  g_free(e);
  return out;
}

std::string unb64(const std::string &s) {
  gsize n = 0;
  guchar *d = g_base64_decode(s.c_str(), &n);
  std::string out(reinterpret_cast<const char *>(d), n);
  g_free(d);
  return out;
}

// etcd's gateway writes int64 as JSON strings; absent fields are zero.
int64_t i64(const nlohmann::json &j, const char *key) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const auto &v = j[key];
  if (v.is_string()) return std::strtoll(v.get<std::string>().c_str(), nullptr, 10);
  if (v.is_number()) return v.get<int64_t>();
  return 0;
}

// The end of a prefix range: the prefix with its last byte incremented.
std::string prefix_end(std::string p) {
  p.back() = (char)(p.back() + 1);
  return p;
}

int64_t now_us() {
  return g_get_monotonic_time();
}

}  // namespace

struct EtcdKv {
  std::string key, value;
  int64_t mod_revision = 0, lease = 0;
};
using Kv = EtcdKv;

namespace {

// The node an owner or standby key names ({"node": id, ...}).
std::string node_of(const Kv &kv) {
  auto v = nlohmann::json::parse(kv.value, nullptr, false);
  return v.is_object() ? v.value("node", "") : "";
}

// etcd's transaction compare: `key` does not exist.
nlohmann::json absent(const std::string &key) {
  return {{"key", b64(key)}, {"result", "EQUAL"}, {"target", "CREATE"}, {"create_revision", "0"}};
}

// etcd's transaction compare: `key` is unchanged since `mod_revision`.
nlohmann::json unchanged(const std::string &key, int64_t mod_revision) {
  return {{"key", b64(key)},
          {"result", "EQUAL"},
          {"target", "MOD"},
          {"mod_revision", std::to_string(mod_revision)}};
}

}  // namespace

// The etcd v3 JSON gateway over libsoup, used from the cluster thread only.
struct Cluster::Etcd {
  std::vector<std::string> urls;
  size_t current = 0;
  SoupSession *session = nullptr;
  std::string last_error;

  Etcd(std::vector<std::string> u, int timeout_s) : urls(std::move(u)) {
    session = soup_session_new();
    soup_session_set_timeout(session, (guint)timeout_s);
    soup_session_set_idle_timeout(session, 60);
  }
  ~Etcd() { g_object_unref(session); }

  // POSTs `body` to `path` on the current etcd URL, then the others; false with last_error set
  // when none answers 200 with JSON.
  bool call(const std::string &path, const nlohmann::json &body, nlohmann::json &out) {
    std::string text = body.dump();
    std::string errors;
    for (size_t k = 0; k < urls.size(); ++k) {
      size_t i = (current + k) % urls.size();
      std::string url = urls[i] + path;
      SoupMessage *msg = soup_message_new("POST", url.c_str());
      if (!msg) {
        errors += (errors.empty() ? "" : "; ") + urls[i] + ": not a valid URL";
        continue;
      }
      GBytes *req = g_bytes_new(text.data(), text.size());
      soup_message_set_request_body_from_bytes(msg, "application/json", req);
      g_bytes_unref(req);
      GError *err = nullptr;
      GBytes *resp = soup_session_send_and_read(session, msg, nullptr, &err);
      guint status = soup_message_get_status(msg);
      g_object_unref(msg);
      if (!resp) {
        errors += (errors.empty() ? "" : "; ") + urls[i] + ": " + (err ? err->message : "?");
        g_clear_error(&err);
        continue;
      }
      gsize n = 0;
      const char *d = static_cast<const char *>(g_bytes_get_data(resp, &n));
      std::string answer(d ? d : "", n);
      g_bytes_unref(resp);
      if (status != 200) {
        errors += (errors.empty() ? "" : "; ") + urls[i] + path + ": HTTP " +
                  std::to_string(status) + " " + answer.substr(0, 200);
        continue;
      }
      // keepalive is a stream: its single answer is {"result": {...}}.
      out = nlohmann::json::parse(answer, nullptr, false);
      if (out.is_discarded()) {
        errors += (errors.empty() ? "" : "; ") + urls[i] + path + ": not JSON";
        continue;
      }
      current = i;
      last_error.clear();
      return true;
    }
    last_error = errors;
    return false;
  }

  bool range_prefix(const std::string &prefix, std::vector<Kv> &out) {
    nlohmann::json r;
    if (!call("/v3/kv/range", {{"key", b64(prefix)}, {"range_end", b64(prefix_end(prefix))}}, r))
      return false;
    out.clear();
    if (r.contains("kvs"))
      for (const auto &kv : r["kvs"])
        out.push_back({unb64(kv.value("key", "")), unb64(kv.value("value", "")),
                       i64(kv, "mod_revision"), i64(kv, "lease")});
    return true;
  }
};

Cluster::Cluster(config::ClusterConfig cfg, std::string role, std::string advertise_url,
                 ChannelManager &channels, log::Logger &logger)
    : cfg_(std::move(cfg)),
      role_(std::move(role)),
      url_(std::move(advertise_url)),
      channels_(channels),
      logger_(logger) {}

Cluster::~Cluster() {
  stop();
}

std::string Cluster::problem() const {
  std::lock_guard lk(mu_);
  return problem_;
}

void Cluster::start() {
  channels_.enable_ownership(cfg_.node_id);
  // Fencing runs on the main loop, independent of the thread (which may sit in a request).
  fence_timer_ = g_timeout_add(
      200,
      [](gpointer d) -> gboolean {
        static_cast<Cluster *>(d)->channels_.fence_if_expired();
        return G_SOURCE_CONTINUE;
      },
      this);
  thread_ = std::thread([this] { run(); });
}

void Cluster::stop() {
  if (fence_timer_) g_source_remove(fence_timer_);
  fence_timer_ = 0;
  if (!thread_.joinable()) return;
  quit_ = true;
  thread_.join();
}

void Cluster::run() {
  GMainContext *ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  int period_ms = std::max(300, cfg_.lease_ttl_seconds * 1000 / 3);
  {
    Etcd etcd(cfg_.etcd, std::max(1, cfg_.lease_ttl_seconds / 3));
    etcd_ = &etcd;
    while (!quit_) {
      auto t0 = std::chrono::steady_clock::now();
      tick();
      while (!quit_ && std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(period_ms))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Leaving: revoke the lease, so the node's channels move at once instead of after the TTL
    // (the workers are stopped by then: stop() runs after the channels stopped).
    if (lease_ != 0) {
      nlohmann::json r;
      etcd.call("/v3/lease/revoke", {{"ID", std::to_string(lease_)}}, r);
    }
    etcd_ = nullptr;
  }
  g_main_context_pop_thread_default(ctx);
  g_main_context_unref(ctx);
}

void Cluster::set_problem(const std::string &why) {
  bool changed;
  {
    std::lock_guard lk(mu_);
    changed = problem_ != why;
    problem_ = why;
  }
  int64_t now = now_us();
  if (why.empty()) {
    if (changed) logger_.info("", "cluster: etcd answers", {{"node", cfg_.node_id}});
    return;
  }
  // Said at once, then every 30 s while it lasts.
  if (changed || now - last_problem_log_us_ > 30 * G_USEC_PER_SEC) {
    last_problem_log_us_ = now;
    logger_.warn("",
                 "cluster: " + why + "; retrying every " +
                     std::to_string(std::max(1, cfg_.lease_ttl_seconds / 3)) +
                     " s; this node serves only the channels it owns (none while etcd is "
                     "unreachable past the lease TTL)",
                 {{"node", cfg_.node_id}});
  }
}

// The node lease kept alive (or granted again, with the node key, after it expired or at start);
// false when etcd did not answer (the problem is set).
bool Cluster::refresh_lease(int64_t sent, int64_t ttl_us) {
  Etcd &etcd = *etcd_;
  nlohmann::json r;
  if (lease_ != 0) {
    if (!etcd.call("/v3/lease/keepalive", {{"ID", std::to_string(lease_)}}, r)) {
      set_problem("etcd unreachable (" + etcd.last_error + ")");
      if (now_us() - last_ok_us_ > ttl_us) lease_ = 0;  // expired by now: start over
      return false;
    }
    const nlohmann::json &res = r.contains("result") ? r["result"] : r;
    if (i64(res, "TTL") <= 0) {
      logger_.warn("",
                   "cluster: the node lease expired in etcd (this node was cut off for "
                   "longer than the TTL); registering again",
                   {{"node", cfg_.node_id}});
      lease_ = 0;
      channels_.post_ownership({}, {}, 0);
    } else {
      last_ok_us_ = sent;
    }
  }
  if (lease_ == 0) {
    if (!etcd.call("/v3/lease/grant", {{"TTL", std::to_string(cfg_.lease_ttl_seconds)}}, r)) {
      set_problem("etcd unreachable at start or after a partition (" + etcd.last_error + ")");
      return false;
    }
    int64_t id = i64(r, "ID");
    if (id == 0) {
      set_problem("etcd granted no lease: " + r.dump());
      return false;
    }
    nlohmann::json value = {{"node", cfg_.node_id}, {"url", url_}, {"role", role_}};
    if (!etcd.call("/v3/kv/put",
                   {{"key", b64(kPrefix + "nodes/" + cfg_.node_id)},
                    {"value", b64(value.dump())},
                    {"lease", std::to_string(id)}},
                   r)) {
      set_problem("cannot register the node key (" + etcd.last_error + ")");
      return false;
    }
    lease_ = id;
    fresh_lease_ = true;
    last_ok_us_ = sent;
    logger_.info("", "cluster: registered in etcd",
                 {{"node", cfg_.node_id},
                  {"lease", std::to_string(id)},
                  {"ttl_seconds", std::to_string(cfg_.lease_ttl_seconds)}});
  }
  return true;
}

// What one round read from etcd, and what it decides (cluster thread).
struct Cluster::Round {
  struct Node {
    std::string id, role;
  };
  std::vector<Node> nodes;
  std::map<std::string, Kv> owners, handovers;     // by channel
  std::map<std::string, Kv> standbys;              // hot standby keys, by channel
  std::map<std::string, int64_t> standby;          // this node's standbys: key revision
  std::map<std::string, std::string> handover_to;  // channel -> the node asking for it
  std::set<std::string> ready;                     // warm channels whose worker is live here
  std::map<std::string, int64_t> owned;
  std::map<std::string, std::string> why_not;
  std::set<std::string> warm;

  bool live(const std::string &id) const {
    for (const auto &n : nodes)
      if (n.id == id) return true;
    return false;
  }
  // The preferred node: the highest rendezvous weight among live nodes matching the placement
  // (but `except`: the owner, when choosing a hot standby).
  std::string preferred_for(const ChannelRecord &rec, const std::string &except = "") const {
    std::string preferred;
    uint64_t best = 0;
    for (const auto &n : nodes) {
      if (n.id == except) continue;
      if (rec.placement.role != PlacementRole::kAny && !n.role.empty() &&
          n.role != to_string(rec.placement.role))
        continue;
      if (!rec.placement.node.empty() && rec.placement.node != n.id) continue;
      uint64_t w = rendezvous_weight(n.id, rec.channel_id);
      if (preferred.empty() || w > best) best = w, preferred = n.id;
    }
    return preferred;
  }
};

// Deletes `kv` if it is unchanged since it was read (a transaction on its mod_revision).
bool Cluster::delete_if_unchanged(const std::string &key, int64_t mod_revision) {
  nlohmann::json r;
  nlohmann::json txn = {{"compare",
                         {{{"key", b64(key)},
                           {"result", "EQUAL"},
                           {"target", "MOD"},
                           {"mod_revision", std::to_string(mod_revision)}}}},
                        {"success", {{{"request_delete_range", {{"key", b64(key)}}}}}}};
  return etcd_->call("/v3/kv/txn", txn, r) && r.value("succeeded", false);
}

// Reads the live nodes, the owner keys and the move-back requests; false when etcd failed.
bool Cluster::read_round(Round &rd) {
  Etcd &etcd = *etcd_;
  std::vector<Kv> node_kvs, owner_kvs, handover_kvs, standby_kvs;
  if (!etcd.range_prefix(kPrefix + "nodes/", node_kvs) ||
      !etcd.range_prefix(kPrefix + "owners/", owner_kvs) ||
      !etcd.range_prefix(kPrefix + "handover/", handover_kvs) ||
      !etcd.range_prefix(kPrefix + "standby/", standby_kvs)) {
    set_problem("etcd unreachable (" + etcd.last_error + ")");
    return false;
  }
  set_problem("");
  for (const auto &kv : node_kvs) {
    auto v = nlohmann::json::parse(kv.value, nullptr, false);
    if (!v.is_object()) continue;
    rd.nodes.push_back({v.value("node", ""), v.value("role", "")});
  }
  for (const auto &kv : owner_kvs) rd.owners[kv.key.substr(kPrefix.size() + 7)] = kv;
  for (const auto &kv : standby_kvs) rd.standbys[kv.key.substr(kPrefix.size() + 8)] = kv;
  // Move-back requests: <prefix>handover/<channel> = {"to": node}, on the asking node's lease.
  for (const auto &kv : handover_kvs) {
    std::string ch = kv.key.substr(kPrefix.size() + 9);
    auto v = nlohmann::json::parse(kv.value, nullptr, false);
    rd.handovers[ch] = kv;
    rd.handover_to[ch] = v.is_object() ? v.value("to", "") : "";
  }
  rd.ready = channels_.warm_ready(2);
  return true;
}

// A channel with an owner key: keep it, hand it over (move-back, the owner's side), or see it
// owned elsewhere and take it back when this node is its preferred node (the other side).
void Cluster::owned_channel(const ChannelRecord &rec, const Kv &kv, Round &rd) {
  const std::string &ch = rec.channel_id;
  auto v = nlohmann::json::parse(kv.value, nullptr, false);
  std::string owner = v.is_object() ? v.value("node", "") : "";
  auto ho = rd.handover_to.find(ch);
  if (owner == cfg_.node_id && kv.lease == lease_) {
    // The preferred node asks and its worker is live: stop serving first (this round's post
    // leaves the channel out); once the main loop has dropped it (fencing_token 0), delete the
    // owner key so that the asking node claims it.
    if (ho != rd.handover_to.end() && ho->second != cfg_.node_id && rd.live(ho->second) &&
        rd.preferred_for(rec) == ho->second) {
      rd.why_not[ch] =
          "handed over to node " + ho->second + ", its preferred node (make-before-break)";
      if (channels_.fencing_token(ch) == 0 && delete_if_unchanged(kv.key, kv.mod_revision))
        logger_.info(ch, "cluster: handed the channel over (make-before-break)",
                     {{"node", cfg_.node_id}, {"to", ho->second}});
      return;
    }
    rd.owned[ch] = kv.mod_revision;
    // A standby key of this node's left over (it owns the channel now): let another node be
    // the standby.
    if (auto sb = rd.standbys.find(ch);
        sb != rd.standbys.end() && node_of(sb->second) == cfg_.node_id)
      delete_if_unchanged(sb->second.key, sb->second.mod_revision);
    // This node's own move-back request is done once it owns the channel.
    if (ho != rd.handover_to.end() && ho->second == cfg_.node_id)
      delete_if_unchanged(rd.handovers[ch].key, rd.handovers[ch].mod_revision);
    return;
  }
  rd.why_not[ch] = "owned by node " + owner + " (etcd)";
  // A hot-standby channel does not move back: it already runs on two nodes (docs/cluster.md).
  if (rec.redundancy == Redundancy::kHotStandby) {
    standby_channel(rec, kv, owner, rd);
    return;
  }
  if (owner == cfg_.node_id || !rd.live(owner) || !channels_.not_runnable_reason(rec).empty() ||
      rd.preferred_for(rec) != cfg_.node_id)
    return;
  // This node is the preferred one again: run the worker here unserved; once it wrote
  // segments, ask the owner to hand the channel over.
  rd.warm.insert(ch);
  rd.why_not[ch] += "; taking it back once live here (make-before-break)";
  if (!rd.ready.count(ch) || (ho != rd.handover_to.end() && ho->second == cfg_.node_id)) return;
  nlohmann::json r;
  nlohmann::json value = {{"to", cfg_.node_id}};
  if (etcd_->call("/v3/kv/put",
                  {{"key", b64(kPrefix + "handover/" + ch)},
                   {"value", b64(value.dump())},
                   {"lease", std::to_string(lease_)}},
                  r))
    logger_.info(ch, "cluster: asked node " + owner + " to hand the channel over",
                 {{"node", cfg_.node_id}});
}

// A hot-standby channel owned by another node (`owner_kv`): this node is its standby (it holds
// the standby key <prefix>standby/<channel> on its own lease), or becomes it when there is none
// and this node is the preferred one among the live nodes other than the owner (or the key
// stayed absent for 3 rounds): a transaction that creates the standby key only if it does not
// exist and the owner key is unchanged.
void Cluster::standby_channel(const ChannelRecord &rec, const Kv &owner_kv,
                              const std::string &owner, Round &rd) {
  const std::string &ch = rec.channel_id;
  if (owner == cfg_.node_id) return;  // the owner's old lease (re-registering): nothing yet
  auto sb = rd.standbys.find(ch);
  if (sb != rd.standbys.end()) {
    standby_absent_.erase(ch);
    std::string node = node_of(sb->second);
    if (node == cfg_.node_id && sb->second.lease == lease_) {
      rd.standby[ch] = sb->second.mod_revision;
      rd.why_not[ch] = "owned by node " + owner + " (etcd); this node is its hot standby";
    } else {
      rd.why_not[ch] += "; hot standby on node " + node;
    }
    return;
  }
  if (!channels_.not_runnable_reason(rec).empty() || fresh_lease_ || !rd.live(owner)) return;
  std::string preferred = rd.preferred_for(rec, owner);
  if (preferred.empty()) return;
  if (preferred != cfg_.node_id && ++standby_absent_[ch] < 3) {
    rd.why_not[ch] += "; waiting for node " + preferred + " to be its hot standby";
    return;
  }
  std::string key = kPrefix + "standby/" + ch;
  nlohmann::json r;
  nlohmann::json value = {{"node", cfg_.node_id}, {"url", url_}};
  nlohmann::json txn = {
      {"compare", {absent(key), unchanged(owner_kv.key, owner_kv.mod_revision)}},
      {"success",
       {{{"request_put",
          {{"key", b64(key)}, {"value", b64(value.dump())}, {"lease", std::to_string(lease_)}}}}}}};
  if (etcd_->call("/v3/kv/txn", txn, r) && r.value("succeeded", false)) {
    int64_t rev = r.contains("header") ? i64(r["header"], "revision") : 0;
    rd.standby[ch] = rev;
    standby_absent_.erase(ch);
    rd.why_not[ch] = "owned by node " + owner + " (etcd); this node is its hot standby";
    logger_.info(
        ch, "cluster: this node is the channel's hot standby",
        {{"node", cfg_.node_id}, {"owner", owner}, {"standby_revision", std::to_string(rev)}});
  }
}

// A channel without an owner key: claim it when this node is its preferred node, or when it
// stayed unowned for 3 rounds. A hot standby claims it at once (its worker is live: no gap),
// and the others leave it that time. False when etcd failed.
bool Cluster::claim(const ChannelRecord &rec, Round &rd) {
  const std::string &ch = rec.channel_id;
  if (!channels_.not_runnable_reason(rec).empty()) return true;
  std::string preferred = rd.preferred_for(rec);
  std::string key = kPrefix + "owners/" + ch;
  nlohmann::json compare = {absent(key)};
  nlohmann::json ops = nlohmann::json::array();
  bool standby = false;
  std::string standby_node;
  if (auto sb = rd.standbys.find(ch);
      sb != rd.standbys.end() && rec.redundancy == Redundancy::kHotStandby) {
    standby_node = node_of(sb->second);
    standby = standby_node == cfg_.node_id && sb->second.lease == lease_;
    if (standby) {
      // The owner is gone: the standby becomes the owner and gives up the standby key in the
      // same transaction (another node becomes the standby next round).
      compare.push_back(unchanged(sb->second.key, sb->second.mod_revision));
      nlohmann::json del = nlohmann::json::object();
      del["request_delete_range"] = {{"key", b64(sb->second.key)}};
      ops.push_back(del);
    }
  }
  // Just registered: claim nothing this round, so that nodes starting together see each
  // other before they claim (else the first one takes everything and hands most back).
  if (fresh_lease_) {
    rd.why_not[ch] = "registering in etcd";
    return true;
  }
  int rounds = ++absent_[ch];
  if (!standby && !standby_node.empty() && rd.live(standby_node) && rounds < 3) {
    rd.why_not[ch] = "waiting for node " + standby_node + ", its hot standby, to take it (etcd)";
    return true;
  }
  if (!standby && (standby_node.empty() || !rd.live(standby_node)) && preferred != cfg_.node_id &&
      rounds < 3) {
    rd.why_not[ch] = "waiting for node " + preferred + " to take it (etcd)";
    return true;
  }
  nlohmann::json r;
  nlohmann::json value = {{"node", cfg_.node_id}, {"url", url_}};
  nlohmann::json put = nlohmann::json::object();
  put["request_put"] = {
      {"key", b64(key)}, {"value", b64(value.dump())}, {"lease", std::to_string(lease_)}};
  ops.insert(ops.begin(), put);
  nlohmann::json txn = {{"compare", compare}, {"success", ops}};
  if (!etcd_->call("/v3/kv/txn", txn, r)) {
    set_problem("etcd unreachable (" + etcd_->last_error + ")");
    return false;
  }
  if (r.value("succeeded", false)) {
    int64_t rev = r.contains("header") ? i64(r["header"], "revision") : 0;
    rd.owned[ch] = rev;
    absent_.erase(ch);
    logger_.info(ch,
                 standby ? "cluster: this node owns the channel (its hot standby took over)"
                         : "cluster: this node owns the channel",
                 {{"node", cfg_.node_id},
                  {"fencing_token", std::to_string(rev)},
                  {"preferred", preferred == cfg_.node_id ? "yes" : "no"}});
  } else {
    rd.why_not[ch] = "claimed by another node (etcd)";
    if (standby) rd.standby[ch] = rd.standbys[ch].mod_revision;
  }
  return true;
}

void Cluster::tick() {
  const int64_t ttl_us = (int64_t)cfg_.lease_ttl_seconds * G_USEC_PER_SEC;
  const int64_t sent = now_us();
  // 1. The node lease and the node key.
  if (!refresh_lease(sent, ttl_us)) return;
  // 2. Live nodes, owners, move-back requests.
  Round rd;
  if (!read_round(rd)) return;
  // 3. Each channel: keep, hand over, see it owned elsewhere (or take it back), or claim it.
  std::set<std::string> seen;
  for (const auto &rec : channels_.records()) {
    const std::string &ch = rec.channel_id;
    seen.insert(ch);
    if (rec.status != ChannelStatus::kActive) continue;
    auto it = rd.owners.find(ch);
    if (it != rd.owners.end()) {
      absent_.erase(ch);
      owned_channel(rec, it->second, rd);
    } else if (!claim(rec, rd)) {
      return;
    }
  }
  // Owner keys of channels no longer active here (record removed, disabled, retired) are
  // released, if they are still this node's, so a later record starts on its preferred node.
  std::set<std::string> active, hot;
  for (const auto &rec : channels_.records())
    if (rec.status == ChannelStatus::kActive) {
      active.insert(rec.channel_id);
      if (rec.redundancy == Redundancy::kHotStandby) hot.insert(rec.channel_id);
    }
  for (const auto &[ch, kv] : rd.owners) {
    if (active.count(ch) || kv.lease != lease_) continue;
    auto v = nlohmann::json::parse(kv.value, nullptr, false);
    if (!v.is_object() || v.value("node", "") != cfg_.node_id) continue;
    if (delete_if_unchanged(kv.key, kv.mod_revision))
      logger_.info(ch, "cluster: released the channel (no longer an active record)",
                   {{"node", cfg_.node_id}});
  }
  // Standby keys of channels no longer active hot-standby records here (or whose standby this
  // node no longer runs) are released too.
  for (const auto &[ch, kv] : rd.standbys) {
    if ((hot.count(ch) && rd.standby.count(ch)) || kv.lease != lease_ ||
        node_of(kv) != cfg_.node_id)
      continue;
    if (delete_if_unchanged(kv.key, kv.mod_revision))
      logger_.info(ch, "cluster: released the hot standby (no longer an active hot-standby record)",
                   {{"node", cfg_.node_id}});
  }
  for (auto it = absent_.begin(); it != absent_.end();)
    it = seen.count(it->first) ? std::next(it) : absent_.erase(it);
  for (auto it = standby_absent_.begin(); it != standby_absent_.end();)
    it = seen.count(it->first) ? std::next(it) : standby_absent_.erase(it);
  // Valid until the lease can have expired in etcd, less a margin for stopping.
  int64_t margin = std::max<int64_t>(G_USEC_PER_SEC, ttl_us / 5);
  fresh_lease_ = false;
  channels_.post_ownership(rd.owned, rd.why_not, last_ok_us_ + ttl_us - margin, rd.warm,
                           rd.standby);
}

}  // namespace iptv::daemon
