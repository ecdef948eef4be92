#include "daemon/cgroup_delegate.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace iptv::daemon {

namespace {

bool write_text(const std::string &path, const std::string &text, std::string *error) {
  std::ofstream f(path);
  f << text;
  f.flush();
  if (f) return true;
  *error = "cannot write '" + text + "' to " + path;
  return false;
}

}  // namespace

std::string prepare_worker_cgroup(const std::string &spec, std::string *error,
                                  const std::string &proc_self_cgroup,
                                  const std::string &cgroup_root) {
  namespace fs = std::filesystem;
  if (spec.empty()) return "";
  if (spec != "self") {
    if (!fs::is_directory(spec)) {
      *error = "IPTVD_CGROUP " + spec + " is not a folder";
      return "";
    }
    return spec;
  }
  // The unified hierarchy's line: "0::/system.slice/iptvd.service".
  std::ifstream in(proc_self_cgroup);
  std::string line, own;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  if (own.empty() || own == "/") {
    *error = "IPTVD_CGROUP=self: this process is not in a cgroup v2 group of its own (" +
             proc_self_cgroup + ")";
    return "";
  }
  std::string base = cgroup_root + own;
  if (!fs::exists(base + "/cgroup.subtree_control")) {
    *error = "IPTVD_CGROUP=self: " + base + " is not a cgroup v2 folder";
    return "";
  }
  std::error_code ec;
  fs::create_directories(base + "/iptvd", ec);
  if (ec) {
    *error = "IPTVD_CGROUP=self: cannot create " + base + "/iptvd (is Delegate=yes set?)";
    return "";
  }
  if (!write_text(base + "/iptvd/cgroup.procs", std::to_string(getpid()), error) ||
      !write_text(base + "/cgroup.subtree_control", "+cpu +memory", error))
    return "";
  return base;
}

}  // namespace iptv::daemon
