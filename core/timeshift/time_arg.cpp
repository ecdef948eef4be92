#include "timeshift/time_arg.h"

#include <charconv>
#include <cstdlib>

namespace iptv::timeshift {
namespace {

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Reads exactly `n` digits at s[*i]; false when any is not a digit.
bool digits(std::string_view s, size_t *i, int n, int *out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool expect(std::string_view s, size_t *i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

TimeArg fail(std::string why) {
  TimeArg t;
  t.error = std::move(why);
  return t;
}

TimeArg parse_unix(std::string_view s) {
  // Digits with an optional fraction; no sign, no exponent, at most 12 integer digits.
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  if (whole.empty() || whole.size() > 12) return fail("unix seconds out of range");
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
  if (ec != std::errc() || p != whole.data() + whole.size()) return fail("not a time");
  int64_t ms = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    if (frac.empty() || frac.size() > 9) return fail("bad fraction of a second");
    int scale = 100;
    for (char c : frac) {
      if (c < '0' || c > '9') return fail("bad fraction of a second");
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  TimeArg t;
  t.unix_ms = secs * 1000 + ms;
  return t;
}

TimeArg parse_iso(std::string_view s) {
  size_t i = 0;
  int y, mo, d, h, mi, se;
  if (!digits(s, &i, 4, &y) || !expect(s, &i, '-') || !digits(s, &i, 2, &mo) ||
      !expect(s, &i, '-') || !digits(s, &i, 2, &d))
    return fail("not an ISO 8601 date (YYYY-MM-DDThh:mm:ssZ)");
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
    return fail("ISO 8601 time missing (YYYY-MM-DDThh:mm:ssZ)");
  ++i;
  if (!digits(s, &i, 2, &h) || !expect(s, &i, ':') || !digits(s, &i, 2, &mi) ||
      !expect(s, &i, ':') || !digits(s, &i, 2, &se))
    return fail("not an ISO 8601 time (hh:mm:ss)");
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12) return fail("month out of range");
  int dim = kDays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0);
  if (d < 1 || d > dim) return fail("day out of range");
  if (h > 23 || mi > 59 || se > 60) return fail("time of day out of range");
  if (se == 60) se = 59;  // a leap second names the last second of the minute
  int64_t ms = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    int scale = 100, n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (++n > 9) return fail("bad fraction of a second");
      ms += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (n == 0) return fail("bad fraction of a second");
  }
  int64_t offset_s = 0;
  if (i >= s.size()) return fail("time without a zone: add Z or an offset such as +01:00");
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh, om = 0;
    if (!digits(s, &i, 2, &oh)) return fail("bad zone offset");
    if (i < s.size() && s[i] == ':') ++i;
    if (!digits(s, &i, 2, &om) || oh > 23 || om > 59) return fail("bad zone offset");
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return fail("time without a zone: add Z or an offset such as +01:00");
  }
  if (i != s.size()) return fail("trailing characters after the time");
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
  TimeArg t;
  t.unix_ms = secs * 1000 + ms;
  return t;
}

}  // namespace

TimeArg parse_time_arg(std::string_view text) {
  if (text.empty()) return fail("empty time");
  if (text.size() > 40) return fail("time too long");
  bool all_digits = true;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '.')) all_digits = false;
  TimeArg t = all_digits ? parse_unix(text) : parse_iso(text);
  // Years 1970..9999 only: anything else is a typo, not a programme.
  if (t.ok() && (t.unix_ms < 0 || t.unix_ms >= 253402300800000LL)) return fail("year out of range");
  return t;
}

RangeCheck check_range(int64_t start_ms, int64_t end_ms, int64_t now_ms, int64_t rights_oldest_ms,
                       int64_t kept_oldest_ms, int64_t max_future_ms) {
  RangeCheck r;
  if (end_ms != 0 && end_ms <= start_ms) return {400, "inverted"};
  if (start_ms > now_ms + max_future_ms || (end_ms != 0 && end_ms > now_ms + max_future_ms))
    return {400, "future"};
  if (start_ms < rights_oldest_ms) return {403, "beyond_rights"};
  if (kept_oldest_ms == 0 || (end_ms != 0 ? end_ms : now_ms) <= kept_oldest_ms)
    return {404, "not_retained"};
  return r;
}

}  // namespace iptv::timeshift
