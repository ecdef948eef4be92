// Debian's etcd (etcd-server) for the cluster tests: one member on free loopback ports with its
// own data folder, and reads of the ownership keys through its JSON gateway. Header-only.
#pragma once

#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/rendezvous.h"
#include "iptvd_fixture.h"

extern char **environ;

namespace iptvd_test {

// The preferred node of a channel among `nodes`, by the daemon's own rendezvous hash.
using iptv::daemon::rendezvous_weight;
inline std::string preferred_node(const std::vector<std::string> &nodes,
                                  const std::string &channel) {
  std::string best;
  for (const auto &n : nodes)
    if (best.empty() || rendezvous_weight(n, channel) > rendezvous_weight(best, channel)) best = n;
  return best;
}

// One etcd member on 127.0.0.1 (client and peer ports free), killed when destroyed.
class Etcd {
 public:
  Etcd() {
    client_ = iptv_test::free_port();
    int peer = iptv_test::free_port();
    std::string c = url();
    std::string p = "http://127.0.0.1:" + std::to_string(peer);
    std::vector<std::string> args = {"/usr/bin/etcd",
                                     "--name",
                                     "t",
                                     "--data-dir",
                                     dir_.path() + "/data",
                                     "--listen-client-urls",
                                     c,
                                     "--advertise-client-urls",
                                     c,
                                     "--listen-peer-urls",
                                     p,
                                     "--initial-advertise-peer-urls",
                                     p,
                                     "--initial-cluster",
                                     "t=" + p,
                                     "--logger",
                                     "zap"};
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string out = dir_.path() + "/etcd.out";
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Etcd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool wait_up() {
    return pid_ > 0 && wait_for(30, [&] {
             return sh(curl_ + "-s -m 2 " + url() + "/health").find("true") != std::string::npos;
           });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_); }
  void signal(int sig) { ::kill(pid_, sig); }
  // The range answer for the owner key of `channel`, read through the JSON gateway. `kind`
  // "standby": its hot-standby key (docs/cluster.md).
  nlohmann::json owner_key(const std::string &channel, const std::string &kind = "owners") {
    std::string key = "/iptv/" + kind + "/" + channel;
    gchar *k = g_base64_encode((const guchar *)key.data(), key.size());
    std::string out =
        sh(curl_ + "-s -m 5 -X POST " + url() + "/v3/kv/range -d '{\"key\":\"" + k + "\"}'");
    g_free(k);
    return nlohmann::json::parse(out, nullptr, false);
  }
  // The value of the owner key of `channel` ("" when none), read through the JSON gateway.
  std::string owner(const std::string &channel, const std::string &kind = "owners") {
    auto j = owner_key(channel, kind);
    if (!j.is_object() || !j.contains("kvs")) return "";
    gsize n = 0;
    guchar *v = g_base64_decode(j["kvs"][0].value("value", "").c_str(), &n);
    std::string s((const char *)v, n);
    g_free(v);
    auto o = nlohmann::json::parse(s, nullptr, false);
    return o.is_object() ? o.value("node", "") : "";
  }
  // The owner key of `channel` at every revision of the store so far (etcd keeps its history
  // until compacted; nothing compacts in a test): (revision, owner node, "" when no key) at each
  // revision where it changed. Read with ranges at past revisions, so nothing in between is
  // missed.
  std::vector<std::pair<int64_t, std::string>> owner_history(const std::string &channel,
                                                             const std::string &kind = "owners") {
    std::string key = "/iptv/" + kind + "/" + channel;
    gchar *k = g_base64_encode((const guchar *)key.data(), key.size());
    std::string kb = k;
    g_free(k);
    auto range = [&](int64_t rev) {
      std::string body = "{\"key\":\"" + kb + "\"" +
                         (rev ? ",\"revision\":\"" + std::to_string(rev) + "\"" : "") + "}";
      return nlohmann::json::parse(
          sh(curl_ + "-s -m 5 -X POST " + url() + "/v3/kv/range -d '" + body + "'"), nullptr,
          false);
    };
    std::vector<std::pair<int64_t, std::string>> out;
    auto now = range(0);
    if (!now.is_object() || !now.contains("header")) return out;
    int64_t head = std::strtoll(now["header"].value("revision", "0").c_str(), nullptr, 10);
    std::string last = "?";
    for (int64_t rev = 1; rev <= head; ++rev) {
      auto j = range(rev);
      std::string node;
      if (j.is_object() && j.contains("kvs")) {
        gsize n = 0;
        guchar *v = g_base64_decode(j["kvs"][0].value("value", "").c_str(), &n);
        auto o = nlohmann::json::parse(std::string((const char *)v, n), nullptr, false);
        g_free(v);
        node = o.is_object() ? o.value("node", "") : "";
      }
      if (node != last) out.push_back({rev, node});
      last = node;
    }
    return out;
  }
  // The owner key's mod_revision (the fencing token; 0 when there is no key).
  int64_t revision(const std::string &channel) {
    auto j = owner_key(channel);
    if (!j.is_object() || !j.contains("kvs")) return 0;
    return std::strtoll(j["kvs"][0].value("mod_revision", "0").c_str(), nullptr, 10);
  }

 private:
  iptv_test::TempDir dir_;
  std::string curl_ = "curl ";
  int client_ = 0;
  pid_t pid_ = 0;
};

}  // namespace iptvd_test
