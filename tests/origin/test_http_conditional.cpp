// Byte ranges and RFC 9110 conditionals of the origin (core/origin/http_conditional.h).
#include <gtest/gtest.h>

#include <string>

#include "origin/http_conditional.h"
#include "origin/request_path.h"

namespace {

using iptv::ByteRange;
using iptv::decide_range;
using iptv::RangeDecision;

TEST(HttpRange, OneRangeMergedRangesAndNeverMultipart) {
  ByteRange r;
  EXPECT_EQ(decide_range("bytes=188-375", 1000, &r), RangeDecision::kPartial);
  EXPECT_EQ(r.first, 188u);
  EXPECT_EQ(r.last, 375u);
  // Overlapping and adjacent ranges merge into one.
  EXPECT_EQ(decide_range("bytes=0-9, 5-19,20-29", 1000, &r), RangeDecision::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 29u);
  // Disjoint ranges: the whole file, never multipart/byteranges.
  EXPECT_EQ(decide_range("bytes=0-1,5-6", 1000, &r), RangeDecision::kWhole);
  // The amplification attack: thousands of "0-": more than kMaxRangeSpecs, the whole file once.
  std::string many = "bytes=0-";
  for (int i = 0; i < 4000; ++i) many += ",0-";
  EXPECT_EQ(decide_range(many, 115000, &r), RangeDecision::kWhole);
  std::string few = "bytes=0-";
  for (int i = 1; i < iptv::kMaxRangeSpecs; ++i) few += ",0-";
  EXPECT_EQ(decide_range(few, 115000, &r), RangeDecision::kWhole);  // the whole file: 200
  std::string few_parts = "bytes=0-9";
  for (int i = 1; i < iptv::kMaxRangeSpecs; ++i) few_parts += ",0-9";
  EXPECT_EQ(decide_range(few_parts, 115000, &r), RangeDecision::kPartial);
  EXPECT_EQ(r.last, 9u);
}

TEST(HttpRange, ArithmeticSaturatesAndUnsatisfiableIs416) {
  ByteRange r;
  // Clamped to the file: the whole file, answered 200.
  EXPECT_EQ(decide_range("bytes=0-99999999999", 115000, &r), RangeDecision::kWhole);
  EXPECT_EQ(decide_range("bytes=-99999999999999999999", 115000, &r), RangeDecision::kWhole);
  EXPECT_EQ(decide_range("bytes=10-99999999999", 115000, &r), RangeDecision::kPartial);
  EXPECT_EQ(r.first, 10u);
  EXPECT_EQ(r.last, 114999u);
  EXPECT_EQ(decide_range("bytes=-99999999999999999999, 0-5", 115000, &r), RangeDecision::kWhole);
  EXPECT_EQ(decide_range("bytes=99999999999999999999999-", 115000, &r),
            RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide_range("bytes=-100", 1000, &r), RangeDecision::kPartial);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  EXPECT_EQ(decide_range("bytes=1000-", 1000, &r), RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide_range("bytes=-0", 1000, &r), RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide_range("bytes=0-0", 0, &r), RangeDecision::kUnsatisfiable);
  // Invalid syntax: ignored (the whole file), never a negative start.
  for (const char *bad : {"bytes=5-1", "bytes=--5", "bytes=-5-", "bytes=a-b", "items=0-1",
                          "bytes=", "bytes=1", "bytes=+1-2", "bytes=0x10-"})
    EXPECT_EQ(decide_range(bad, 1000, &r), RangeDecision::kWhole) << bad;
}

TEST(HttpConditional, IfNoneMatchStarWeakAndLists) {
  const std::string etag = "\"115-1.2\"";
  EXPECT_TRUE(iptv::etag_list_matches("*", etag, true));
  EXPECT_TRUE(iptv::etag_list_matches(etag, etag, true));
  EXPECT_TRUE(iptv::etag_list_matches("W/" + etag, etag, true));
  EXPECT_TRUE(iptv::etag_list_matches("\"a\", W/\"b\" ," + etag, etag, true));
  EXPECT_FALSE(iptv::etag_list_matches("\"a\", \"b\"", etag, true));
  EXPECT_FALSE(iptv::etag_list_matches("W/" + etag, etag, false));  // strong: weak never
  EXPECT_FALSE(iptv::etag_list_matches("115-1.2", etag, true));     // unquoted: invalid
}

TEST(HttpConditional, PreconditionOrderAndIfRange) {
  iptv::Validators v{"\"e1\"", 1700000000};
  const char *date_eq = "Tue, 14 Nov 2023 22:13:20 GMT";  // 1700000000
  const char *date_before = "Tue, 14 Nov 2023 22:13:19 GMT";
  iptv::ConditionalHeaders h;
  EXPECT_EQ(iptv::parse_http_date(date_eq), 1700000000);
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kProceed);
  h.if_none_match = "W/\"e1\"";
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kNotModified);
  // If-None-Match wins over If-Modified-Since.
  h.if_none_match = "\"other\"";
  h.if_modified_since = date_eq;
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kProceed);
  h.if_none_match = nullptr;
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kNotModified);
  h.if_modified_since = date_before;
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kProceed);
  h = {};
  h.if_match = "\"nope\"";
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kFailed);
  h.if_match = "*";
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kProceed);
  h = {};
  h.if_unmodified_since = date_before;
  EXPECT_EQ(iptv::evaluate_preconditions(h, v), iptv::Precondition::kFailed);
  EXPECT_TRUE(iptv::if_range_allows(nullptr, v));
  EXPECT_TRUE(iptv::if_range_allows("\"e1\"", v));
  EXPECT_FALSE(iptv::if_range_allows("W/\"e1\"", v));
  EXPECT_FALSE(iptv::if_range_allows("\"e2\"", v));
  EXPECT_TRUE(iptv::if_range_allows(date_eq, v));
  EXPECT_FALSE(iptv::if_range_allows(date_before, v));
  EXPECT_FALSE(iptv::if_range_allows("garbage", v));
}

// The origin's path rules, pure (origin.cpp calls parse_media_path; tests/fuzz/ fuzzes it).
TEST(MediaPath, SplitDecodeAndRefusals) {
  using iptv::MediaPathError;
  iptv::MediaPath mp;
  EXPECT_EQ(iptv::parse_media_path("/hls/news/360p/index.m3u8", false, &mp), MediaPathError::kOk);
  EXPECT_EQ(mp.channel, "news");
  EXPECT_EQ(mp.rel, "/360p/index.m3u8");
  EXPECT_EQ(mp.token_segment, "");
  mp = {};
  EXPECT_EQ(iptv::parse_media_path("/hls/n%65ws/st%3D1~ch%3Dnews/a%20b.ts", true, &mp),
            MediaPathError::kOk);
  EXPECT_EQ(mp.channel, "news");
  EXPECT_EQ(mp.token_segment, "st%3D1~ch%3Dnews");  // raw: the verifier decodes it
  EXPECT_EQ(mp.rel, "/a b.ts");
  EXPECT_EQ(iptv::parse_media_path("/hls/news/index.m3u8", true, &mp),
            MediaPathError::kMissingToken);
  EXPECT_EQ(iptv::parse_media_path("/dash/news/index.m3u8", false, &mp), MediaPathError::kNotHls);
  EXPECT_EQ(iptv::parse_media_path("hls/news/a/index.m3u8", false, &mp), MediaPathError::kNotHls);
  EXPECT_EQ(iptv::parse_media_path("/hls/news", false, &mp), MediaPathError::kNotHls);
  for (const char *bad : {"/hls/news/../x.ts", "/hls/news/%2e%2e/x.ts", "/hls/news/.hidden",
                          "/hls/news/a%2Fb.ts", "/hls/news/a%5Cb.ts", "/hls/news/a%00b.ts",
                          "/hls/news/a%zzb.ts", "/hls/news//x.ts", "/hls/news/x.ts/"})
    EXPECT_EQ(iptv::parse_media_path(bad, false, &mp), MediaPathError::kBadSegment) << bad;
}

}  // namespace
