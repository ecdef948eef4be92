// Transcode profiles: the built-in catalog shared by channel records, iptvabrladder and iptvd.
//
// A profile is named either from the catalog ("720p-3mbps") or explicitly as
// WIDTHxHEIGHT@KBPS or WIDTHxHEIGHT@KBPS@FPS ("1280x720@3000", "1280x720@3000@30").
// "passthrough" means no transcode. A profiles.yaml beside the channel records can add or override
// catalog entries: that YAML reader is orchestrator/lib/records/profiles_yaml.h, so this catalog
// (linked by the plugin) needs no YAML library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iptv {

struct Profile {
  std::string name;  // as written in the record
  int width = 0;
  int height = 0;
  int kbps = 0;
  int max_fps = 0;  // 0: keep the source's frame rate; otherwise cap it (e.g. 30 from 60)
  bool passthrough = false;
};

class ProfileCatalog {
 public:
  // The built-in catalog.
  ProfileCatalog();

  // Adds or overrides an entry (profiles.yaml, see records/profiles_yaml.h).
  void set(const Profile &p);

  // Resolves a catalog name, "passthrough", or an explicit WIDTHxHEIGHT@KBPS[@FPS].
  // On failure returns nullopt and explains in `error` (with a "did you mean" when close).
  std::optional<Profile> resolve(std::string_view name, std::string *error = nullptr) const;

  // Catalog names, in catalog order (largest first for the built-ins).
  std::vector<std::string> names() const;

 private:
  std::vector<Profile> entries_;
};

// Parses only the explicit form WIDTHxHEIGHT@KBPS[@FPS]; nullopt when `s` is not of that form.
std::optional<Profile> parse_explicit_profile(std::string_view s);

}  // namespace iptv
