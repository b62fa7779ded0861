// RAII for libcurl's handles, its one-time global initialisation and a bounded response
// collector, for collateral fetching; HttpResponse is also what the KBS client's own transport
// (kbs/client/src/http_connection.h) returns. Header-only: acon::common itself does not link
// libcurl; a library that includes this links CURL::libcurl.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace acon {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// True once curl_global_init succeeded. A function-local static: initialised once, thread-safely,
// before the first easy handle.
inline bool curl_ready() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return out;
}

// Without the spaces and tabs around it, and the line end after it (RFC 9110 OWS).
inline std::string_view trim_http_whitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

// What one transfer received: the status, the body and the headers of the final response
// (after redirects and 100 Continue), names lower-cased, in order.
struct HttpResponse {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name (in any case), or null.
  const std::string* header(std::string_view name) const {
    const std::string wanted = ascii_lower(name);
    for (const auto& [key, value] : headers)
      if (key == wanted) return &value;
    return nullptr;
  }
};

// Collects a response within bounds: a body of at most `max_body` bytes and at most
// `max_header_bytes` of header lines; past either, the callback refuses and libcurl aborts the
// transfer (CURLE_WRITE_ERROR), with the flag saying why. install() points libcurl's body and
// header callbacks at this object, which therefore stays where it is until the transfer ends.
class BoundedHttpTransfer {
 public:
  BoundedHttpTransfer(size_t max_body, size_t max_header_bytes)
      : max_body_(max_body), max_header_bytes_(max_header_bytes) {}
  BoundedHttpTransfer(const BoundedHttpTransfer&) = delete;
  BoundedHttpTransfer& operator=(const BoundedHttpTransfer&) = delete;

  bool install(CURL* handle) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_body) == CURLE_OK &&
           curl_easy_setopt(handle, CURLOPT_WRITEDATA, this) == CURLE_OK &&
           curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &on_header) == CURLE_OK &&
           curl_easy_setopt(handle, CURLOPT_HEADERDATA, this) == CURLE_OK;
  }

  HttpResponse response;
  bool body_too_large = false;
  bool headers_too_large = false;

 private:
  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<BoundedHttpTransfer*>(user);
    const size_t bytes = size * count;
    if (bytes > self->max_body_ - self->response.body.size()) {
      self->body_too_large = true;
      return 0;
    }
    self->response.body.append(data, bytes);
    return bytes;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<BoundedHttpTransfer*>(user);
    const size_t bytes = size * count;
    self->header_bytes_ += bytes;
    if (self->header_bytes_ > self->max_header_bytes_) {
      self->headers_too_large = true;
      return 0;
    }
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
      self->response.headers.clear();  // a new response (after a redirect or 100 Continue)
      return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bytes;
    self->response.headers.emplace_back(ascii_lower(trim_http_whitespace(line.substr(0, colon))),
                                        std::string(trim_http_whitespace(line.substr(colon + 1))));
    return bytes;
  }

  const size_t max_body_;
  const size_t max_header_bytes_;
  size_t header_bytes_ = 0;
};

}  // namespace acon
