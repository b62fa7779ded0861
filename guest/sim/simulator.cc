// Simulator creation, the Intel-shaped PKI, signed collateral, and the state document.
// See sim.h and docs/simulator.md.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/common/signature.h"
#include "acon/dcap/claims.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "acon/tdx/quote.h"
#include "internal.h"

namespace acon::guest::sim {

namespace {

using namespace std::chrono;
using detail::derive;
using detail::derive_p256_key;
using detail::derive_serial;
using OrderedJson = nlohmann::ordered_json;
using dcap::TcbStatus;

constexpr days kDay{1};
constexpr uint32_t kTcbEvaluationDataNumber = 17;
constexpr uint16_t kQeIsvSvn = 4;           // the simulated TD-QE's current ISVSVN
constexpr uint16_t kQeOutOfDateIsvSvn = 2;  // its older, out-of-date level
constexpr std::string_view kPkiUrlBase = "https://sim.acon.invalid/sgx/certification/v4/";
constexpr std::string_view kStateKind = "acon-sim-state";
constexpr int kStateVersion = 1;

Error state_error(std::string what) {
  return make_error(Errc::parse, "sim state: " + std::move(what));
}

std::vector<NameEntry> sim_name(std::string_view cn) {
  return {{"CN", std::string(cn)},
          {"O", "ACON Simulated TDX Platform"},
          {"L", "Santa Clara"},
          {"ST", "CA"},
          {"C", "US"}};
}

Time utc_date(int y, unsigned m, unsigned d) {
  return Time{sys_days{year{y} / month{m} / day{d}}.time_since_epoch()};
}

std::string upper_hex(ByteView bytes) {
  std::string text = hex_encode(bytes);
  for (char& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return text;
}

template <size_t N>
std::array<uint8_t, N> first_bytes(ByteView bytes) {
  std::array<uint8_t, N> out{};
  std::copy_n(bytes.begin(), std::min(N, bytes.size()), out.begin());
  return out;
}

Measurement sha384_of(std::string_view text) { return first_bytes<48>(sha384(as_bytes(text))); }

// ---- PKI (names, key usages, extensions and validity shaped like Intel's SGX PKI) ----

CertificateRequest ca_request(std::string_view cn, Bytes serial, Time not_before, Time not_after,
                              uint32_t path_length) {
  CertificateRequest req;
  req.subject = sim_name(cn);
  req.subject_key_id = serial;  // Intel's CA certificates use their serial as key identifier
  req.serial = std::move(serial);
  req.not_before = not_before;
  req.not_after = not_after;
  req.is_ca = true;
  req.path_length = path_length;
  req.key_usage = kKeyUsageKeyCertSign | kKeyUsageCrlSign;
  req.crl_distribution_points = {std::string(kPkiUrlBase) + "rootcacrl"};
  return req;
}

// The quote's type-5 certification data: PCK leaf, platform CA and root as PEM, in that order.
std::string pck_chain_pem_of(const Certificate& pck, const Certificate& pck_ca,
                             const Certificate& root) {
  return pck.to_pem() + pck_ca.to_pem() + root.to_pem();
}

Result<std::shared_ptr<const Simulator::Material>> make_material(ByteView seed, Time issue,
                                                                 const PlatformTcb& platform) {
  ACON_TRY(PrivateKey root_key, derive_p256_key(seed, "root-ca"));
  ACON_TRY(PrivateKey pck_ca_key, derive_p256_key(seed, "pck-platform-ca"));
  ACON_TRY(PrivateKey pck_key, derive_p256_key(seed, "pck"));
  ACON_TRY(PrivateKey tcb_signing_key, derive_p256_key(seed, "tcb-signing"));
  ACON_TRY(PrivateKey attestation_key, derive_p256_key(seed, "attestation"));
  ACON_TRY(SecretBytes report_mac_key, derive(seed, "report-mac", 32));
  ACON_TRY(Bytes root_serial, derive_serial(seed, "root-ca"));
  ACON_TRY(Bytes pck_ca_serial, derive_serial(seed, "pck-platform-ca"));
  ACON_TRY(Bytes tcb_signing_serial, derive_serial(seed, "tcb-signing"));
  ACON_TRY(Bytes pck_serial, derive_serial(seed, "pck"));

  // Root: a year before the issue date until Intel's root's end of 2049 (or 30 years, if later).
  Time root_start = issue - 365 * kDay;
  Time root_end = std::max(utc_date(2049, 12, 31) + 86399s, issue + 30 * 365 * kDay);
  ACON_TRY(Certificate root, issue_certificate(ca_request(dcap::kSimulatedRootCommonName,
                                                          root_serial, root_start, root_end, 1),
                                               root_key.public_key(), root_key, nullptr));
  // PCK Platform CA: 15 years, path length 0.
  ACON_TRY(Certificate pck_ca,
           issue_certificate(ca_request("ACON Simulated SGX PCK Platform CA", pck_ca_serial,
                                        root_start, root_start + 15 * 365 * kDay, 0),
                             pck_ca_key.public_key(), root_key, &root));
  // TCB signing: 7 years, digitalSignature + nonRepudiation, CA:FALSE.
  CertificateRequest tcb_req;
  tcb_req.subject = sim_name("ACON Simulated SGX TCB Signing");
  tcb_req.subject_key_id = tcb_signing_serial;
  tcb_req.serial = tcb_signing_serial;
  tcb_req.not_before = issue - 30 * kDay;
  tcb_req.not_after = tcb_req.not_before + 7 * 365 * kDay;
  tcb_req.key_usage = kKeyUsageDigitalSignature | kKeyUsageNonRepudiation;
  tcb_req.crl_distribution_points = {std::string(kPkiUrlBase) + "rootcacrl"};
  ACON_TRY(Certificate tcb_signing,
           issue_certificate(tcb_req, tcb_signing_key.public_key(), root_key, &root));
  // PCK leaf: 7 years, with the SGX extension; its key identifier is a key hash (as Intel's).
  CertificateRequest pck_req;
  pck_req.subject = sim_name("ACON Simulated SGX PCK Certificate");
  pck_req.serial = pck_serial;
  pck_req.not_before = issue - kDay;
  pck_req.not_after = pck_req.not_before + 7 * 365 * kDay;
  pck_req.key_usage = kKeyUsageDigitalSignature | kKeyUsageNonRepudiation;
  pck_req.crl_distribution_points = {std::string(kPkiUrlBase) + "pckcrl?ca=platform&encoding=der"};
  pck_req.extensions.push_back(
      {std::string(dcap::kSgxExtensionOid), detail::sgx_extension_der(platform), false});
  ACON_TRY(Certificate pck, issue_certificate(pck_req, pck_key.public_key(), pck_ca_key, &pck_ca));

  std::string chain = pck_chain_pem_of(pck, pck_ca, root);
  return std::make_shared<const Simulator::Material>(Simulator::Material{
      std::move(root_key), std::move(pck_ca_key), std::move(pck_key), std::move(tcb_signing_key),
      std::move(attestation_key), std::move(report_mac_key), std::move(root), std::move(pck_ca),
      std::move(pck), std::move(tcb_signing), std::move(chain)});
}

// ---- TCB info and QE identity ----

// Component names as Intel's TDX TCB info labels the first SGX and TDX components.
OrderedJson components(ByteView svns, bool tdx) {
  struct Label {
    const char* category;
    const char* type;
  };
  static const Label kSgx[] = {{"BIOS", "Early Microcode Update"},
                               {"OS/VMM", "SGX Late Microcode Update"},
                               {"OS/VMM", "TXT SINIT"},
                               {"BIOS", nullptr},
                               {"BIOS", nullptr},
                               {"BIOS", nullptr},
                               {nullptr, nullptr},
                               {"OS/VMM", "SEAMLDR ACM"}};
  static const Label kTdx[] = {
      {"OS/VMM", "TDX Module"}, {"OS/VMM", "TDX Module"}, {"OS/VMM", "TDX Late Microcode Update"}};
  OrderedJson out = OrderedJson::array();
  for (size_t i = 0; i < svns.size(); ++i) {
    OrderedJson item = {{"svn", svns[i]}};
    const Label* label = nullptr;
    if (!tdx && i < std::size(kSgx)) label = &kSgx[i];
    if (tdx && i < std::size(kTdx)) label = &kTdx[i];
    if (label != nullptr && label->category != nullptr) item["category"] = label->category;
    if (label != nullptr && label->type != nullptr) item["type"] = label->type;
    out.push_back(std::move(item));
  }
  return out;
}

OrderedJson level_status(OrderedJson level, Time date, TcbStatus status,
                         const std::vector<std::string>& advisories) {
  level["tcbDate"] = format_rfc3339(date);
  level["tcbStatus"] = std::string(dcap::tcb_status_name(status));
  if (!advisories.empty()) level["advisoryIDs"] = advisories;
  return level;
}

OrderedJson platform_level(const std::array<uint8_t, 16>& sgx, uint16_t pcesvn,
                           const std::array<uint8_t, 16>& tdx, Time date, TcbStatus status,
                           const std::vector<std::string>& advisories) {
  OrderedJson tcb = {{"sgxtcbcomponents", components(sgx, false)},
                     {"pcesvn", pcesvn},
                     {"tdxtcbcomponents", components(tdx, true)}};
  return level_status(OrderedJson{{"tcb", std::move(tcb)}}, date, status, advisories);
}

OrderedJson isv_level(uint16_t isvsvn, Time date, TcbStatus status,
                      const std::vector<std::string>& advisories) {
  return level_status(OrderedJson{{"tcb", {{"isvsvn", isvsvn}}}}, date, status, advisories);
}

uint8_t bump(uint8_t svn) { return svn == 0xFF ? svn : static_cast<uint8_t>(svn + 1); }

// The ladder (docs/simulator.md): [an UpToDate level above the platform, when the platform's
// status is not UpToDate], the platform's level with the configured status, one TDX module
// TCB level below it (OutOfDate; where a TD launched "below current" lands), and an old floor.
std::string tcb_info_json(const PlatformTcb& platform, const TcbPolicy& policy,
                          const CollateralDates& dates) {
  const auto& sgx = platform.sgx_comp_svn;
  const auto& tdx = platform.tdx_tcb_svn;
  const Time current = utc_date(2024, 3, 13);
  OrderedJson levels = OrderedJson::array();
  if (policy.platform_status != TcbStatus::up_to_date) {
    auto sgx_up = sgx;
    sgx_up[0] = bump(sgx_up[0]);
    auto tdx_up = tdx;
    tdx_up[2] = bump(tdx_up[2]);
    levels.push_back(
        platform_level(sgx_up, platform.pcesvn, tdx_up, current, TcbStatus::up_to_date, {}));
  }
  std::vector<std::string> advisories;
  if (policy.platform_status != TcbStatus::up_to_date)
    advisories = policy.advisory_ids.empty() ? std::vector<std::string>{"ACON-SIM-SA-00002"}
                                             : policy.advisory_ids;
  levels.push_back(platform_level(
      sgx, platform.pcesvn, tdx,
      policy.platform_status == TcbStatus::up_to_date ? current : utc_date(2023, 8, 9),
      policy.platform_status, advisories));
  if (tdx[2] > 0) {
    auto tdx_below = tdx;
    tdx_below[2] = static_cast<uint8_t>(tdx_below[2] - 1);
    levels.push_back(platform_level(sgx, platform.pcesvn, tdx_below, utc_date(2023, 2, 15),
                                    TcbStatus::out_of_date, {"ACON-SIM-SA-00001"}));
  }
  levels.push_back(platform_level({}, std::min<uint16_t>(platform.pcesvn, 5), {},
                                  utc_date(2018, 1, 4), TcbStatus::out_of_date,
                                  {"ACON-SIM-SA-00000"}));

  const std::string zero_signer(96, '0');
  OrderedJson module = {{"mrsigner", zero_signer},
                        {"attributes", "0000000000000000"},
                        {"attributesMask", "FFFFFFFFFFFFFFFF"}};
  OrderedJson identities = OrderedJson::array();
  if (tdx[1] > 0) {
    char id[8];
    std::snprintf(id, sizeof id, "TDX_%02X", tdx[1]);
    OrderedJson module_levels = OrderedJson::array();
    module_levels.push_back(isv_level(tdx[0], current, TcbStatus::up_to_date, {}));
    if (tdx[0] > 0)
      module_levels.push_back(
          isv_level(0, utc_date(2023, 8, 9), TcbStatus::out_of_date, {"ACON-SIM-SA-00003"}));
    OrderedJson identity = {{"id", id}};
    for (const auto& [key, value] : module.items()) identity[key] = value;
    identity["tcbLevels"] = std::move(module_levels);
    identities.push_back(std::move(identity));
  }
  OrderedJson info = {
      {"id", "TDX"},
      {"version", 3},
      {"issueDate", format_rfc3339(dates.issue_date)},
      {"nextUpdate", format_rfc3339(dates.next_update)},
      {"fmspc", upper_hex(platform.fmspc)},
      {"pceId", upper_hex(platform.pce_id)},
      {"tcbType", 0},
      {"tcbEvaluationDataNumber", kTcbEvaluationDataNumber},
      {"tdxModule", std::move(module)},
      {"tdxModuleIdentities", std::move(identities)},
      {"tcbLevels", std::move(levels)},
  };
  return info.dump();
}

std::string qe_identity_json(const QeState& qe, const CollateralDates& dates) {
  OrderedJson levels = OrderedJson::array();
  levels.push_back(isv_level(kQeIsvSvn, utc_date(2024, 3, 13), TcbStatus::up_to_date, {}));
  levels.push_back(isv_level(kQeOutOfDateIsvSvn, utc_date(2023, 8, 9), TcbStatus::out_of_date,
                             {"ACON-SIM-SA-00004"}));
  char miscselect[9];
  std::snprintf(miscselect, sizeof miscselect, "%08X", qe.misc_select);
  OrderedJson identity = {
      {"id", "TD_QE"},
      {"version", 2},
      {"issueDate", format_rfc3339(dates.issue_date)},
      {"nextUpdate", format_rfc3339(dates.next_update)},
      {"tcbEvaluationDataNumber", kTcbEvaluationDataNumber},
      {"miscselect", miscselect},
      {"miscselectMask", "FFFFFFFF"},
      // As Intel's TD_QE identity: INIT and PROVISIONKEY set, DEBUG clear, MODE64BIT not
      // compared, the XFRM half ignored.
      {"attributes", "11000000000000000000000000000000"},
      {"attributesMask", "FBFFFFFFFFFFFFFF0000000000000000"},
      {"mrsigner", upper_hex(qe.mr_signer)},
      {"isvprodid", qe.isv_prod_id},
      {"tcbLevels", std::move(levels)},
  };
  return identity.dump();
}

Result<std::string> sign_json(const PrivateKey& key, const std::string& json) {
  ACON_TRY(Bytes signature, sign(key, SigScheme{SigKind::ecdsa, HashAlg::sha256}, as_bytes(json),
                                 EcdsaEncoding::raw));
  return hex_encode(signature);
}

// ---- state document helpers ----

template <size_t N>
Result<std::array<uint8_t, N>> hex_array(const Json& object, std::string_view key) {
  ACON_TRY(std::string text, json_get_string(object, key));
  auto bytes = hex_decode(text);
  if (!bytes || bytes->size() != N)
    return state_error(std::string(key) + ": expected " + std::to_string(N) + " bytes of hex");
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

template <class T>
Result<T> integer(const Json& object, std::string_view key) {
  ACON_TRY(const Json* value, json_get(object, key));
  if (!value->is_number_unsigned() || value->get<uint64_t>() > std::numeric_limits<T>::max())
    return state_error(std::string(key) + ": expected an unsigned integer");
  return static_cast<T>(value->get<uint64_t>());
}

Result<const Json*> object_member(const Json& object, std::string_view key) {
  ACON_TRY(const Json* value, json_get(object, key));
  if (!value->is_object()) return state_error(std::string(key) + ": expected an object");
  return value;
}

std::string pem_string(const SecretBytes& pem) { return std::string(as_chars(view(pem))); }

// Overwrites every string in a JSON value (the state's private keys) before it is freed.
void wipe_strings(Json& value) {
  if (value.is_string()) {
    auto& text = value.get_ref<std::string&>();
    secure_zero(text.data(), text.size());
  } else if (value.is_structured()) {
    for (auto& item : value) wipe_strings(item);
  }
}

Result<dcap::TcbStatus> status_from(const std::string& name) {
  auto status = dcap::tcb_status_from_name(name);
  if (!status) return state_error("unknown TCB status '" + name + "'");
  return *status;
}

}  // namespace

CollateralDates default_dates(Time issue_date) {
  return {issue_date, issue_date + 30 * kDay, issue_date + 365 * kDay};
}

Result<Simulator> Simulator::create(const CreateOptions& options) {
  SecretBytes seed;
  if (options.seed) {
    if (options.seed->size() < 16)
      return make_error(Errc::invalid_argument, "sim: the seed must have at least 16 bytes");
    seed.assign(options.seed->begin(), options.seed->end());
  } else {
    ACON_TRY(Bytes fresh, random_bytes(32));
    seed.assign(fresh.begin(), fresh.end());
    secure_zero(fresh.data(), fresh.size());
  }
  if (options.dates.issue_date == Time{})
    return make_error(Errc::invalid_argument,
                      "sim: CreateOptions.dates.issue_date is unset (e.g. default_dates(now))");
  Simulator sim;
  ACON_CHECK(sim.set_quote_version(options.quote_version));

  PlatformTcb& p = sim.platform_;
  ACON_TRY(SecretBytes ppid, derive(view(seed), "ppid", 16));
  ACON_TRY(SecretBytes instance, derive(view(seed), "platform-instance-id", 16));
  p.ppid = first_bytes<16>(view(ppid));
  p.platform_instance_id = first_bytes<16>(view(instance));
  p.sgx_comp_svn = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
  p.pcesvn = 13;
  p.cpusvn = p.sgx_comp_svn;  // the raw CPUSVN carries the same SVNs on these platforms
  p.pce_id = {0, 0};
  p.fmspc = dcap::kSimulatedFmspc;
  p.sgx_type = dcap::SgxType::scalable;
  p.tdx_tcb_svn = {6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

  QeState& qe = sim.qe_;
  qe.mr_enclave = first_bytes<32>(sha256(as_bytes(std::string_view("acon-sim TD-QE enclave"))));
  qe.mr_signer = first_bytes<32>(sha256(as_bytes(std::string_view("acon-sim TD-QE signer"))));
  qe.isv_prod_id = 2;
  qe.isv_svn = kQeIsvSvn;
  qe.misc_select = 0;
  qe.attributes = {0x15, 0, 0, 0, 0, 0, 0, 0, 0xE7, 0, 0, 0, 0, 0, 0, 0};

  TdState& td = sim.td_;
  td.tee_tcb_svn = p.tdx_tcb_svn;
  td.tee_tcb_svn2 = p.tdx_tcb_svn;
  td.mr_seam = sha384_of("acon-sim TDX module 1.5");
  td.td_attributes = uint64_t{1} << 28;  // SEPT_VE_DISABLE, not DEBUG
  td.xfam = 0x00000000000602E7;
  td.mr_td = sha384_of("acon-sim TDVF image");

  ACON_TRY(sim.ccel_, detail::firmware_ccel());
  ACON_TRY(auto log, eventlog::parse_event_log(sim.ccel_));
  eventlog::Replayer replayer;
  ACON_CHECK(eventlog::replay(log, replayer));
  for (uint32_t i = 0; i < kRtmrCount; ++i)
    td.rtmr[i] = first_bytes<48>(replayer.value(tdx::ccel_mr_index_of_rtmr(i), HashAlg::sha384));

  ACON_TRY(sim.material_, make_material(view(seed), options.dates.issue_date, p));
  ACON_CHECK(sim.reissue_collateral(options.dates, options.tcb));
  return sim;
}

Status Simulator::set_quote_version(uint16_t version) {
  if (version != 4 && version != 5)
    return make_error(Errc::invalid_argument,
                      "sim: quote version must be 4 or 5, not " + std::to_string(version));
  quote_version_ = version;
  return {};
}

Status Simulator::extend(uint32_t index, ByteView digest) {
  if (index >= kRtmrCount)
    return make_error(Errc::invalid_argument,
                      "sim: RTMR index " + std::to_string(index) + " out of range 0..3");
  if (digest.size() != 48)
    return make_error(Errc::invalid_argument,
                      "sim: RTMR extend needs a 48-byte SHA-384 digest, got " +
                          std::to_string(digest.size()) + " bytes");
  Bytes input(td_.rtmr[index].begin(), td_.rtmr[index].end());
  append(input, digest);
  td_.rtmr[index] = first_bytes<48>(sha384(input));
  return {};
}

Status Simulator::launch_below_current_tcb() {
  if (td_.tee_tcb_svn2[2] == 0)
    return make_error(Errc::invalid_argument,
                      "sim: TEE_TCB_SVN2[2] is 0, there is no TCB level below it");
  td_.tee_tcb_svn = td_.tee_tcb_svn2;
  td_.tee_tcb_svn[2] = static_cast<uint8_t>(td_.tee_tcb_svn[2] - 1);
  return {};
}

const Certificate& Simulator::root_ca() const { return material_->root; }
const Certificate& Simulator::pck_platform_ca() const { return material_->pck_ca; }
const Certificate& Simulator::pck_certificate() const { return material_->pck; }
const Certificate& Simulator::tcb_signing_certificate() const { return material_->tcb_signing; }

std::string Simulator::pck_chain_pem() const { return material_->pck_chain_pem; }

Status Simulator::reissue_collateral(const CollateralDates& dates, const TcbPolicy& policy) {
  if (dates.next_update < dates.issue_date || dates.root_crl_next_update < dates.issue_date)
    return make_error(Errc::invalid_argument, "sim: collateral next update precedes issue date");
  const Material& m = *material_;
  CrlRequest root_crl_req;
  root_crl_req.this_update = dates.issue_date;
  root_crl_req.next_update = dates.root_crl_next_update;
  ACON_TRY(Crl root_crl, issue_crl(root_crl_req, m.root_key, m.root));

  CrlRequest pck_crl_req;
  pck_crl_req.this_update = dates.issue_date;
  pck_crl_req.next_update = dates.next_update;
  // Two other platforms' certificates are revoked, as on any real PCK CRL.
  pck_crl_req.revoked.push_back(
      {Bytes{0x6F, 0xC3, 0x4E, 0x50, 0x23}, dates.issue_date, CrlReason::key_compromise});
  pck_crl_req.revoked.push_back(
      {Bytes{0x7E, 0xAE, 0x6E, 0x97, 0x15}, dates.issue_date, CrlReason::key_compromise});
  if (policy.revoke_pck) {
    ACON_TRY(Bytes serial, hex_decode(m.pck.serial_hex()));
    pck_crl_req.revoked.push_back({std::move(serial), dates.issue_date, CrlReason::key_compromise});
  }
  ACON_TRY(Crl pck_crl, issue_crl(pck_crl_req, m.pck_ca_key, m.pck_ca));

  std::string tcb_info = tcb_info_json(platform_, policy, dates);
  std::string qe_identity = qe_identity_json(qe_, dates);
  ACON_TRY(std::string tcb_info_signature, sign_json(m.tcb_signing_key, tcb_info));
  ACON_TRY(std::string qe_identity_signature, sign_json(m.tcb_signing_key, qe_identity));
  const std::string signing_chain = m.tcb_signing.to_pem() + m.root.to_pem();
  OrderedJson bundle = {
      {"pck_crl_issuer_chain", m.pck_ca.to_pem() + m.root.to_pem()},
      {"root_ca_crl", hex_encode(root_crl.der())},
      {"pck_crl", hex_encode(pck_crl.der())},
      {"tcb_info_issuer_chain", signing_chain},
      {"tcb_info", tcb_info},
      {"tcb_info_signature", tcb_info_signature},
      {"qe_identity_issuer_chain", signing_chain},
      {"qe_identity", qe_identity},
      {"qe_identity_signature", qe_identity_signature},
  };
  collateral_bundle_ = bundle.dump(2) + "\n";
  dates_ = dates;
  policy_ = policy;
  return {};
}

Result<dcap::Collateral> Simulator::collateral() const {
  return dcap::parse_collateral_bundle(collateral_bundle_);
}

namespace {
Result<std::string> pcs_response(const std::string& bundle, std::string_view body_key,
                                 std::string_view member, std::string_view signature_member) {
  ACON_TRY(Json parsed, parse_json(bundle));
  ACON_TRY(std::string body, json_get_string(parsed, body_key));
  ACON_TRY(std::string signature, json_get_string(parsed, signature_member));
  // The signed object goes in verbatim: its bytes are what the signature covers.
  return "{\"" + std::string(member) + "\":" + body + ",\"signature\":\"" + signature + "\"}";
}
}  // namespace

Result<std::string> Simulator::tcb_info_response() const {
  return pcs_response(collateral_bundle_, "tcb_info", "tcbInfo", "tcb_info_signature");
}

Result<std::string> Simulator::qe_identity_response() const {
  return pcs_response(collateral_bundle_, "qe_identity", "enclaveIdentity",
                      "qe_identity_signature");
}

// ---- state document ----

SecretBytes Simulator::to_state_json() const {
  const Material& m = *material_;
  const PlatformTcb& p = platform_;
  Json rtmrs = Json::array();
  for (const auto& rtmr : td_.rtmr) rtmrs.push_back(hex_encode(rtmr));
  Json doc = {
      {"kind", kStateKind},
      {"version", kStateVersion},
      {"quote_version", quote_version_},
      {"keys",
       {{"root_ca", pem_string(m.root_key.to_pem())},
        {"pck_platform_ca", pem_string(m.pck_ca_key.to_pem())},
        {"pck", pem_string(m.pck_key.to_pem())},
        {"tcb_signing", pem_string(m.tcb_signing_key.to_pem())},
        {"attestation", pem_string(m.attestation_key.to_pem())},
        {"report_mac", hex_encode(view(m.report_mac_key))}}},
      {"certificates",
       {{"root_ca", m.root.to_pem()},
        {"pck_platform_ca", m.pck_ca.to_pem()},
        {"pck", m.pck.to_pem()},
        {"tcb_signing", m.tcb_signing.to_pem()}}},
      {"platform",
       {{"ppid", hex_encode(p.ppid)},
        {"sgx_comp_svn", hex_encode(p.sgx_comp_svn)},
        {"pcesvn", p.pcesvn},
        {"cpusvn", hex_encode(p.cpusvn)},
        {"pce_id", hex_encode(p.pce_id)},
        {"fmspc", hex_encode(p.fmspc)},
        {"sgx_type", static_cast<int>(p.sgx_type)},
        {"platform_instance_id", hex_encode(p.platform_instance_id)},
        {"tdx_tcb_svn", hex_encode(p.tdx_tcb_svn)}}},
      {"qe",
       {{"mr_enclave", hex_encode(qe_.mr_enclave)},
        {"mr_signer", hex_encode(qe_.mr_signer)},
        {"isv_prod_id", qe_.isv_prod_id},
        {"isv_svn", qe_.isv_svn},
        {"misc_select", qe_.misc_select},
        {"attributes", hex_encode(qe_.attributes)}}},
      {"td",
       {{"tee_tcb_svn", hex_encode(td_.tee_tcb_svn)},
        {"tee_tcb_svn2", hex_encode(td_.tee_tcb_svn2)},
        {"mr_seam", hex_encode(td_.mr_seam)},
        {"mr_signer_seam", hex_encode(td_.mr_signer_seam)},
        {"seam_attributes", td_.seam_attributes},
        {"td_attributes", td_.td_attributes},
        {"xfam", td_.xfam},
        {"mr_td", hex_encode(td_.mr_td)},
        {"mr_config_id", hex_encode(td_.mr_config_id)},
        {"mr_owner", hex_encode(td_.mr_owner)},
        {"mr_owner_config", hex_encode(td_.mr_owner_config)},
        {"mr_service_td", hex_encode(td_.mr_service_td)},
        {"rtmr", std::move(rtmrs)}}},
      {"tcb_policy",
       {{"platform_status", dcap::tcb_status_name(policy_.platform_status)},
        {"advisory_ids", policy_.advisory_ids},
        {"revoke_pck", policy_.revoke_pck}}},
      {"collateral_dates",
       {{"issue_date", format_rfc3339(dates_.issue_date)},
        {"next_update", format_rfc3339(dates_.next_update)},
        {"root_crl_next_update", format_rfc3339(dates_.root_crl_next_update)}}},
      {"collateral", collateral_bundle_},
      {"ccel", hex_encode(ccel_)},
  };
  std::string text = doc.dump(2);
  text.push_back('\n');
  SecretBytes out(text.begin(), text.end());
  secure_zero(text.data(), text.size());
  wipe_strings(doc["keys"]);
  return out;
}

Result<Simulator> Simulator::from_state_json(std::string_view json) {
  ACON_TRY(Json doc, parse_json(json));
  struct Wipe {
    Json& doc;
    ~Wipe() {
      if (doc.is_object() && doc.contains("keys")) wipe_strings(doc["keys"]);
    }
  } wipe{doc};
  if (!doc.is_object()) return state_error("expected a JSON object");
  ACON_TRY(std::string kind, json_get_string(doc, "kind"));
  if (kind != kStateKind) return state_error("kind is '" + kind + "', not acon-sim-state");
  ACON_TRY(int version, integer<int>(doc, "version"));
  if (version != kStateVersion)
    return state_error("unsupported version " + std::to_string(version));

  Simulator sim;
  ACON_TRY(uint16_t quote_version, integer<uint16_t>(doc, "quote_version"));
  ACON_CHECK(sim.set_quote_version(quote_version));

  ACON_TRY(const Json* keys, object_member(doc, "keys"));
  auto key = [&](std::string_view name) -> Result<PrivateKey> {
    ACON_TRY(std::string pem, json_get_string(*keys, name));
    auto parsed = PrivateKey::from_pem(pem);
    secure_zero(pem.data(), pem.size());
    if (!parsed) return state_error("keys." + std::string(name) + ": " + parsed.error().message);
    return parsed;
  };
  ACON_TRY(const Json* certs, object_member(doc, "certificates"));
  auto cert = [&](std::string_view name) -> Result<Certificate> {
    ACON_TRY(std::string pem, json_get_string(*certs, name));
    auto parsed = Certificate::from_pem(pem);
    if (!parsed)
      return state_error("certificates." + std::string(name) + ": " + parsed.error().message);
    return parsed;
  };
  ACON_TRY(PrivateKey root_key, key("root_ca"));
  ACON_TRY(PrivateKey pck_ca_key, key("pck_platform_ca"));
  ACON_TRY(PrivateKey pck_key, key("pck"));
  ACON_TRY(PrivateKey tcb_signing_key, key("tcb_signing"));
  ACON_TRY(PrivateKey attestation_key, key("attestation"));
  ACON_TRY(auto mac_key, hex_array<32>(*keys, "report_mac"));
  SecretBytes report_mac_key(mac_key.begin(), mac_key.end());
  secure_zero(mac_key.data(), mac_key.size());
  ACON_TRY(Certificate root, cert("root_ca"));
  ACON_TRY(Certificate pck_ca, cert("pck_platform_ca"));
  ACON_TRY(Certificate pck, cert("pck"));
  ACON_TRY(Certificate tcb_signing, cert("tcb_signing"));
  std::string chain = pck_chain_pem_of(pck, pck_ca, root);
  sim.material_ = std::make_shared<const Material>(Material{
      std::move(root_key), std::move(pck_ca_key), std::move(pck_key), std::move(tcb_signing_key),
      std::move(attestation_key), std::move(report_mac_key), std::move(root), std::move(pck_ca),
      std::move(pck), std::move(tcb_signing), std::move(chain)});

  ACON_TRY(const Json* platform, object_member(doc, "platform"));
  PlatformTcb& p = sim.platform_;
  ACON_TRY(p.ppid, hex_array<16>(*platform, "ppid"));
  ACON_TRY(p.sgx_comp_svn, hex_array<16>(*platform, "sgx_comp_svn"));
  ACON_TRY(p.pcesvn, integer<uint16_t>(*platform, "pcesvn"));
  ACON_TRY(p.cpusvn, hex_array<16>(*platform, "cpusvn"));
  ACON_TRY(p.pce_id, hex_array<2>(*platform, "pce_id"));
  ACON_TRY(p.fmspc, hex_array<6>(*platform, "fmspc"));
  ACON_TRY(uint8_t sgx_type, integer<uint8_t>(*platform, "sgx_type"));
  if (sgx_type > 2) return state_error("platform.sgx_type: expected 0, 1 or 2");
  p.sgx_type = static_cast<dcap::SgxType>(sgx_type);
  ACON_TRY(p.platform_instance_id, hex_array<16>(*platform, "platform_instance_id"));
  ACON_TRY(p.tdx_tcb_svn, hex_array<16>(*platform, "tdx_tcb_svn"));

  ACON_TRY(const Json* qe, object_member(doc, "qe"));
  ACON_TRY(sim.qe_.mr_enclave, hex_array<32>(*qe, "mr_enclave"));
  ACON_TRY(sim.qe_.mr_signer, hex_array<32>(*qe, "mr_signer"));
  ACON_TRY(sim.qe_.isv_prod_id, integer<uint16_t>(*qe, "isv_prod_id"));
  ACON_TRY(sim.qe_.isv_svn, integer<uint16_t>(*qe, "isv_svn"));
  ACON_TRY(sim.qe_.misc_select, integer<uint32_t>(*qe, "misc_select"));
  ACON_TRY(sim.qe_.attributes, hex_array<16>(*qe, "attributes"));

  ACON_TRY(const Json* td, object_member(doc, "td"));
  TdState& t = sim.td_;
  ACON_TRY(t.tee_tcb_svn, hex_array<16>(*td, "tee_tcb_svn"));
  ACON_TRY(t.tee_tcb_svn2, hex_array<16>(*td, "tee_tcb_svn2"));
  ACON_TRY(t.mr_seam, hex_array<48>(*td, "mr_seam"));
  ACON_TRY(t.mr_signer_seam, hex_array<48>(*td, "mr_signer_seam"));
  ACON_TRY(t.seam_attributes, integer<uint64_t>(*td, "seam_attributes"));
  ACON_TRY(t.td_attributes, integer<uint64_t>(*td, "td_attributes"));
  ACON_TRY(t.xfam, integer<uint64_t>(*td, "xfam"));
  ACON_TRY(t.mr_td, hex_array<48>(*td, "mr_td"));
  ACON_TRY(t.mr_config_id, hex_array<48>(*td, "mr_config_id"));
  ACON_TRY(t.mr_owner, hex_array<48>(*td, "mr_owner"));
  ACON_TRY(t.mr_owner_config, hex_array<48>(*td, "mr_owner_config"));
  ACON_TRY(t.mr_service_td, hex_array<48>(*td, "mr_service_td"));
  ACON_TRY(const Json* rtmrs, json_get(*td, "rtmr"));
  if (!rtmrs->is_array() || rtmrs->size() != kRtmrCount)
    return state_error("td.rtmr: expected 4 registers");
  for (size_t i = 0; i < kRtmrCount; ++i) {
    Json holder = {{"rtmr", (*rtmrs)[i]}};
    auto value = hex_array<48>(holder, "rtmr");
    if (!value) return state_error("td.rtmr[" + std::to_string(i) + "]: expected 48 bytes of hex");
    t.rtmr[i] = *value;
  }

  ACON_TRY(const Json* policy, object_member(doc, "tcb_policy"));
  ACON_TRY(std::string status, json_get_string(*policy, "platform_status"));
  ACON_TRY(sim.policy_.platform_status, status_from(status));
  ACON_TRY(const Json* advisories, json_get(*policy, "advisory_ids"));
  if (!advisories->is_array()) return state_error("tcb_policy.advisory_ids: expected an array");
  for (const Json& id : *advisories) {
    if (!id.is_string()) return state_error("tcb_policy.advisory_ids: expected strings");
    sim.policy_.advisory_ids.push_back(id.get<std::string>());
  }
  ACON_TRY(const Json* revoke, json_get(*policy, "revoke_pck"));
  if (!revoke->is_boolean()) return state_error("tcb_policy.revoke_pck: expected a boolean");
  sim.policy_.revoke_pck = revoke->get<bool>();

  ACON_TRY(const Json* dates, object_member(doc, "collateral_dates"));
  auto date = [&](std::string_view name) -> Result<Time> {
    ACON_TRY(std::string text, json_get_string(*dates, name));
    return parse_rfc3339(text);
  };
  ACON_TRY(sim.dates_.issue_date, date("issue_date"));
  ACON_TRY(sim.dates_.next_update, date("next_update"));
  ACON_TRY(sim.dates_.root_crl_next_update, date("root_crl_next_update"));
  ACON_TRY(sim.collateral_bundle_, json_get_string(doc, "collateral"));
  ACON_TRY(std::string ccel_hex, json_get_string(doc, "ccel"));
  auto ccel = hex_decode(ccel_hex);
  if (!ccel) return state_error("ccel: " + ccel.error().message);
  sim.ccel_ = *std::move(ccel);
  return sim;
}

}  // namespace acon::guest::sim
