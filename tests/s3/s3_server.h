// A real S3-compatible server for tests: s3rver from npm (tests/s3/package-lock.json), started
// by node on 127.0.0.1 at a free port with one bucket; stopped (SIGTERM, then SIGKILL) when the
// object goes. Objects are kept as files under dir()/<bucket>/<key>._S3rver_object.
#pragma once

#include <string>
#include <sys/types.h>

namespace iptv_test {

// "" when the server can be started here, else what is missing (node, npm modules).
std::string s3_server_missing();

class S3Server {
 public:
  S3Server(std::string dir, std::string bucket);
  ~S3Server();
  bool start();  // false (see log()) when it did not come up within 30 s
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string &dir() const { return dir_; }
  const std::string &bucket() const { return bucket_; }
  // The stored bytes of an object ("" when absent), and how many objects the bucket holds.
  std::string object(const std::string &key) const;
  int object_count() const;
  std::string log() const { return log_; }

 private:
  std::string dir_, bucket_, log_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

}  // namespace iptv_test
