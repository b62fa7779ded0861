// Helpers for the layer tests: temporary directories, a byte-exact tar writer for hostile
// archives (so headers can say things a normal archiver refuses to write), and compression.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "acon/common/bytes.h"

namespace acon::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "acon-layers-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, std::string_view content,
                       unsigned mode = 0644) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::filesystem::path& path, ByteView data) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Writes ustar headers byte by byte.
class TarBuilder {
 public:
  struct Header {
    std::string name;
    char type = '0';
    std::string link;
    unsigned mode = 0644;
    uint64_t size = 0;
    bool size_base256 = false;  // store `size` as a GNU base-256 number
    unsigned devmajor = 0, devminor = 0;
  };

  TarBuilder& file(const std::string& name, std::string_view data, unsigned mode = 0644) {
    Header h;
    h.name = name;
    h.mode = mode;
    h.size = data.size();
    header(h);
    body(data);
    return *this;
  }
  TarBuilder& dir(const std::string& name, unsigned mode = 0755) {
    Header h;
    h.name = name;
    h.type = '5';
    h.mode = mode;
    return header(h);
  }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    Header h;
    h.name = name;
    h.type = '2';
    h.link = target;
    h.mode = 0777;
    return header(h);
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    Header h;
    h.name = name;
    h.type = '1';
    h.link = target;
    return header(h);
  }
  TarBuilder& special(const std::string& name, char type, unsigned major = 1, unsigned minor = 3) {
    Header h;
    h.name = name;
    h.type = type;
    h.devmajor = major;
    h.devminor = minor;
    return header(h);
  }
  // A pax extended header ('x') with the given records, applying to the next header.
  TarBuilder& pax(const std::vector<std::pair<std::string, std::string>>& records) {
    std::string body_text;
    for (const auto& [k, v] : records) {
      const std::string rest = " " + k + "=" + v + "\n";
      size_t len = rest.size() + 1;
      while (std::to_string(len).size() + rest.size() != len) ++len;
      body_text += std::to_string(len) + rest;
    }
    Header h;
    h.name = "PaxHeader/x";
    h.type = 'x';
    h.size = body_text.size();
    header(h);
    return body(body_text);
  }
  // A GNU long name ('L') header for the next entry.
  TarBuilder& gnu_longname(const std::string& name) {
    Header h;
    h.name = "././@LongLink";
    h.type = 'L';
    h.size = name.size() + 1;
    header(h);
    return body(name + std::string(1, '\0'));
  }

  TarBuilder& header(const Header& h) {
    uint8_t b[512] = {};
    std::memcpy(b, h.name.data(), std::min<size_t>(h.name.size(), 100));
    octal(b + 100, 8, h.mode);
    octal(b + 108, 8, 0);
    octal(b + 116, 8, 0);
    if (h.size_base256) {
      b[124] = 0x80;
      uint64_t v = h.size;
      for (int i = 11; i >= 4; --i) {
        b[124 + i] = static_cast<uint8_t>(v & 0xff);
        v >>= 8;
      }
    } else {
      octal(b + 124, 12, h.size);
    }
    octal(b + 136, 12, 1700000000);
    b[156] = static_cast<uint8_t>(h.type);
    std::memcpy(b + 157, h.link.data(), std::min<size_t>(h.link.size(), 100));
    std::memcpy(b + 257, "ustar", 6);
    std::memcpy(b + 263, "00", 2);
    octal(b + 329, 8, h.devmajor);
    octal(b + 337, 8, h.devminor);
    std::memset(b + 148, ' ', 8);
    unsigned sum = 0;
    for (uint8_t c : b) sum += c;
    octal(b + 148, 7, sum);  // six digits, NUL, then the space already there

    out_.insert(out_.end(), b, b + 512);
    return *this;
  }
  TarBuilder& body(std::string_view data) {
    out_.insert(out_.end(), data.begin(), data.end());
    out_.resize((out_.size() + 511) / 512 * 512, 0);
    return *this;
  }
  TarBuilder& end() {
    out_.resize(out_.size() + 1024, 0);
    return *this;
  }
  const Bytes& bytes() const { return out_; }

 private:
  // width-1 zero-padded octal digits and a NUL, as ustar numeric fields are written.
  static void octal(uint8_t* field, size_t width, uint64_t v) {
    field[width - 1] = 0;
    for (size_t i = width - 1; i-- > 0;) {
      field[i] = static_cast<uint8_t>('0' + (v & 7));
      v >>= 3;
    }
  }
  Bytes out_;
};

// Compresses `data` with a libarchive filter ("gzip", "zstd").
inline Bytes compress(ByteView data, const std::string& filter) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), &archive_write_free);
  archive_write_add_filter_by_name(a.get(), filter.c_str());
  archive_write_set_format_raw(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  Bytes out(data.size() + 65536);
  size_t used = 0;
  archive_write_open_memory(a.get(), out.data(), out.size(), &used);
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             &archive_entry_free);
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_pathname(e.get(), "data");
  archive_write_header(a.get(), e.get());
  archive_write_data(a.get(), data.data(), data.size());
  archive_write_close(a.get());
  out.resize(used);
  return out;
}

}  // namespace acon::test
