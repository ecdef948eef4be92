#include "test_support.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

extern "C" {
// Weak: resolved only when the test binary links GStreamer.
void gst_init(int *argc, char ***argv) __attribute__((weak));
}

namespace iptv_test {
namespace {

struct Expectation {
  std::string substring;
  int count = 0;
  bool active = true;
};

std::mutex g_mu;
std::vector<Expectation> g_expect;

GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer) {
  if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
    std::string message, domain;
    for (gsize i = 0; i < n_fields; ++i) {
      if (g_strcmp0(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
        message = static_cast<const char *>(fields[i].value);
      if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
        domain = static_cast<const char *>(fields[i].value);
    }
    std::lock_guard<std::mutex> lock(g_mu);
    bool expected = false;
    for (auto &e : g_expect) {
      if (e.active && message.find(e.substring) != std::string::npos) {
        e.count++;
        expected = true;
        break;
      }
    }
    if (!expected) {
      // GoogleTest's assertions are thread-safe: this fails whichever test is running, even when
      // the warning came from a streaming thread.
      ADD_FAILURE() << "unexpected GLib warning/critical: " << (domain.empty() ? "" : domain + ": ")
                    << message;
    }
  }
  return g_log_writer_standard_streams(level, fields, n_fields, nullptr);
}

}  // namespace

void install_glog_guard() {
  g_log_set_writer_func(writer, nullptr, nullptr);
}

void init_gstreamer_if_linked(int *argc, char ***argv) {
  if (gst_init) gst_init(argc, argv);
}

ExpectGLog::ExpectGLog(std::string substring) {
  std::lock_guard<std::mutex> lock(g_mu);
  index_ = g_expect.size();
  g_expect.push_back({std::move(substring), 0, true});
}

ExpectGLog::~ExpectGLog() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_expect[index_].active = false;
}

int ExpectGLog::count() const {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_expect[index_].count;
}

std::string build_root() {
  const char *v = std::getenv("IPTV_BUILD_ROOT");
  return v ? v : ".";
}

std::string source_root() {
  const char *v = std::getenv("IPTV_SOURCE_ROOT");
  return v ? v : ".";
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "iptv-test-XXXXXX").string();
  char *p = ::mkdtemp(tmpl.data());
  if (p) path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string sh(const std::string &cmd, int *status) {
  std::string out;
  FILE *f = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int st = f ? pclose(f) : -1;
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

}  // namespace iptv_test
