// Starts a real iptvd (and its real iptvd-worker children) on 127.0.0.1 with a free port and a
// temporary data folder, and talks to it as clients do: curl for HTTP, ffprobe for media, the
// SQLite file for stored state.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nginx_edge.h"
#include "test_support.h"

namespace iptvd_test {

using iptv_test::sh;
std::string slurp(const std::string &path);
void write_file(const std::string &path, const std::string &text);
double now_s();
// Polls `pred` every 100 ms until it holds or `seconds` pass.
bool wait_for(double seconds, const std::function<bool()> &pred);

// A small, fast test channel (180p ultrafast, 1 s segments).
std::string channel_yaml(const std::string &id, const std::string &extra = "",
                         const std::string &source = "test://smpte?tone=440");

// A GET by curl with the last response's status, headers (lower-case names) and body.
struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};
Reply fetch(const std::string &url);

struct Http {
  int status = 0;
  std::string body;
};

class Iptvd {
 public:
  // `channels` is the channels folder; data lives in its own temp folder unless `data_dir` is
  // given (to restart a daemon over the same state).
  Iptvd(std::string channels_dir, std::vector<std::string> extra_args = {},
        std::string data_dir = "");
  ~Iptvd();
  void start();
  // Run iptvd with exactly this environment ("NAME=value" strings) instead of the test's, and
  // this binary instead of the build tree's (set before start()). The sanitized run's own
  // settings (ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS, GST_REGISTRY_FORK) are passed on from the
  // test's environment unless given: they configure scripts/test --asan-integration, not the
  // daemon. Without them an `env -i` iptvd ran its workers with leak detection on and no report
  // file, and GStreamer's plugin scanner (no ASan runtime) could not load the sanitized plugin.
  void set_env(std::vector<std::string> env) {
    env_ = std::move(env);
    use_env_ = true;
  }
  void set_binary(std::string path) { binary_ = std::move(path); }
  void signal(int sig);
  static void group_channels(const std::string &config_path);
  // Waits for the process to exit; returns the exit code (or 128+signal); -1 on timeout.
  int wait_exit(double seconds);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string &data() const { return data_dir_; }
  std::string log() const { return slurp(log_path_); }
  std::string admin_key() const;
  Http get(const std::string &path, const std::string &key = "");
  Http post(const std::string &path, const std::string &body, const std::string &key = "");
  nlohmann::json channel(const std::string &id);
  // A playback session's URL (POST /api/v1/sessions with the admin key; `region` when given);
  // "" (and a test failure) when the API refuses it.
  std::string playback_url(const std::string &channel, const std::string &region = "");
  std::string state(const std::string &id);
  pid_t worker_pid(const std::string &id);
  // One run of the channel's worker: "<pid>@<started_at>" ("" when none). Unlike the pid, it
  // changes when a grouped channel (worker.channels_per_process) restarts inside its process.
  std::string worker_run(const std::string &id);
  // Media playlist of one rendition, read from disk (the tree the origin serves).
  std::string playlist(const std::string &id, const std::string &rendition);
  // Waits until every listed channel is live with at least `segments` segments.
  bool wait_live(const std::vector<std::string> &ids, double seconds, int segments = 1);
  // Rows of an SQL query on the daemon's database (sqlite3 CLI, '|' separated).
  std::string sql(const std::string &query);

 private:
  std::string channels_;
  std::vector<std::string> extra_;
  iptv_test::TempDir data_;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = 0;
  bool use_env_ = false;
  std::vector<std::string> env_;
  std::string binary_;
};

// Sequence numbers and EXTINF durations of a media playlist.
struct MediaList {
  uint64_t media_sequence = 0;
  std::vector<uint64_t> sequences;
  std::vector<double> durations;
  std::vector<std::string> uris;
  std::vector<bool> discontinuity;  // per segment: EXT-X-DISCONTINUITY before it
  int discontinuities = 0;
};
MediaList parse_media(const std::string &text);
// Checks a live playlist after a restart whose previous run ended at sequence `last` (gtest
// assertions): numbers went on past `last`, every listed name is its implied number, and the
// break is marked (the window kept with a discontinuity, or restarted after a gap in numbers).
void expect_continued(const MediaList &m, uint64_t last, const std::string &text,
                      const std::string &ext = ".ts");

// Debian's nginx running the shipped edge config (docs/deploy/nginx-edge.conf) in front of an
// origin on 127.0.0.1:origin_port (tests/common/nginx_edge.h with the origin filled in). `edit`
// may change the config text first (a throttled or misconfigured edge); `port` 0 takes a free
// one. Stopped when destroyed.
class NginxEdge : public iptv_test::NginxEdge {
 public:
  NginxEdge(const std::string &dir, int origin_port,
            const std::function<void(std::string &conf)> &edit = {}, int port = 0)
      : iptv_test::NginxEdge(dir, "docs/deploy/nginx-edge.conf",
                             {{"@ORIGIN@", "127.0.0.1:" + std::to_string(origin_port)}}, edit,
                             port) {}
  bool wait_up();
};

// The port of a daemon's base URL (http://127.0.0.1:PORT).
int port_of(const Iptvd &d);

}  // namespace iptvd_test
