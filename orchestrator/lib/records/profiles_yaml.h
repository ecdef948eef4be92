// profiles.yaml beside the channel records: adds or overrides entries of the built-in profile
// catalog (core/profiles). Kept here, with the records loader, so that the catalog itself (which
// the plugin's iptvabrladder links) needs no YAML library.
//
//   720p-3mbps: {width: 1280, height: 720, kbps: 3200}
//   mobile-low: {width: 416, height: 234, kbps: 300, max_fps: 15}
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "profiles/profiles.h"

namespace iptv {

// Errors are appended as "file:line:col: profiles.NAME.field: message".
bool load_profiles_file(ProfileCatalog &catalog, const std::string &path,
                        std::vector<std::string> *errors);
bool load_profiles_yaml(ProfileCatalog &catalog, std::string_view text, const std::string &file,
                        std::vector<std::string> *errors);

}  // namespace iptv
