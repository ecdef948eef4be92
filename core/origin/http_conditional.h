// RFC 9110 byte ranges and conditional requests for the origin: pure logic, unit-tested alone.
//
// Ranges (RFC 9110 §14): the origin answers one range only. A Range header with more than
// kMaxRangeSpecs specs is ignored (200, the whole file: never more bytes than the file), so is
// one whose satisfiable specs do not merge (overlapping or adjacent) into a single range. A
// header whose specs are all unsatisfiable is 416 with `Content-Range: bytes */LEN`. Numbers
// saturate instead of overflowing; a suffix longer than the file means the whole file, and a
// range (or merged ranges) covering the whole file is answered 200 with the file.
//
// Conditionals (RFC 9110 §13.2.2 order): If-Match (strong, `*`) and If-Unmodified-Since give
// 412; If-None-Match (weak comparison, lists, `*`) and If-Modified-Since give 304 for GET and
// HEAD; If-Range (a strong ETag or the exact Last-Modified date) keeps a Range, else the whole
// file is sent.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace iptv {

constexpr int kMaxRangeSpecs = 16;

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

enum class RangeDecision {
  kWhole,          // no Range, an invalid one, or one the origin ignores: 200 with the whole file
  kPartial,        // 206 with `range`
  kUnsatisfiable,  // 416 with Content-Range: bytes */len
};

RangeDecision decide_range(std::string_view header, uint64_t len, ByteRange *range);

// True when `header` (an If-None-Match or If-Match value: `*` or a list of entity-tags) matches
// `etag` (a strong tag with its quotes). Weak comparison ignores the W/ prefix; strong comparison
// never matches a weak tag.
bool etag_list_matches(std::string_view header, std::string_view etag, bool weak);

enum class Precondition { kProceed, kNotModified, kFailed };

struct Validators {
  std::string etag;  // strong, quoted
  time_t last_modified = 0;
};

struct ConditionalHeaders {
  const char *if_match = nullptr;
  const char *if_none_match = nullptr;
  const char *if_modified_since = nullptr;
  const char *if_unmodified_since = nullptr;
  const char *if_range = nullptr;
};

// RFC 9110 §13.2.2 for a GET or HEAD of an existing file.
Precondition evaluate_preconditions(const ConditionalHeaders &h, const Validators &v);
// If-Range: true when the Range header may be used (no If-Range, or it names this version).
bool if_range_allows(const char *if_range, const Validators &v);

// An HTTP-date (IMF-fixdate, RFC 850 or asctime) in seconds since the epoch; -1 if invalid.
int64_t parse_http_date(std::string_view s);

}  // namespace iptv
