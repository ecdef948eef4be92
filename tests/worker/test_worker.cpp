// The real iptvd-worker binary against real local senders (gst-launch-1.0, ffmpeg, nginx-rtmp,
// GStreamer's RTSP server, a Python HTTP server) on 127.0.0.1, read through its status lines and
// its HLS output as a player reads it (playlists polled, segments probed with ffprobe).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A child process; stdout lines are collected (when `capture`), stdin is a pipe.
class Proc {
 public:
  Proc(const std::vector<std::string> &argv, const std::string &log, bool capture = false) {
    int in[2], out[2];
    EXPECT_EQ(pipe(in), 0);
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(in[0], 0);
      int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(capture ? out[1] : logfd, 1);
      dup2(logfd, 2);
      for (int fd = 3; fd < 1024; ++fd) close(fd);
      std::vector<char *> a;
      for (const auto &s : argv) a.push_back(const_cast<char *>(s.c_str()));
      a.push_back(nullptr);
      execvp(a[0], a.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    if (capture) {
      reader_ = std::thread([this, fd = out[0]] {
        std::string buf;
        char tmp[4096];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof tmp)) > 0) {
          buf.append(tmp, n);
          size_t nl;
          while ((nl = buf.find('\n')) != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            std::lock_guard<std::mutex> g(lock_);
            lines_.push_back({Clock::now(), line});
            cv_.notify_all();
          }
        }
        close(fd);
      });
    } else {
      close(out[0]);
    }
  }
  ~Proc() {
    if (pid_ > 0 && !exited_) {
      kill(-pid_, SIGKILL);
      wait_exit(5);
    }
    if (stdin_ >= 0) close(stdin_);
    if (reader_.joinable()) reader_.join();
  }
  void signal(int sig) { kill(-pid_, sig); }
  void send(const std::string &line) {
    std::string l = line + "\n";
    ASSERT_EQ(write(stdin_, l.data(), l.size()), (ssize_t)l.size());
  }
  // Exit code, or -1 on timeout, 128+sig when killed.
  int wait_exit(double seconds) {
    auto t0 = Clock::now();
    while (since(t0) < seconds) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  struct Line {
    Clock::time_point at;
    std::string text;
  };
  std::vector<Line> lines() {
    std::lock_guard<std::mutex> g(lock_);
    return lines_;
  }

 protected:
  pid_t pid_ = -1;
  bool exited_ = false;
  int stdin_ = -1;
  std::thread reader_;
  std::mutex lock_;
  std::condition_variable cv_;
  std::vector<Line> lines_;
};

struct Status {
  Clock::time_point at;
  json j;
};

class WorkerProc : public Proc {
 public:
  WorkerProc(const std::string &spec, const std::string &log)
      : Proc({getenv("IPTVD_WORKER"), "--spec", spec, "--status-fd", "1"}, log, true) {}
  std::vector<Status> status() {
    std::vector<Status> out;
    for (auto &l : lines()) {
      try {
        out.push_back({l.at, json::parse(l.text)});
      } catch (...) {
        ADD_FAILURE() << "not a JSON status line: " << l.text;
      }
    }
    return out;
  }
  // Waits for the first line (at or after index `from`) matching `pred`.
  std::optional<Status> wait_for(const std::function<bool(const json &)> &pred, double seconds,
                                 size_t from = 0) {
    auto t0 = Clock::now();
    while (since(t0) < seconds) {
      auto st = status();
      for (size_t i = from; i < st.size(); ++i)
        if (pred(st[i].j)) return st[i];
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }
  std::optional<Status> wait_event(const std::string &type, double seconds, size_t from = 0) {
    return wait_for([&](const json &j) { return j["t"] == "event" && j["event_type"] == type; },
                    seconds, from);
  }
  std::optional<Status> wait_state(const std::string &s, double seconds, size_t from = 0) {
    return wait_for([&](const json &j) { return j["t"] == "state" && j["state"] == s; }, seconds,
                    from);
  }
  int count(const std::string &t, size_t from = 0) {
    auto st = status();
    int n = 0;
    for (size_t i = from; i < st.size(); ++i) n += st[i].j["t"] == t;
    return n;
  }
  // Waits for `n` more segment lines of `rendition` after index `from`.
  bool wait_segments(int n, double seconds, size_t from = 0, const std::string &rendition = "") {
    return wait_for(
               [&, seen = 0](const json &j) mutable {
                 if (j["t"] == "segment" && (rendition.empty() || j["rendition"] == rendition))
                   ++seen;
                 return seen >= n;
               },
               seconds, from)
        .has_value();
  }
  void expect_no_errors() {
    for (auto &s : status()) EXPECT_NE(s.j["t"], "error") << s.j.dump();
  }
};

std::string run(const std::string &cmd) {
  std::string out;
  FILE *f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::string slurp(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct MediaSegment {
  uint64_t seq;
  bool discontinuity;
  double duration;
  std::string uri;
};

// Parses a media playlist the way a player does.
std::vector<MediaSegment> read_playlist(const std::string &path) {
  std::vector<MediaSegment> out;
  std::istringstream in(slurp(path));
  std::string line;
  uint64_t seq = 0;
  bool disc = false;
  double dur = 0;
  while (std::getline(in, line)) {
    if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0)
      seq = std::stoull(line.substr(22));
    else if (line == "#EXT-X-DISCONTINUITY")
      disc = true;
    else if (line.rfind("#EXTINF:", 0) == 0)
      dur = std::stod(line.substr(8));
    else if (!line.empty() && line[0] != '#') {
      out.push_back({seq++, disc, dur, line});
      disc = false;
    }
  }
  return out;
}

json base_spec(const std::string &hls_dir, const std::string &uri, const std::string &kind) {
  return json{{"channel_id", "t"},
              {"mode", "transcode"},
              {"sources", {{{"role", "primary"}, {"uri", uri}, {"kind", kind}}}},
              {"profiles", {{{"name", "180p"}, {"width", 320}, {"height", 180}, {"kbps", 250}}}},
              {"preset", "ultrafast"},
              {"keyframe_seconds", 1.0},
              {"width", 320},
              {"height", 180},
              {"fps", 25},
              {"hls", {{"dir", hls_dir}, {"segment_seconds", 1.0}, {"window", 30}}},
              {"failover", {{"enabled", false}, {"primary_loss_seconds", 2.0}}},
              {"heartbeat_ms", 500}};
}

std::string write_spec(const iptv_test::TempDir &dir, const json &spec) {
  std::string path = dir.path() + "/spec.json";
  std::ofstream(path) << spec.dump(2);
  return path;
}

int free_udp_port() {
  return iptv_test::free_port();  // a free TCP port is a free UDP port here in practice
}

// H.264 + AAC in MPEG-TS from gst-launch-1.0, to a udpsink or an srtsink.
std::vector<std::string> ts_sender(const std::string &pattern, const std::string &sink) {
  std::string d = "videotestsrc is-live=true pattern=" + pattern +
                  " ! video/x-raw,width=320,height=180,framerate=25/1 ! x264enc tune=zerolatency "
                  "speed-preset=ultrafast key-int-max=25 bitrate=300 ! h264parse ! mpegtsmux "
                  "name=m alignment=7 ! " +
                  sink +
                  " audiotestsrc is-live=true freq=330 ! audioconvert ! avenc_aac ! aacparse ! m.";
  std::vector<std::string> argv = {"gst-launch-1.0", "-q"};
  std::istringstream in(d);
  std::string w;
  while (in >> w) argv.push_back(w);
  return argv;
}

std::string probe_streams(const std::string &input, double timeout = 10) {
  return run("timeout " + std::to_string((int)timeout) +
             " ffprobe -v error -show_entries stream=codec_name,width,height -of "
             "compact=p=0:nk=1 '" +
             input + "' 2>&1");
}

void expect_transcoded_output(const std::string &hls_dir, WorkerProc &w, const char *what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(w.wait_state("live", 15)) << what << ": never live";
  ASSERT_TRUE(w.wait_segments(2, 10)) << what << ": no segments";
  auto segs = read_playlist(hls_dir + "/180p/index.m3u8");
  ASSERT_GE(segs.size(), 2u);
  std::string probe = probe_streams(hls_dir + "/180p/" + segs.back().uri);
  EXPECT_NE(probe.find("h264|320|180"), std::string::npos) << probe;
  EXPECT_NE(probe.find("aac"), std::string::npos) << probe;
  for (auto &s : w.status())
    if (s.j["t"] == "event") {
      EXPECT_NE(s.j["event_type"], "source.error") << s.j.dump();
    }
  w.expect_no_errors();
}

}  // namespace

// ---- transcode, status lines, commands, graceful stop ----

TEST(Transcode, TestSourceStatusLinesAndGracefulStop) {
  iptv_test::TempDir dir;
  std::string hls = dir.path() + "/hls";
  json spec = base_spec(hls, "test://smpte?tone=440", "test");
  spec["profiles"].push_back({{"name", "90p"}, {"width", 160}, {"height", 90}, {"kbps", 100}});
  WorkerProc w(write_spec(dir, spec), dir.path() + "/worker.log");
  ASSERT_TRUE(w.wait_state("live", 10));
  ASSERT_TRUE(w.wait_segments(3, 10, 0, "180p"));
  auto st = w.status();
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st[0].j["t"], "hello");
  EXPECT_EQ(st[0].j["channel_id"], "t");
  EXPECT_GE(w.count("hb"), 2);
  std::set<std::string> encoders;
  for (auto &s : st) {
    if (s.j["t"] == "encoder")
      encoders.insert(s.j["rendition"].get<std::string>() + "=" +
                      s.j["factory"].get<std::string>());
    if (s.j["t"] == "hb") {
      EXPECT_LT(s.j["media_age_ms"].get<int>(), 1000) << s.j.dump();
    }
    if (s.j["t"] == "segment") {
      EXPECT_NEAR(s.j["duration"].get<double>(), 1.0, 0.45) << s.j.dump();
      EXPECT_GT(s.j["bytes"].get<int>(), 1000);
      EXPECT_TRUE(s.j.contains("pdt"));
      EXPECT_TRUE(fs::exists(hls + "/" + s.j["uri"].get<std::string>())) << s.j.dump();
    }
  }
  EXPECT_EQ(encoders, (std::set<std::string>{"180p=x264enc", "90p=x264enc"}));
  EXPECT_TRUE(fs::exists(hls + "/index.m3u8"));

  // Commands: a bad one is refused, failover without backup is refused, a rendition toggles.
  size_t mark = w.status().size();
  w.send("{\"cmd\":\"reboot\"}");
  w.send("{\"cmd\":\"failover\"}");
  w.send("{\"cmd\":\"rendition\",\"name\":\"90p\",\"enabled\":false}");
  auto ack =
      w.wait_for([](const json &j) { return j["t"] == "ack" && j["cmd"] == "rendition"; }, 5, mark);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->j["ok"].get<bool>());
  int acks_false = 0;
  for (size_t i = mark; i < w.status().size(); ++i)
    acks_false += w.status()[i].j["t"] == "ack" && !w.status()[i].j["ok"].get<bool>();
  EXPECT_EQ(acks_false, 2);
  // 180p keeps going while 90p is off.
  size_t off_mark = w.status().size();
  ASSERT_TRUE(w.wait_segments(2, 6, off_mark, "180p"));
  w.send("{\"cmd\":\"rendition\",\"name\":\"90p\",\"enabled\":true}");

  // SIGTERM: EOS, the open segment finished and listed, exit 0.
  auto t0 = Clock::now();
  w.signal(SIGTERM);
  EXPECT_EQ(w.wait_exit(10), 0);
  EXPECT_LT(since(t0), 5.0);
  std::string last_uri;
  for (auto &s : w.status())
    if (s.j["t"] == "segment" && s.j["rendition"] == "180p") last_uri = s.j["uri"];
  auto segs = read_playlist(hls + "/180p/index.m3u8");
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ("180p/" + segs.back().uri, last_uri);
  std::string probe = probe_streams(hls + "/" + last_uri);
  EXPECT_NE(probe.find("h264"), std::string::npos) << probe;
  w.expect_no_errors();
}

TEST(Transcode, BadSpecIsAnErrorLine) {
  iptv_test::TempDir dir;
  json spec = base_spec(dir.path() + "/hls", "test://smpte", "test");
  spec["sources"][0]["kind"] = "ftp";
  WorkerProc w(write_spec(dir, spec), dir.path() + "/worker.log");
  EXPECT_EQ(w.wait_exit(10), 2);
  auto st = w.status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].j["t"], "error");
  EXPECT_NE(st[0].j["message"].get<std::string>().find("sources[0].kind"), std::string::npos);
}
