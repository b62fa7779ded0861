#include "archive_util.h"

#include <cstdio>

namespace acon::image::layers::detail {

Utf8LocaleScope::Utf8LocaleScope() {
  utf8_ = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  if (utf8_ != static_cast<locale_t>(0)) previous_ = ::uselocale(utf8_);
}

Utf8LocaleScope::~Utf8LocaleScope() {
  if (utf8_ == static_cast<locale_t>(0)) return;
  ::uselocale(previous_);
  ::freelocale(utf8_);
}

int SourceFeed::open(archive* a) {
  return archive_read_open2(a, this, nullptr, &SourceFeed::read_callback,
                            hasher_ ? nullptr : &SourceFeed::skip_callback, nullptr);
}

la_int64_t SourceFeed::skip_callback(archive* a, void* self, la_int64_t request) {
  auto* feed = static_cast<SourceFeed*>(self);
  if (request <= 0) return 0;
  auto n = feed->source_.skip(static_cast<uint64_t>(request));
  if (!n.ok()) {
    feed->error_ = n.error();
    archive_set_error(a, EIO, "%s", n.error().message.c_str());
    return -1;
  }
  feed->total_ += *n;
  return static_cast<la_int64_t>(*n);
}

la_ssize_t SourceFeed::read_callback(archive* a, void* self, const void** buffer) {
  auto* feed = static_cast<SourceFeed*>(self);
  auto n = feed->source_.read(feed->buffer_);
  if (!n.ok()) {
    feed->error_ = n.error();
    archive_set_error(a, EIO, "%s", n.error().message.c_str());
    return -1;
  }
  const ByteView chunk(feed->buffer_.data(), *n);
  if (feed->hasher_) feed->hasher_->update(chunk);
  feed->total_ += *n;
  *buffer = feed->buffer_.data();
  return static_cast<la_ssize_t>(*n);
}

Status SourceFeed::drain() {
  for (uint64_t trailing = 0;;) {
    auto n = source_.read(buffer_);
    if (!n.ok()) return n.error();
    if (*n == 0) return {};
    trailing += *n;
    if (trailing > kMaxTrailingBytes) {
      return make_error(Errc::parse, "tar: more than " + std::to_string(kMaxTrailingBytes) +
                                         " bytes after the end-of-archive blocks");
    }
    if (hasher_) hasher_->update(ByteView(buffer_.data(), *n));
    total_ += *n;
  }
}

std::string printable_name(std::string_view name) {
  constexpr size_t kShown = 160;
  std::string out;
  for (size_t i = 0; i < name.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    }
  }
  if (name.size() > kShown) out += "...(" + std::to_string(name.size()) + " bytes)";
  return out;
}

Error archive_failure(archive* a, const SourceFeed* feed, std::string_view what) {
  if (feed != nullptr && feed->source_error()) return feed->source_error()->wrap(what);
  const char* msg = archive_error_string(a);
  return make_error(Errc::parse,
                    std::string(what) + ": " + (msg != nullptr ? msg : "malformed archive"));
}

}  // namespace acon::image::layers::detail
