// Playback tokens: sign, verify, tamper with each field, rotation, path form, securelink.
#include <gtest/gtest.h>

#include "token/token.h"

namespace {

iptv::KeyRing ring() {
  iptv::KeyRing r;
  std::string err;
  EXPECT_TRUE(
      r.load_text("# rotation: k2 signs, k1 still verifies\n"
                  "k2 2222222222222222222222222222222222222222222222222222222222222222\n"
                  "k1 1111111111111111111111111111111111111111111111111111111111111111\n",
                  &err))
      << err;
  return r;
}

iptv::TokenClaims claims() {
  iptv::TokenClaims c;
  c.start = 1000;
  c.expiry = 2000;
  c.acl = iptv::acl_for_channel("news");
  c.session = "sess-1";
  return c;
}

TEST(Token, SignsInEdgeAuthLayoutAndVerifies) {
  auto r = ring();
  std::string t = iptv::sign_token(claims(), r);
  EXPECT_EQ(t.rfind("st=1000~exp=2000~acl=/hls/news/*~id=sess-1~kid=k2~hmac=", 0), 0u) << t;
  iptv::TokenClaims got;
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/news/hi/seg-1.ts", 1500, "127.0.0.1", &got),
            iptv::TokenError::kOk);
  EXPECT_EQ(got.session, "sess-1");
}

TEST(Token, EveryTamperedFieldIsRefused) {
  auto r = ring();
  std::string t = iptv::sign_token(claims(), r);
  struct {
    std::string from, to;
    iptv::TokenError want;
  } cases[] = {
      {"st=1000", "st=999", iptv::TokenError::kForged},
      {"exp=2000", "exp=9000", iptv::TokenError::kForged},
      {"acl=/hls/news/*", "acl=/hls/*", iptv::TokenError::kForged},
      {"id=sess-1", "id=sess-2", iptv::TokenError::kForged},
      {"kid=k2", "kid=k1", iptv::TokenError::kForged},
      {"kid=k2", "kid=k9", iptv::TokenError::kUnknownKey},
      {"~hmac=", "~hmac=0", iptv::TokenError::kForged},
      {"~id=sess-1", "~ip=10.0.0.1~id=sess-1", iptv::TokenError::kMalformed},  // out of order
      {"st=1000~", "", iptv::TokenError::kMalformed},
      {"~hmac=", "~mac=", iptv::TokenError::kMalformed},
  };
  for (const auto &c : cases) {
    std::string bad = t;
    size_t at = bad.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    bad.replace(at, c.from.size(), c.to);
    EXPECT_EQ(iptv::verify_token(bad, r, "/hls/news/index.m3u8", 1500, "", nullptr), c.want) << bad;
  }
  EXPECT_EQ(iptv::verify_token("", r, "/hls/news/x", 1500, ""), iptv::TokenError::kMissing);
}

TEST(Token, TimeScopeAndIpBinding) {
  auto r = ring();
  auto c = claims();
  c.ip = "192.0.2.7";
  std::string t = iptv::sign_token(c, r);
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/news/a.ts", 999, "192.0.2.7"),
            iptv::TokenError::kNotYetValid);
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/news/a.ts", 2000, "192.0.2.7"),
            iptv::TokenError::kExpired);
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/sports/a.ts", 1500, "192.0.2.7"),
            iptv::TokenError::kScope);
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/newsroom/a.ts", 1500, "192.0.2.7"),
            iptv::TokenError::kScope);
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/news/a.ts", 1500, "192.0.2.8"), iptv::TokenError::kIp);
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/news/a.ts", 1500, "192.0.2.7"), iptv::TokenError::kOk);
}

// The origin caches the claims of a genuine token refused for scope or address and checks both
// again on later requests, so those refusals must hand the claims out (they came back empty,
// and the cached token then answered `expired` on its own channel).
TEST(Token, ScopeAndIpRefusalsStillGiveTheClaims) {
  auto r = ring();
  auto c = claims();
  c.ip = "192.0.2.7";
  std::string t = iptv::sign_token(c, r);
  iptv::TokenClaims out;
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/sports/a.ts", 1500, "192.0.2.7", &out),
            iptv::TokenError::kScope);
  EXPECT_EQ(out.expiry, c.expiry);
  EXPECT_EQ(out.acl, c.acl);
  iptv::TokenClaims ip;
  EXPECT_EQ(iptv::verify_token(t, r, "/hls/news/a.ts", 1500, "192.0.2.8", &ip),
            iptv::TokenError::kIp);
  EXPECT_EQ(ip.expiry, c.expiry);
  iptv::TokenClaims forged;
  std::string bad = t;
  bad[bad.size() - 1] = bad.back() == '0' ? '1' : '0';
  EXPECT_EQ(iptv::verify_token(bad, r, "/hls/news/a.ts", 1500, "192.0.2.7", &forged),
            iptv::TokenError::kForged);
  EXPECT_EQ(forged.expiry, 0);  // nothing from a token whose signature fails
}

TEST(Token, RotationOldKeyStillVerifies) {
  iptv::KeyRing old;
  old.add("k1", std::string(32, '\x11'), true);
  std::string t = iptv::sign_token(claims(), old);
  EXPECT_EQ(iptv::verify_token(t, ring(), "/hls/news/x", 1500, ""), iptv::TokenError::kOk);
  iptv::KeyRing only_new;
  only_new.add("k2", std::string(32, '\x22'), true);
  EXPECT_EQ(iptv::verify_token(t, only_new, "/hls/news/x", 1500, ""),
            iptv::TokenError::kUnknownKey);
}

TEST(Token, PathSegmentRoundTripHasNoSlashes) {
  auto r = ring();
  std::string t = iptv::sign_token(claims(), r);
  std::string seg = iptv::token_to_path_segment(t);
  EXPECT_EQ(seg.find('/'), std::string::npos) << seg;
  EXPECT_NE(seg.find("~ch=news~"), std::string::npos);
  EXPECT_EQ(iptv::token_from_path_segment(seg), t);
}

TEST(Token, KeyFileErrorsNeverEchoSecrets) {
  iptv::KeyRing r;
  std::string err;
  EXPECT_FALSE(r.load_text("k1 deadbeef\n", &err));  // too short
  EXPECT_EQ(err.find("deadbeef"), std::string::npos) << err;
  EXPECT_FALSE(r.load_text("k1 zz11\n", &err));
}

TEST(Token, ConstantTimeEqual) {
  EXPECT_TRUE(iptv::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(iptv::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(iptv::constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(iptv::constant_time_equal("", "a"));
}

TEST(SecureLink, MatchesNginxForm) {
  // nginx: secure_link_md5 "$secure_link_expires/hls/$ch/ secret" = base64url(md5(...)).
  std::string seg = iptv::securelink_segment("news", 2000000000, "s3cret");
  EXPECT_EQ(seg.rfind("s-", 0), 0u);
  EXPECT_EQ(iptv::verify_securelink(seg, "news", 1900000000, "s3cret"), iptv::TokenError::kOk);
  EXPECT_EQ(iptv::verify_securelink(seg, "sports", 1900000000, "s3cret"),
            iptv::TokenError::kForged);
  EXPECT_EQ(iptv::verify_securelink(seg, "news", 2000000001, "s3cret"), iptv::TokenError::kExpired);
  EXPECT_EQ(iptv::verify_securelink("s-xx", "news", 1, "s3cret"), iptv::TokenError::kMalformed);
}

}  // namespace
