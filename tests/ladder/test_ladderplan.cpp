// The GStreamer-free decisions behind iptvabrladder.
#include <gtest/gtest.h>

#include "abrladder_plan.h"

namespace {

using iptv::Profile;

Profile prof(const char *name) {
  iptv::ProfileCatalog c;
  return *c.resolve(name);
}

TEST(RungPlan, KeepsAspectRatioAndDropsTallerRungs) {
  auto plans = iptv::plan_rungs({prof("1080p-6mbps"), prof("720p-3mbps"), prof("360p-600kbps")},
                                1280, 720, 1, 1, 30, 1);
  ASSERT_EQ(plans.size(), 3u);
  EXPECT_TRUE(plans[0].dropped);
  EXPECT_NE(plans[0].drop_reason.find("taller than the source"), std::string::npos);
  EXPECT_FALSE(plans[1].dropped);
  EXPECT_EQ(plans[1].width, 1280);
  EXPECT_EQ(plans[1].height, 720);
  EXPECT_EQ(plans[2].width, 640);
  // A 4:3 source keeps 4:3: the profile's height, the width from the display aspect ratio.
  auto sd = iptv::plan_rungs({prof("360p-600kbps")}, 640, 480, 1, 1, 25, 1);
  EXPECT_EQ(sd[0].width, 480);
  EXPECT_EQ(sd[0].height, 360);
  // Anamorphic PAL (720x576, PAR 64:45 = 16:9 display).
  auto pal = iptv::plan_rungs({prof("360p-600kbps")}, 720, 576, 64, 45, 25, 1);
  EXPECT_EQ(pal[0].width, 640);
}

TEST(RungPlan, FrameRateCap) {
  iptv::ProfileCatalog c;
  auto p = *c.resolve("640x360@800@30");
  auto r60 = iptv::plan_rungs({p}, 1280, 720, 1, 1, 60, 1);
  EXPECT_EQ(r60[0].fps_n, 60);
  EXPECT_EQ(r60[0].fps_d, 2);  // 30 fps
  auto r5994 = iptv::plan_rungs({p}, 1280, 720, 1, 1, 60000, 1001);
  EXPECT_EQ(r5994[0].fps_n * 1001 * 2, r5994[0].fps_d * 60000);  // 29.97
  auto r25 = iptv::plan_rungs({p}, 1280, 720, 1, 1, 25, 1);
  EXPECT_EQ(r25[0].fps_n, 0);  // already under the cap: keep
}

TEST(KeyframeGrid, FirstFrameAtOrAfterEachGridPoint) {
  iptv::KeyframeGrid g(2000);
  EXPECT_TRUE(g.should_force(0));  // exactly on the grid
  EXPECT_FALSE(g.should_force(400));
  EXPECT_FALSE(g.should_force(1999));
  EXPECT_TRUE(g.should_force(2033));  // the first frame after 2000
  EXPECT_FALSE(g.should_force(2066));
  EXPECT_TRUE(g.should_force(6001));  // a skipped grid point still forces one keyframe
  iptv::KeyframeGrid h(2000);
  EXPECT_FALSE(h.should_force(1500));  // joining mid-interval: wait for the next grid point
  EXPECT_TRUE(h.should_force(2000));
}

TEST(KeyframeGrid, EpochGridIsTheSameForLateStarters) {
  // Two encoders fed the same frames, one starting 3.3 s later, force the same frames.
  const int64_t frame = 40'000'000, base = 1'732'000'000'000'000'000;  // a UTC time in ns
  iptv::KeyframeGrid a(2'000'000'000), b(2'000'000'000);
  std::vector<int64_t> ka, kb;
  for (int i = 0; i < 500; ++i) {
    int64_t t = base + i * frame + 7'000'000;
    if (a.should_force(t)) ka.push_back(t);
    if (i >= 83 && b.should_force(t)) kb.push_back(t);
  }
  ASSERT_GE(kb.size(), 5u);
  std::vector<int64_t> tail(ka.end() - kb.size(), ka.end());
  EXPECT_EQ(tail, kb);
}

TEST(EncoderChoice, AutoPrefersHardwareAndFallsBack) {
  auto cands = iptv::encoder_candidates(iptv::EncoderKind::kAuto, iptv::HwFallback::kSoftware);
  EXPECT_EQ(cands.front(), "nvh264enc");
  EXPECT_EQ(cands.back(), "x264enc");
  std::string why;
  auto exists = [](const std::string &n) { return n == "nvh264enc" || n == "x264enc"; };
  auto nv_full = [](const std::string &n) { return n != "nvh264enc"; };
  auto pick = iptv::choose_encoder(cands, exists, nv_full, &why);
  ASSERT_TRUE(pick);
  EXPECT_EQ(*pick, "x264enc");
  EXPECT_NE(why.find("nvh264enc failed to open"), std::string::npos) << why;
  auto fail_only = iptv::encoder_candidates(iptv::EncoderKind::kNvenc, iptv::HwFallback::kFail);
  EXPECT_FALSE(iptv::choose_encoder(fail_only, exists, nv_full, &why));
  EXPECT_NE(why.find("nvh264enc failed to open"), std::string::npos);
  auto vaapi = iptv::encoder_candidates(iptv::EncoderKind::kVaapi, iptv::HwFallback::kSoftware);
  EXPECT_EQ(vaapi, (std::vector<std::string>{"vah264enc", "vaapih264enc", "x264enc"}));
}

TEST(RateControl, VbvBoundsTwoSecondWindows) {
  auto rc = iptv::rate_control_for(3000);
  EXPECT_EQ(rc.bitrate_kbps, 3000);
  EXPECT_EQ(rc.maxrate_kbps, 3000);
  EXPECT_EQ(rc.bufsize_kbits, 2400);
  // Worst case over 2 s: a full buffer plus 2 s at maxrate.
  EXPECT_LE((rc.maxrate_kbps * 2 + rc.bufsize_kbits) / 2.0, 1.5 * 3000);
}

TEST(ProfileList, ParsesCatalogAndExplicitNames) {
  iptv::ProfileCatalog c;
  std::vector<Profile> out;
  std::string err;
  ASSERT_TRUE(iptv::parse_profile_list("720p-3mbps, 640x360@800@30", c, out, &err));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].max_fps, 30);
  EXPECT_FALSE(iptv::parse_profile_list("720p-3mbs", c, out, &err));
  EXPECT_NE(err.find("did you mean '720p-3mbps'"), std::string::npos);
  EXPECT_FALSE(iptv::parse_profile_list("passthrough", c, out, &err));
}

TEST(InputPreference, TopRungSizeAndRate) {
  iptv::ProfileCatalog c;
  // The tallest rung, wherever it is in the list.
  auto pref = iptv::preferred_input({prof("360p-600kbps"), prof("1080p-6mbps")}, true, 1, 1);
  ASSERT_TRUE(pref);
  EXPECT_EQ(pref->width, 1920);
  EXPECT_EQ(pref->height, 1080);
  EXPECT_EQ(pref->fps_n, 0);  // no cap: keep the source's rate
  auto capped = iptv::preferred_input({*c.resolve("640x360@800@25")}, true, 1, 1);
  EXPECT_EQ(capped->fps_n, 25);
  EXPECT_EQ(capped->fps_d, 1);
  // A fixed non-square source: the rung's display shape on its pixels.
  auto anamorphic = iptv::preferred_input({prof("1080p-6mbps")}, true, 4, 3);
  EXPECT_EQ(anamorphic->width, 1440);
  // A scaler upstream (aspect not fixed): only the height; the scaler keeps the source's shape.
  auto open = iptv::preferred_input({prof("1080p-6mbps")}, false, 1, 1);
  EXPECT_EQ(open->width, 0);
  EXPECT_EQ(open->height, 1080);
  EXPECT_FALSE(iptv::preferred_input({}, true, 1, 1));
}

TEST(InputPreference, SmallestRungForErrors) {
  auto low = iptv::smallest_rung({prof("720p-3mbps"), prof("360p-600kbps"), prof("540p-1800kbps")});
  ASSERT_TRUE(low);
  EXPECT_EQ(low->name, "360p-600kbps");
  EXPECT_FALSE(iptv::smallest_rung({}));
}

}  // namespace

namespace {

TEST(Cascade, EachRungScaledFromTheNextLargerWithTheSameFrameRate) {
  iptv::ProfileCatalog c;
  std::vector<Profile> ladder = {prof("1080p-6mbps"), prof("480p-1mbps"), prof("720p-3mbps")};
  EXPECT_EQ(iptv::cascade_parents(ladder), (std::vector<int>{-1, 2, 0}));
  // As tall: the later one takes the earlier one's picture (no scaling at all); of two equal
  // candidates the first is the parent.
  std::vector<Profile> twins = {*c.resolve("1280x720@3000"), *c.resolve("1280x720@1500"),
                                *c.resolve("640x360@800")};
  EXPECT_EQ(iptv::cascade_parents(twins), (std::vector<int>{-1, 0, 0}));
  // A frame-rate cap changes the picture stream: only rungs with the same cap chain.
  std::vector<Profile> capped = {*c.resolve("1280x720@3000"), *c.resolve("960x540@2000@30"),
                                 *c.resolve("640x360@800@30"), *c.resolve("480x270@400")};
  EXPECT_EQ(iptv::cascade_parents(capped), (std::vector<int>{-1, -1, 1, 0}));
}

TEST(X264Threads, CoresSharedByRungSize) {
  std::vector<Profile> ladder = {prof("1080p-6mbps"), prof("720p-3mbps"), prof("480p-1mbps")};
  EXPECT_EQ(iptv::x264_threads(ladder, 2), (std::vector<int>{2, 1, 1}));
  EXPECT_EQ(iptv::x264_threads(ladder, 8), (std::vector<int>{7, 3, 1}));
  EXPECT_EQ(iptv::x264_threads({prof("720p-3mbps")}, 1), (std::vector<int>{2}));
}

}  // namespace
