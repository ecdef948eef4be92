// The rendezvous (highest random weight) hash of channel ownership, header-only and free of the
// daemon's dependencies, so that the cluster tests compute the preferred node with the very
// function iptvd uses.
#pragma once

#include <cstdint>
#include <string>

namespace iptv::daemon {

// The node with the highest weight for a channel is its preferred node. Stable: a node joining
// or leaving moves only the channels it wins or held. 64-bit FNV-1a of "node\nchannel", then a
// splitmix64 finalizer to spread the bits.
inline uint64_t rendezvous_weight(const std::string &node_id, const std::string &channel) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : node_id + "\n" + channel) {
    h ^= (unsigned char)ch;
    h *= 1099511628211ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace iptv::daemon
