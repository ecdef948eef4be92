// Debian's nginx running one of the shipped edge configs (docs/deploy/*.conf) with its
// placeholders filled in, in a test's folder. One worker (a shared 2-core machine); as root the
// worker keeps root so it can write the test's 0700 folder (nginx would switch it to 'nobody').
// Header-only: the suites that use it link no more than they did. The iptvd fixture's edge
// (iptvd_fixture.h) is this one with the origin filled in.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "test_support.h"

namespace iptv_test {

class NginxEdge {
 public:
  // `conf`: a path under the source tree ("docs/deploy/nginx-edge.conf"); `subst`: placeholder
  // -> value (@PREFIX@ and @LISTEN@ are filled in here); `edit` may change the text after
  // that (a throttled or misconfigured edge); `port` 0 takes a free one.
  NginxEdge(const std::string &prefix, const std::string &conf,
            std::map<std::string, std::string> subst,
            const std::function<void(std::string &conf)> &edit = {}, int port = 0)
      : prefix_(prefix), port_(port ? port : free_port()) {
    std::filesystem::create_directories(prefix_);
    std::string text = read(source_root() + "/" + conf);
    subst["@PREFIX@"] = prefix_;
    subst["@LISTEN@"] = "127.0.0.1:" + std::to_string(port_);
    subst["worker_processes auto;"] =
        geteuid() == 0 ? "worker_processes 1;\nuser root;" : "worker_processes 1;";
    for (const auto &[k, v] : subst)
      for (size_t at; (at = text.find(k)) != std::string::npos;) text.replace(at, k.size(), v);
    if (edit) edit(text);
    std::ofstream(prefix_ + "/nginx.conf") << text;
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = prefix_ + "/nginx.out";
      if (FILE *f = fopen(log.c_str(), "w")) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      execlp("nginx", "nginx", "-p", prefix_.c_str(), "-c", (prefix_ + "/nginx.conf").c_str(),
             (char *)nullptr);
      _exit(127);
    }
  }
  ~NginxEdge() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  NginxEdge(const NginxEdge &) = delete;
  NginxEdge &operator=(const NginxEdge &) = delete;

  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string &path) const { return base() + path; }
  std::string logs() const { return slurp("/nginx.out") + slurp("/error.log"); }
  std::string access_log() const { return slurp("/access.log"); }
  // Access-log lines (the shipped `iptv_edge` format) whose request line contains `needle` and
  // that went to the origin (upstream is not "-").
  int origin_fetches(const std::string &needle) const {
    int n = 0;
    std::regex re(R"re("GET (\S+) HTTP[^"]*" \d+ \d+ cache=\S* upstream=(\S+))re");
    std::string log = access_log();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
         ++it)
      if ((*it)[1].str().find(needle) != std::string::npos && (*it)[2] != "-") ++n;
    return n;
  }

 private:
  static std::string read(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string slurp(const std::string &name) const { return read(prefix_ + name); }
  std::string prefix_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace iptv_test
