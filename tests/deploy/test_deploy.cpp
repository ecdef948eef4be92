// Issue 20 item 5: iptvd under systemd (Type=notify, watchdog, Delegate=yes) and `meson install`.
//  - SdNotifier speaks sd_notify(3)'s datagram protocol (path and abstract sockets), honours
//    WATCHDOG_PID and keeps NOTIFY_SOCKET from the workers;
//  - the delegated cgroup: IPTVD_CGROUP=self moves iptvd into a leaf and enables the controllers
//    (on a fake cgroup tree: this machine has cgroup v1, read-only);
//  - a real iptvd with a notify socket: READY=1 with a STATUS, watchdog pings at half the
//    interval, no NOTIFY_SOCKET in a worker's environment, STOPPING=1 on SIGTERM;
//  - the shipped unit passes `systemd-analyze verify` with no warning, and its flags are iptvd's;
//  - `meson install` into a DESTDIR puts every file where it belongs, and the installed iptvd,
//    its worker and the installed plugin serve the installed demo channels.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "../iptvd/iptvd_fixture.h"
#include "daemon/cgroup_delegate.h"
#include "test_support.h"
#include "util/sd_notify.h"

namespace fs = std::filesystem;
using iptv_test::sh;
using namespace iptvd_test;

namespace {

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string &path, bool abstract = false) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path + (abstract ? 1 : 0), path.data(), path.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 1 : 0);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr *>(&a), len), 0) << strerror(errno);
    timeval tv{0, 200 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { close(fd_); }
  // Messages received within `seconds` (each one datagram).
  std::vector<std::string> drain(double seconds) {
    std::vector<std::string> out;
    double end = now_s() + seconds;
    char buf[4096];
    while (now_s() < end) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) out.emplace_back(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

int count_with(const std::vector<std::string> &msgs, const std::string &needle) {
  int n = 0;
  for (const auto &m : msgs) n += m.find(needle) != std::string::npos;
  return n;
}

std::vector<std::string> environment_with(const std::vector<std::string> &extra,
                                          const std::set<std::string> &drop = {}) {
  std::vector<std::string> env;
  for (char **e = environ; *e; ++e) {
    std::string kv = *e;
    if (drop.count(kv.substr(0, kv.find('=')))) continue;
    env.push_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

TEST(SdNotifier, SendsToPathAndAbstractSocketsAndClearsTheEnvironment) {
  iptv_test::TempDir t;
  NotifySocket path_sock(t.path() + "/notify");
  setenv("NOTIFY_SOCKET", (t.path() + "/notify").c_str(), 1);
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  iptv::SdNotifier n = iptv::SdNotifier::from_environment();
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog_usec(), 4000000);
  EXPECT_EQ(getenv("NOTIFY_SOCKET"), nullptr);  // workers spawned later do not inherit it
  EXPECT_EQ(getenv("WATCHDOG_USEC"), nullptr);
  EXPECT_TRUE(n.notify("READY=1\nSTATUS=x"));
  auto got = path_sock.drain(0.3);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "READY=1\nSTATUS=x");

  std::string name = "iptv-test-" + std::to_string(getpid());
  NotifySocket abstract_sock(name, true);
  setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
  iptv::SdNotifier a = iptv::SdNotifier::from_environment();
  EXPECT_EQ(a.watchdog_usec(), 0);
  EXPECT_TRUE(a.notify("WATCHDOG=1"));
  got = abstract_sock.drain(0.3);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "WATCHDOG=1");
}

TEST(SdNotifier, WatchdogMeantForAnotherProcessAndNoSocketMeanNothing) {
  setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  setenv("WATCHDOG_USEC", "1000000", 1);
  setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(iptv::SdNotifier::from_environment().watchdog_usec(), 0);
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(iptv::SdNotifier::from_environment().enabled());
  unsetenv("NOTIFY_SOCKET");
  iptv::SdNotifier none = iptv::SdNotifier::from_environment();
  EXPECT_FALSE(none.enabled());
  EXPECT_FALSE(none.notify("READY=1"));
}

TEST(CgroupDelegate, SelfMovesIptvdIntoALeafAndEnablesTheControllers) {
  iptv_test::TempDir t;
  std::string root = t.path() + "/cgroup", svc = root + "/system.slice/iptvd.service";
  fs::create_directories(svc);
  write_file(svc + "/cgroup.subtree_control", "");
  write_file(t.path() + "/self", "0::/system.slice/iptvd.service\n");
  std::string err;
  EXPECT_EQ(iptv::daemon::prepare_worker_cgroup("self", &err, t.path() + "/self", root), svc)
      << err;
  EXPECT_EQ(slurp(svc + "/iptvd/cgroup.procs"), std::to_string(getpid()));
  EXPECT_EQ(slurp(svc + "/cgroup.subtree_control"), "+cpu +memory");

  // cgroup v1 only (as on this machine), not in a group of its own, a missing folder: refused
  // with the reason.
  write_file(t.path() + "/v1", "4:memory:/x\n0::/\n");
  EXPECT_EQ(iptv::daemon::prepare_worker_cgroup("self", &err, t.path() + "/v1", root), "");
  EXPECT_NE(err.find("not in a cgroup v2 group of its own"), std::string::npos) << err;
  write_file(t.path() + "/other", "0::/user.slice\n");
  err.clear();
  EXPECT_EQ(iptv::daemon::prepare_worker_cgroup("self", &err, t.path() + "/other", root), "");
  EXPECT_NE(err.find("is not a cgroup v2 folder"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(iptv::daemon::prepare_worker_cgroup(t.path() + "/nope", &err), "");
  EXPECT_NE(err.find("is not a folder"), std::string::npos) << err;
}

TEST(IptvdUnderSystemd, ReadyWatchdogStatusAndStopping) {
  iptv_test::TempDir t;
  fs::create_directories(t.path() + "/channels");
  write_file(t.path() + "/channels/news.yaml", channel_yaml("news"));
  NotifySocket sock(t.path() + "/notify");
  Iptvd d(t.path() + "/channels");
  // Pings every 250 ms.
  d.set_env(environment_with({"NOTIFY_SOCKET=" + t.path() + "/notify", "WATCHDOG_USEC=500000"}));
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  auto first = sock.drain(3.0);
  ASSERT_GE(count_with(first, "READY=1"), 1) << d.log();
  EXPECT_EQ(count_with(first, "READY=1"), 1);
  EXPECT_GE(count_with(first, "STATUS=1 channels"), 1);
  EXPECT_GE(count_with(first, "WATCHDOG=1"), 6) << "pings at half of WATCHDOG_USEC";
  ASSERT_TRUE(d.wait_live({"news"}, 60)) << d.log();
  // The worker does not inherit systemd's socket (NotifyAccess=main would drop its messages;
  // a worker must not be able to keep a hung daemon alive).
  pid_t w = d.worker_pid("news");
  ASSERT_GT(w, 0);
  std::string env = slurp("/proc/" + std::to_string(w) + "/environ");
  EXPECT_EQ(env.find("NOTIFY_SOCKET="), std::string::npos);
  EXPECT_EQ(env.find("WATCHDOG_USEC="), std::string::npos);
  auto later = sock.drain(1.0);
  EXPECT_GE(count_with(later, "WATCHDOG=1"), 2);
  d.signal(SIGTERM);
  auto stopping = sock.drain(1.0);
  EXPECT_GE(count_with(stopping, "STOPPING=1"), 1);
  EXPECT_EQ(d.wait_exit(30), 0) << d.log();
}

TEST(SystemdUnit, VerifiesCleanAndRunsIptvdWithItsOwnFlags) {
  if (sh("command -v systemd-analyze").empty()) GTEST_SKIP() << "systemd-analyze not installed";
  std::string unit = slurp(iptv_test::build_root() + "/deploy/systemd/iptvd.service");
  ASSERT_FALSE(unit.empty());
  for (const char *line : {"Type=notify", "WatchdogSec=", "Delegate=yes", "NotifyAccess=main",
                           "Environment=IPTVD_CGROUP=self", "ExecReload=/bin/kill -HUP $MAINPID"})
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(unit, m, std::regex("ExecStart=(\\S+)/iptvd ([^\\n]*)")));
  // Every flag the unit passes is one iptvd knows.
  std::string help = sh(iptv_test::build_root() + "/orchestrator/iptvd/iptvd --help 2>&1");
  std::string flags = m[2].str();
  std::regex flag_re("--[a-z-]+");
  for (auto it = std::sregex_iterator(flags.begin(), flags.end(), flag_re);
       it != std::sregex_iterator(); ++it)
    EXPECT_NE(help.find("[" + it->str() + " "), std::string::npos) << it->str() << "\n" << help;
  // systemd's own check, with ExecStart pointing at this build's binary (verify wants it to
  // exist); any warning (unknown key, bad value) fails.
  iptv_test::TempDir t;
  std::string copy = unit;
  copy.replace(m.position(1), m.length(1), iptv_test::build_root() + "/orchestrator/iptvd");
  write_file(t.path() + "/iptvd.service", copy);
  int st = 0;
  std::string out = sh(
      "SYSTEMD_LOG_TARGET=console systemd-analyze verify " + t.path() + "/iptvd.service 2>&1", &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_EQ(out, "") << out;
}

TEST(MesonInstall, EveryFileLandsAndTheInstalledDaemonServesTheDemo) {
  iptv_test::TempDir t;
  std::string dest = t.path() + "/dest";
  int st = 0;
  std::string out = sh(
      "meson install -C " + iptv_test::build_root() + " --no-rebuild --destdir " + dest + " 2>&1",
      &st);
  ASSERT_EQ(st, 0) << out;
  std::string prefix = sh("meson introspect " + iptv_test::build_root() +
                          " --buildoptions | python3 -c 'import json,sys; print([o[\"value\"] for "
                          "o in json.load(sys.stdin) if o[\"name\"]==\"prefix\"][0])'");
  while (!prefix.empty() && (prefix.back() == '\n' || prefix.back() == ' ')) prefix.pop_back();
  ASSERT_FALSE(prefix.empty());
  std::string p = dest + prefix;
  std::string plugin_dir = p + "/lib/x86_64-linux-gnu/gstreamer-1.0";
  for (const char *f :
       {"/bin/iptvd", "/bin/iptvd-worker", "/bin/iptvctl",
        "/lib/x86_64-linux-gnu/gstreamer-1.0/libgstiptv.so", "/lib/systemd/system/iptvd.service",
        "/etc/gst-iptv/iptvd.yaml", "/etc/gst-iptv/channels/demo-news.yaml",
        "/etc/gst-iptv/channels/logos/demo-news.svg", "/share/gst-iptv/console/index.html",
        "/share/gst-iptv/schemas/channel.schema.json", "/share/doc/gst-iptv/iptvd.md"})
    EXPECT_TRUE(fs::exists(p + f)) << f;
  for (const char *f : {"/bin/iptvd", "/bin/iptvd-worker", "/bin/iptvctl"})
    EXPECT_EQ(access((p + f).c_str(), X_OK), 0) << f;
  // The installed unit names the installed binary and config.
  std::string unit = slurp(p + "/lib/systemd/system/iptvd.service");
  EXPECT_NE(unit.find("ExecStart=" + prefix + "/bin/iptvd --config " + prefix +
                      "/etc/gst-iptv/iptvd.yaml"),
            std::string::npos)
      << unit;

  // The installed plugin, alone on the path, has the three elements.
  iptv_test::TempDir reg;
  std::string inspect = sh("GST_REGISTRY=" + reg.path() + "/r.bin GST_PLUGIN_PATH=" + plugin_dir +
                           " gst-inspect-1.0 iptv 2>&1");
  for (const char *e : {"iptvabrladder", "iptvhlssink", "iptvgapprobe"})
    EXPECT_NE(inspect.find(e), std::string::npos) << inspect;

  // The installed daemon with the installed config and demo channels, its worker found beside
  // it (no IPTVD_WORKER) and the installed plugin (not the build's).
  Iptvd d(p + "/etc/gst-iptv/channels", {"--config", p + "/etc/gst-iptv/iptvd.yaml"});
  d.set_binary(p + "/bin/iptvd");
  d.set_env(environment_with({"GST_PLUGIN_PATH=" + plugin_dir, "GST_PLUGIN_PATH_1_0=" + plugin_dir,
                              "GST_REGISTRY=" + reg.path() + "/d.bin"},
                             {"IPTVD_WORKER", "GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0",
                              "GST_REGISTRY", "LD_LIBRARY_PATH"}));
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"demo-music"}, 90)) << d.log();
  EXPECT_NE(d.log().find("iptv plugin found"), std::string::npos) << d.log();
  std::string worker_exe =
      fs::read_symlink("/proc/" + std::to_string(d.worker_pid("demo-music")) + "/exe").string();
  EXPECT_EQ(worker_exe, p + "/bin/iptvd-worker");
  // Tokens on (the installed config's default, keys made in the data folder): a URL signed by
  // the installed iptvctl plays.
  std::string url = sh(p + "/bin/iptvctl token --channel demo-music --ttl 300 --key-file " +
                       d.data() + "/token.keys --base " + d.base() + " 2>&1");
  while (!url.empty() && url.back() == '\n') url.pop_back();
  ASSERT_EQ(url.rfind(d.base() + "/hls/demo-music/", 0), 0u) << url;
  Reply master = fetch(url);
  EXPECT_EQ(master.status, 200) << url;
  EXPECT_NE(master.body.find("#EXTM3U"), std::string::npos);
  EXPECT_EQ(fetch(d.base() + "/hls/demo-music/index.m3u8").status, 403);  // no token
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(30), 0) << d.log();
}
