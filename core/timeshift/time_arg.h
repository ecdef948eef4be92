// Times in time-addressed URLs (`?start=T&end=T`, catch-up): unix seconds ("1796668159",
// "1796668159.5") or ISO 8601 with a zone ("2026-12-07T18:29:19Z", "...T18:29:19.250+01:00",
// "...T182919Z" is not accepted: the extended form only). A time without a zone is refused
// rather than guessed. GStreamer-free and allocation-light: parsed on the origin's request path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace iptv::timeshift {

struct TimeArg {
  int64_t unix_ms = 0;
  std::string error;  // "" when parsed; else why, in words a player's operator can act on
  bool ok() const { return error.empty(); }
};

TimeArg parse_time_arg(std::string_view text);

// A catch-up range check against "now" and what is kept: refuses inverted ranges, times in the
// future beyond `max_future_ms`, and times before `oldest_ms` (outside retention or rights).
struct RangeCheck {
  int status = 200;    // 200, 400 (malformed/inverted), 403 (beyond the rights), 404 (not kept)
  std::string reason;  // a short token: "inverted", "future", "beyond_rights", "not_retained"
};
// `end_ms` = 0 means an open range (live from a past point). `rights_oldest_ms` is the oldest
// time the rights permit (now - catchup_days), `kept_oldest_ms` the oldest segment on record.
RangeCheck check_range(int64_t start_ms, int64_t end_ms, int64_t now_ms, int64_t rights_oldest_ms,
                       int64_t kept_oldest_ms, int64_t max_future_ms = 60'000);

}  // namespace iptv::timeshift
