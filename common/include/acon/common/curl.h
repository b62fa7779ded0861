// RAII for libcurl's handles and its one-time global initialisation, for the libraries that
// speak HTTP through libcurl (collateral fetching, the KBS client). Header-only: acon::common
// itself does not link libcurl; a library that includes this links CURL::libcurl.
#pragma once

#include <curl/curl.h>

#include <memory>

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

}  // namespace acon
