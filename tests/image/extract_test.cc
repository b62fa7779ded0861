#include "acon/image/layers/extract.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "acon/common/hash.h"
#include "layer_test_util.h"

namespace acon::image::layers {
namespace {

using test::read_file;
using test::TarBuilder;
using test::TempDir;
namespace fs = std::filesystem;

// A target root inside a temporary directory, with a sentinel file beside it (outside the root)
// that no archive may touch.
class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    fs::create_directories(root());
    fs::create_directories(outside());
    test::write_file(sentinel(), "sentinel");
  }
  fs::path root() const { return tmp_ / "root"; }
  fs::path outside() const { return tmp_ / "outside"; }
  fs::path sentinel() const { return outside() / "sentinel"; }

  Result<ExtractResult> extract(const TarBuilder& tar, const ExtractOptions& options = {}) {
    MemorySource source(tar.bytes());
    return extract_layer(source, root(), options);
  }

  // Nothing was created or changed outside the root.
  void expect_outside_untouched() {
    EXPECT_EQ(read_file(sentinel()), "sentinel");
    struct stat st {};
    ASSERT_EQ(::stat(sentinel().c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);
    size_t outside_entries = 0;
    for (const auto& e : fs::directory_iterator(outside())) {
      (void)e;
      ++outside_entries;
    }
    EXPECT_EQ(outside_entries, 1u);
    size_t top_entries = 0;
    for (const auto& e : fs::directory_iterator(tmp_.path())) {
      (void)e;
      ++top_entries;
    }
    EXPECT_EQ(top_entries, 2u);  // root and outside
  }

  TempDir tmp_;
};

TEST_F(ExtractTest, ExtractsFilesDirectoriesAndLinks) {
  TarBuilder tar;
  tar.dir("etc/", 0755)
      .file("etc/hostname", "acon\n", 0644)
      .file("bin/tool", "#!/bin/sh\n", 0755)
      .symlink("bin/sh", "tool")
      .hardlink("bin/tool2", "bin/tool")
      .dir("secret/", 0700)
      .end();
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->entries, 6u);
  EXPECT_EQ(r->file_bytes, 15u);
  EXPECT_EQ(read_file(root() / "etc/hostname"), "acon\n");
  EXPECT_EQ(fs::read_symlink(root() / "bin/sh"), "tool");
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat((root() / "bin/tool").c_str(), &a), 0);
  ASSERT_EQ(::stat((root() / "bin/tool2").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 07777, 0755u);
  EXPECT_EQ(a.st_mtime, 1700000000);
  ASSERT_EQ(::stat((root() / "secret").c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 0700u);
  EXPECT_EQ(a.st_mtime, 1700000000);  // set after its contents were written
}

TEST_F(ExtractTest, AbsoluteNameRefusedOrStripped) {
  TarBuilder tar;
  tar.file(sentinel().string(), "overwritten").end();
  auto r = extract(tar);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("absolute"), std::string::npos);
  EXPECT_NE(r.error().message.find("at offset 0"), std::string::npos) << r.error().message;
  expect_outside_untouched();

  ExtractOptions strip;
  strip.strip_absolute = true;
  auto stripped = extract(tar, strip);
  ASSERT_TRUE(stripped.ok()) << stripped.error().to_string();
  EXPECT_EQ(read_file(root() / sentinel().relative_path()), "overwritten");
  expect_outside_untouched();
}

TEST_F(ExtractTest, DotDotRefused) {
  for (const std::string name : {"../outside/sentinel", "a/../../outside/sentinel", "./..", ".."}) {
    TarBuilder tar;
    tar.file("ok", "x").file(name, "overwritten").end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.error().message.find("'..'"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("at offset 1024"), std::string::npos) << r.error().message;
    expect_outside_untouched();
  }
}

TEST_F(ExtractTest, WritingThroughAnAbsoluteSymlinkStaysInsideTheRoot) {
  // "escape" points at the real directory holding the sentinel; a later entry goes through it.
  TarBuilder tar;
  tar.symlink("escape", outside().string()).file("escape/sentinel", "overwritten").end();
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  // Resolved as under chroot: the write landed in root/<outside path>/sentinel.
  EXPECT_EQ(read_file(root() / outside().relative_path() / "sentinel"), "overwritten");
  EXPECT_EQ(fs::read_symlink(root() / "escape"), outside());
  expect_outside_untouched();
}

TEST_F(ExtractTest, RelativeSymlinkClimbingAboveTheRootRefused) {
  TarBuilder tar;
  tar.symlink("up", "../outside").file("up/sentinel", "overwritten").end();
  auto r = extract(tar);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("leads outside the root"), std::string::npos);
  expect_outside_untouched();

  // Allowed on request, a later write through it is still confined to the root.
  ExtractOptions lax;
  lax.allow_escaping_symlinks = true;
  TarBuilder deep;
  deep.symlink("a/b/up", "../../../../outside").file("a/b/up/sentinel", "overwritten").end();
  auto allowed = extract(deep, lax);
  ASSERT_TRUE(allowed.ok()) << allowed.error().to_string();
  EXPECT_EQ(read_file(root() / "outside/sentinel"), "overwritten");
  expect_outside_untouched();
}

TEST_F(ExtractTest, ExistingSymlinkAtTheEntryNameIsReplacedNotFollowed) {
  TarBuilder tar;
  tar.symlink("victim", sentinel().string()).file("victim", "overwritten").end();
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(fs::is_symlink(root() / "victim"));
  EXPECT_EQ(read_file(root() / "victim"), "overwritten");
  expect_outside_untouched();

  // The same through a hardlink entry named like the symlink.
  TarBuilder tar2;
  tar2.file("data", "inside").symlink("victim2", sentinel().string()).hardlink("victim2", "data");
  tar2.end();
  auto r2 = extract(tar2);
  ASSERT_TRUE(r2.ok()) << r2.error().to_string();
  EXPECT_EQ(read_file(root() / "victim2"), "inside");
  expect_outside_untouched();
}

TEST_F(ExtractTest, HardlinkToAFileOutsideTheRootRefused) {
  {
    TarBuilder tar;
    tar.hardlink("passwd", "/etc/passwd").end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("absolute"), std::string::npos);
  }
  {
    TarBuilder tar;
    tar.hardlink("s", "../outside/sentinel").end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("'..'"), std::string::npos);
  }
  {
    // Through a symlink to the outside directory: resolved inside the root, where it is absent.
    TarBuilder tar;
    tar.symlink("esc", outside().string()).hardlink("s", "esc/sentinel").end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("hardlink target"), std::string::npos);
  }
  {
    ExtractOptions strip;
    strip.strip_absolute = true;
    TarBuilder tar;
    tar.hardlink("s", sentinel().string()).end();
    EXPECT_FALSE(extract(tar, strip).ok());
  }
  expect_outside_untouched();
  EXPECT_FALSE(fs::exists(root() / "passwd"));
}

TEST_F(ExtractTest, DeviceNodesAndFifosRefusedByDefault) {
  for (char type : {'3', '4', '6'}) {
    TarBuilder tar;
    tar.special("dev/node", type).end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unsupported);
    EXPECT_NE(r.error().message.find("dev/node"), std::string::npos);
    EXPECT_FALSE(fs::exists(root() / "dev/node"));
  }
  ExtractOptions allow;
  allow.allow_special_files = true;
  TarBuilder fifo;
  fifo.special("pipe", '6').end();
  auto r = extract(fifo, allow);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(root() / "pipe")));
  expect_outside_untouched();
}

TEST_F(ExtractTest, SetuidAndSetgidClearedUnlessKept) {
  TarBuilder tar;
  tar.file("su", "x", 04755).file("wall", "y", 02755).file("plain", "z", 0644).end();
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->setid_cleared, 2u);
  EXPECT_EQ(fs::status(root() / "su").permissions(), fs::perms(0755));
  EXPECT_EQ(fs::status(root() / "wall").permissions(), fs::perms(0755));

  ExtractOptions keep;
  keep.keep_setid = true;
  auto kept = extract(tar, keep);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->setid_cleared, 0u);
  struct stat st {};
  ASSERT_EQ(::stat((root() / "su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
}

TEST_F(ExtractTest, OversizedHeadersNamesAndSizesRefused) {
  {
    TarBuilder tar;  // a pax path far beyond PATH_MAX
    tar.pax({{"path", std::string(200000, 'a')}}).file("short", "x").end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("limit 4096"), std::string::npos) << r.error().message;
  }
  {
    TarBuilder tar;  // many pax records: headers over the per-entry limit
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < 200; ++i) records.emplace_back("comment", std::string(1000, 'c'));
    tar.pax(records).file("f", "x").end();
    ExtractOptions options;
    auto r = extract(tar, options);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("headers of"), std::string::npos) << r.error().message;
  }
  {
    TarBuilder tar;  // GNU long name with a 300-byte component
    tar.gnu_longname("d/" + std::string(300, 'n')).file("ignored", "x").end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("component of 300 bytes"), std::string::npos);
  }
  {
    TarBuilder tar;  // absurd size in base-256, data absent
    TarBuilder::Header h;
    h.name = "huge";
    h.size = uint64_t{1} << 60;
    h.size_base256 = true;
    tar.header(h).end();
    auto r = extract(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("exceeds the entry limit"), std::string::npos)
        << r.error().message;
  }
  {
    TarBuilder tar;  // total size limit across entries
    tar.file("a", std::string(600, 'a')).file("b", std::string(600, 'b')).end();
    ExtractOptions small;
    small.limits.max_total_bytes = 1000;
    auto r = extract(tar, small);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("'b' at offset 1536"), std::string::npos) << r.error().message;
  }
  {
    TarBuilder tar;
    for (int i = 0; i < 5; ++i) tar.file("f" + std::to_string(i), "x");
    tar.end();
    ExtractOptions few;
    few.limits.max_entries = 4;
    auto r = extract(tar, few);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("more than 4 entries"), std::string::npos);
  }
  {
    TarBuilder tar;
    std::string deep;
    for (int i = 0; i < 300; ++i) deep += "d/";
    tar.file(deep.substr(0, 98) + "f", "x").end();
    ExtractOptions shallow;
    shallow.limits.max_depth = 10;
    EXPECT_FALSE(extract(tar, shallow).ok());
  }
  expect_outside_untouched();
}

TEST_F(ExtractTest, TruncatedAndMalformedArchivesFail) {
  TarBuilder tar;
  tar.file("first", "1").file("big", std::string(5000, 'x')).end();
  const Bytes& full = tar.bytes();
  for (size_t cut : {size_t{100}, size_t{1024 + 300}, size_t{1536 + 2000}}) {
    Bytes part(full.begin(), full.begin() + static_cast<long>(cut));
    MemorySource source(part);
    auto r = extract_layer(source, root(), {});
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
  }
  Bytes corrupt = full;
  corrupt[150] ^= 0x55;  // checksum field of the first header
  MemorySource bad(corrupt);
  EXPECT_FALSE(extract_layer(bad, root(), {}).ok());
  MemorySource empty(ByteView{});
  EXPECT_FALSE(extract_layer(empty, root(), {}).ok());
  expect_outside_untouched();
}

TEST_F(ExtractTest, ParentThatIsAFileRefused) {
  TarBuilder tar;
  tar.file("f", "x").file("f/child", "y").end();
  auto r = extract(tar);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a directory"), std::string::npos) << r.error().message;
}

TEST_F(ExtractTest, SymlinkedParentDirectoryIsFollowedInsideTheRoot) {
  TarBuilder tar;
  tar.dir("usr/lib/").symlink("lib", "usr/lib").file("lib/libc.so", "elf").end();
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(read_file(root() / "usr/lib/libc.so"), "elf");
  EXPECT_TRUE(fs::is_symlink(root() / "lib"));
}

TEST_F(ExtractTest, SymlinkLoopsFail) {
  TarBuilder tar;
  tar.symlink("a", "b").symlink("b", "a").file("a/x", "y").end();
  auto r = extract(tar);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("too many levels"), std::string::npos);
}

TEST_F(ExtractTest, LaterEntriesReplaceEarlierOnes) {
  TarBuilder tar;
  tar.file("d/x", "1").file("d", "now a file").dir("f/").file("f/y", "2").end();
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(read_file(root() / "d"), "now a file");
  EXPECT_EQ(read_file(root() / "f/y"), "2");
}

TEST_F(ExtractTest, WhiteoutsApplyAcrossStackedLayers) {
  TarBuilder lower;
  lower.file("a/x", "x").file("a/y", "y").file("b/z", "z").file("c/old", "o");
  lower.file("c/sub/deep", "d").file("keep", "k").end();
  ASSERT_TRUE(extract(lower).ok());

  TarBuilder upper;
  upper.file(".wh.b", "")
      .file("a/.wh.x", "")
      .file("c/new", "n")  // before the opaque marker: still kept
      .file("c/.wh..wh..opq", "")
      .file("c/sub/fresh", "f")
      .file(".wh..wh.plnk", "")
      .file("missing/.wh.gone", "")
      .end();
  auto r = extract(upper);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->whiteouts, 4u);
  EXPECT_FALSE(fs::exists(root() / "a/x"));
  EXPECT_TRUE(fs::exists(root() / "a/y"));
  EXPECT_FALSE(fs::exists(root() / "b"));
  EXPECT_FALSE(fs::exists(root() / "c/old"));
  EXPECT_FALSE(fs::exists(root() / "c/sub/deep"));
  EXPECT_EQ(read_file(root() / "c/new"), "n");
  EXPECT_EQ(read_file(root() / "c/sub/fresh"), "f");
  EXPECT_TRUE(fs::exists(root() / "keep"));
  for (const auto& e : fs::recursive_directory_iterator(root())) {
    EXPECT_EQ(e.path().filename().string().find(".wh."), std::string::npos) << e.path();
  }
  expect_outside_untouched();
}

TEST_F(ExtractTest, WhiteoutThroughASymlinkCannotDeleteOutside) {
  TarBuilder tar;
  tar.symlink("esc", outside().string()).file("esc/.wh.sentinel", "").end();
  ASSERT_TRUE(extract(tar).ok());
  TarBuilder opaque;
  opaque.symlink("esc2", outside().string()).file("esc2/.wh..wh..opq", "").end();
  ASSERT_TRUE(extract(opaque).ok());
  expect_outside_untouched();
}

TEST_F(ExtractTest, LiteralWhiteoutsAreOrdinaryFiles) {
  TarBuilder tar;
  tar.file("x", "1").file(".wh.x", "").end();
  ExtractOptions literal;
  literal.whiteouts = WhiteoutMode::literal;
  auto r = extract(tar, literal);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->whiteouts, 0u);
  EXPECT_TRUE(fs::exists(root() / "x"));
  EXPECT_TRUE(fs::exists(root() / ".wh.x"));
}

TEST_F(ExtractTest, DigestsCoverTheWholeInput) {
  TarBuilder tar;
  tar.file("f", "content").end();
  Bytes input = tar.bytes();
  input.resize(input.size() + 8192, 0);  // record padding after the end blocks
  ExtractOptions options;
  options.digest_mask = kDigestSha384 | kDigestSha256;
  MemorySource source(input);
  auto r = extract_layer(source, root(), options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->digests.size, input.size());
  EXPECT_EQ(r->digests.sha384, sha384(input));
  EXPECT_EQ(r->digests.sha256, sha256(input));
  EXPECT_TRUE(r->digests.sha512.empty());
  EXPECT_EQ(r->digests.ref(), "sha384/" + hex_encode(sha384(input)));
}

TEST_F(ExtractTest, CompressedInputOnlyWhenAllowed) {
  TarBuilder tar;
  tar.file("f", "content").end();
  const Bytes gz = test::compress(tar.bytes(), "gzip");
  MemorySource plain(gz);
  EXPECT_FALSE(extract_layer(plain, root(), {}).ok());
  ExtractOptions allow;
  allow.allow_compressed = true;
  MemorySource again(gz);
  auto r = extract_layer(again, root(), allow);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(read_file(root() / "f"), "content");
}

TEST_F(ExtractTest, ScanAppliesTheSameChecksWithoutWriting) {
  std::vector<TarBuilder> hostile(5);
  hostile[0].file("/abs", "x").end();
  hostile[1].file("../up", "x").end();
  hostile[2].special("null", '3').end();
  hostile[3].symlink("s", "../../x").end();
  hostile[4].hardlink("h", "../x").end();
  for (size_t i = 0; i < hostile.size(); ++i) {
    MemorySource source(hostile[i].bytes());
    EXPECT_FALSE(scan_layer(source, {}).ok()) << i;
  }
  TarBuilder good;
  good.file("a", "1234").dir("d/").symlink("l", "/abs/ok").file(".wh.gone", "").end();
  MemorySource source(good.bytes());
  auto r = scan_layer(source, {});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->entries, 4u);
  EXPECT_EQ(r->file_bytes, 4u);
  EXPECT_EQ(r->whiteouts, 1u);
  EXPECT_TRUE(fs::is_empty(root()));
}

TEST_F(ExtractTest, NonAsciiNamesPassThrough) {
  TarBuilder tar;
  tar.pax({{"path", "caf\xc3\xa9/\xe2\x9c\x93.txt"}}).file("placeholder", "u");
  tar.file("raw\xe9name", "r").end();  // ustar names are bytes, not necessarily UTF-8
  auto r = extract(tar);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(read_file(root() / "caf\xc3\xa9/\xe2\x9c\x93.txt"), "u");
  EXPECT_EQ(read_file(root() / "raw\xe9name"), "r");
}

}  // namespace
}  // namespace acon::image::layers
