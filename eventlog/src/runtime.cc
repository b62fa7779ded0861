#include "acon/eventlog/runtime.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "acon/common/reader.h"

namespace acon::eventlog {
namespace {

bool has_space(std::string_view s) {
  return s.find_first_of(" \t\r\n\v\f") != std::string_view::npos;
}

Error line_error(size_t line, const std::string& why) {
  return make_error(Errc::parse, "line " + std::to_string(line) + ": " + why);
}

// Splits text into lines; a final line without '\n' still counts, an empty tail does not.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace

Result<AaelEvent> parse_aael_line(std::string_view line, bool allow_two_fields) {
  if (line.find('\n') != std::string_view::npos)
    return make_error(Errc::parse, "aael: event contains a newline");
  size_t first = line.find(' ');
  if (first == 0 || first == std::string_view::npos)
    return make_error(Errc::parse, "aael: expected '<domain> <operation> <content>'");
  AaelEvent e;
  e.domain = std::string(line.substr(0, first));
  size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) {
    if (!allow_two_fields)
      return make_error(Errc::parse, "aael: missing content after the operation");
    e.operation = std::string(line.substr(first + 1));
  } else {
    e.operation = std::string(line.substr(first + 1, second - first - 1));
    e.content = std::string(line.substr(second + 1));
  }
  if (e.operation.empty()) return make_error(Errc::parse, "aael: empty operation");
  return e;
}

Result<std::string> format_aael_line(const AaelEvent& event) {
  if (event.domain.empty() || has_space(event.domain))
    return make_error(Errc::invalid_argument, "aael: domain must be non-empty without whitespace");
  if (event.operation.empty() || has_space(event.operation))
    return make_error(Errc::invalid_argument,
                      "aael: operation must be non-empty without whitespace");
  if (event.content.find('\n') != std::string::npos)
    return make_error(Errc::invalid_argument, "aael: content contains newline");
  // No content: ACON's two-field form ("github.com/intel/ACON Finalize"). Three fields with an
  // empty content would end in a space that CoCo's reader trims before hashing.
  if (event.content.empty()) return event.domain + " " + event.operation;
  return event.domain + " " + event.operation + " " + event.content;
}

Result<TextAael> parse_text_aael(std::string_view text) {
  auto lines = split_lines(text);
  if (lines.empty()) return make_error(Errc::parse, "text aael: empty log");
  TextAael log;
  // "INIT <alg>/<hex>"; the spec's "INIT/<alg> <hex>" form is not what any writer produces.
  std::string_view init = lines[0];
  if (!init.starts_with("INIT ")) return line_error(1, "expected 'INIT <alg>/<hex>'");
  std::string_view value = init.substr(5);
  size_t slash = value.find('/');
  if (slash == std::string_view::npos) return line_error(1, "expected 'INIT <alg>/<hex>'");
  auto alg = hash_from_name(value.substr(0, slash));
  if (!alg || !hash_available(*alg))
    return line_error(1, "unsupported algorithm '" + std::string(value.substr(0, slash)) + "'");
  auto hex = hex_decode(value.substr(slash + 1));
  if (!hex) return line_error(1, hex.error().message);
  if (hex->size() != hash_size(*alg))
    return line_error(1, "INIT value is " + std::to_string(hex->size()) + " bytes, " +
                             std::string(hash_name(*alg)) + " needs " +
                             std::to_string(hash_size(*alg)));
  log.alg = *alg;
  log.init_value = std::move(*hex);
  log.init_line = std::string(init);
  for (size_t i = 1; i < lines.size(); ++i) {
    // Writers end every line in '\n'; CoCo's reader trims trailing whitespace (e.g. '\r').
    std::string_view line = lines[i];
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return line_error(i + 1, "empty line");
    auto event = parse_aael_line(line, /*allow_two_fields=*/true);
    if (!event) return line_error(i + 1, event.error().message);
    bool two = line.find(' ', line.find(' ') + 1) == std::string_view::npos;
    log.lines.push_back({i + 1, std::string(line), std::move(*event), two});
  }
  return log;
}

Status replay_text_aael(const TextAael& log, uint32_t index, Replayer& replayer) {
  replayer.set(index, log.alg, log.init_value);
  ACON_TRY(Bytes init_digest, digest(log.alg, log.init_line));
  ACON_CHECK(replayer.extend(index, log.alg, init_digest));
  for (const auto& line : log.lines) {
    ACON_TRY(Bytes d, digest(log.alg, line.text));
    ACON_CHECK(replayer.extend(index, log.alg, d));
  }
  return {};
}

Bytes replay_text_aael(const TextAael& log) {
  Replayer r;
  // The algorithm was checked when the log was parsed, so this cannot fail.
  (void)replay_text_aael(log, 0, r);
  return r.value(0, log.alg);
}

std::string text_aael_init_line(HashAlg alg, ByteView value) {
  return "INIT " + std::string(hash_name(alg)) + "/" + hex_encode(value) + "\n";
}

Result<std::string> text_aael_event_line(const AaelEvent& event) {
  ACON_TRY(std::string line, format_aael_line(event));
  return line + "\n";
}

Result<Bytes> aael_tagged_event(const AaelEvent& event) {
  ACON_TRY(std::string text, format_aael_line(event));
  if (text.size() > UINT32_MAX) return make_error(Errc::invalid_argument, "aael: event too large");
  Bytes out;
  put_u32le(out, kAaelEventTag);
  put_u32le(out, static_cast<uint32_t>(text.size()));
  append(out, as_bytes(text));
  return out;
}

Result<Bytes> aael_record(uint32_t mr_index, HashAlg alg, const AaelEvent& event) {
  ACON_TRY(Bytes tagged, aael_tagged_event(event));
  const HashAlg banks[] = {alg};
  return measured_record(mr_index, ev::kEventTag, banks, tagged);
}

Result<AaelEvent> parse_aael_tagged_event(ByteView event_data) {
  ByteReader r(event_data);
  ACON_TRY(uint32_t id, r.u32("taggedEventID"));
  if (id != kAaelEventTag) return make_error(Errc::parse, "taggedEventID at offset 0: not AAEL");
  ACON_TRY(uint32_t size, r.u32("taggedEventDataSize"));
  ACON_TRY(ByteView text, r.bytes(size, "taggedEventData"));
  if (!r.empty()) return r.invalid("taggedEvent", "bytes after the tagged event data");
  return parse_aael_line(as_chars(text));
}

Result<std::vector<ImaEntry>> parse_ima_log(std::string_view text) {
  std::vector<ImaEntry> out;
  auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t n = i + 1;
    // Fields are separated by single spaces; the path (last) may itself contain spaces.
    std::vector<std::string_view> fields;
    size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) return line_error(n, "empty line");
    while (fields.size() < 4) {
      size_t end = line.find(' ', start);
      if (end == std::string_view::npos) break;
      fields.push_back(line.substr(start, end - start));
      start = end + 1;
    }
    if (fields.size() < 4 || start >= line.size())
      return line_error(n, "expected '<pcr> <template-hash> <template> <alg>:<digest> <path>'");
    ImaEntry e;
    e.line_number = n;
    e.path = std::string(line.substr(start));
    auto [p, ec] = std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), e.pcr);
    if (ec != std::errc() || p != fields[0].data() + fields[0].size())
      return line_error(n, "bad register number '" + std::string(fields[0]) + "'");
    auto th = hex_decode(fields[1]);
    if (!th) return line_error(n, "template hash: " + th.error().message);
    e.template_hash = std::move(*th);
    e.template_name = std::string(fields[2]);
    if (e.template_name != "ima-ng")
      return line_error(n, "template '" + e.template_name + "' is not supported (only ima-ng)");
    size_t colon = fields[3].find(':');
    if (colon == std::string_view::npos) return line_error(n, "file digest must be '<alg>:<hex>'");
    e.file_hash_alg = std::string(fields[3].substr(0, colon));
    auto fh = hex_decode(fields[3].substr(colon + 1));
    if (!fh) return line_error(n, "file digest: " + fh.error().message);
    e.file_hash = std::move(*fh);
    out.push_back(std::move(e));
  }
  return out;
}

Status replay_ima_log(const std::vector<ImaEntry>& log, uint32_t index, Replayer& replayer) {
  for (const ImaEntry& entry : log) {
    // The template hash is as long as the bank it extends.
    std::optional<HashAlg> bank;
    for (HashAlg alg : {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384, HashAlg::sha512})
      if (hash_size(alg) == entry.template_hash.size()) bank = alg;
    if (!bank)
      return make_error(Errc::parse, "line " + std::to_string(entry.line_number) +
                                         ": template hash length fits no bank");
    ACON_CHECK(replayer.extend(index, *bank, entry.template_hash));
  }
  return {};
}

Status append_to_file(const std::string& path, ByteView record) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(Errc::io, path + ": " + std::strerror(errno));
  size_t done = 0;
  bool ok = true;
  while (ok && done < record.size()) {
    ssize_t n = ::write(fd, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) return make_error(Errc::io, path + ": " + std::strerror(saved));
  return {};
}

}  // namespace acon::eventlog
