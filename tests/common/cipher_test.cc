// Tests for cipher.h: AES-GCM and AES Key Wrap (RFC 3394).
#include "acon/common/cipher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <utility>

#include "acon/common/ossl.h"
#include "test_util.h"

namespace acon {
namespace {

using test::unhex;

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised 2005, Appendix B test
// cases (also cross-checked with Python's `cryptography` AESGCM).
struct GcmVector {
  const char* name;
  const char* key;
  const char* iv;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr char kTcKey[] = "feffe9928665731c6d6a8f9467308308";
constexpr char kTcKey256[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kTcIv[] = "cafebabefacedbaddecaf888";
constexpr char kTcAad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr char kTcPlain64[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr char kTcPlain60[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

const GcmVector kGcmVectors[] = {
    // Test Case 2: 128-bit zero key, one zero block.
    {"TC2", "00000000000000000000000000000000", "000000000000000000000000", "",
     "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"},
    // Test Case 4: 128-bit key, 60-byte plaintext, 20-byte AAD.
    {"TC4", kTcKey, kTcIv, kTcAad, kTcPlain60,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    // Test Case 5: as TC4 with a 64-bit IV (GHASH-derived counter).
    {"TC5", kTcKey, "cafebabefacedbad", kTcAad, kTcPlain60,
     "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
     "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
     "3612d2e79e3b0785561be14aaca2fccb"},
    // Test Case 13: 256-bit zero key, empty plaintext and AAD.
    {"TC13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    // Test Case 14: 256-bit zero key, one zero block.
    {"TC14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    // Test Case 15: 256-bit key, 64-byte plaintext, no AAD.
    {"TC15", kTcKey256, kTcIv, "", kTcPlain64,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    // Test Case 16: 256-bit key, 60-byte plaintext, 20-byte AAD.
    {"TC16", kTcKey256, kTcIv, kTcAad, kTcPlain60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(GcmTest, EncryptMatchesMcGrewViegaVectors) {
  for (const auto& v : kGcmVectors) {
    auto sealed = aes_gcm_encrypt(unhex(v.key), unhex(v.iv), unhex(v.aad), unhex(v.plaintext));
    ASSERT_TRUE(sealed.ok()) << v.name << ": " << sealed.error().to_string();
    EXPECT_EQ(hex_encode(sealed->ciphertext), v.ciphertext) << v.name;
    EXPECT_EQ(hex_encode(sealed->tag), v.tag) << v.name;
  }
}

TEST(GcmTest, DecryptMatchesMcGrewViegaVectors) {
  for (const auto& v : kGcmVectors) {
    auto opened =
        aes_gcm_decrypt(unhex(v.key), unhex(v.iv), unhex(v.aad), unhex(v.ciphertext), unhex(v.tag));
    ASSERT_TRUE(opened.ok()) << v.name << ": " << opened.error().to_string();
    EXPECT_EQ(hex_encode(view(*opened)), v.plaintext) << v.name;
  }
}

const GcmVector& Tc16() { return kGcmVectors[6]; }

void ExpectVerifyFailed(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& ct,
                        const Bytes& tag, const std::string& what) {
  auto r = aes_gcm_decrypt(key, iv, aad, ct, tag);
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.error().code, Errc::verify_failed) << what << ": " << r.error().to_string();
}

TEST(GcmTest, TagMismatchIsVerifyFailed) {
  const auto& v = Tc16();
  const Bytes key = unhex(v.key), iv = unhex(v.iv), aad = unhex(v.aad), ct = unhex(v.ciphertext);
  const Bytes tag = unhex(v.tag);
  for (size_t i = 0; i < tag.size(); ++i) {
    Bytes bad = tag;
    bad[i] ^= 0x01;
    ExpectVerifyFailed(key, iv, aad, ct, bad, "tag byte " + std::to_string(i));
  }
  ExpectVerifyFailed(key, iv, aad, ct, Bytes(16, 0), "zero tag");
  // Truncated or extended tags are refused outright rather than compared as a prefix.
  ExpectVerifyFailed(key, iv, aad, ct, Bytes(tag.begin(), tag.begin() + 12), "12-byte tag");
  ExpectVerifyFailed(key, iv, aad, ct, Bytes{}, "empty tag");
  Bytes longer = tag;
  longer.push_back(0);
  ExpectVerifyFailed(key, iv, aad, ct, longer, "17-byte tag");
}

TEST(GcmTest, FlippedCiphertextByteIsVerifyFailed) {
  const auto& v = Tc16();
  const Bytes key = unhex(v.key), iv = unhex(v.iv), aad = unhex(v.aad), tag = unhex(v.tag);
  const Bytes ct = unhex(v.ciphertext);
  for (size_t i = 0; i < ct.size(); ++i) {
    Bytes bad = ct;
    bad[i] ^= 0x80;
    ExpectVerifyFailed(key, iv, aad, bad, tag, "ciphertext byte " + std::to_string(i));
  }
  ExpectVerifyFailed(key, iv, aad, Bytes(ct.begin(), ct.end() - 1), tag, "truncated ciphertext");
}

TEST(GcmTest, WrongAadIvOrKeyIsVerifyFailed) {
  const auto& v = Tc16();
  const Bytes key = unhex(v.key), iv = unhex(v.iv), aad = unhex(v.aad), tag = unhex(v.tag);
  const Bytes ct = unhex(v.ciphertext);
  Bytes bad_aad = aad;
  bad_aad[0] ^= 1;
  ExpectVerifyFailed(key, iv, bad_aad, ct, tag, "aad");
  ExpectVerifyFailed(key, iv, Bytes{}, ct, tag, "missing aad");
  Bytes bad_iv = iv;
  bad_iv[11] ^= 1;
  ExpectVerifyFailed(key, bad_iv, aad, ct, tag, "iv");
  Bytes bad_key = key;
  bad_key[31] ^= 1;
  ExpectVerifyFailed(bad_key, iv, aad, ct, tag, "key");
}

TEST(GcmTest, WrongKeySizeIsInvalidArgument) {
  const Bytes iv(12, 0), tag(16, 0), data(16, 0);
  for (size_t size : {0, 1, 15, 17, 20, 31, 33, 64}) {
    auto enc = aes_gcm_encrypt(Bytes(size, 0), iv, {}, data);
    ASSERT_FALSE(enc.ok()) << size;
    EXPECT_EQ(enc.error().code, Errc::invalid_argument) << size;
    auto dec = aes_gcm_decrypt(Bytes(size, 0), iv, {}, data, tag);
    ASSERT_FALSE(dec.ok()) << size;
    EXPECT_EQ(dec.error().code, Errc::invalid_argument) << size;
  }
}

TEST(GcmTest, EmptyIvIsInvalidArgument) {
  auto enc = aes_gcm_encrypt(Bytes(16, 0), Bytes{}, {}, Bytes(16, 0));
  ASSERT_FALSE(enc.ok());
  EXPECT_EQ(enc.error().code, Errc::invalid_argument);
  auto dec = aes_gcm_decrypt(Bytes(16, 0), Bytes{}, {}, Bytes(16, 0), Bytes(16, 0));
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.error().code, Errc::invalid_argument);
}

TEST(GcmTest, RoundTripsEveryKeySizeAndLength) {
  for (size_t key_size : {16, 24, 32}) {
    auto key = random_bytes(key_size);
    ASSERT_TRUE(key.ok());
    for (size_t len : {0, 1, 15, 16, 17, 100}) {
      Bytes plain(len);
      for (size_t i = 0; i < len; ++i) plain[i] = static_cast<uint8_t>(i);
      const Bytes iv(12, 0x42), aad = to_bytes("header");
      auto sealed = aes_gcm_encrypt(*key, iv, aad, plain);
      ASSERT_TRUE(sealed.ok()) << sealed.error().to_string();
      EXPECT_EQ(sealed->ciphertext.size(), len);
      EXPECT_EQ(sealed->tag.size(), 16u);
      auto opened = aes_gcm_decrypt(*key, iv, aad, sealed->ciphertext, sealed->tag);
      ASSERT_TRUE(opened.ok()) << opened.error().to_string();
      EXPECT_TRUE(ct_equal(view(*opened), plain)) << key_size << "/" << len;
    }
  }
}

// RFC 3394 §4 test vectors.
struct KwVector {
  const char* name;
  const char* kek;
  const char* key;
  const char* wrapped;
};
const KwVector kKwVectors[] = {
    {"4.1 (128-bit KEK, 128-bit key)", "000102030405060708090A0B0C0D0E0F",
     "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
    {"4.2 (192-bit KEK, 128-bit key)", "000102030405060708090A0B0C0D0E0F1011121314151617",
     "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
    {"4.6 (256-bit KEK, 256-bit key)",
     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
};

TEST(KeyWrapTest, WrapMatchesRfc3394Vectors) {
  for (const auto& v : kKwVectors) {
    auto wrapped = aes_key_wrap(unhex(v.kek), unhex(v.key));
    ASSERT_TRUE(wrapped.ok()) << v.name << ": " << wrapped.error().to_string();
    EXPECT_EQ(*wrapped, unhex(v.wrapped)) << v.name;
  }
}

TEST(KeyWrapTest, UnwrapMatchesRfc3394Vectors) {
  for (const auto& v : kKwVectors) {
    auto key = aes_key_unwrap(unhex(v.kek), unhex(v.wrapped));
    ASSERT_TRUE(key.ok()) << v.name << ": " << key.error().to_string();
    EXPECT_TRUE(ct_equal(view(*key), unhex(v.key))) << v.name;
    EXPECT_EQ(key->size(), unhex(v.key).size()) << v.name;
  }
}

TEST(KeyWrapTest, TamperedInputIsVerifyFailed) {
  for (const auto& v : kKwVectors) {
    const Bytes kek = unhex(v.kek), wrapped = unhex(v.wrapped);
    for (size_t i = 0; i < wrapped.size(); ++i) {
      Bytes bad = wrapped;
      bad[i] ^= 0x04;
      auto r = aes_key_unwrap(kek, bad);
      ASSERT_FALSE(r.ok()) << v.name << " byte " << i;
      EXPECT_EQ(r.error().code, Errc::verify_failed) << v.name << " byte " << i;
    }
    Bytes wrong_kek = kek;
    wrong_kek[0] ^= 1;
    auto r = aes_key_unwrap(wrong_kek, wrapped);
    ASSERT_FALSE(r.ok()) << v.name;
    EXPECT_EQ(r.error().code, Errc::verify_failed) << v.name;
  }
}

TEST(KeyWrapTest, BadLengthsAreErrors) {
  const Bytes kek(16, 1);
  for (size_t key_size : {0, 8, 12, 15, 17, 20, 31}) {
    auto r = aes_key_wrap(kek, Bytes(key_size, 2));
    ASSERT_FALSE(r.ok()) << key_size;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << key_size;
  }
  for (size_t kek_size : {0, 8, 15, 17, 33}) {
    auto w = aes_key_wrap(Bytes(kek_size, 1), Bytes(16, 2));
    ASSERT_FALSE(w.ok()) << kek_size;
    EXPECT_EQ(w.error().code, Errc::invalid_argument) << kek_size;
    auto u = aes_key_unwrap(Bytes(kek_size, 1), Bytes(24, 2));
    ASSERT_FALSE(u.ok()) << kek_size;
    EXPECT_EQ(u.error().code, Errc::invalid_argument) << kek_size;
  }
  for (size_t wrapped_size : {0, 8, 16, 23, 25, 31, 33}) {
    auto r = aes_key_unwrap(kek, Bytes(wrapped_size, 3));
    ASSERT_FALSE(r.ok()) << wrapped_size;
    EXPECT_EQ(r.error().code, Errc::parse) << wrapped_size;
  }
}

// Key wrap runs on AES-ECB (cipher.cc); OpenSSL's own AES-*-WRAP ciphers are an independent
// implementation of RFC 3394 to compare with, on random keys of every size.
TEST(KeyWrapTest, MatchesOpenSslsWrapCipher) {
  for (auto [kek_size, name] : {std::pair{16, "AES-128-WRAP"}, std::pair{24, "AES-192-WRAP"},
                                std::pair{32, "AES-256-WRAP"}}) {
    for (size_t key_size : {16, 24, 32, 40, 64, 256}) {
      auto kek = random_bytes(kek_size);
      auto key = random_bytes(key_size);
      ASSERT_TRUE(kek.ok() && key.ok());
      ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
      Bytes expected(key_size + 8);
      int len = 0, fin = 0;
      ASSERT_EQ(EVP_EncryptInit_ex2(ctx.get(), ossl::cipher(name), kek->data(), nullptr, nullptr),
                1);
      ASSERT_EQ(EVP_EncryptUpdate(ctx.get(), expected.data(), &len, key->data(),
                                  static_cast<int>(key->size())),
                1);
      ASSERT_EQ(EVP_EncryptFinal_ex(ctx.get(), expected.data() + len, &fin), 1);
      ASSERT_EQ(static_cast<size_t>(len + fin), expected.size());
      auto wrapped = aes_key_wrap(*kek, *key);
      ASSERT_TRUE(wrapped.ok()) << wrapped.error().to_string();
      EXPECT_EQ(*wrapped, expected) << name << " / " << key_size;
      auto unwrapped = aes_key_unwrap(*kek, expected);
      ASSERT_TRUE(unwrapped.ok()) << unwrapped.error().to_string();
      EXPECT_TRUE(ct_equal(view(*unwrapped), *key)) << name << " / " << key_size;
    }
  }
}

TEST(KeyWrapTest, RoundTripsEveryKekSize) {
  for (size_t kek_size : {16, 24, 32}) {
    for (size_t key_size : {16, 24, 32, 64}) {
      auto kek = random_bytes(kek_size);
      auto key = random_bytes(key_size);
      ASSERT_TRUE(kek.ok() && key.ok());
      auto wrapped = aes_key_wrap(*kek, *key);
      ASSERT_TRUE(wrapped.ok()) << wrapped.error().to_string();
      EXPECT_EQ(wrapped->size(), key_size + 8);
      auto unwrapped = aes_key_unwrap(*kek, *wrapped);
      ASSERT_TRUE(unwrapped.ok()) << unwrapped.error().to_string();
      EXPECT_TRUE(ct_equal(view(*unwrapped), *key)) << kek_size << "/" << key_size;
    }
  }
}

}  // namespace
}  // namespace acon
