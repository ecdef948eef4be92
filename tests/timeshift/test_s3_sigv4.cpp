// The archive tier's SigV4 signer (orchestrator/lib/archive/s3_client) against AWS's published
// Signature Version 4 examples: the generic test suite's get-vanilla request, and the S3 API
// reference's GET Object (with Range), PUT Object (a '$' in the key), GET Bucket lifecycle and
// list-objects examples. s3rver, the server the archive test runs against, does not verify
// signatures, so these vectors are what shows the signatures are right. Also: the credentials
// file's checks.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "archive/s3_client.h"
#include "test_support.h"

using namespace iptv::archive;

namespace {

const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const S3Credentials kS3Doc{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};

std::string sig_of(const std::string &auth) {
  return auth.substr(auth.find("Signature=") + 10);
}

}  // namespace

TEST(SigV4, GetVanilla) {
  sigv4::Request r;
  r.method = "GET";
  r.path = "/";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  r.payload_hash = sigv4::sha256_hex("");
  EXPECT_EQ(r.payload_hash, kEmpty);
  std::string names;
  std::string canon = sigv4::canonical_request(r, &names);
  EXPECT_EQ(canon,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                kEmpty);
  EXPECT_EQ(sigv4::sha256_hex(canon),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  std::string auth =
      sigv4::authorization(r, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
                           "us-east-1", "service", "20150830T123600Z");
  EXPECT_EQ(auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
            "SignedHeaders=host;x-amz-date,"
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, S3GetObjectWithRange) {
  sigv4::Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.payload_hash = kEmpty;
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmpty},
               {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(sigv4::sha256_hex(sigv4::canonical_request(r, nullptr)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sigv4::authorization(r, kS3Doc, "us-east-1", "s3", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectKeyIsUriEncoded) {
  std::string body = "Welcome to Amazon S3.";
  sigv4::Request r;
  r.method = "PUT";
  r.path = "/" + sigv4::uri_encode("test$file.text", true);
  EXPECT_EQ(r.path, "/test%24file.text");
  r.payload_hash = sigv4::sha256_hex(body);
  EXPECT_EQ(r.payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", r.payload_hash}};
  EXPECT_EQ(sig_of(sigv4::authorization(r, kS3Doc, "us-east-1", "s3", "20130524T000000Z")),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3BucketQueries) {
  sigv4::Request r;
  r.method = "GET";
  r.path = "/";
  r.payload_hash = kEmpty;
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", kEmpty},
               {"x-amz-date", "20130524T000000Z"}};
  r.query = "lifecycle=";
  EXPECT_EQ(sig_of(sigv4::authorization(r, kS3Doc, "us-east-1", "s3", "20130524T000000Z")),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  r.query = "max-keys=2&prefix=J";
  EXPECT_EQ(sig_of(sigv4::authorization(r, kS3Doc, "us-east-1", "s3", "20130524T000000Z")),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncodingOfObjectKeys) {
  EXPECT_EQ(sigv4::uri_encode("ch/2026-12-07/180p/1_2_0.ts", true), "ch/2026-12-07/180p/1_2_0.ts");
  EXPECT_EQ(sigv4::uri_encode("a b+c/~d", true), "a%20b%2Bc/~d");
  EXPECT_EQ(sigv4::uri_encode("a/b", false), "a%2Fb");
}

TEST(S3Credentials, FileChecks) {
  iptv_test::TempDir dir;
  std::string p = dir.path() + "/creds";
  std::ofstream(p) << "access_key_id: AK\nsecret_access_key: 'sek ret'\n";
  ::chmod(p.c_str(), 0600);
  S3Credentials c = load_s3_credentials(p);
  EXPECT_EQ(c.access_key_id, "AK");
  EXPECT_EQ(c.secret_access_key, "sek ret");
  ::chmod(p.c_str(), 0640);
  try {
    load_s3_credentials(p);
    ADD_FAILURE() << "a group-readable file was accepted";
  } catch (const std::exception &e) {
    std::string m = e.what();
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("640"), std::string::npos) << m;
    EXPECT_EQ(m.find("sek ret"), std::string::npos) << m;
  }
  std::ofstream(p) << "access_key_id: AK\nsecret: x\n";
  ::chmod(p.c_str(), 0600);
  try {
    load_s3_credentials(p);
    ADD_FAILURE() << "an unknown key was accepted";
  } catch (const std::exception &e) {
    EXPECT_NE(std::string(e.what()).find(p + ":2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_s3_credentials(dir.path() + "/absent"), std::runtime_error);
}
