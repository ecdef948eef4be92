// Structured logs for iptvd: text (logfmt-like) or JSON lines, with secret redaction.
//
// Every record has a time, a level, a channel_id (empty for daemon-wide lines), a message and
// key=value fields:
//   text: 2026-11-29T18:30:00.123Z info channel_id=news msg="worker started" pid=4242
//   json: {"ts":"2026-11-29T18:30:00.123Z","level":"info","channel_id":"news",
//          "msg":"worker started","pid":4242}
//
// Redaction (applied to the message and to every field value, before formatting):
// - registered secrets (token keys, webhook secrets, API keys, ...) become "[redacted]", also in
//   their percent-encoded, hex (either case) and base64 (standard and URL-safe) forms, so a key
//   registered as raw bytes is masked where its hex text appears;
// - the token path segment of origin URLs: /hls/<ch>/<token>/... -> /hls/<ch>/[redacted]/...
//   (a segment is a token when it contains '~', '=' or '%', starts with "s-", or is longer than
//   32 characters; rendition folders such as "360p" stay readable);
// - values of sensitive parameters in URLs and key=value text: token, key, secret, passphrase,
//   password, pass, pwd, auth, sig, signature, hmac, api_key, apikey, access_token (any case):
//   srt://h:9000?passphrase=abc -> srt://h:9000?passphrase=[redacted];
// - URL user info passwords: rtmp://user:pw@host -> rtmp://user:[redacted]@host;
// - "Bearer <token>" -> "Bearer [redacted]";
// - fields whose KEY names a secret (contains "secret", "token", "passphrase", "password",
//   "api_key" or is "key"/"authorization") are replaced whole.
//
// Threads: a Logger may be used from any thread; each record is written with one write.
//
// Daemon use: daemon/app.cpp creates the one Logger of iptvd and passes it to what logs (there
// is no process-wide instance):
//   iptv::log::Logger L;
//   L.configure(iptv::log::Format::kJson, iptv::log::Level::kInfo);  // from --log-format/config
//   for (auto &s : cfg.secrets()) L.add_secret(s);
//   L.info("news", "worker started", {{"pid", 4242}, {"uri", source_uri}});
//   L.warn("", "config reloaded with errors", {{"errors", 2}});
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace iptv::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

const char *to_string(Level l);                        // "debug", "info", "warn", "error"
const char *to_string(Format f);                       // "text", "json"
std::optional<Level> parse_level(std::string_view s);  // also accepts "warning"
std::optional<Format> parse_format(std::string_view s);

// One key=value field. Values keep their JSON type (string, integer, number, boolean).
struct Field {
  using Value = std::variant<std::string, int64_t, double, bool>;
  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, std::string_view v) : key(std::move(k)), value(std::string(v)) {}
  Field(std::string k, const char *v) : key(std::move(k)), value(std::string(v ? v : "")) {}
  Field(std::string k, int v) : key(std::move(k)), value(static_cast<int64_t>(v)) {}
  Field(std::string k, long v) : key(std::move(k)), value(static_cast<int64_t>(v)) {}
  Field(std::string k, long long v) : key(std::move(k)), value(static_cast<int64_t>(v)) {}
  Field(std::string k, unsigned v) : key(std::move(k)), value(static_cast<int64_t>(v)) {}
  Field(std::string k, unsigned long v) : key(std::move(k)), value(static_cast<int64_t>(v)) {}
  Field(std::string k, double v) : key(std::move(k)), value(v) {}
  Field(std::string k, bool v) : key(std::move(k)), value(v) {}
  std::string key;
  Value value;
};
using Fields = std::vector<Field>;

// The redaction rules above, usable on their own (e.g. for API error messages).
class Redactor {
 public:
  // Registers a secret. Secrets shorter than 4 bytes are refused (false): masking them would
  // garble every line; config validation rejects such secrets anyway.
  bool add_secret(std::string_view secret);
  void clear_secrets();
  std::string redact(std::string_view text) const;
  // Whether a field named `key` is a secret as a whole.
  static bool sensitive_key(std::string_view key);

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::string> secrets_;  // longest first
};

class Logger {
 public:
  using Sink = std::function<void(std::string_view line)>;  // gets one line, with its '\n'

  Logger();  // text, info, to stderr

  void configure(Format format, Level level);
  void set_format(Format format);
  void set_level(Level level);
  Level level() const;
  Format format() const;
  // Replaces the output (default: stderr). The sink is called under the logger's write lock.
  void set_sink(Sink sink);

  bool add_secret(std::string_view secret) { return redactor_.add_secret(secret); }
  Redactor &redactor() { return redactor_; }

  bool enabled(Level l) const;
  void log(Level l, std::string_view channel_id, std::string_view msg, const Fields &fields = {});
  void debug(std::string_view ch, std::string_view msg, const Fields &f = {}) {
    log(Level::kDebug, ch, msg, f);
  }
  void info(std::string_view ch, std::string_view msg, const Fields &f = {}) {
    log(Level::kInfo, ch, msg, f);
  }
  void warn(std::string_view ch, std::string_view msg, const Fields &f = {}) {
    log(Level::kWarn, ch, msg, f);
  }
  void error(std::string_view ch, std::string_view msg, const Fields &f = {}) {
    log(Level::kError, ch, msg, f);
  }

  // Formats one record (redacted) without writing it; `ts_ms` is unix milliseconds.
  std::string format_record(int64_t ts_ms, Level l, std::string_view channel_id,
                            std::string_view msg, const Fields &fields) const;

 private:
  mutable std::mutex mu_;  // guards format_, level_, sink_ and serialises writes
  Format format_ = Format::kText;
  Level level_ = Level::kInfo;
  Sink sink_;
  Redactor redactor_;
};

}  // namespace iptv::log
