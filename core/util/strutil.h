// Small string helpers shared by the core, the plugin and the daemon.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace iptv {

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty = true);
std::string trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);

// Edit distance (with adjacent transpositions), for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, or "" when none is close enough to be a plausible typo.
std::string nearest(std::string_view word, const std::vector<std::string> &candidates);

// UTC ISO 8601 of a unix time in milliseconds: "2026-11-29T18:30:00.123Z" with `with_ms`,
// "2026-11-29T18:30:00Z" without (HLS PROGRAM-DATE-TIME, logs, API and event times).
std::string iso8601_utc(int64_t unix_ms, bool with_ms);

}  // namespace iptv
