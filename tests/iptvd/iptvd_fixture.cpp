#include "iptvd_fixture.h"

#include <glib.h>
#include <fcntl.h>
#include <spawn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char **environ;

namespace iptvd_test {

std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_file(const std::string &path, const std::string &text) {
  // Write then rename, as an editor or `git checkout` would: the watcher sees one change.
  std::string tmp = path + ".tmp~";
  std::ofstream(tmp) << text;
  std::rename(tmp.c_str(), path.c_str());
}

double now_s() {
  return (double)g_get_monotonic_time() / 1e6;
}

bool wait_for(double seconds, const std::function<bool()> &pred) {
  double end = now_s() + seconds;
  while (now_s() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

std::string channel_yaml(const std::string &id, const std::string &extra,
                         const std::string &source) {
  return "channel_id: " + id + "\nsource: " + source +
         "\nprofiles: [180p-250kbps]\npreset: ultrafast\nkeyframe_interval_seconds: 1\n"
         "hls:\n  segment_seconds: 1\n  window_segments: 6\n" +
         extra;
}

Iptvd::Iptvd(std::string channels_dir, std::vector<std::string> extra_args, std::string data_dir)
    : channels_(std::move(channels_dir)), extra_(std::move(extra_args)) {
  data_dir_ = data_dir.empty() ? data_.path() : data_dir;
  log_path_ = data_.path() + "/iptvd.log";
  port_ = iptv_test::free_port();
}

Iptvd::~Iptvd() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    // Workers follow their parent (PDEATHSIG); give them a moment to go.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

void Iptvd::start() {
  std::string bin =
      binary_.empty() ? iptv_test::build_root() + "/orchestrator/iptvd/iptvd" : binary_;
  std::vector<std::string> args = {bin,
                                   "--channels",
                                   channels_,
                                   "--data",
                                   data_dir_,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  args.insert(args.end(), extra_.begin(), extra_.end());
  // Tokens are on by default (issue 21); tests that give no config get the tokenless origin
  // they were written for by saying so explicitly, as an operator has to.
  auto given = std::find(extra_.begin(), extra_.end(), "--config");
  if (given == extra_.end()) {
    std::string cfg = data_.path() + "/iptvd-test.yaml";
    write_file(cfg, "tokens:\n  mode: none\n");
    args.insert(args.end(), {"--config", cfg});
    group_channels(cfg);
  } else if (given + 1 != extra_.end()) {
    group_channels(*(given + 1));
  }
  std::vector<char *> argv;
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char *> envp;
  for (const char *var : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "GST_REGISTRY_FORK"}) {
    const char *v = getenv(var);
    std::string prefix = std::string(var) + "=";
    bool given = false;
    for (const auto &e : env_) given |= e.rfind(prefix, 0) == 0;
    if (v && use_env_ && !given) env_.push_back(prefix + v);
  }
  for (auto &e : env_) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc =
      posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), use_env_ ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = 0;
    return;
  }
  bool up = wait_for(30, [&] {  // 30 s: the shared 2-core machine is often loaded 10x
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = 0;
      return true;
    }
    return get("/healthz").status == 200;
  });
  if (!up || pid_ == 0) ADD_FAILURE() << "iptvd did not come up:\n" << log();
}

// IPTVD_TEST_CHANNELS_PER_PROCESS=N (the *-grouped tests, issue 23): the daemon runs its
// channels N to a worker process (worker.channels_per_process, transcode channels too), so the
// same tests cover both process modes. The key goes into the test's config (under its `worker:`
// mapping when it has one).
void Iptvd::group_channels(const std::string &cfg) {
  const char *n = getenv("IPTVD_TEST_CHANNELS_PER_PROCESS");
  if (!n || std::atoi(n) <= 1) return;
  std::string text = slurp(cfg);
  if (text.find("channels_per_process") != std::string::npos) return;
  std::string keys =
      "  channels_per_process: " + std::to_string(std::atoi(n)) + "\n  group_transcode: true\n";
  size_t at = text.find("\nworker:\n");
  if (text.rfind("worker:\n", 0) == 0)
    text.insert(8, keys);
  else if (at != std::string::npos)
    text.insert(at + 9, keys);
  else
    text += (text.empty() || text.back() == '\n' ? "" : "\n") + std::string("worker:\n") + keys;
  write_file(cfg, text);
}

void Iptvd::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Iptvd::wait_exit(double seconds) {
  double end = now_s() + seconds;
  while (pid_ > 0 && now_s() < end) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = 0;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::string Iptvd::admin_key() const {
  std::string k = slurp(data_dir_ + "/admin.key");
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
  return k;
}

static Http curl(const std::string &args) {
  iptv_test::TempDir d;
  std::string body = d.path() + "/b";
  Http h;
  std::string code = sh("curl -s -m 10 -o " + body + " -w '%{http_code}' " + args);
  h.status = std::atoi(code.c_str());
  h.body = slurp(body);
  return h;
}

Reply fetch(const std::string &url) {
  iptv_test::TempDir d;
  std::string hdr = d.path() + "/h", body = d.path() + "/b";
  sh("curl -s -m 20 -o " + body + " -D " + hdr + " '" + url + "'");
  Reply r;
  r.body = slurp(body);
  std::string h = slurp(hdr);
  size_t a = 0;
  while (a < h.size()) {
    size_t b = h.find('\n', a);
    if (b == std::string::npos) b = h.size();
    std::string line = h.substr(a, b - a);
    a = b + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      r.status = std::atoi(line.c_str() + line.find(' ') + 1);
      r.headers.clear();  // the last response's headers
      continue;
    }
    auto c = line.find(':');
    if (c == std::string::npos) continue;
    std::string k = line.substr(0, c), v = line.substr(c + 1);
    for (auto &ch : k) ch = (char)tolower(ch);
    while (!v.empty() && v[0] == ' ') v.erase(0, 1);
    r.headers[k] = v;
  }
  return r;
}

Http Iptvd::get(const std::string &path, const std::string &key) {
  std::string auth = key.empty() ? "" : "-H 'Authorization: Bearer " + key + "' ";
  return curl(auth + "'" + base() + path + "'");
}

Http Iptvd::post(const std::string &path, const std::string &body, const std::string &key) {
  std::string auth = key.empty() ? "" : "-H 'Authorization: Bearer " + key + "' ";
  return curl(auth + "-X POST -H 'Content-Type: application/json' --data '" + body + "' '" +
              base() + path + "'");
}

std::string Iptvd::playback_url(const std::string &channel, const std::string &region) {
  std::string body = R"({"channel_id":")" + channel + "\"" +
                     (region.empty() ? "" : R"(,"region":")" + region + "\"") + "}";
  Http r = post("/api/v1/sessions", body, admin_key());
  EXPECT_EQ(r.status, 201) << r.body;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("playback_url")) return "";
  return j["playback_url"].get<std::string>();
}

nlohmann::json Iptvd::channel(const std::string &id) {
  Http h = get("/api/v1/channels/" + id, admin_key());
  auto j = nlohmann::json::parse(h.body, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string Iptvd::state(const std::string &id) {
  std::string s = sql("SELECT state FROM st_channels WHERE channel_id='" + id + "'");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

pid_t Iptvd::worker_pid(const std::string &id) {
  auto j = channel(id);
  if (j.contains("worker") && j["worker"].contains("pid") && j["worker"]["pid"].is_number())
    return j["worker"]["pid"].get<pid_t>();
  return 0;
}

std::string Iptvd::worker_run(const std::string &id) {
  auto j = channel(id);
  if (!j.contains("worker") || !j["worker"].is_object()) return "";
  const auto &w = j["worker"];
  if (!w.contains("pid") || !w["pid"].is_number() || w["pid"].get<int>() <= 0) return "";
  return std::to_string(w["pid"].get<int>()) + "@" +
         (w.contains("started_at") ? w["started_at"].dump() : "");
}

std::string Iptvd::playlist(const std::string &id, const std::string &rendition) {
  return slurp(data_dir_ + "/hls/" + id + "/" + rendition + "/index.m3u8");
}

bool Iptvd::wait_live(const std::vector<std::string> &ids, double seconds, int segments) {
  return wait_for(seconds, [&] {
    for (const auto &id : ids) {
      if (state(id) != "live") return false;
      // The test channels' rendition, or a passthrough channel's.
      std::string r =
          std::filesystem::exists(data_dir_ + "/hls/" + id + "/source") ? "source" : "180p";
      if ((int)parse_media(playlist(id, r)).sequences.size() < segments) return false;
    }
    return true;
  });
}

std::string Iptvd::sql(const std::string &query) {
  return sh("sqlite3 -cmd '.timeout 2000' '" + data_dir_ + "/iptvd.db' \"" + query + "\"");
}

MediaList parse_media(const std::string &text) {
  MediaList m;
  std::istringstream in(text);
  std::string line;
  bool have_seq = false, disc = false;
  uint64_t next = 0;
  while (std::getline(in, line)) {
    if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) {
      m.media_sequence = std::stoull(line.substr(22));
      next = m.media_sequence;
      have_seq = true;
    } else if (line.rfind("#EXTINF:", 0) == 0) {
      m.durations.push_back(std::stod(line.substr(8)));
    } else if (line == "#EXT-X-DISCONTINUITY") {
      m.discontinuities++;
      disc = true;
    } else if (!line.empty() && line[0] != '#') {
      m.sequences.push_back(have_seq ? next++ : m.sequences.size());
      m.uris.push_back(line);
      m.discontinuity.push_back(disc);
      disc = false;
    }
  }
  return m;
}

// After a restart the numbers go on from UTC (epoch numbering), never back. A restart that
// took longer than a segment skips numbers; the live window then restarts at the new number
// behind a discontinuity, because a playlist's implied numbers (MEDIA-SEQUENCE + index) must be
// the segments' own (their names, DASH $Number$, _HLS_msn). A quicker restart keeps the old
// segments listed. Either way every listed name is its implied number.
void expect_continued(const MediaList &m, uint64_t last, const std::string &text,
                      const std::string &ext) {
  ASSERT_FALSE(m.sequences.empty()) << text;
  for (size_t i = 0; i < m.uris.size(); ++i)
    EXPECT_EQ(m.uris[i], "seg-" + std::to_string(m.sequences[i]) + ext) << text;
  if (m.sequences.front() > last) {
    EXPECT_GT(m.sequences.front(), last + 1) << "a restarted window follows a gap\n" << text;
    EXPECT_TRUE(m.discontinuity.front()) << text;
  } else {
    EXPECT_GE(m.discontinuities, 1) << text;
  }
  EXPECT_GT(m.sequences.back(), last) << text;
}

bool NginxEdge::wait_up() {
  return wait_for(10, [&] { return fetch(url("/")).status != 0; });
}

int port_of(const Iptvd &d) {
  return std::stoi(d.base().substr(d.base().rfind(':') + 1));
}

}  // namespace iptvd_test
