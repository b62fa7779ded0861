// Collateral fetching over libcurl (PCS v4 / PCCS), the on-disk cache and bundle files. Every
// curl handle and header list lives in a unique_ptr; responses are bounded in size and time and
// only http/https are allowed, also for redirects (https never downgrades to http).
#include "acon/dcap/fetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "acon/common/curl.h"
#include "acon/common/unique_fd.h"
#include "acon/dcap/chain.h"
#include "acon/dcap/sgx_extension.h"

namespace acon::dcap {

// Collateral holds Crl members, which have no empty state, so items land here first.
struct CollateralFetcher::Partial {
  std::optional<SignedTcbInfo> tcb_info;
  std::optional<SignedEnclaveIdentity> qe_identity;
  std::vector<Certificate> tcb_info_issuer_chain;
  std::vector<Certificate> qe_identity_issuer_chain;
  std::vector<Certificate> pck_crl_issuer_chain;
  std::optional<Crl> root_ca_crl;
  std::optional<Crl> pck_crl;
};

struct CollateralFetcher::Item {
  std::string_view name;  // tcb, qe, pckcrl, rootcrl
  std::string url;
  std::vector<std::string_view> chain_headers;  // accepted names, first found wins; empty: none
  // Parses body + chain into `out` and returns the item's nextUpdate.
  std::function<Result<std::optional<Time>>(std::string_view body, std::string_view chain,
                                            Partial& out)>
      parse;
};

namespace {

constexpr size_t kMaxHeaderBytes = size_t{64} << 10;
constexpr std::string_view kCacheMagic = "acon-collateral-cache 1\n";

Error io_error(std::string message) { return make_error(Errc::io, std::move(message)); }
Error parse_error(std::string message) { return make_error(Errc::parse, std::move(message)); }

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return out;
}

template <class T>
bool set_option(CURL* handle, CURLoption option, T value) {
  return curl_easy_setopt(handle, option, value) == CURLE_OK;
}

Result<HttpResponse> http_get(const PcsConfig& config, const std::string& url) {
  const bool https = ascii_lower(url).starts_with("https://");
  if (!https && !ascii_lower(url).starts_with("http://")) {
    return make_error(Errc::invalid_argument, "fetch: only http and https URLs: " + url);
  }
  if (!curl_ready()) return io_error("fetch: curl_global_init failed");
  CurlEasy handle(curl_easy_init());
  if (!handle) return io_error("fetch: curl_easy_init failed");
  CURL* curl = handle.get();

  BoundedHttpTransfer transfer(config.max_body_bytes, kMaxHeaderBytes);
  char error_buffer[CURL_ERROR_SIZE] = {};
  const long timeout_ms = static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout).count());
  CurlSlist request_headers(curl_slist_append(nullptr, "Accept: */*"));
  if (!request_headers) return io_error("fetch: curl_slist_append failed");

  bool ok =
      set_option(curl, CURLOPT_URL, url.c_str()) &&
      set_option(curl, CURLOPT_PROTOCOLS_STR, "http,https") &&
      set_option(curl, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https") &&
      set_option(curl, CURLOPT_FOLLOWLOCATION, 1L) && set_option(curl, CURLOPT_MAXREDIRS, 3L) &&
      set_option(curl, CURLOPT_NOSIGNAL, 1L) && set_option(curl, CURLOPT_TIMEOUT_MS, timeout_ms) &&
      set_option(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) &&
      set_option(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(config.max_body_bytes)) &&
      set_option(curl, CURLOPT_SSL_VERIFYPEER, 1L) &&
      set_option(curl, CURLOPT_SSL_VERIFYHOST, 2L) &&
      set_option(curl, CURLOPT_USERAGENT, "acon-verifier") &&
      set_option(curl, CURLOPT_HTTPHEADER, request_headers.get()) &&
      set_option(curl, CURLOPT_ERRORBUFFER, error_buffer) && transfer.install(curl);
  if (ok && config.ca_bundle) ok = set_option(curl, CURLOPT_CAINFO, config.ca_bundle->c_str());
  if (!ok) return io_error("fetch: cannot configure libcurl for " + url);

  const CURLcode code = curl_easy_perform(curl);
  if (transfer.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return io_error("fetch: " + url + ": response body exceeds " +
                    std::to_string(config.max_body_bytes) + " bytes");
  }
  if (transfer.headers_too_large) return io_error("fetch: " + url + ": response headers too large");
  if (code != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return io_error("fetch: " + url + ": " + detail);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  if (transfer.response.status != 200) {
    return io_error("fetch: " + url + ": HTTP status " + std::to_string(transfer.response.status));
  }
  return std::move(transfer.response);
}

// ---- cache files ---------------------------------------------------------------------------

// "<magic><chain length> <body length>\n<chain><body>"
std::string encode_cache_entry(std::string_view body, std::string_view chain) {
  std::string out(kCacheMagic);
  out += std::to_string(chain.size()) + " " + std::to_string(body.size()) + "\n";
  out += chain;
  out += body;
  return out;
}

Result<std::pair<std::string, std::string>> decode_cache_entry(std::string_view data) {
  if (!data.starts_with(kCacheMagic)) return parse_error("bad cache file header");
  data.remove_prefix(kCacheMagic.size());
  const size_t newline = data.find('\n');
  if (newline == std::string_view::npos || newline > 40) return parse_error("bad cache lengths");
  const std::string_view lengths = data.substr(0, newline);
  data.remove_prefix(newline + 1);
  size_t chain_size = 0;
  size_t body_size = 0;
  const size_t space = lengths.find(' ');
  if (space == std::string_view::npos) return parse_error("bad cache lengths");
  auto parse_size = [](std::string_view digits, size_t& value) {
    if (digits.empty() || digits.size() > 12) return false;
    value = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return false;
      value = value * 10 + static_cast<size_t>(ch - '0');
    }
    return true;
  };
  if (!parse_size(lengths.substr(0, space), chain_size) ||
      !parse_size(lengths.substr(space + 1), body_size) || chain_size > data.size() ||
      data.size() - chain_size != body_size) {
    return parse_error("bad cache lengths");
  }
  return std::pair<std::string, std::string>(std::string(data.substr(chain_size)),
                                             std::string(data.substr(0, chain_size)));
}

// The whole file, nullopt when it does not exist.
Result<std::optional<std::string>> read_file_limited(const std::string& path, size_t limit) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return io_error("cannot stat " + path + ": " + ec.message());
    return std::optional<std::string>();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open " + path);
  std::string data;
  char buffer[16384];
  while (in) {
    in.read(buffer, sizeof buffer);
    const auto got = static_cast<size_t>(in.gcount());
    if (data.size() + got > limit)
      return parse_error(path + ": larger than " + std::to_string(limit) + " bytes");
    data.append(buffer, got);
  }
  if (in.bad()) return io_error("cannot read " + path);
  return std::optional<std::string>(std::move(data));
}

// Writes to a fresh temporary file beside `path`, fsyncs it and renames it over `path`.
Status write_file_atomically(const std::string& dir, const std::string& path,
                             std::string_view data) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("cannot create " + dir + ": " + ec.message());
  std::string temp = path + ".tmp.XXXXXX";
  UniqueFd file(::mkstemp(temp.data()));
  if (!file.valid())
    return io_error("cannot create temporary file for " + path + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(file.get(), data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::unlink(temp.c_str());
      return io_error("cannot write " + temp);
    }
    written += static_cast<size_t>(n);
  }
  // close() is called here, not by UniqueFd, because its error means the data may be lost.
  const bool synced = ::fsync(file.get()) == 0;
  if (::close(file.release()) != 0 || !synced) {
    ::unlink(temp.c_str());
    return io_error("cannot flush " + temp);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return io_error("cannot rename " + temp + " to " + path);
  }
  return {};
}

Result<std::vector<Certificate>> required_chain(std::string_view chain, std::string_view what) {
  if (chain.empty()) return parse_error(std::string(what) + ": missing issuer chain");
  auto parsed = parse_issuer_chain(chain);
  if (!parsed) return parsed.error().wrap(what);
  if (parsed->empty()) return parse_error(std::string(what) + ": empty issuer chain");
  return parsed;
}

std::string trimmed_base(std::string_view base) {
  while (base.ends_with('/')) base.remove_suffix(1);
  return std::string(base);
}

}  // namespace

std::string_view pck_ca_name(PckCa ca) { return ca == PckCa::platform ? "platform" : "processor"; }

Result<PckCa> pck_ca_from_common_name(std::string_view common_name) {
  const bool platform = common_name.find("Platform") != std::string_view::npos;
  const bool processor = common_name.find("Processor") != std::string_view::npos;
  if (platform == processor) {
    return parse_error("PCK CA common name names neither Platform nor Processor: " +
                       std::string(common_name));
  }
  return platform ? PckCa::platform : PckCa::processor;
}

Result<QuotePlatform> quote_platform(const tdx::Quote& quote) {
  ACON_TRY(std::vector<Certificate> chain, pck_chain_from_quote(quote));
  if (chain.size() < 2) return parse_error("quote: PCK chain has no intermediate certificate");
  ACON_TRY(SgxExtension extension, sgx_extension_of(chain[0]));
  ACON_TRY(PckCa ca, pck_ca_from_common_name(subject_common_name(chain[1])));
  return QuotePlatform{extension.fmspc, ca};
}

std::string_view pcs_kind_name(PcsConfig::Kind kind) {
  return kind == PcsConfig::Kind::pcs ? "pcs" : "pccs";
}

std::string_view pcs_update_name(PcsConfig::Update update) {
  return update == PcsConfig::Update::standard ? "standard" : "early";
}

CollateralFetcher::CollateralFetcher(PcsConfig config) : config_(std::move(config)) {}

Result<std::string> CollateralFetcher::cache_key(ByteView fmspc, PckCa ca,
                                                 std::string_view item) const {
  if (fmspc.size() != 6) {
    return make_error(Errc::invalid_argument,
                      "fetch: FMSPC must be 6 bytes, got " + std::to_string(fmspc.size()));
  }
  if (item != "tcb" && item != "qe" && item != "pckcrl" && item != "rootcrl") {
    return make_error(Errc::invalid_argument, "fetch: unknown collateral item");
  }
  // Every part comes from an enum, a fixed set or hex, so the name is [a-z0-9-] only.
  std::string key(pcs_kind_name(config_.kind));
  key += "-" + hex_encode(fmspc) + "-" + std::string(pck_ca_name(ca)) + "-" +
         std::string(pcs_update_name(config_.update)) + "-" + std::string(item);
  return key;
}

Status CollateralFetcher::load_item(const Item& item, ByteView fmspc, PckCa ca, Time now,
                                    Partial& out) {
  std::string path;
  if (!config_.cache_dir.empty()) {
    ACON_TRY(const std::string key, cache_key(fmspc, ca, item.name));
    path = (std::filesystem::path(config_.cache_dir) / key).string();
    ACON_TRY(auto cached, read_file_limited(path, config_.max_body_bytes + kMaxHeaderBytes + 64));
    if (cached) {
      auto entry = decode_cache_entry(*cached);
      Result<std::optional<Time>> next_update = entry ? item.parse(entry->first, entry->second, out)
                                                      : Result<std::optional<Time>>(entry.error());
      if (next_update) {
        const bool stale = next_update->has_value() && **next_update < now;
        if (!stale) {
          ++stats_.cache_hits;
          return {};
        }
        if (config_.offline) {
          ++stats_.cache_hits;
          ++stats_.stale_served;
          return {};  // the verifier reports the expiry
        }
      } else {
        if (config_.offline) return next_update.error().wrap("cache file " + path);
        ++stats_.cache_rejected;
      }
    }
  }
  if (config_.offline) {
    return make_error(Errc::not_found, "fetch: offline and " + std::string(item.name) +
                                           " is not cached" +
                                           (path.empty() ? std::string() : " (" + path + ")"));
  }

  ++stats_.network_requests;
  ACON_TRY(HttpResponse response, http_get(config_, item.url));
  std::string chain;
  for (std::string_view header : item.chain_headers) {
    if (const std::string* value = response.header(header)) {
      chain = *value;
      break;
    }
  }
  if (!item.chain_headers.empty() && chain.empty()) {
    return parse_error("fetch: " + item.url + ": missing header " +
                       std::string(item.chain_headers.front()));
  }
  auto parsed = item.parse(response.body, chain, out);
  if (!parsed) return parsed.error().wrap("fetch: " + item.url);
  if (!path.empty()) {
    ACON_CHECK(
        write_file_atomically(config_.cache_dir, path, encode_cache_entry(response.body, chain)));
  }
  return {};
}

Result<Collateral> CollateralFetcher::fetch(ByteView fmspc, PckCa ca, Time now) {
  stats_ = {};
  if (fmspc.size() != 6) {
    return make_error(Errc::invalid_argument,
                      "fetch: FMSPC must be 6 bytes, got " + std::to_string(fmspc.size()));
  }
  if (config_.offline && config_.cache_dir.empty()) {
    return make_error(Errc::invalid_argument, "fetch: offline mode needs a cache directory");
  }
  const std::string base = trimmed_base(config_.base_url);
  const std::string fmspc_hex = upper(hex_encode(fmspc));
  const std::string update(pcs_update_name(config_.update));
  std::string root_url = config_.root_ca_crl_url;
  if (root_url.empty()) {
    root_url = config_.kind == PcsConfig::Kind::pcs
                   ? "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
                   : base + "/sgx/certification/v4/rootcacrl";
  }
  const std::array<uint8_t, 6> wanted_fmspc = {fmspc[0], fmspc[1], fmspc[2],
                                               fmspc[3], fmspc[4], fmspc[5]};

  const Item items[] = {
      {"tcb",
       base + "/tdx/certification/v4/tcb?fmspc=" + fmspc_hex + "&update=" + update,
       {"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"},
       [&](std::string_view body, std::string_view chain,
           Partial& out) -> Result<std::optional<Time>> {
         ACON_TRY(auto tcb_info, parse_tcb_info_response(body));
         if (!tcb_info.value.is_tdx()) return parse_error("tcb info: not a TDX TCB info");
         if (tcb_info.value.fmspc != wanted_fmspc) {
           return parse_error("tcb info: fmspc " + hex_encode(tcb_info.value.fmspc) +
                              " is not the requested " + hex_encode(wanted_fmspc));
         }
         ACON_TRY(out.tcb_info_issuer_chain, required_chain(chain, "tcb info"));
         const Time next_update = tcb_info.value.next_update;
         out.tcb_info = std::move(tcb_info);
         return std::optional<Time>(next_update);
       }},
      {"qe",
       base + "/tdx/certification/v4/qe/identity?update=" + update,
       {"SGX-Enclave-Identity-Issuer-Chain", "Enclave-Identity-Issuer-Chain"},
       [](std::string_view body, std::string_view chain,
          Partial& out) -> Result<std::optional<Time>> {
         ACON_TRY(auto qe_identity, parse_qe_identity_response(body));
         ACON_TRY(out.qe_identity_issuer_chain, required_chain(chain, "qe identity"));
         const Time next_update = qe_identity.value.next_update;
         out.qe_identity = std::move(qe_identity);
         return std::optional<Time>(next_update);
       }},
      {"pckcrl",
       base + "/sgx/certification/v4/pckcrl?ca=" + std::string(pck_ca_name(ca)) + "&encoding=der",
       {"SGX-PCK-CRL-Issuer-Chain"},
       [](std::string_view body, std::string_view chain,
          Partial& out) -> Result<std::optional<Time>> {
         ACON_TRY(Crl crl, parse_crl(as_bytes(body)));
         ACON_TRY(out.pck_crl_issuer_chain, required_chain(chain, "pck crl"));
         out.pck_crl = crl;
         return crl.next_update();
       }},
      {"rootcrl",
       root_url,
       {},
       [](std::string_view body, std::string_view, Partial& out) -> Result<std::optional<Time>> {
         ACON_TRY(Crl crl, parse_crl(as_bytes(body)));
         out.root_ca_crl = crl;
         return crl.next_update();
       }},
  };

  Partial partial;
  for (const Item& item : items) ACON_CHECK(load_item(item, fmspc, ca, now, partial));
  return Collateral{
      .tcb_info = std::move(*partial.tcb_info),
      .qe_identity = std::move(*partial.qe_identity),
      .tcb_info_issuer_chain = std::move(partial.tcb_info_issuer_chain),
      .qe_identity_issuer_chain = std::move(partial.qe_identity_issuer_chain),
      .pck_crl_issuer_chain = std::move(partial.pck_crl_issuer_chain),
      .root_ca_crl = std::move(*partial.root_ca_crl),
      .pck_crl = std::move(*partial.pck_crl),
      .pck_certificate_chain = {},
  };
}

Result<Collateral> CollateralFetcher::fetch_for_quote(const tdx::Quote& quote, Time now) {
  ACON_TRY(QuotePlatform platform, quote_platform(quote));
  return fetch(platform.fmspc, platform.ca, now);
}

Result<Collateral> load_collateral_bundle_file(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return io_error(path + ": " + std::strerror(EISDIR));
  ACON_TRY(auto data, read_file_limited(path, max_bytes));
  if (!data) return make_error(Errc::not_found, "collateral bundle " + path + " does not exist");
  auto collateral = parse_collateral_bundle(*data);
  if (!collateral) return collateral.error().wrap(path);
  return collateral;
}

}  // namespace acon::dcap
