// libFuzzer target: the token parser and verifiers (core/token) on arbitrary bytes: never a
// crash, a hang or undefined behaviour; a forged token never verifies; a token signed from
// fuzzed claims round-trips through its path-segment form and verifies. Run by tests/fuzz/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "token/token.h"

using namespace iptv;

static void check(bool ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "invariant failed: %s\n", what);
    abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static KeyRing ring = [] {
    KeyRing r;
    r.add("k1", std::string(32, '\x5a'), true);
    r.add("k0", "old-secret", false);
    return r;
  }();
  std::string in(reinterpret_cast<const char *>(data), size);
  const int64_t now = 1700000000;
  TokenClaims claims;
  TokenError e = verify_token(in, ring, "/hls/news/360p/index.m3u8", now, "10.0.0.1", &claims);
  std::string restored = token_from_path_segment(in);
  e = verify_token(restored, ring, "/hls/news/index.m3u8", now, "", nullptr);
  (void)token_to_path_segment(in);
  (void)verify_securelink(in, "news", now, "secret");
  (void)constant_time_equal(in, restored);
  std::string keys_error;
  KeyRing loaded;
  (void)loaded.load_text(in, &keys_error);

  // Claims from the input: signing then verifying must succeed, through the segment form too.
  if (size >= 8) {
    TokenClaims c;
    uint32_t a, b;
    memcpy(&a, data, 4);
    memcpy(&b, data + 4, 4);
    c.start = now - (a % 100000);
    c.expiry = now + 1 + (b % 100000);
    std::string channel;
    for (size_t i = 8; i < size && channel.size() < 24; ++i) {
      char ch = "abcdefghijklmnopqrstuvwxyz0123456789-_"[data[i] % 38];
      channel += ch;
    }
    if (channel.empty()) channel = "c";
    c.acl = acl_for_channel(channel);
    std::string tail(in.substr(8 + std::min<size_t>(size - 8, 24)));
    // Session ids as the daemon makes them ("s_" + hex) and as an operator may name subjects:
    // printable, without the '~' field separator or a '/' (a path segment cannot carry one).
    for (char ch : tail)
      if (ch != '~' && ch != '/' && (unsigned char)ch > 0x20 && (unsigned char)ch < 0x7f &&
          c.session.size() < 32)
        c.session += ch;
    std::string tok = sign_token(c, ring);
    TokenClaims got;
    e = verify_token(tok, ring, "/hls/" + channel + "/a.ts", now, "10.0.0.1", &got);
    check(e == TokenError::kOk, "a signed token does not verify");
    check(got.session == c.session && got.acl == c.acl, "claims differ after verify");
    std::string seg = token_to_path_segment(tok);
    check(seg.find('/') == std::string::npos, "the path segment holds a '/'");
    check(token_from_path_segment(seg) == tok, "the path segment does not restore the token");
    e = verify_token(tok, ring, "/hls/" + channel + "x/a.ts", now, "", nullptr);
    check(e != TokenError::kOk, "a token verified outside its ACL");
    std::string sl = securelink_segment(channel, c.expiry, "secret");
    check(verify_securelink(sl, channel, now, "secret") == TokenError::kOk,
          "a securelink segment does not verify");
    check(verify_securelink(sl, channel + "x", now, "secret") != TokenError::kOk,
          "a securelink segment verified for another channel");
  }
  return 0;
}
