#include "log/log.h"

#include <glib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "util/strutil.h"

namespace iptv::log {

namespace {

constexpr std::string_view kMask = "[redacted]";

// Parameter names whose values are secrets (matched case-insensitively, followed by '=').
const std::vector<std::string> kSensitiveParams = {
    "access_token", "passphrase", "signature", "password", "api_key", "apikey", "secret",
    "token",        "hmac",       "pass",      "auth",     "pwd",     "sig",    "key"};

bool is_alnum(char c) {
  return g_ascii_isalnum(c);
}

bool ieq_at(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (g_ascii_tolower(text[pos + i]) != g_ascii_tolower(word[i])) return false;
  return true;
}

bool value_end(char c) {
  return c == '&' || c == '~' || c == ';' || c == ',' || c == '"' || c == '\'' || c == ')' ||
         c == ']' || c == '}' || c == '>' || g_ascii_isspace(c);
}

void replace_all(std::string &s, std::string_view what) {
  if (what.empty()) return;
  size_t pos = 0;
  while ((pos = s.find(what, pos)) != std::string::npos) {
    s.replace(pos, what.size(), kMask);
    pos += kMask.size();
  }
}

// key=value parameters with a sensitive key.
std::string mask_params(const std::string &in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    bool matched = false;
    if (i == 0 || !is_alnum(in[i - 1])) {
      for (const auto &name : kSensitiveParams) {
        if (!ieq_at(in, i, name) || i + name.size() >= in.size() || in[i + name.size()] != '=')
          continue;
        size_t v = i + name.size() + 1, e = v;
        while (e < in.size() && !value_end(in[e])) ++e;
        out.append(in, i, name.size() + 1);
        if (e > v) out += kMask;
        i = e;
        matched = true;
        break;
      }
    }
    if (!matched) out += in[i++];
  }
  return out;
}

// scheme://user:password@host -> scheme://user:[redacted]@host
std::string mask_userinfo(std::string s) {
  size_t pos = 0;
  while ((pos = s.find("://", pos)) != std::string::npos) {
    size_t start = pos + 3, end = start;
    while (end < s.size() && s[end] != '/' && s[end] != '?' && s[end] != '#' &&
           !g_ascii_isspace(s[end]) && s[end] != '"' && s[end] != '\'')
      ++end;
    size_t at = s.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start && at < end) {
      size_t colon = s.find(':', start);
      if (colon != std::string::npos && colon < at &&
          std::string_view(s).substr(colon + 1, at - colon - 1) != kMask) {
        s.replace(colon + 1, at - colon - 1, kMask);
        end = colon + 1 + kMask.size() + (end - at);
      }
    }
    pos = end;
  }
  return s;
}

bool token_like(std::string_view seg) {
  if (seg == kMask) return false;
  return seg.find_first_of("~=%") != std::string_view::npos || seg.substr(0, 2) == "s-" ||
         seg.size() > 32;
}

// /hls/<ch>/<token>/... -> /hls/<ch>/[redacted]/...
std::string mask_hls_tokens(std::string s) {
  size_t pos = 0;
  while ((pos = s.find("/hls/", pos)) != std::string::npos) {
    size_t ch = pos + 5;
    size_t ch_end = s.find('/', ch);
    if (ch_end == std::string::npos) break;
    auto seg_stop = [&](char c) {
      return c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || g_ascii_isspace(c);
    };
    bool bad_ch = false;
    for (size_t k = ch; k < ch_end; ++k) bad_ch = bad_ch || seg_stop(s[k]);
    if (bad_ch) {
      pos = ch;
      continue;
    }
    size_t t = ch_end + 1, t_end = t;
    while (t_end < s.size() && !seg_stop(s[t_end])) ++t_end;
    if (token_like(std::string_view(s).substr(t, t_end - t))) {
      s.replace(t, t_end - t, kMask);
      t_end = t + kMask.size();
    }
    pos = t_end;
  }
  return s;
}

std::string mask_bearer(std::string s) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t found = std::string::npos;
    for (size_t i = pos; i + 7 <= s.size(); ++i)
      if (ieq_at(s, i, "bearer ") && (i == 0 || !is_alnum(s[i - 1]))) {
        found = i;
        break;
      }
    if (found == std::string::npos) break;
    size_t v = found + 7, e = v;
    while (e < s.size() && !value_end(s[e])) ++e;
    if (e > v && std::string_view(s).substr(v, e - v) != kMask) {
      s.replace(v, e - v, kMask);
      e = v + kMask.size();
    }
    pos = e;
  }
  return s;
}

std::string ts_string(int64_t ms) {
  return iso8601_utc(ms, true);
}

// logfmt value: bare when safe, quoted and escaped otherwise.
std::string text_value(std::string_view v) {
  bool quote = v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      quote = true;
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\x%02x", c);
          out += b;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string number_text(double d) {
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", d);
  return b;
}

}  // namespace

const char *to_string(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "?";
}

const char *to_string(Format f) {
  return f == Format::kJson ? "json" : "text";
}

std::optional<Level> parse_level(std::string_view s) {
  if (s == "debug") return Level::kDebug;
  if (s == "info") return Level::kInfo;
  if (s == "warn" || s == "warning") return Level::kWarn;
  if (s == "error") return Level::kError;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view s) {
  if (s == "text") return Format::kText;
  if (s == "json") return Format::kJson;
  return std::nullopt;
}

// ---- Redactor

bool Redactor::add_secret(std::string_view secret) {
  if (secret.size() < 4) return false;
  std::unique_lock lk(mu_);
  auto add = [&](std::string s) {
    if (std::find(secrets_.begin(), secrets_.end(), s) == secrets_.end())
      secrets_.push_back(std::move(s));
  };
  std::string plain(secret);
  add(plain);
  gchar *esc = g_uri_escape_string(plain.c_str(), nullptr, FALSE);
  if (esc && plain != esc) add(esc);
  g_free(esc);
  // Keys held as raw bytes (the token key ring) show up as hex or base64 in files and dumps.
  static const char *kHex = "0123456789abcdef";
  std::string lo, up;
  for (unsigned char c : plain) {
    lo += kHex[c >> 4];
    lo += kHex[c & 15];
  }
  for (char c : lo) up += static_cast<char>(g_ascii_toupper(c));
  add(lo);
  add(up);
  gchar *b64 = g_base64_encode(reinterpret_cast<const guchar *>(plain.data()), plain.size());
  std::string b = b64;
  g_free(b64);
  while (!b.empty() && b.back() == '=') b.pop_back();
  if (b.size() >= 6) {
    add(b);
    std::string url = b;
    for (auto &c : url) c = c == '+' ? '-' : (c == '/' ? '_' : c);
    add(url);
  }
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
  return true;
}

void Redactor::clear_secrets() {
  std::unique_lock lk(mu_);
  secrets_.clear();
}

std::string Redactor::redact(std::string_view text) const {
  std::string s(text);
  {
    std::shared_lock lk(mu_);
    for (const auto &sec : secrets_) replace_all(s, sec);
  }
  s = mask_userinfo(std::move(s));
  s = mask_hls_tokens(std::move(s));
  s = mask_bearer(std::move(s));
  return mask_params(s);
}

bool Redactor::sensitive_key(std::string_view key) {
  std::string k(key);
  for (auto &c : k) c = g_ascii_tolower(c);
  for (const char *w : {"secret", "token", "passphrase", "password", "api_key", "apikey"})
    if (k.find(w) != std::string::npos) return true;
  return k == "key" || k == "authorization" || k == "hmac" || k == "signature";
}

// ---- Logger

Logger::Logger() {
  sink_ = [](std::string_view line) {
    // One write per record so lines from several threads (or processes) never interleave.
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::write(2, line.data() + off, line.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  };
}

void Logger::configure(Format format, Level level) {
  std::lock_guard lk(mu_);
  format_ = format;
  level_ = level;
}
void Logger::set_format(Format format) {
  std::lock_guard lk(mu_);
  format_ = format;
}
void Logger::set_level(Level level) {
  std::lock_guard lk(mu_);
  level_ = level;
}
Level Logger::level() const {
  std::lock_guard lk(mu_);
  return level_;
}
Format Logger::format() const {
  std::lock_guard lk(mu_);
  return format_;
}
void Logger::set_sink(Sink sink) {
  std::lock_guard lk(mu_);
  sink_ = std::move(sink);
}

bool Logger::enabled(Level l) const {
  std::lock_guard lk(mu_);
  return static_cast<int>(l) >= static_cast<int>(level_);
}

std::string Logger::format_record(int64_t ts_ms, Level l, std::string_view channel_id,
                                  std::string_view msg, const Fields &fields) const {
  Format fmt;
  {
    std::lock_guard lk(mu_);
    fmt = format_;
  }
  std::string ch = redactor_.redact(channel_id);
  std::string m = redactor_.redact(msg);
  auto field_text = [&](const Field &f) -> std::string {
    if (Redactor::sensitive_key(f.key)) return std::string(kMask);
    if (auto *s = std::get_if<std::string>(&f.value)) return redactor_.redact(*s);
    return {};
  };
  if (fmt == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = ts_string(ts_ms);
    j["level"] = to_string(l);
    j["channel_id"] = ch;
    j["msg"] = m;
    for (const auto &f : fields) {
      std::string key = redactor_.redact(f.key);
      if (key == "ts" || key == "level" || key == "channel_id" || key == "msg") key = "f_" + key;
      if (Redactor::sensitive_key(f.key) || std::holds_alternative<std::string>(f.value))
        j[key] = field_text(f);
      else if (auto *i = std::get_if<int64_t>(&f.value))
        j[key] = *i;
      else if (auto *d = std::get_if<double>(&f.value))
        j[key] = *d;
      else
        j[key] = std::get<bool>(f.value);
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string out = ts_string(ts_ms);
  out += ' ';
  out += to_string(l);
  out += " channel_id=" + text_value(ch);
  out += " msg=" + text_value(m);
  for (const auto &f : fields) {
    out += ' ';
    out += redactor_.redact(f.key);
    out += '=';
    if (Redactor::sensitive_key(f.key) || std::holds_alternative<std::string>(f.value))
      out += text_value(field_text(f));
    else if (auto *i = std::get_if<int64_t>(&f.value))
      out += std::to_string(*i);
    else if (auto *d = std::get_if<double>(&f.value))
      out += number_text(*d);
    else
      out += std::get<bool>(f.value) ? "true" : "false";
  }
  return out + "\n";
}

void Logger::log(Level l, std::string_view channel_id, std::string_view msg, const Fields &fields) {
  if (!enabled(l)) return;
  std::string line = format_record(g_get_real_time() / 1000, l, channel_id, msg, fields);
  std::lock_guard lk(mu_);
  if (sink_) sink_(line);
}

}  // namespace iptv::log
