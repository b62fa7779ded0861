#include "acon/image/layers/create.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <utime.h>

#include <map>

#include "acon/common/hash.h"
#include "acon/image/layers/extract.h"
#include "layer_test_util.h"

namespace acon::image::layers {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;
namespace fs = std::filesystem;

struct ListedEntry {
  std::string name;
  unsigned type = 0;
  unsigned perm = 0;
  int64_t uid = -1, gid = -1, mtime = -1, size = -1;
  std::string symlink, hardlink, uname;
};

// Reads a tarball with libarchive directly, as an independent reader.
std::vector<ListedEntry> list_entries(const Bytes& tar) {
  std::vector<ListedEntry> out;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), &archive_read_free);
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), tar.data(), tar.size()) != ARCHIVE_OK) return out;
  archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    ListedEntry l;
    l.name = archive_entry_pathname(e);
    l.type = archive_entry_filetype(e);
    l.perm = archive_entry_perm(e);
    l.uid = archive_entry_uid(e);
    l.gid = archive_entry_gid(e);
    l.mtime = archive_entry_mtime(e);
    l.size = archive_entry_size(e);
    if (archive_entry_symlink(e) != nullptr) l.symlink = archive_entry_symlink(e);
    if (archive_entry_hardlink(e) != nullptr) l.hardlink = archive_entry_hardlink(e);
    if (archive_entry_uname(e) != nullptr) l.uname = archive_entry_uname(e);
    out.push_back(l);
  }
  return out;
}

void build_tree(const fs::path& root, bool reverse_order) {
  std::vector<std::function<void()>> steps = {
      [&] { write_file(root / "bin/busybox", "ELF busybox", 0755); },
      [&] { write_file(root / "bin/su", "setuid", 04755); },
      [&] {
        fs::create_directories(root / "bin");
        fs::create_symlink("busybox", root / "bin/sh");
      },
      [&] { write_file(root / "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644); },
      [&] { fs::create_directories(root / "empty"); },
      [&] { write_file(root / "a.txt", "a", 0600); },
      [&] { write_file(root / (std::string(150, 'L') + "/name"), "long", 0644); },
  };
  if (reverse_order) std::reverse(steps.begin(), steps.end());
  for (auto& s : steps) s();
  fs::create_hard_link(root / "bin/busybox", root / "bin/zz-link");
  ::chmod((root / "empty").c_str(), 0750);
}

TEST(CreateLayer, DigestsAreOfTheBytesWritten) {
  TempDir tmp;
  build_tree(tmp / "rootfs", false);
  MemorySink sink;
  auto d = create_layer(tmp / "rootfs", sink);
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->size, sink.data().size());
  EXPECT_EQ(d->sha384, sha384(sink.data()));
  EXPECT_EQ(d->sha256, sha256(sink.data()));
  EXPECT_TRUE(d->sha512.empty());
  // Two zero blocks end it, with no record padding after them.
  ASSERT_GE(sink.data().size(), 1024u);
  EXPECT_EQ(sink.data().size() % 512, 0u);
  EXPECT_TRUE(
      std::all_of(sink.data().end() - 1024, sink.data().end(), [](uint8_t b) { return b == 0; }));
  EXPECT_NE(sink.data()[sink.data().size() - 1536 + 0], 0);  // the last block before is data
}

TEST(CreateLayer, SameTreeGivesTheSameBytesWhateverTheHistory) {
  TempDir tmp;
  build_tree(tmp / "one", false);
  build_tree(tmp / "two", true);
  // Different modification times do not matter with the default fixed mtime.
  struct utimbuf t {
    1000, 1000
  };
  ::utime((tmp / "two/etc/passwd").c_str(), &t);
  MemorySink one, two;
  ASSERT_TRUE(create_layer(tmp / "one", one).ok());
  ASSERT_TRUE(create_layer(tmp / "two", two).ok());
  EXPECT_EQ(one.data(), two.data());
  write_file(tmp / "two/etc/passwd", "changed");
  MemorySink three;
  ASSERT_TRUE(create_layer(tmp / "two", three).ok());
  EXPECT_NE(one.data(), three.data());
}

TEST(CreateLayer, EntriesAreSortedNumericAndPreserveModesAndLinks) {
  TempDir tmp;
  build_tree(tmp / "rootfs", false);
  MemorySink sink;
  ASSERT_TRUE(create_layer(tmp / "rootfs", sink).ok());
  const auto entries = list_entries(sink.data());
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  const std::string longdir = std::string(150, 'L');
  const std::vector<std::string> expected = {
      longdir + "/", longdir + "/name", "a.txt",  "bin/", "bin/busybox", "bin/sh",
      "bin/su",      "bin/zz-link",     "empty/", "etc/", "etc/passwd"};
  EXPECT_EQ(names, expected);
  std::map<std::string, ListedEntry> by_name;
  for (const auto& e : entries) by_name[e.name] = e;
  for (const auto& e : entries) {
    EXPECT_EQ(e.mtime, 0) << e.name;
    EXPECT_EQ(e.uid, static_cast<int64_t>(::getuid())) << e.name;
    EXPECT_TRUE(e.uname.empty()) << e.name;
  }
  EXPECT_EQ(by_name["bin/su"].perm, 04755u);
  EXPECT_EQ(by_name["a.txt"].perm, 0600u);
  EXPECT_EQ(by_name["empty/"].perm, 0750u);
  EXPECT_EQ(by_name["empty/"].type, static_cast<unsigned>(AE_IFDIR));
  EXPECT_EQ(by_name["bin/sh"].symlink, "busybox");
  EXPECT_EQ(by_name["bin/zz-link"].hardlink, "bin/busybox");
  EXPECT_EQ(by_name["bin/busybox"].size, 11);
}

TEST(CreateLayer, RoundTripsThroughSafeExtraction) {
  TempDir tmp;
  build_tree(tmp / "rootfs", false);
  MemorySink sink;
  ASSERT_TRUE(create_layer(tmp / "rootfs", sink).ok());
  fs::create_directories(tmp / "out");
  ExtractOptions options;
  options.keep_setid = true;
  MemorySource source(sink.data());
  auto r = extract_layer(source, tmp / "out", options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();

  std::vector<std::string> in_names, out_names;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "rootfs")) {
    in_names.push_back(fs::relative(e.path(), tmp / "rootfs").string());
  }
  for (const auto& e : fs::recursive_directory_iterator(tmp / "out")) {
    out_names.push_back(fs::relative(e.path(), tmp / "out").string());
  }
  std::sort(in_names.begin(), in_names.end());
  std::sort(out_names.begin(), out_names.end());
  EXPECT_EQ(in_names, out_names);
  for (const auto& name : in_names) {
    struct stat a {
    }, b{};
    ASSERT_EQ(::lstat((tmp / "rootfs" / name).c_str(), &a), 0);
    ASSERT_EQ(::lstat((tmp / "out" / name).c_str(), &b), 0);
    EXPECT_EQ(a.st_mode, b.st_mode) << name;
    if (S_ISREG(a.st_mode)) {
      EXPECT_EQ(read_file(tmp / "rootfs" / name), read_file(tmp / "out" / name));
    }
  }
  EXPECT_EQ(fs::read_symlink(tmp / "out/bin/sh"), "busybox");
  EXPECT_TRUE(fs::equivalent(tmp / "out/bin/busybox", tmp / "out/bin/zz-link"));

  // Re-creating from the extracted tree gives the same layer.
  MemorySink again;
  ASSERT_TRUE(create_layer(tmp / "out", again).ok());
  EXPECT_EQ(again.data(), sink.data());
}

TEST(CreateLayer, PreservedMtimeAndOwnerOverride) {
  TempDir tmp;
  write_file(tmp / "rootfs/f", "x");
  struct utimbuf t {
    1234567, 1234567
  };
  ::utime((tmp / "rootfs/f").c_str(), &t);
  CreateOptions options;
  options.mtime.reset();
  options.uid = 4242;
  options.gid = 77;
  MemorySink sink;
  ASSERT_TRUE(create_layer(tmp / "rootfs", sink, options).ok());
  auto entries = list_entries(sink.data());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mtime, 1234567);
  EXPECT_EQ(entries[0].uid, 4242);
  EXPECT_EQ(entries[0].gid, 77);
}

TEST(CreateLayer, FifosRefusedUnlessAllowedAndSocketsSkipped) {
  TempDir tmp;
  fs::create_directories(tmp / "rootfs");
  ASSERT_EQ(::mkfifo((tmp / "rootfs/pipe").c_str(), 0644), 0);
  MemorySink sink;
  auto refused = create_layer(tmp / "rootfs", sink);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("pipe"), std::string::npos);
  CreateOptions allow;
  allow.allow_special_files = true;
  MemorySink allowed;
  ASSERT_TRUE(create_layer(tmp / "rootfs", allowed, allow).ok());
  auto entries = list_entries(allowed.data());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].type, static_cast<unsigned>(AE_IFIFO));
}

TEST(CreateArchive, MembersInGivenOrderWithTheirContent) {
  TempDir tmp;
  write_file(tmp / "b.bin", "second", 0600);
  write_file(tmp / "a.bin", "first", 0755);
  fs::create_symlink("a.bin", tmp / "link");
  const std::vector<ArchiveMember> members = {{".acon/z/b.tar", tmp / "b.bin"},
                                              {".acon/a/link", tmp / "link"}};
  CreateOptions options;
  options.uid = 0;
  options.gid = 0;
  MemorySink sink;
  auto d = create_archive(members, sink, options);
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->sha384, sha384(sink.data()));
  const auto entries = list_entries(sink.data());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, ".acon/z/b.tar");
  EXPECT_EQ(entries[0].perm, 0600u);
  EXPECT_EQ(entries[1].name, ".acon/a/link");
  EXPECT_EQ(entries[1].type, static_cast<unsigned>(AE_IFREG));  // the link's target, as a file
  EXPECT_EQ(entries[1].size, 5);
  EXPECT_EQ(entries[1].uid, 0);

  const std::vector<ArchiveMember> bad = {{"/abs", tmp / "a.bin"}};
  EXPECT_FALSE(create_archive(bad, sink, options).ok());
  const std::vector<ArchiveMember> dir = {{"d", tmp.path()}};
  EXPECT_FALSE(create_archive(dir, sink, options).ok());
}

TEST(CreateLayer, MissingRootfsIsAnIoError) {
  MemorySink sink;
  auto r = create_layer("/nonexistent/rootfs", sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io);
}

}  // namespace
}  // namespace acon::image::layers
