// Collateral fetching over real HTTP on loopback, the on-disk cache and bundle files. No internet:
// the test starts tests/verifier/dcap/pcs_replay_server.py, which replays the recorded go-tdx-guest
// PCS responses (tests/data/quotes/go-tdx-guest) with their issuer-chain headers on the PCS v4
// paths, and checks that what comes back equals the flat bundle made from the same responses.
// Expectations: docs/dcap-verification.md §3 (and §4 for the PCK CRL's ca=).
#include "acon/dcap/fetch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

extern char** environ;

namespace acon::dcap {
namespace {

using namespace std::chrono;
namespace fs = std::filesystem;

constexpr std::string_view kDir = "quotes/go-tdx-guest";
const Bytes kFmspc = {0x50, 0x80, 0x6f, 0x00, 0x00, 0x00};

// The recorded collateral is valid until 2023-07-08 (QE identity, PCK CRL); the root CRL until
// 2024-04-02.
Time fresh_time() { return *parse_rfc3339("2023-07-01T00:00:00Z"); }

// The replay server as a child process: stdout gives the port, closing stdin stops it.
class ReplayServer {
 public:
  ReplayServer() {
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return;
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
      ::close(to_child[0]);
      ::close(to_child[1]);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    const std::string script =
        std::string(ACON_TEST_DATA) + "/../verifier/dcap/pcs_replay_server.py";
    const std::string data = std::string(ACON_TEST_DATA) + "/" + std::string(kDir);
    std::vector<char*> argv = {const_cast<char*>("/usr/bin/python3"),
                               const_cast<char*>(script.c_str()), const_cast<char*>(data.c_str()),
                               nullptr};
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_fd_ = to_child[1];
    if (rc != 0) {
      pid_ = -1;
      ::close(from_child[0]);
      return;
    }
    std::string line;
    pollfd pfd{from_child[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&pfd, 1, 20000) > 0) {
      char buffer[64];
      const ssize_t n = ::read(from_child[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<size_t>(n));
    }
    ::close(from_child[0]);
    port_ = std::atoi(line.c_str());
  }
  ~ReplayServer() { stop(); }
  ReplayServer(const ReplayServer&) = delete;
  ReplayServer& operator=(const ReplayServer&) = delete;

  void stop() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
    if (pid_ > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  int port() const { return port_; }
  std::string url(std::string_view prefix = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(prefix);
  }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "acon-fetch-XXXXXX").string();
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Bytes crl_der(const Crl& crl) {
  unsigned char* out = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &out);
  if (len <= 0) return {};
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

std::vector<Bytes> chain_der(const std::vector<Certificate>& chain) {
  std::vector<Bytes> out;
  for (const auto& cert : chain) out.push_back(cert.der());
  return out;
}

Collateral expected_bundle() {
  auto bundle = parse_collateral_bundle(
      test::read_data(std::string(kDir) + "/collateral_v4_phala_format.json"));
  EXPECT_TRUE(bundle.ok()) << bundle.error().to_string();
  return std::move(bundle).value();
}

void expect_same_collateral(const Collateral& got, const Collateral& want) {
  EXPECT_EQ(hex_encode(got.tcb_info.value.fmspc), "50806f000000");
  EXPECT_EQ(got.tcb_info.value.fmspc, want.tcb_info.value.fmspc);
  EXPECT_EQ(got.tcb_info.signed_json, want.tcb_info.signed_json);
  EXPECT_EQ(got.tcb_info.signature, want.tcb_info.signature);
  EXPECT_EQ(got.tcb_info.value.next_update, want.tcb_info.value.next_update);
  EXPECT_EQ(got.tcb_info.value.tcb_levels.size(), want.tcb_info.value.tcb_levels.size());
  EXPECT_EQ(got.qe_identity.signed_json, want.qe_identity.signed_json);
  EXPECT_EQ(got.qe_identity.signature, want.qe_identity.signature);
  EXPECT_EQ(got.qe_identity.value.mrsigner, want.qe_identity.value.mrsigner);
  EXPECT_EQ(chain_der(got.tcb_info_issuer_chain), chain_der(want.tcb_info_issuer_chain));
  EXPECT_EQ(chain_der(got.qe_identity_issuer_chain), chain_der(want.qe_identity_issuer_chain));
  EXPECT_EQ(chain_der(got.pck_crl_issuer_chain), chain_der(want.pck_crl_issuer_chain));
  EXPECT_EQ(got.tcb_info_issuer_chain.size(), 2u);
  EXPECT_EQ(got.pck_crl_issuer_chain.size(), 2u);
  EXPECT_EQ(crl_der(got.pck_crl), crl_der(want.pck_crl));
  EXPECT_EQ(crl_der(got.root_ca_crl), crl_der(want.root_ca_crl));
  EXPECT_EQ(crl_der(got.pck_crl), test::read_data_bytes(std::string(kDir) + "/pckcrl"));
  EXPECT_EQ(crl_der(got.root_ca_crl), test::read_data_bytes(std::string(kDir) + "/rootcrl.der"));
  // Signatures are the verifier's job, but the replayed bytes must still carry valid ones.
  ASSERT_FALSE(got.tcb_info_issuer_chain.empty());
  EXPECT_TRUE(verify_signed_json(got.tcb_info, got.tcb_info_issuer_chain[0]).ok());
  EXPECT_TRUE(verify_signed_json(got.qe_identity, got.qe_identity_issuer_chain[0]).ok());
}

PcsConfig pcs_config(const ReplayServer& server, std::string cache_dir, std::string prefix = "") {
  PcsConfig config;
  config.base_url = server.url(prefix);
  config.kind = PcsConfig::Kind::pcs;
  config.root_ca_crl_url = server.url(prefix + "/IntelSGXRootCA.der");
  config.cache_dir = std::move(cache_dir);
  config.timeout = seconds(10);
  return config;
}

TEST(FetchTest, PcsResponsesEqualTheBundleAndAreCached) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  TempDir cache;
  ASSERT_FALSE(cache.path().empty());
  CollateralFetcher fetcher(pcs_config(server, cache.path()));

  auto got = fetcher.fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_collateral(*got, expected_bundle());
  EXPECT_EQ(fetcher.last_stats().network_requests, 4);
  EXPECT_EQ(fetcher.last_stats().cache_hits, 0);
  for (const char* item : {"tcb", "qe", "pckcrl", "rootcrl"}) {
    EXPECT_TRUE(fs::is_regular_file(cache.path() + "/pcs-50806f000000-platform-standard-" + item))
        << item;
  }
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(cache.path()), fs::directory_iterator()), 4);

  // The server is gone: a second fetch comes from the disk cache alone.
  server.stop();
  CollateralFetcher again(pcs_config(server, cache.path()));
  auto cached = again.fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_TRUE(cached.ok()) << cached.error().to_string();
  expect_same_collateral(*cached, expected_bundle());
  EXPECT_EQ(again.last_stats().network_requests, 0);
  EXPECT_EQ(again.last_stats().cache_hits, 4);

  // Offline mode serves the same cache, and stale entries are returned (counted) for the
  // verifier to report.
  PcsConfig offline = pcs_config(server, cache.path());
  offline.offline = true;
  CollateralFetcher offline_fetcher(offline);
  auto stale =
      offline_fetcher.fetch(kFmspc, PckCa::platform, *parse_rfc3339("2030-01-01T00:00:00Z"));
  ASSERT_TRUE(stale.ok()) << stale.error().to_string();
  expect_same_collateral(*stale, expected_bundle());
  EXPECT_EQ(offline_fetcher.last_stats().stale_served, 4);
  EXPECT_EQ(offline_fetcher.last_stats().network_requests, 0);

  // Online, stale entries are refetched; the server is down, so that is an io error.
  CollateralFetcher online(pcs_config(server, cache.path()));
  auto refetch = online.fetch(kFmspc, PckCa::platform, *parse_rfc3339("2030-01-01T00:00:00Z"));
  ASSERT_FALSE(refetch.ok());
  EXPECT_EQ(refetch.error().code, Errc::io);
}

TEST(FetchTest, StaleEntriesAreRefetched) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  TempDir cache;
  CollateralFetcher fetcher(pcs_config(server, cache.path()));
  ASSERT_TRUE(fetcher.fetch(kFmspc, PckCa::platform, fresh_time()).ok());
  // 2024-01-01: TCB info, QE identity and PCK CRL are past nextUpdate, the root CRL is not.
  auto got = fetcher.fetch(kFmspc, PckCa::platform, *parse_rfc3339("2024-01-01T00:00:00Z"));
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_collateral(*got, expected_bundle());
  EXPECT_EQ(fetcher.last_stats().network_requests, 3);
  EXPECT_EQ(fetcher.last_stats().cache_hits, 1);
}

TEST(FetchTest, PccsServesTheRootCrlAsHex) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  PcsConfig config;
  config.base_url = server.url("/");  // a trailing slash is tolerated
  config.kind = PcsConfig::Kind::pccs;
  config.timeout = seconds(10);
  CollateralFetcher fetcher(config);
  auto got = fetcher.fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_collateral(*got, expected_bundle());
  EXPECT_EQ(fetcher.last_stats().network_requests, 4);
}

TEST(FetchTest, SgxTcbInfoHeaderNameIsAccepted) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  CollateralFetcher fetcher(pcs_config(server, "", "/fault/sgxheader"));
  auto got = fetcher.fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_collateral(*got, expected_bundle());
}

TEST(FetchTest, HttpFailuresAreIoErrorsNamingTheUrl) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  for (const char* status : {"404", "500"}) {
    SCOPED_TRACE(status);
    CollateralFetcher fetcher(pcs_config(server, "", std::string("/fault/") + status));
    auto got = fetcher.fetch(kFmspc, PckCa::platform, fresh_time());
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, Errc::io);
    EXPECT_NE(got.error().message.find(std::string("HTTP status ") + status), std::string::npos)
        << got.error().message;
    EXPECT_NE(got.error().message.find(server.url("/fault/")), std::string::npos)
        << got.error().message;
  }
  // An FMSPC the server has no record of: PCS answers 404.
  CollateralFetcher fetcher(pcs_config(server, ""));
  const Bytes other = {0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00};
  auto got = fetcher.fetch(other, PckCa::platform, fresh_time());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::io);
  EXPECT_NE(got.error().message.find("fmspc=90C06F000000"), std::string::npos)
      << got.error().message;
  // The recorded PCK CRL is the Platform CA's; the processor one is not recorded.
  auto processor =
      CollateralFetcher(pcs_config(server, "")).fetch(kFmspc, PckCa::processor, fresh_time());
  ASSERT_FALSE(processor.ok());
  EXPECT_NE(processor.error().message.find("ca=processor"), std::string::npos);
}

TEST(FetchTest, OversizedBodiesAreRefused) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  CollateralFetcher big(pcs_config(server, "", "/fault/big"));  // 5 MiB > 4 MiB default
  auto got = big.fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::io);
  EXPECT_NE(got.error().message.find("exceeds"), std::string::npos) << got.error().message;

  PcsConfig small = pcs_config(server, "");
  small.max_body_bytes = 1000;  // the TCB info response is 2401 bytes
  auto small_got = CollateralFetcher(small).fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(small_got.ok());
  EXPECT_EQ(small_got.error().code, Errc::io);
}

TEST(FetchTest, TimeoutsAreErrors) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  PcsConfig config = pcs_config(server, "", "/fault/slow");
  config.timeout = seconds(1);
  const auto start = steady_clock::now();
  auto got = CollateralFetcher(config).fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::io);
  EXPECT_LT(steady_clock::now() - start, seconds(4));
}

TEST(FetchTest, RedirectsToOtherSchemesAndMissingHeadersFail) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  auto redirect = CollateralFetcher(pcs_config(server, "", "/fault/redirect"))
                      .fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(redirect.ok());
  EXPECT_EQ(redirect.error().code, Errc::io);

  auto nochain = CollateralFetcher(pcs_config(server, "", "/fault/nochain"))
                     .fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(nochain.ok());
  EXPECT_EQ(nochain.error().code, Errc::parse);
  EXPECT_NE(nochain.error().message.find("TCB-Info-Issuer-Chain"), std::string::npos);

  PcsConfig ftp;
  ftp.base_url = "ftp://127.0.0.1:" + std::to_string(server.port());
  auto wrong_scheme = CollateralFetcher(ftp).fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(wrong_scheme.ok());
  EXPECT_EQ(wrong_scheme.error().code, Errc::invalid_argument);
}

TEST(FetchTest, OfflineWithoutCacheIsAnError) {
  TempDir cache;
  PcsConfig config;
  config.base_url = "http://127.0.0.1:1";  // never contacted
  config.offline = true;
  config.cache_dir = cache.path();
  CollateralFetcher fetcher(config);
  auto got = fetcher.fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::not_found);
  EXPECT_EQ(fetcher.last_stats().network_requests, 0);

  config.cache_dir.clear();
  auto no_dir = CollateralFetcher(config).fetch(kFmspc, PckCa::platform, fresh_time());
  ASSERT_FALSE(no_dir.ok());
  EXPECT_EQ(no_dir.error().code, Errc::invalid_argument);
}

TEST(PcsCacheTest, CorruptFilesAreRefetchedOnlineAndRefusedOffline) {
  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  TempDir cache;
  const std::string tcb_file = cache.path() + "/pcs-50806f000000-platform-standard-tcb";
  const std::string good = [&] {
    CollateralFetcher fetcher(pcs_config(server, cache.path()));
    EXPECT_TRUE(fetcher.fetch(kFmspc, PckCa::platform, fresh_time()).ok());
    std::ifstream in(tcb_file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  ASSERT_FALSE(good.empty());

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x55;
  const std::vector<std::string> corruptions = {
      "",
      "garbage",
      "acon-collateral-cache 1\n",
      "acon-collateral-cache 1\n5 5\nabc",
      "acon-collateral-cache 1\n99999999999999999999 1\n",
      "acon-collateral-cache 1\n-1 3\nabc",
      good.substr(0, good.size() - 10),
      good + "x",
      flipped,
  };
  for (size_t i = 0; i < corruptions.size(); ++i) {
    SCOPED_TRACE("corruption " + std::to_string(i));
    {
      std::ofstream out(tcb_file, std::ios::binary | std::ios::trunc);
      out << corruptions[i];
    }
    PcsConfig offline = pcs_config(server, cache.path());
    offline.offline = true;
    auto refused = CollateralFetcher(offline).fetch(kFmspc, PckCa::platform, fresh_time());
    // A flipped byte may land in JSON whitespace-insensitive text; all others must fail.
    if (i + 1 < corruptions.size()) {
      EXPECT_FALSE(refused.ok());
    }

    CollateralFetcher online(pcs_config(server, cache.path()));
    auto got = online.fetch(kFmspc, PckCa::platform, fresh_time());
    ASSERT_TRUE(got.ok()) << got.error().to_string();
    expect_same_collateral(*got, expected_bundle());
    std::ifstream in(tcb_file, std::ios::binary);
    if (!refused.ok()) {
      EXPECT_EQ(online.last_stats().cache_rejected, 1);
      EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), good);  // rewritten
    }
  }
}

TEST(PcsCacheTest, KeysAreSanitized) {
  PcsConfig config;
  CollateralFetcher pcs(config);
  EXPECT_EQ(*pcs.cache_key(kFmspc, PckCa::platform, "tcb"),
            "pcs-50806f000000-platform-standard-tcb");
  config.kind = PcsConfig::Kind::pccs;
  config.update = PcsConfig::Update::early;
  CollateralFetcher pccs(config);
  EXPECT_EQ(*pccs.cache_key(kFmspc, PckCa::processor, "rootcrl"),
            "pccs-50806f000000-processor-early-rootcrl");
  for (size_t size : {0u, 5u, 7u, 12u}) {
    const Bytes fmspc(size, 0x2f);  // '/' bytes never reach a file name
    auto key = pcs.cache_key(fmspc, PckCa::platform, "tcb");
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, Errc::invalid_argument);
    auto got = pcs.fetch(fmspc, PckCa::platform, fresh_time());
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, Errc::invalid_argument);
    EXPECT_EQ(pcs.last_stats().network_requests, 0);
  }
  for (const char* item : {"", "../tcb", "tcb/../../x", "TCB"}) {
    EXPECT_FALSE(pcs.cache_key(kFmspc, PckCa::platform, item).ok()) << item;
  }
}

TEST(FetchTest, BundleFilesLoadOffline) {
  auto got = load_collateral_bundle_file(std::string(ACON_TEST_DATA) + "/" + std::string(kDir) +
                                         "/collateral_v4_phala_format.json");
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_collateral(*got, expected_bundle());

  auto missing = load_collateral_bundle_file(std::string(ACON_TEST_DATA) + "/no-such-bundle.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);

  auto not_bundle = load_collateral_bundle_file(std::string(ACON_TEST_DATA) + "/" +
                                                std::string(kDir) + "/pckcrl");
  ASSERT_FALSE(not_bundle.ok());
  EXPECT_EQ(not_bundle.error().code, Errc::parse);
}

TEST(FetchTest, BundleFilesAreBoundedAndNamed) {
  const std::string path =
      std::string(ACON_TEST_DATA) + "/" + std::string(kDir) + "/collateral_v4_phala_format.json";
  auto small = load_collateral_bundle_file(path, 100);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().message, path + ": larger than 100 bytes");
  auto endless = load_collateral_bundle_file("/dev/zero", 4096);
  ASSERT_FALSE(endless.ok());
  EXPECT_EQ(endless.error().message, "/dev/zero: larger than 4096 bytes");
  auto directory = load_collateral_bundle_file(std::string(ACON_TEST_DATA));
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().code, Errc::io);
  EXPECT_NE(directory.error().message.find(ACON_TEST_DATA), std::string::npos);
}

// The FMSPC comes from the PCK certificate's SGX extension and the CA from the intermediate's
// subject CN; the collateral fetched for them is what the replayed PCS serves for that platform.
TEST(FetchTest, QuoteNamesItsPlatformAndItsCollateralIsFetched) {
  Bytes bytes = test::read_data_bytes(std::string(kDir) + "/tdx_prod_quote_SPR_E4.dat");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok()) << quote.error().to_string();
  auto platform = quote_platform(*quote);
  ASSERT_TRUE(platform.ok()) << platform.error().to_string();
  EXPECT_EQ(Bytes(platform->fmspc.begin(), platform->fmspc.end()), kFmspc);
  EXPECT_EQ(platform->ca, PckCa::platform);

  ReplayServer server;
  ASSERT_GT(server.port(), 0);
  CollateralFetcher fetcher(pcs_config(server, ""));
  auto got = fetcher.fetch_for_quote(*quote, fresh_time());
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_collateral(*got, expected_bundle());

  // A quote without a PEM chain (certification data other than type 5) names no platform.
  Bytes no_chain = test::read_data_bytes("quotes/intel-qvl-sample/quote.dat");
  auto sample = tdx::parse_quote(no_chain);
  ASSERT_TRUE(sample.ok()) << sample.error().to_string();
  EXPECT_FALSE(quote_platform(*sample).ok());
  EXPECT_FALSE(fetcher.fetch_for_quote(*sample, fresh_time()).ok());
}

TEST(FetchTest, PckCaFollowsTheIntermediateCommonName) {
  EXPECT_EQ(*pck_ca_from_common_name("Intel SGX PCK Platform CA"), PckCa::platform);
  EXPECT_EQ(*pck_ca_from_common_name("Intel SGX PCK Processor CA"), PckCa::processor);
  EXPECT_FALSE(pck_ca_from_common_name("Intel SGX Root CA").ok());
  EXPECT_EQ(pck_ca_name(PckCa::platform), "platform");
  EXPECT_EQ(pck_ca_name(PckCa::processor), "processor");
}

}  // namespace
}  // namespace acon::dcap
