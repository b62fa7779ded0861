// Tests for hash.h: known answers, incremental hashing and algorithm names.
#include "acon/common/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "test_util.h"

namespace acon {
namespace {

using test::unhex;

struct Kat {
  HashAlg alg;
  const char* empty;
  const char* abc;
  const char* million_a;
};

// FIPS 180-2 Appendices A–C / NIST "Cryptographic Algorithm Validation" examples: SHA of "",
// of "abc", and of 1,000,000 repetitions of 'a' (cross-checked with coreutils sha*sum).
const Kat kKats[] = {
    {HashAlg::sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
     "a9993e364706816aba3e25717850c26c9cd0d89d", "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
    {HashAlg::sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {HashAlg::sha384,
     "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b"
     "95"
     "b",
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c82"
     "5a"
     "7",
     "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8"
     "98"
     "5"},
    {HashAlg::sha512,
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877ee"
     "c2f"
     "63b931bd47417a81a538327af927da3e",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd"
     "454d4423643ce80e2a9ac94fa54ca49f",
     "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c"
     "31b"
     "eb009c5c2c49aa2e4eadb217ad8cc09b"},
};

std::string HexDigest(HashAlg alg, ByteView data) {
  auto r = digest(alg, data);
  return r ? hex_encode(*r) : "error: " + r.error().to_string();
}

TEST(HashKatTest, EmptyString) {
  for (const Kat& k : kKats) {
    EXPECT_EQ(HexDigest(k.alg, ByteView{}), k.empty) << hash_name(k.alg);
    auto text = digest(k.alg, std::string_view(""));
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(hex_encode(*text), k.empty) << hash_name(k.alg);
  }
}

TEST(HashKatTest, Abc) {
  for (const Kat& k : kKats) {
    EXPECT_EQ(HexDigest(k.alg, as_bytes("abc")), k.abc) << hash_name(k.alg);
  }
}

TEST(HashKatTest, MillionA) {
  const std::string million(1000000, 'a');
  for (const Kat& k : kKats) {
    EXPECT_EQ(HexDigest(k.alg, as_bytes(million)), k.million_a) << hash_name(k.alg);
    // The same message fed in uneven chunks.
    auto h = Hasher::create(k.alg);
    ASSERT_TRUE(h.ok());
    size_t fed = 0;
    for (size_t chunk = 1; fed < million.size(); chunk = chunk * 3 + 1) {
      size_t n = std::min(chunk, million.size() - fed);
      h->update(std::string_view(million).substr(fed, n));
      fed += n;
    }
    EXPECT_EQ(hex_encode(h->finish()), k.million_a) << hash_name(k.alg);
  }
}

TEST(HashKatTest, ConvenienceFunctionsMatchDigest) {
  EXPECT_EQ(sha256(as_bytes("abc")), unhex(kKats[1].abc));
  EXPECT_EQ(sha384(as_bytes("abc")), unhex(kKats[2].abc));
  EXPECT_EQ(sha512(as_bytes("abc")), unhex(kKats[3].abc));
  EXPECT_EQ(sha256(ByteView{}), unhex(kKats[1].empty));
}

TEST(HashKatTest, Sm3AbcOrUnsupported) {
  // GB/T 32905-2016 Appendix A.1: SM3("abc").
  const char* kSm3Abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
  auto one_shot = digest(HashAlg::sm3, as_bytes("abc"));
  auto hasher = Hasher::create(HashAlg::sm3);
  if (hash_available(HashAlg::sm3)) {
    ASSERT_TRUE(one_shot.ok()) << one_shot.error().to_string();
    EXPECT_EQ(hex_encode(*one_shot), kSm3Abc);
    ASSERT_TRUE(hasher.ok());
    hasher->update(std::string_view("a"));
    hasher->update(std::string_view("bc"));
    EXPECT_EQ(hex_encode(hasher->finish()), kSm3Abc);
  } else {
    ASSERT_FALSE(one_shot.ok());
    EXPECT_EQ(one_shot.error().code, Errc::unsupported);
    ASSERT_FALSE(hasher.ok());
    EXPECT_EQ(hasher.error().code, Errc::unsupported);
  }
}

TEST(HashKatTest, ShaFamilyAlwaysAvailable) {
  for (HashAlg alg : {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384, HashAlg::sha512}) {
    EXPECT_TRUE(hash_available(alg)) << hash_name(alg);
  }
}

constexpr HashAlg kAllAlgs[] = {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384, HashAlg::sha512,
                                HashAlg::sm3};

TEST(HasherTest, IncrementalEqualsOneShotAtEverySplitPoint) {
  // 300 bytes span several 64- and 128-byte blocks, so splits hit every block offset.
  Bytes message(300);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(i * 7 + 3);
  const ByteView all(message);
  for (HashAlg alg : kAllAlgs) {
    if (!hash_available(alg)) continue;
    auto expected = digest(alg, all);
    ASSERT_TRUE(expected.ok());
    auto h = Hasher::create(alg);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->alg(), alg);
    for (size_t split = 0; split <= message.size(); ++split) {
      h->update(all.subspan(0, split));
      h->update(all.subspan(split));
      EXPECT_EQ(h->finish(), *expected) << hash_name(alg) << " split " << split;
    }
    for (size_t a = 0; a <= message.size(); a += 37) {
      for (size_t b = a; b <= message.size(); b += 53) {
        h->update(all.subspan(0, a));
        h->update(all.subspan(a, b - a));
        h->update(all.subspan(b));
        EXPECT_EQ(h->finish(), *expected) << hash_name(alg) << " splits " << a << "," << b;
      }
    }
  }
}

TEST(HasherTest, FinishResetsForReuse) {
  for (const Kat& k : kKats) {
    auto h = Hasher::create(k.alg);
    ASSERT_TRUE(h.ok());
    h->update(std::string_view("abc"));
    EXPECT_EQ(hex_encode(h->finish()), k.abc) << hash_name(k.alg);
    // Nothing fed since finish(): the digest of the empty string, not of "abc" again.
    EXPECT_EQ(hex_encode(h->finish()), k.empty) << hash_name(k.alg);
    h->update(std::string_view("ab"));
    h->update(std::string_view("c"));
    EXPECT_EQ(hex_encode(h->finish()), k.abc) << hash_name(k.alg);
  }
}

TEST(HasherTest, FreshHasherWithoutInputGivesEmptyDigest) {
  for (const Kat& k : kKats) {
    auto h = Hasher::create(k.alg);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(hex_encode(h->finish()), k.empty) << hash_name(k.alg);
  }
}

TEST(HasherTest, MovedHasherKeepsState) {
  auto h = Hasher::create(HashAlg::sha256);
  ASSERT_TRUE(h.ok());
  h->update(std::string_view("ab"));
  Hasher moved = std::move(*h);
  moved.update(std::string_view("c"));
  EXPECT_EQ(hex_encode(moved.finish()), kKats[1].abc);
}

// A copy continues from the state it was copied in, independently of the original.
TEST(HasherTest, CopyContinuesFromTheSameState) {
  for (const Kat& k : kKats) {
    auto h = Hasher::create(k.alg);
    ASSERT_TRUE(h.ok());
    h->update(std::string_view("a"));
    auto first = h->copy();
    auto second = h->copy();
    ASSERT_TRUE(first.ok() && second.ok());
    first->update(std::string_view("bc"));
    EXPECT_EQ(hex_encode(first->finish()), k.abc) << hash_name(k.alg);
    second->update(std::string_view("b"));
    second->update(std::string_view("c"));
    EXPECT_EQ(hex_encode(second->finish()), k.abc) << hash_name(k.alg);
    h->update(std::string_view("bc"));
    EXPECT_EQ(hex_encode(h->finish()), k.abc) << hash_name(k.alg);
  }
}

TEST(HashNameTest, FromNameAcceptsSpellings) {
  EXPECT_EQ(hash_from_name("sha384"), HashAlg::sha384);
  EXPECT_EQ(hash_from_name("SHA384"), HashAlg::sha384);
  EXPECT_EQ(hash_from_name("SHA-384"), HashAlg::sha384);
  EXPECT_EQ(hash_from_name("SHA_384"), HashAlg::sha384);
  EXPECT_EQ(hash_from_name("sha-256"), HashAlg::sha256);
  EXPECT_EQ(hash_from_name("SHA-512"), HashAlg::sha512);
  EXPECT_EQ(hash_from_name("SHA-1"), HashAlg::sha1);
  EXPECT_EQ(hash_from_name("sha1"), HashAlg::sha1);
  EXPECT_EQ(hash_from_name("SM3"), HashAlg::sm3);
  EXPECT_EQ(hash_from_name("sm3"), HashAlg::sm3);
  EXPECT_EQ(hash_from_name("sm3_256"), HashAlg::sm3);
}

TEST(HashNameTest, FromNameRejectsUnknown) {
  EXPECT_EQ(hash_from_name(""), std::nullopt);
  EXPECT_EQ(hash_from_name("md5"), std::nullopt);
  EXPECT_EQ(hash_from_name("sha"), std::nullopt);
  EXPECT_EQ(hash_from_name("sha224"), std::nullopt);
  EXPECT_EQ(hash_from_name("sha3-384"), std::nullopt);
  EXPECT_EQ(hash_from_name("sha384 "), std::nullopt);
  EXPECT_EQ(hash_from_name("sha3840"), std::nullopt);
  EXPECT_EQ(hash_from_name("s-h-a_384"), std::nullopt);
  EXPECT_EQ(hash_from_name("sha--384"), std::nullopt);
}

TEST(HashNameTest, NameRoundTrips) {
  EXPECT_EQ(hash_name(HashAlg::sha1), "sha1");
  EXPECT_EQ(hash_name(HashAlg::sha256), "sha256");
  EXPECT_EQ(hash_name(HashAlg::sha384), "sha384");
  EXPECT_EQ(hash_name(HashAlg::sha512), "sha512");
  EXPECT_EQ(hash_name(HashAlg::sm3), "sm3");
  for (HashAlg alg : kAllAlgs) EXPECT_EQ(hash_from_name(hash_name(alg)), alg);
}

TEST(HashNameTest, SizesMatchDigests) {
  EXPECT_EQ(hash_size(HashAlg::sha1), 20u);
  EXPECT_EQ(hash_size(HashAlg::sha256), 32u);
  EXPECT_EQ(hash_size(HashAlg::sha384), 48u);
  EXPECT_EQ(hash_size(HashAlg::sha512), 64u);
  EXPECT_EQ(hash_size(HashAlg::sm3), 32u);
  for (HashAlg alg : kAllAlgs) {
    if (!hash_available(alg)) continue;
    auto d = digest(alg, as_bytes("x"));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->size(), hash_size(alg)) << hash_name(alg);
  }
}

}  // namespace
}  // namespace acon
