#include "crypto/aes.h"

#include <errno.h>
#include <nettle/aes.h>
#include <nettle/cbc.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>
#include <sys/random.h>

#include <cstring>

namespace iptv::crypto {

namespace {

constexpr size_t kNonce = 12, kTag = 16;

const uint8_t *u8(std::string_view s) {
  return reinterpret_cast<const uint8_t *>(s.data());
}
uint8_t *u8(std::string &s) {
  return reinterpret_cast<uint8_t *>(s.data());
}

}  // namespace

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return {};
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

std::string aes128_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plain) {
  if (key.size() != AES128_KEY_SIZE || iv.size() != AES_BLOCK_SIZE) return {};
  size_t pad = AES_BLOCK_SIZE - plain.size() % AES_BLOCK_SIZE;
  std::string buf(plain);
  buf.append(pad, static_cast<char>(pad));
  struct aes128_ctx ctx;
  aes128_set_encrypt_key(&ctx, u8(key));
  uint8_t chain[AES_BLOCK_SIZE];
  std::memcpy(chain, iv.data(), AES_BLOCK_SIZE);
  cbc_encrypt(&ctx, reinterpret_cast<nettle_cipher_func *>(aes128_encrypt), AES_BLOCK_SIZE, chain,
              buf.size(), u8(buf), u8(buf));
  return buf;
}

std::optional<std::string> aes128_cbc_decrypt(std::string_view key, std::string_view iv,
                                              std::string_view cipher) {
  if (key.size() != AES128_KEY_SIZE || iv.size() != AES_BLOCK_SIZE || cipher.empty() ||
      cipher.size() % AES_BLOCK_SIZE)
    return std::nullopt;
  std::string buf(cipher);
  struct aes128_ctx ctx;
  aes128_set_decrypt_key(&ctx, u8(key));
  uint8_t chain[AES_BLOCK_SIZE];
  std::memcpy(chain, iv.data(), AES_BLOCK_SIZE);
  cbc_decrypt(&ctx, reinterpret_cast<nettle_cipher_func *>(aes128_decrypt), AES_BLOCK_SIZE, chain,
              buf.size(), u8(buf), u8(buf));
  uint8_t pad = static_cast<uint8_t>(buf.back());
  if (pad == 0 || pad > AES_BLOCK_SIZE) return std::nullopt;
  for (size_t i = buf.size() - pad; i < buf.size(); ++i)
    if (static_cast<uint8_t>(buf[i]) != pad) return std::nullopt;
  buf.resize(buf.size() - pad);
  return buf;
}

std::string wrap_key(std::string_view master, std::string_view secret, std::string_view aad) {
  if (master.size() != AES256_KEY_SIZE) return {};
  std::string nonce = random_bytes(kNonce);
  if (nonce.size() != kNonce) return {};
  struct gcm_aes256_ctx ctx;
  gcm_aes256_set_key(&ctx, u8(master));
  gcm_aes256_set_iv(&ctx, kNonce, u8(nonce));
  gcm_aes256_update(&ctx, aad.size(), u8(aad));
  std::string out = nonce;
  out.resize(kNonce + secret.size() + kTag);
  gcm_aes256_encrypt(&ctx, secret.size(), u8(out) + kNonce, u8(secret));
  gcm_aes256_digest(&ctx, kTag, u8(out) + kNonce + secret.size());
  return out;
}

std::optional<std::string> unwrap_key(std::string_view master, std::string_view wrapped,
                                      std::string_view aad) {
  if (master.size() != AES256_KEY_SIZE || wrapped.size() < kNonce + kTag) return std::nullopt;
  size_t n = wrapped.size() - kNonce - kTag;
  struct gcm_aes256_ctx ctx;
  gcm_aes256_set_key(&ctx, u8(master));
  gcm_aes256_set_iv(&ctx, kNonce, u8(wrapped));
  gcm_aes256_update(&ctx, aad.size(), u8(aad));
  std::string out(n, '\0');
  gcm_aes256_decrypt(&ctx, n, u8(out), u8(wrapped) + kNonce);
  uint8_t tag[kTag];
  gcm_aes256_digest(&ctx, kTag, tag);
  if (!nettle_memeql_sec(tag, u8(wrapped) + kNonce + n, kTag)) return std::nullopt;
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char *d = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int a = v(hex[2 * i]), b = v(hex[2 * i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out[i] = static_cast<char>(a * 16 + b);
  }
  return out;
}

}  // namespace iptv::crypto
