// The evidence archive reader: what a bundle archive may hold, and every way it may not.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "acon/report/archive.h"

namespace acon::report {
namespace {

// One ustar member, written by hand so that the tests can build what no archiver would.
struct Member {
  Member(std::string n, std::string c = {}, char t = '0', std::string l = {})
      : name(std::move(n)), content(std::move(c)), type(t), link(std::move(l)) {}
  std::string name;
  std::string content;
  char type;  // '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory, '6' FIFO
  std::string link;
};

void octal(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

Bytes tar(const std::vector<Member>& members) {
  Bytes out;
  for (const Member& m : members) {
    char header[512] = {};
    m.name.copy(header, 100);
    octal(header + 100, 8, m.type == '5' ? 0755 : 0644);
    octal(header + 108, 8, 0);
    octal(header + 116, 8, 0);
    octal(header + 124, 12, m.type == '0' ? m.content.size() : 0);
    octal(header + 136, 12, 0);
    header[156] = m.type;
    m.link.copy(header + 157, 100);
    std::string("ustar").copy(header + 257, 6);
    header[263] = '0';
    header[264] = '0';
    std::fill(header + 148, header + 156, ' ');
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::snprintf(header + 148, 8, "%06o", sum);
    out.insert(out.end(), header, header + 512);
    if (m.type == '0') {
      out.insert(out.end(), m.content.begin(), m.content.end());
      out.resize(out.size() + (512 - m.content.size() % 512) % 512, 0);
    }
  }
  out.resize(out.size() + 1024, 0);
  return out;
}

std::string error_of(const std::vector<Member>& members, const ArchiveLimits& limits = {}) {
  auto read = read_evidence_archive(tar(members), limits);
  return read ? std::string("(read)") : read.error().message;
}

TEST(EvidenceArchive, ReadsRegularFilesAndDropsOneTopDirectory) {
  auto files = read_evidence_archive(tar({{"bundle/", "", '5'},
                                          {"bundle/quote.bin", "Q"},
                                          {"bundle/images/000/manifest.json", "{}"},
                                          {"./bundle/./ccel.bin", "C"}}));
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].path, "quote.bin");
  EXPECT_EQ((*files)[1].path, "images/000/manifest.json");
  EXPECT_EQ((*files)[2].path, "ccel.bin");
  EXPECT_EQ((*files)[0].content, to_bytes("Q"));
  // Two top-level names: nothing is dropped.
  files = read_evidence_archive(tar({{"quote.bin", "Q"}, {"images/000/manifest.json", "{}"}}));
  ASSERT_TRUE(files);
  EXPECT_EQ((*files)[1].path, "images/000/manifest.json");
}

TEST(EvidenceArchive, RefusesWhatCouldLeaveTheBundle) {
  EXPECT_NE(error_of({{"../quote.bin", "Q"}}).find("entry 1 (../quote.bin): path leaves"),
            std::string::npos);
  EXPECT_NE(error_of({{"a/b/../../../x", "Q"}}).find("path leaves the bundle"), std::string::npos);
  EXPECT_NE(error_of({{"/etc/passwd", "Q"}}).find("absolute path"), std::string::npos);
  EXPECT_NE(error_of({{"a//b", "Q"}}).find("empty path component"), std::string::npos);
  EXPECT_NE(error_of({{"quote.bin", "", '2', "/etc/passwd"}}).find("symbolic link"),
            std::string::npos);
  EXPECT_NE(error_of({{"q", "Q"}, {"quote.bin", "", '1', "q"}}).find("hard link"),
            std::string::npos);
  EXPECT_NE(error_of({{"quote.bin", "", '3'}}).find("device"), std::string::npos);
  EXPECT_NE(error_of({{"quote.bin", "", '6'}}).find("FIFO"), std::string::npos);
}

TEST(EvidenceArchive, RefusesAmbiguousLayouts) {
  EXPECT_NE(error_of({{"quote.bin", "Q"}, {"./quote.bin", "R"}}).find("the same path twice"),
            std::string::npos);
  EXPECT_NE(error_of({{"images", "Q"}, {"images/000/manifest.json", "{}"}})
                .find("its directory images is also a file"),
            std::string::npos);
}

TEST(EvidenceArchive, EnforcesItsBounds) {
  ArchiveLimits limits;
  limits.max_entries = 2;
  EXPECT_NE(error_of({{"a", "1"}, {"b", "2"}, {"c", "3"}}, limits).find("more than 2 entries"),
            std::string::npos);
  limits = {};
  limits.max_entry_bytes = 4;
  EXPECT_NE(error_of({{"a", "12345"}}, limits).find("entry 1 (a): larger than 4 bytes"),
            std::string::npos);
  limits = {};
  limits.max_total_bytes = 6;
  EXPECT_NE(error_of({{"a", "1234"}, {"b", "1234"}}, limits).find("together are larger"),
            std::string::npos);
  limits = {};
  limits.max_path_bytes = 8;
  EXPECT_NE(error_of({{"images/000/manifest.json", "{}"}}, limits).find("path longer than 8"),
            std::string::npos);
}

TEST(EvidenceArchive, RefusesWhatIsNoTar) {
  EXPECT_FALSE(read_evidence_archive({}));
  EXPECT_FALSE(read_evidence_archive(to_bytes("{\"quote\": 1}")));
  Bytes truncated = tar({{"quote.bin", std::string(2000, 'Q')}});
  truncated.resize(1000);
  EXPECT_FALSE(read_evidence_archive(truncated));
}

TEST(EvidenceArchive, LoadsThroughTheBundleLoaderAndNamesMembers) {
  // A bundle file the layout does not know: the directory loader's error, named by the archive.
  auto loaded = load_evidence_archive(tar({{"quote.bin", "Q"}, {"notes.txt", "x"}}), "b.tar");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("b.tar:notes.txt: unknown bundle file"), std::string::npos)
      << loaded.error().message;
  EXPECT_EQ(loaded.error().message.find("acon-evidence-"), std::string::npos);
  // A reader error is named by the archive too.
  loaded = load_evidence_archive(tar({{"../x", "Q"}}), "b.tar");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message.rfind("b.tar: entry 1", 0), 0u) << loaded.error().message;
}

TEST(EvidenceArchive, FilesOneByOneMustBePlainBundlePaths) {
  std::vector<ArchiveFile> files = {{"quote.bin", to_bytes("Q")}, {"../x", to_bytes("x")}};
  auto loaded = load_evidence_files(files, "files");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("files:../x"), std::string::npos);
}

}  // namespace
}  // namespace acon::report
