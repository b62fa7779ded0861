// Layer tar reading and safe extraction: never crash, fail only with parse/unsupported/not_found
// errors naming an offset, scan_layer accepts whatever extraction accepted, the digest covers the
// whole input, and nothing appears or changes outside the target directory. Each input is
// extracted twice into the same (emptied) root, once with default options and once with the
// permissive ones, so replacing, whiteouts and symlinked parents meet earlier content.
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "acon/image/layers/extract.h"
#include "fuzz_support.h"

namespace {

namespace fs = std::filesystem;
namespace lay = acon::image::layers;

struct Sandbox {
  fs::path base, root, outside, sentinel;
  Sandbox() {
    std::string tmpl = (fs::temp_directory_path() / "acon-tar-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    base = tmpl;
    root = base / "root";
    outside = base / "outside";
    sentinel = outside / "sentinel";
    fs::create_directories(outside);
    std::ofstream(sentinel) << "sentinel";
  }
  ~Sandbox() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  void reset_root() {
    std::error_code ec;
    fs::remove_all(root, ec);
    fs::create_directories(root);
  }
  // Only root/ and outside/sentinel exist outside the root, unchanged.
  void check_outside() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(base)) {
      if (e.path() != root && e.path() != outside) std::abort();
      ++n;
    }
    if (n != 2) std::abort();
    size_t m = 0;
    for (const auto& e : fs::directory_iterator(outside)) {
      if (e.path() != sentinel) std::abort();
      ++m;
    }
    if (m != 1) std::abort();
    struct stat st {};
    if (::lstat(sentinel.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        st.st_size != 8) {
      std::abort();
    }
  }
};

Sandbox& sandbox() {
  static Sandbox s;
  return s;
}

void check_error(const acon::Error& e) {
  using acon::Errc;
  if (e.code != Errc::parse && e.code != Errc::unsupported && e.code != Errc::not_found &&
      e.code != Errc::io) {
    std::abort();
  }
  if (e.code != Errc::io && e.message.find("offset") == std::string::npos &&
      e.message.find("tar") == std::string::npos) {
    std::abort();
  }
}

lay::ExtractOptions small_limits() {
  lay::ExtractOptions o;
  o.limits.max_entries = 2000;
  o.limits.max_total_bytes = 8u << 20;
  o.limits.max_entry_bytes = 4u << 20;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Sandbox& box = sandbox();
  box.reset_root();
  const acon::ByteView input(data, size);

  lay::ExtractOptions strict = small_limits();
  strict.digest_mask = lay::kDigestSha384;
  lay::MemorySource source(input);
  auto extracted = lay::extract_layer(source, box.root, strict);
  box.check_outside();
  if (extracted.ok()) {
    if (extracted->digests.size != size) std::abort();
    if (extracted->digests.sha384 != acon::sha384(input)) std::abort();
    lay::MemorySource again(input);
    auto scanned = lay::scan_layer(again, strict);
    if (!scanned.ok() || scanned->entries != extracted->entries) std::abort();
  } else {
    check_error(extracted.error());
  }

  lay::ExtractOptions lax = small_limits();
  lax.strip_absolute = true;
  lax.allow_escaping_symlinks = true;
  lax.keep_setid = true;
  lax.allow_compressed = true;
  lay::MemorySource second(input);
  auto relaxed = lay::extract_layer(second, box.root, lax);
  if (!relaxed.ok()) check_error(relaxed.error());
  box.check_outside();
  return 0;
}
