// A delegated cgroup v2 subtree for per-worker limits (systemd: Delegate=yes).
//
// cgroup v2 lets a group hand the cpu and memory controllers to its children only while it holds
// no process itself. Under Delegate=yes iptvd starts in the service's own group
// (/sys/fs/cgroup/system.slice/iptvd.service), so with IPTVD_CGROUP=self it first moves itself
// into a leaf "<service>/iptvd", then enables +cpu +memory for the service's children; each
// worker then gets "<service>/worker-<pid>" with cpu.max and memory.max (worker_process.cpp).
// IPTVD_CGROUP=<folder> names a delegated folder directly (nothing is moved).
#pragma once

#include <string>

namespace iptv::daemon {

// Resolves IPTVD_CGROUP's value to the folder workers' groups are made in; "" with *error set
// when it cannot be used (the limits then fall back to rlimits only). `proc_self_cgroup` and
// `cgroup_root` are for tests.
std::string prepare_worker_cgroup(const std::string &spec, std::string *error,
                                  const std::string &proc_self_cgroup = "/proc/self/cgroup",
                                  const std::string &cgroup_root = "/sys/fs/cgroup");

}  // namespace iptv::daemon
