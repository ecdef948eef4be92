#include "s3_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace iptv_test {
namespace fs = std::filesystem;

namespace {
std::string s3_dir() {
  const char *src = std::getenv("IPTV_SOURCE_ROOT");
  return std::string(src ? src : ".") + "/tests/s3";
}
}  // namespace

std::string s3_server_missing() {
  if (std::system("command -v node >/dev/null 2>&1") != 0) return "node (apt-get install nodejs)";
  if (!fs::exists(s3_dir() + "/node_modules/s3rver"))
    return "tests/s3/node_modules/s3rver (scripts/setup runs npm ci there)";
  return "";
}

S3Server::S3Server(std::string dir, std::string bucket)
    : dir_(std::move(dir)), bucket_(std::move(bucket)) {}

S3Server::~S3Server() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; i++) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool S3Server::start() {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return false;
  std::string script = s3_dir() + "/s3server.mjs";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    // s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its
    // legacy provider: without it a listing longer than one page fails with InternalError.
    ::execlp("node", "node", "--openssl-legacy-provider", script.c_str(), "--dir", dir_.c_str(),
             "--bucket", bucket_.c_str(), static_cast<char *>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  stdin_fd_ = in[1];
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && line.find('\n') == std::string::npos) {
    struct pollfd p {
      out[0], POLLIN, 0
    };
    if (::poll(&p, 1, 500) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  log_ = line;
  size_t p = line.find("\"port\":");
  if (p == std::string::npos) return false;
  port_ = std::atoi(line.c_str() + p + 7);
  return port_ > 0;
}

std::string S3Server::object(const std::string &key) const {
  std::ifstream f(dir_ + "/" + bucket_ + "/" + key + "._S3rver_object", std::ios::binary);
  if (!f) return "";
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int S3Server::object_count() const {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_ + "/" + bucket_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > 15 && name.compare(name.size() - 15, 15, "._S3rver_object") == 0) n++;
  }
  return n;
}

}  // namespace iptv_test
