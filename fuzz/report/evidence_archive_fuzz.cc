// The evidence archive reader (acon/report/archive.h) never crashes on arbitrary bytes, and what
// it accepts keeps its promises: relative paths without "." or ".." components, no path twice, no
// file that is another file's directory, every bound held. Accepted archives go on through the
// bundle loader, whose errors must never name the private staging directory. The same bytes, as
// text, go through html_escape, whose output must hold no markup character and be UTF-8.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "acon/common/utf8.h"
#include "acon/report/archive.h"
#include "acon/report/html.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon;
  using namespace acon::report;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string escaped = html_escape(text);
  if (escaped.find_first_of("<>\"'") != std::string::npos || !is_valid_utf8(escaped)) std::abort();

  ArchiveLimits limits;
  limits.max_entries = 16;
  limits.max_entry_bytes = 4096;
  limits.max_total_bytes = 16384;
  auto files = read_evidence_archive(ByteView(data, size), limits);
  if (!files) return 0;
  if (files->size() > limits.max_entries) std::abort();
  std::set<std::string> paths;
  size_t total = 0;
  for (const ArchiveFile& file : *files) {
    const std::string& path = file.path;
    if (path.empty() || path.front() == '/' || path.back() == '/' ||
        path.find("//") != std::string::npos || !paths.insert(path).second)
      std::abort();
    for (size_t start = 0; start <= path.size();) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      const std::string_view part(path.data() + start, end - start);
      if (part == "." || part == "..") std::abort();
      start = end + 1;
    }
    if (file.content.size() > limits.max_entry_bytes) std::abort();
    total += file.content.size();
  }
  if (total > limits.max_total_bytes) std::abort();
  for (const std::string& path : paths)
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1))
      if (paths.contains(path.substr(0, slash))) std::abort();
  auto loaded = load_evidence_files(*files, "fuzz.tar", limits);
  if (!loaded && loaded.error().message.find("acon-evidence-") != std::string::npos) std::abort();
  return 0;
}
