#include "viewers/cmcd.h"

#include <cctype>
#include <cstdlib>

namespace iptv::viewers {

namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
      if (a >= 0 && b >= 0) {
        out.push_back((char)(a * 16 + b));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::optional<int64_t> parse_int(std::string_view v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// A quoted string value: "..." with \" and \\ escapes; nullopt when not one.
std::optional<std::string> parse_string(std::string_view v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out.push_back(v[i]);
  }
  if (out.size() > 64) return std::nullopt;  // CTA-5004: sid is at most 64 characters
  return out;
}

}  // namespace

void parse_cmcd_payload(std::string_view payload, Cmcd &out) {
  size_t i = 0;
  while (i < payload.size()) {
    // One key[=value] up to the next comma outside quotes.
    size_t j = i;
    bool quoted = false;
    for (; j < payload.size(); ++j) {
      char c = payload[j];
      if (c == '\\' && quoted) {
        ++j;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) break;
    }
    std::string_view item = payload.substr(i, j - i);
    i = j + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    bool bare = eq == std::string_view::npos;
    std::string_view val = bare ? std::string_view() : item.substr(eq + 1);
    if (key == "bs" || key == "su") {
      // A boolean key alone is true; "=true" / "=false" are tolerated.
      bool v = bare || val == "true";
      if (!bare && val != "true" && val != "false") continue;
      (key == "bs" ? out.bs : out.su) = v;
      out.present = true;
    } else if (key == "bl" || key == "mtp") {
      auto n = parse_int(val);
      if (!n) continue;
      (key == "bl" ? out.bl : out.mtp) = *n;
      out.present = true;
    } else if (key == "sid") {
      auto s = parse_string(val);
      if (!s) continue;
      out.sid = *s;
      out.present = true;
    } else if (key == "sf" || key == "ot") {
      if (bare || val.empty() || val.size() > 4) continue;
      bool token = true;
      for (char c : val) token = token && std::isalpha((unsigned char)c);
      if (!token) continue;  // dropped alone; the keys after it are still read
      (key == "sf" ? out.sf : out.ot) = std::string(val);
      out.present = true;
    } else {
      out.present = true;  // another CMCD key (br, d, cid, st, ...): CMCD all the same
    }
  }
}

std::string cmcd_from_query(std::string_view query) {
  size_t i = 0;
  while (i <= query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(i, amp - i);
    if (pair.size() >= 5 && pair.substr(0, 5) == "CMCD=") return percent_decode(pair.substr(5));
    i = amp + 1;
  }
  return "";
}

}  // namespace iptv::viewers
