#include "acon/image/layers/stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace acon::image::layers {
namespace {

Error os_error(std::string_view name, std::string_view what) {
  return make_error(Errc::io,
                    std::string(name) + ": " + std::string(what) + ": " + std::strerror(errno));
}

const Bytes kNoDigest;

}  // namespace

const Bytes& LayerDigests::get(HashAlg alg) const {
  switch (alg) {
    case HashAlg::sha256:
      return sha256;
    case HashAlg::sha384:
      return sha384;
    case HashAlg::sha512:
      return sha512;
    default:
      return kNoDigest;
  }
}

std::string LayerDigests::ref(HashAlg alg) const {
  const Bytes& d = get(alg);
  if (d.empty()) return {};
  return std::string(hash_name(alg)) + "/" + hex_encode(d);
}

Result<MultiHasher> MultiHasher::create(uint32_t digest_mask) {
  MultiHasher h;
  h.mask_ = digest_mask & (kDigestSha256 | kDigestSha384 | kDigestSha512);
  if (h.mask_ & kDigestSha256) {
    ACON_TRY(auto hasher, Hasher::create(HashAlg::sha256));
    h.sha256_.emplace(std::move(hasher));
  }
  if (h.mask_ & kDigestSha384) {
    ACON_TRY(auto hasher, Hasher::create(HashAlg::sha384));
    h.sha384_.emplace(std::move(hasher));
  }
  if (h.mask_ & kDigestSha512) {
    ACON_TRY(auto hasher, Hasher::create(HashAlg::sha512));
    h.sha512_.emplace(std::move(hasher));
  }
  return h;
}

void MultiHasher::update(ByteView data) {
  size_ += data.size();
  if (sha256_) sha256_->update(data);
  if (sha384_) sha384_->update(data);
  if (sha512_) sha512_->update(data);
}

LayerDigests MultiHasher::finish() {
  LayerDigests d;
  d.size = size_;
  size_ = 0;
  if (sha256_) d.sha256 = sha256_->finish();
  if (sha384_) d.sha384 = sha384_->finish();
  if (sha512_) d.sha512 = sha512_->finish();
  return d;
}

Result<FileSource> FileSource::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(path.string(), "open");
  return FileSource(fd, path.string());
}

Result<size_t> FileSource::read(std::span<uint8_t> out) {
  for (;;) {
    ssize_t n = ::read(fd_.get(), out.data(), out.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return os_error(name_, "read");
  }
}

Result<uint64_t> FileSource::skip(uint64_t n) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0 || !S_ISREG(st.st_mode)) return uint64_t{0};
  const off_t pos = ::lseek(fd_.get(), 0, SEEK_CUR);
  if (pos < 0 || pos >= st.st_size) return uint64_t{0};
  const uint64_t step = std::min<uint64_t>(n, static_cast<uint64_t>(st.st_size - pos));
  if (::lseek(fd_.get(), static_cast<off_t>(step), SEEK_CUR) < 0) return os_error(name_, "seek");
  return step;
}

std::optional<uint64_t> FileSource::size() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

Result<size_t> MemorySource::read(std::span<uint8_t> out) {
  size_t n = std::min(out.size(), data_.size() - pos_);
  if (n == 0) return size_t{0};  // an empty source may have no buffer at all
  std::memcpy(out.data(), data_.data() + pos_, n);
  pos_ += n;
  return n;
}

Result<FileSink> FileSink::create(const std::filesystem::path& path, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return os_error(path.string(), "create");
  return FileSink(fd, path.string());
}

Status FileSink::write(ByteView data) {
  if (!fd_.valid()) return make_error(Errc::io, name_ + ": write after close");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(name_, "write");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Status FileSink::close(bool sync) {
  if (!fd_.valid()) return make_error(Errc::io, name_ + ": already closed");
  int fd = fd_.release();
  if (sync && ::fsync(fd) != 0) {
    Error e = os_error(name_, "fsync");
    ::close(fd);
    return e;
  }
  if (::close(fd) != 0) return os_error(name_, "close");
  return {};
}

Result<DigestingSink> DigestingSink::create(uint32_t digest_mask, ByteSink* next) {
  ACON_TRY(auto hasher, MultiHasher::create(digest_mask));
  return DigestingSink(std::move(hasher), next);
}

Status DigestingSink::write(ByteView data) {
  hasher_.update(data);
  if (next_ != nullptr) return next_->write(data);
  return {};
}

Result<LayerDigests> digest_stream(ByteSource& source, uint32_t digest_mask) {
  ACON_TRY(auto hasher, MultiHasher::create(digest_mask));
  Bytes buffer(1 << 20);
  for (;;) {
    ACON_TRY(size_t n, source.read(buffer));
    if (n == 0) break;
    hasher.update(ByteView(buffer.data(), n));
  }
  return hasher.finish();
}

}  // namespace acon::image::layers
