#include "token/token.h"

#include <glib.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptv {

const char *to_string(TokenError e) {
  switch (e) {
    case TokenError::kOk:
      return "ok";
    case TokenError::kMissing:
      return "missing";
    case TokenError::kMalformed:
      return "malformed";
    case TokenError::kUnknownKey:
      return "unknown-key";
    case TokenError::kForged:
      return "forged";
    case TokenError::kNotYetValid:
      return "not-yet-valid";
    case TokenError::kExpired:
      return "expired";
    case TokenError::kScope:
      return "scope";
    case TokenError::kIp:
      return "ip";
    case TokenError::kRevoked:
      return "revoked";
  }
  return "?";
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

static bool hex_decode(std::string_view hex, std::string &out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = g_ascii_xdigit_value(hex[i]), lo = g_ascii_xdigit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back((char)(hi * 16 + lo));
  }
  return true;
}

void KeyRing::add(const std::string &kid, const std::string &secret, bool signing) {
  keys_[kid] = secret;
  if (signing || signing_.empty()) signing_ = kid;
}

const std::string *KeyRing::find(const std::string &kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

bool KeyRing::load_text(std::string_view text, std::string *error) {
  int line_no = 0;
  bool first = true;
  for (const auto &raw : split(text, '\n', false)) {
    ++line_no;
    std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    auto parts = split(line, ' ');
    std::string secret;
    if (parts.size() != 2 || !hex_decode(parts[1], secret) || secret.size() < 16) {
      if (error)
        *error = "line " + std::to_string(line_no) +
                 ": expected 'KID HEXSECRET' with at least 16 secret bytes";
      return false;
    }
    add(parts[0], secret, first);
    first = false;
  }
  if (keys_.empty()) {
    if (error) *error = "no keys";
    return false;
  }
  return true;
}

bool KeyRing::load_file(const std::string &path, std::string *error) {
  std::string text;
  if (!read_file(path, text, error)) return false;
  std::string err;
  if (!load_text(text, &err)) {
    if (error) *error = path + ": " + err;  // never the key material
    return false;
  }
  return true;
}

std::string acl_for_channel(const std::string &channel) {
  return "/hls/" + channel + "/*";
}

static std::string hmac_hex(const std::string &key, std::string_view data) {
  gchar *h = g_compute_hmac_for_data(G_CHECKSUM_SHA256, (const guchar *)key.data(), key.size(),
                                     (const guchar *)data.data(), data.size());
  std::string out = h;
  g_free(h);
  return out;
}

static std::string body_of(const TokenClaims &c) {
  std::string s =
      "st=" + std::to_string(c.start) + "~exp=" + std::to_string(c.expiry) + "~acl=" + c.acl;
  if (!c.session.empty()) s += "~id=" + c.session;
  if (!c.ip.empty()) s += "~ip=" + c.ip;
  if (!c.kid.empty()) s += "~kid=" + c.kid;
  return s;
}

std::string sign_token(TokenClaims claims, const KeyRing &ring) {
  claims.kid = ring.signing_kid();
  const std::string *key = ring.find(claims.kid);
  std::string body = body_of(claims);
  return body + "~hmac=" + hmac_hex(key ? *key : std::string(), body);
}

TokenError verify_token(std::string_view token, const KeyRing &ring, std::string_view path,
                        int64_t now, std::string_view client_ip, TokenClaims *out) {
  if (token.empty()) return TokenError::kMissing;
  size_t h = token.rfind("~hmac=");
  if (h == std::string_view::npos) return TokenError::kMalformed;
  std::string_view body = token.substr(0, h), mac = token.substr(h + 6);
  TokenClaims c;
  bool have_st = false, have_exp = false, have_acl = false;
  for (const auto &field : split(body, '~')) {
    size_t eq = field.find('=');
    if (eq == std::string::npos) return TokenError::kMalformed;
    std::string k = field.substr(0, eq), v = field.substr(eq + 1);
    char *end = nullptr;
    if (k == "st") {
      c.start = g_ascii_strtoll(v.c_str(), &end, 10);
      have_st = end && !*end && !v.empty();
    } else if (k == "exp") {
      c.expiry = g_ascii_strtoll(v.c_str(), &end, 10);
      have_exp = end && !*end && !v.empty();
    } else if (k == "acl") {
      c.acl = v;
      have_acl = true;
    } else if (k == "id") {
      c.session = v;
    } else if (k == "ip") {
      c.ip = v;
    } else if (k == "kid") {
      c.kid = v;
    } else {
      return TokenError::kMalformed;
    }
  }
  if (!have_st || !have_exp || !have_acl) return TokenError::kMalformed;
  // Re-serialise canonically: a token is valid only in the exact layout we sign.
  if (body_of(c) != body) return TokenError::kMalformed;
  const std::string *key = ring.find(c.kid);
  if (!key) return TokenError::kUnknownKey;
  if (!constant_time_equal(hmac_hex(*key, body), mac)) return TokenError::kForged;
  if (now < c.start) return TokenError::kNotYetValid;
  if (now >= c.expiry) return TokenError::kExpired;
  // The claims of a genuine, current token are given for a scope or address refusal too: the
  // origin's token cache keeps them and checks scope and address again on every request (it
  // kept empty claims before, so the token then answered 410 `expired` for its own channel).
  if (out) *out = c;
  // ACL: a prefix ending in '*'.
  std::string_view acl = c.acl;
  if (acl.empty() || acl.back() != '*' || !starts_with(path, acl.substr(0, acl.size() - 1)))
    return TokenError::kScope;
  if (!c.ip.empty() && c.ip != client_ip) return TokenError::kIp;
  return TokenError::kOk;
}

std::string token_to_path_segment(std::string_view token) {
  // "~acl=/hls/<ch>/*" becomes "~ch=<ch>": HTTP servers and caches decode %2F, so a path
  // segment cannot carry the ACL's slashes. The signature still covers the full ACL.
  std::string t(token);
  size_t a = t.find("~acl=/hls/");
  if (a == std::string::npos) return t;
  size_t end = t.find('~', a + 1);
  std::string acl = t.substr(a + 5, end == std::string::npos ? std::string::npos : end - a - 5);
  if (acl.size() < 8 || acl.compare(acl.size() - 2, 2, "/*") != 0) return t;
  std::string ch = acl.substr(5, acl.size() - 7);
  if (ch.find('/') != std::string::npos) return t;
  return t.substr(0, a) + "~ch=" + ch + (end == std::string::npos ? "" : t.substr(end));
}

std::string token_from_path_segment(std::string_view seg) {
  std::string t(seg);
  size_t a = t.find("~ch=");
  if (a == std::string::npos) return t;
  size_t end = t.find('~', a + 1);
  std::string ch = t.substr(a + 4, end == std::string::npos ? std::string::npos : end - a - 4);
  return t.substr(0, a) + "~acl=" + acl_for_channel(ch) +
         (end == std::string::npos ? "" : t.substr(end));
}

static std::string md5_b64url(const std::string &data) {
  GChecksum *c = g_checksum_new(G_CHECKSUM_MD5);
  g_checksum_update(c, (const guchar *)data.data(), data.size());
  guint8 digest[16];
  gsize len = sizeof digest;
  g_checksum_get_digest(c, digest, &len);
  g_checksum_free(c);
  gchar *b64 = g_base64_encode(digest, len);
  std::string s = b64;
  g_free(b64);
  for (char &ch : s) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string securelink_segment(const std::string &channel, int64_t expires,
                               const std::string &secret) {
  std::string e = std::to_string(expires);
  return "s-" + md5_b64url(e + "/hls/" + channel + "/ " + secret) + "-" + e;
}

TokenError verify_securelink(std::string_view seg, const std::string &channel, int64_t now,
                             const std::string &secret) {
  if (seg.empty()) return TokenError::kMissing;
  if (!starts_with(seg, "s-")) return TokenError::kMalformed;
  size_t dash = seg.rfind('-');
  if (dash <= 2) return TokenError::kMalformed;
  std::string md5(seg.substr(2, dash - 2)), exp(seg.substr(dash + 1));
  char *end = nullptr;
  int64_t e = g_ascii_strtoll(exp.c_str(), &end, 10);
  if (exp.empty() || !end || *end) return TokenError::kMalformed;
  if (!constant_time_equal(md5_b64url(exp + "/hls/" + channel + "/ " + secret), md5))
    return TokenError::kForged;
  if (now >= e) return TokenError::kExpired;
  return TokenError::kOk;
}

}  // namespace iptv
