// AES for HLS content protection (docs/encryption.md), on nettle:
// - AES-128-CBC with PKCS7 padding, the HLS `METHOD=AES-128` cipher (RFC 8216 4.3.2.4): the
//   whole segment file (TS or fMP4) is the plaintext;
// - AES-256-GCM wrapping of content keys with iptvd's master key: a wrapped key is
//   nonce (12) || ciphertext || tag (16), authenticated with caller-given associated data (the
//   channel and key id), so a wrapped key copied to another row does not unwrap.
// Keys and IVs are raw bytes in std::string; nothing here logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iptv::crypto {

// `n` random bytes from the kernel (getrandom(2)); empty on failure (never a weak fallback).
std::string random_bytes(size_t n);

// AES-128-CBC with PKCS7 padding. key and iv are 16 bytes (an empty result otherwise). The
// output is 1..16 bytes longer than the input (a whole padding block for a multiple of 16).
std::string aes128_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plain);
// The inverse; nullopt for a wrong length or bad padding (a wrong key, mostly).
std::optional<std::string> aes128_cbc_decrypt(std::string_view key, std::string_view iv,
                                              std::string_view cipher);

// AES-256-GCM wrap of a secret with a 32-byte master key (random nonce). Empty on a bad master.
std::string wrap_key(std::string_view master, std::string_view secret, std::string_view aad);
// nullopt when the tag does not verify (another master key, another row, a corrupt value).
std::optional<std::string> unwrap_key(std::string_view master, std::string_view wrapped,
                                      std::string_view aad);

// Lower-case hex and back (nullopt for odd length or non-hex).
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace iptv::crypto
