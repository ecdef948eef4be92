// Playback tokens.
//
// EdgeAuth mode follows the Akamai EdgeAuth 2.0 layout, signed with HMAC-SHA256:
//   st=<start>~exp=<expiry>~acl=/hls/<channel>/*~id=<session>~ip=<client>~kid=<key id>~hmac=<hex>
// (`id`, `ip` and `kid` optional). The HMAC covers every field before `~hmac=`, in order. The
// ACL is a path prefix, so one token covers a channel's whole tree.
//
// In URLs the token is one path segment: /hls/<channel>/<token>/index.m3u8, where the ACL field
// "acl=/hls/<channel>/*" is written "ch=<channel>" (HTTP servers decode %2F, so a segment cannot
// carry slashes); the HMAC always covers the full EdgeAuth layout above, which
// token_from_path_segment() restores. Playlists use relative URIs, so every URI a player
// resolves carries the token on, and playlists hold no per-viewer data (an edge cache can key on
// the path without the token segment).
//
// Securelink mode is what a stock nginx `secure_link` edge checks itself:
//   segment "s-<md5>-<expires>", md5 = base64url(MD5("<expires>/hls/<channel>/ <secret>")).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace iptv {

struct TokenClaims {
  int64_t start = 0;   // unix seconds
  int64_t expiry = 0;  // unix seconds
  std::string acl;     // "/hls/<channel>/*"
  std::string session;
  std::string ip;
  std::string kid;
};

enum class TokenError {
  kOk,
  kMissing,
  kMalformed,
  kUnknownKey,
  kForged,
  kNotYetValid,
  kExpired,
  kScope,
  kIp,
  kRevoked
};
const char *to_string(TokenError e);

// A key ring: several keys can verify (rotation); one signs.
class KeyRing {
 public:
  // File format: one key per line, "KID HEXSECRET" ('#' comments). The first key signs.
  bool load_file(const std::string &path, std::string *error);
  bool load_text(std::string_view text, std::string *error);
  void add(const std::string &kid, const std::string &secret_bytes, bool signing);
  bool empty() const { return keys_.empty(); }
  const std::string &signing_kid() const { return signing_; }
  const std::string *find(const std::string &kid) const;

 private:
  std::map<std::string, std::string> keys_;  // kid -> raw secret bytes
  std::string signing_;
};

std::string acl_for_channel(const std::string &channel);  // "/hls/<channel>/*"

// Signs claims with the ring's signing key (claims.kid is set to it).
std::string sign_token(TokenClaims claims, const KeyRing &ring);
// Parses and checks a token for `path` (the request path) at `now` from `client_ip`.
TokenError verify_token(std::string_view token, const KeyRing &ring, std::string_view path,
                        int64_t now, std::string_view client_ip, TokenClaims *out = nullptr);

// The token as one URL path segment and back (see above).
std::string token_to_path_segment(std::string_view token);
std::string token_from_path_segment(std::string_view segment);

// nginx secure_link form.
std::string securelink_segment(const std::string &channel, int64_t expires,
                               const std::string &secret);
TokenError verify_securelink(std::string_view segment, const std::string &channel, int64_t now,
                             const std::string &secret);

// Constant-time comparison.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace iptv
