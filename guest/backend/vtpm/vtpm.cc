// The vTPM backend over tpm2-tss ESAPI.
#include "acon/guest/vtpm.h"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include "acon/eventlog/event_log.h"
#include "acon/tpm/credential.h"
#include "acon/tpm/quote.h"
#include "tss_handles.h"

namespace acon::guest {
namespace {

using tss::EsysOut;
using tss::tss_error;

constexpr uint32_t kDefaultPcrCount = 24;  // PC Client TPMs implement PCRs 0..23
// Attempts at reading PCRs and quoting with no extend in between before giving up.
constexpr int kAttestAttempts = 4;

std::string pcr_label(HashAlg bank, uint32_t index) {
  return std::string(hash_name(bank)) + ":" + std::to_string(index);
}

// TPMS_PCR_SELECTION for one bank; sizeofSelect is at least 3, the PC Client minimum.
TPMS_PCR_SELECTION tpms_selection(HashAlg bank, std::span<const uint32_t> pcrs) {
  TPMS_PCR_SELECTION s{};
  s.hash = eventlog::tpm_alg_for_hash(bank);
  s.sizeofSelect = 3;
  for (uint32_t pcr : pcrs) {
    s.pcrSelect[pcr / 8] |= static_cast<uint8_t>(1u << (pcr % 8));
    s.sizeofSelect = std::max<uint8_t>(s.sizeofSelect, static_cast<uint8_t>(pcr / 8 + 1));
  }
  return s;
}

// Restricted signing primary: the TPM signs only digests it computed itself (quotes, certify),
// never caller-chosen data that could imitate a TPMS_ATTEST.
TPM2B_PUBLIC ak_template(AkAlgorithm alg) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_NODA;
  switch (alg) {
    case AkAlgorithm::ecdsa_p256_sha256:
    case AkAlgorithm::ecdsa_p384_sha384: {
      const bool p384 = alg == AkAlgorithm::ecdsa_p384_sha384;
      p.type = TPM2_ALG_ECC;
      TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
      ecc.symmetric.algorithm = TPM2_ALG_NULL;
      ecc.scheme.scheme = TPM2_ALG_ECDSA;
      ecc.scheme.details.ecdsa.hashAlg = p384 ? TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
      ecc.curveID = p384 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
      ecc.kdf.scheme = TPM2_ALG_NULL;
      break;
    }
    case AkAlgorithm::rsa2048_rsassa_sha256:
    case AkAlgorithm::rsa2048_rsapss_sha256: {
      p.type = TPM2_ALG_RSA;
      TPMS_RSA_PARMS& rsa = p.parameters.rsaDetail;
      rsa.symmetric.algorithm = TPM2_ALG_NULL;
      rsa.scheme.scheme =
          alg == AkAlgorithm::rsa2048_rsassa_sha256 ? TPM2_ALG_RSASSA : TPM2_ALG_RSAPSS;
      rsa.scheme.details.anySig.hashAlg = TPM2_ALG_SHA256;
      rsa.keyBits = 2048;
      rsa.exponent = 0;  // 65537
      break;
    }
  }
  return t;
}

template <class T, class Fn>
Result<Bytes> marshal(const T& value, Fn fn, std::string_view what) {
  Bytes out(sizeof(T) + 8);
  size_t size = 0;
  TSS2_RC rc = fn(&value, out.data(), out.size(), &size);
  if (rc != TSS2_RC_SUCCESS) return tss_error(std::string("marshalling ") + std::string(what), rc);
  out.resize(size);
  return out;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// TPM2_CreatePrimary of `in_public` under `hierarchy` (its auth already set): the transient
// object and its marshalled TPM2B_PUBLIC. The creation data and ticket are not used.
Result<std::pair<tss::TransientObject, Bytes>> create_primary(ESYS_CONTEXT* esys, ESYS_TR hierarchy,
                                                              const TPM2B_PUBLIC& in_public,
                                                              std::string_view what) {
  const TPM2B_SENSITIVE_CREATE sensitive{};
  const TPM2B_DATA outside_info{};
  const TPML_PCR_SELECTION creation_pcr{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* out_public_raw = nullptr;
  TPM2B_CREATION_DATA* creation_data_raw = nullptr;
  TPM2B_DIGEST* creation_hash_raw = nullptr;
  TPMT_TK_CREATION* creation_ticket_raw = nullptr;
  TSS2_RC rc =
      Esys_CreatePrimary(esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                         &in_public, &outside_info, &creation_pcr, &handle, &out_public_raw,
                         &creation_data_raw, &creation_hash_raw, &creation_ticket_raw);
  EsysOut<TPM2B_PUBLIC> out_public(out_public_raw);
  EsysOut<TPM2B_CREATION_DATA> creation_data(creation_data_raw);
  EsysOut<TPM2B_DIGEST> creation_hash(creation_hash_raw);
  EsysOut<TPMT_TK_CREATION> creation_ticket(creation_ticket_raw);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_CreatePrimary (" + std::string(what) + ")", rc);
  tss::TransientObject object(esys, handle);
  ACON_TRY(Bytes marshalled, marshal(*out_public, Tss2_MU_TPM2B_PUBLIC_Marshal, "TPM2B_PUBLIC"));
  return std::pair<tss::TransientObject, Bytes>(std::move(object), std::move(marshalled));
}

}  // namespace

class VtpmBackend::Impl {
 public:
  VtpmOptions options;
  tss::TctiPtr tcti;
  tss::EsysPtr esys;
  tss::TransientObject ak;  // declared after esys: flushed before the context is finalised
  // The EKs, by tpm::EkType, created by the first enrolment call that needs them.
  struct Ek {
    tss::TransientObject object;
    Bytes tpm2b_public;
  };
  std::array<Ek, 2> eks;
  std::optional<PublicKey> ak_key;
  Bytes ak_public;
  Bytes ak_name;
  std::vector<HashAlg> banks;
  std::map<HashAlg, uint32_t> allocated;  // bank → bitmap of allocated PCRs
  std::vector<PcrBankSelection> selection;
  TPML_PCR_SELECTION tpml_selection{};
  std::mutex mu;  // one ESAPI context serves every caller; ESAPI is not thread-safe

  Status connect();
  Status learn_banks();
  Status choose_selection();
  Status create_ak();
  Result<Ek*> ek_locked(tpm::EkType type);

  Status check_register(uint32_t index, HashAlg alg) const;
  // PCR values of `selection` and the pcrUpdateCounter they were read under.
  Result<std::pair<PcrValues, uint32_t>> read_locked(std::span<const PcrBankSelection> selection);
  // `prefix`: quote the first so many bytes of `data`, whatever the options say.
  Result<Bytes> quote_locked(const ReportData& data, std::optional<size_t> prefix = {});
  Result<Attestation> attest_locked(const ReportData& data, std::optional<size_t> prefix);
};

Status VtpmBackend::Impl::connect() {
  TSS2_TCTI_CONTEXT* raw_tcti = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(options.tcti.c_str(), &raw_tcti);
  tcti.reset(raw_tcti);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TCTI '" + options.tcti + "'", rc);
  ESYS_CONTEXT* raw_esys = nullptr;
  rc = Esys_Initialize(&raw_esys, tcti.get(), nullptr);
  esys.reset(raw_esys);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_Initialize", rc);
  return {};
}

Status VtpmBackend::Impl::learn_banks() {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* raw = nullptr;
  TSS2_RC rc = Esys_GetCapability(esys.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  TPM2_CAP_PCRS, 0, 1, &more, &raw);
  EsysOut<TPMS_CAPABILITY_DATA> caps(raw);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_GetCapability(PCRS)", rc);
  const TPML_PCR_SELECTION& assigned = caps->data.assignedPCR;
  for (uint32_t i = 0; i < assigned.count && i < TPM2_NUM_PCR_BANKS; ++i) {
    const TPMS_PCR_SELECTION& s = assigned.pcrSelections[i];
    auto alg = eventlog::hash_for_tpm_alg(s.hash);
    if (!alg || !hash_available(*alg)) continue;
    uint32_t mask = 0;
    for (uint32_t byte = 0; byte < s.sizeofSelect && byte < sizeof(s.pcrSelect); ++byte)
      mask |= uint32_t{s.pcrSelect[byte]} << (8 * byte);
    if (mask == 0) continue;
    allocated[*alg] = mask;
    banks.push_back(*alg);
  }
  if (banks.empty())
    return make_error(Errc::unsupported, "vtpm: the TPM has no allocated PCR bank acon computes");
  return {};
}

Status VtpmBackend::Impl::choose_selection() {
  if (options.quote_selection.empty()) {
    for (HashAlg bank : {HashAlg::sha384, HashAlg::sha256}) {
      auto it = allocated.find(bank);
      if (it == allocated.end()) continue;
      PcrBankSelection s{bank, {}};
      for (uint32_t pcr = 0; pcr < kDefaultPcrCount; ++pcr)
        if (it->second & (1u << pcr)) s.pcrs.push_back(pcr);
      selection.push_back(std::move(s));
    }
    if (selection.empty())
      return make_error(Errc::unsupported,
                        "vtpm: neither the sha384 nor the sha256 PCR bank is allocated; "
                        "configure quote_selection");
  } else {
    for (const PcrBankSelection& wanted : options.quote_selection) {
      auto it = allocated.find(wanted.bank);
      if (it == allocated.end())
        return make_error(Errc::unsupported, "vtpm: quote_selection: PCR bank " +
                                                 std::string(hash_name(wanted.bank)) +
                                                 " is not allocated in this TPM");
      // The TPM concatenates selected PCRs in ascending order whatever order they were named in.
      std::set<uint32_t> pcrs(wanted.pcrs.begin(), wanted.pcrs.end());
      for (uint32_t pcr : pcrs) {
        if (pcr >= 32 || !(it->second & (1u << pcr)))
          return make_error(Errc::invalid_argument, "vtpm: quote_selection: PCR " +
                                                        pcr_label(wanted.bank, pcr) +
                                                        " does not exist in this TPM");
      }
      if (pcrs.empty())
        return make_error(
            Errc::invalid_argument,
            "vtpm: quote_selection: bank " + std::string(hash_name(wanted.bank)) + " names no PCR");
      selection.push_back({wanted.bank, std::vector<uint32_t>(pcrs.begin(), pcrs.end())});
    }
    if (selection.size() > TPM2_NUM_PCR_BANKS)
      return make_error(Errc::invalid_argument, "vtpm: quote_selection: more than " +
                                                    std::to_string(TPM2_NUM_PCR_BANKS) + " banks");
  }
  tpml_selection.count = static_cast<uint32_t>(selection.size());
  for (size_t i = 0; i < selection.size(); ++i)
    tpml_selection.pcrSelections[i] = tpms_selection(selection[i].bank, selection[i].pcrs);
  return {};
}

Status VtpmBackend::Impl::create_ak() {
  const ESYS_TR hierarchy =
      options.ak_hierarchy == AkHierarchy::endorsement ? ESYS_TR_RH_ENDORSEMENT : ESYS_TR_RH_OWNER;
  if (!options.hierarchy_auth.empty()) {
    TPM2B_AUTH auth{};
    if (options.hierarchy_auth.size() > sizeof(auth.buffer))
      return make_error(Errc::invalid_argument, "vtpm: hierarchy_auth: longer than " +
                                                    std::to_string(sizeof(auth.buffer)) + " bytes");
    auth.size = static_cast<uint16_t>(options.hierarchy_auth.size());
    std::memcpy(auth.buffer, options.hierarchy_auth.data(), auth.size);
    TSS2_RC rc = Esys_TR_SetAuth(esys.get(), hierarchy, &auth);
    secure_zero(&auth, sizeof auth);
    if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_TR_SetAuth", rc);
  }

  ACON_TRY(auto created, create_primary(esys.get(), hierarchy, ak_template(options.ak_algorithm),
                                        "attestation key"));
  ak = std::move(created.first);
  ak_public = std::move(created.second);
  auto parsed = tpm::parse_tpm2b_public(ak_public);
  if (!parsed) return parsed.error().wrap("vtpm: attestation key");
  ak_key = std::move(parsed->key);
  ak_name = std::move(parsed->name);
  return {};
}

Result<VtpmBackend::Impl::Ek*> VtpmBackend::Impl::ek_locked(tpm::EkType type) {
  Ek& ek = eks[type == tpm::EkType::rsa2048 ? 0 : 1];
  if (!ek.tpm2b_public.empty()) return &ek;
  const Bytes template_bytes = tpm::ek_template(type);
  TPM2B_PUBLIC in_public{};
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(template_bytes.data(), template_bytes.size(), &offset,
                                              &in_public);
  if (rc != TSS2_RC_SUCCESS) return tss_error("unmarshalling the EK template", rc);
  ACON_TRY(auto created,
           create_primary(esys.get(), ESYS_TR_RH_ENDORSEMENT, in_public, "endorsement key"));
  ek.object = std::move(created.first);
  ek.tpm2b_public = std::move(created.second);
  return &ek;
}

Status VtpmBackend::Impl::check_register(uint32_t index, HashAlg alg) const {
  auto it = allocated.find(alg);
  if (it == allocated.end())
    return make_error(Errc::unsupported, "vtpm: PCR bank " + std::string(hash_name(alg)) +
                                             " is not allocated in this TPM");
  if (index >= 32 || !(it->second & (1u << index)))
    return make_error(Errc::invalid_argument,
                      "vtpm: PCR " + pcr_label(alg, index) + " does not exist in this TPM");
  return {};
}

Result<std::pair<PcrValues, uint32_t>> VtpmBackend::Impl::read_locked(
    std::span<const PcrBankSelection> wanted) {
  // TPM2_PCR_Read returns at most 8 digests per call, and says which ones in pcrSelectionOut.
  std::map<HashAlg, std::set<uint32_t>> remaining;
  for (const PcrBankSelection& s : wanted) {
    for (uint32_t pcr : s.pcrs) {
      ACON_CHECK(check_register(pcr, s.bank));
      remaining[s.bank].insert(pcr);
    }
  }
  PcrValues values;
  std::optional<uint32_t> counter;
  while (!remaining.empty()) {
    TPML_PCR_SELECTION in{};
    for (const auto& [bank, pcrs] : remaining) {
      std::vector<uint32_t> list(pcrs.begin(), pcrs.end());
      in.pcrSelections[in.count++] = tpms_selection(bank, list);
    }
    uint32_t update_counter = 0;
    TPML_PCR_SELECTION* out_sel_raw = nullptr;
    TPML_DIGEST* digests_raw = nullptr;
    TSS2_RC rc = Esys_PCR_Read(esys.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &in,
                               &update_counter, &out_sel_raw, &digests_raw);
    EsysOut<TPML_PCR_SELECTION> out_sel(out_sel_raw);
    EsysOut<TPML_DIGEST> digests(digests_raw);
    if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_PCR_Read", rc);
    if (counter && *counter != update_counter) {
      // An extend landed between two chunks: start over so that all values belong together.
      values.clear();
      remaining.clear();
      for (const PcrBankSelection& s : wanted)
        remaining[s.bank].insert(s.pcrs.begin(), s.pcrs.end());
      counter.reset();
      continue;
    }
    counter = update_counter;
    uint32_t next = 0;
    for (uint32_t i = 0; i < out_sel->count && i < TPM2_NUM_PCR_BANKS; ++i) {
      const TPMS_PCR_SELECTION& s = out_sel->pcrSelections[i];
      auto bank = eventlog::hash_for_tpm_alg(s.hash);
      for (uint32_t pcr = 0; pcr < 8u * std::min<uint32_t>(s.sizeofSelect, 4); ++pcr) {
        if (!(s.pcrSelect[pcr / 8] & (1u << (pcr % 8)))) continue;
        if (next >= digests->count || !bank || !remaining[*bank].erase(pcr))
          return make_error(Errc::io, "vtpm: TPM2_PCR_Read returned an inconsistent selection");
        const TPM2B_DIGEST& d = digests->digests[next++];
        if (d.size != hash_size(*bank))
          return make_error(Errc::io, "vtpm: TPM2_PCR_Read returned a " + std::to_string(d.size) +
                                          "-byte value for PCR " + pcr_label(*bank, pcr));
        values[*bank][pcr] = Bytes(d.buffer, d.buffer + d.size);
        if (remaining[*bank].empty()) remaining.erase(*bank);
      }
    }
    if (next == 0)
      return make_error(Errc::io, "vtpm: TPM2_PCR_Read returned no values for an allocated PCR");
  }
  return std::pair{std::move(values), counter.value_or(0)};
}

Result<Bytes> VtpmBackend::Impl::quote_locked(const ReportData& data,
                                              std::optional<size_t> prefix) {
  TPM2B_DATA qualifying{};
  if (!prefix) prefix = options.qualifying_data_prefix;
  if (prefix) {
    const size_t size = std::min(*prefix, data.size());
    qualifying.size = static_cast<uint16_t>(size);
    std::memcpy(qualifying.buffer, data.data(), size);
  } else if (options.qualifying_data_hash) {
    ACON_TRY(Bytes d, digest(*options.qualifying_data_hash, ByteView(data.data(), data.size())));
    qualifying.size = static_cast<uint16_t>(d.size());
    std::memcpy(qualifying.buffer, d.data(), d.size());
  } else {
    static_assert(sizeof(ReportData) <= sizeof(qualifying.buffer));
    qualifying.size = static_cast<uint16_t>(data.size());
    std::memcpy(qualifying.buffer, data.data(), data.size());
  }
  // TPM_ALG_NULL: the AK's own scheme, the only one a restricted key accepts.
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPM2B_ATTEST* quoted_raw = nullptr;
  TPMT_SIGNATURE* signature_raw = nullptr;
  TSS2_RC rc = Esys_Quote(esys.get(), ak.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                          &qualifying, &scheme, &tpml_selection, &quoted_raw, &signature_raw);
  EsysOut<TPM2B_ATTEST> quoted(quoted_raw);
  EsysOut<TPMT_SIGNATURE> signature(signature_raw);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_Quote", rc);
  ACON_TRY(Bytes out, marshal(*quoted, Tss2_MU_TPM2B_ATTEST_Marshal, "TPM2B_ATTEST"));
  ACON_TRY(Bytes sig, marshal(*signature, Tss2_MU_TPMT_SIGNATURE_Marshal, "TPMT_SIGNATURE"));
  append(out, sig);
  return out;
}

VtpmBackend::VtpmBackend(OpenKey, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VtpmBackend::~VtpmBackend() = default;

VtpmOptions coco_tpm_options(std::string tcti) {
  VtpmOptions options;
  options.tcti = std::move(tcti);
  options.ak_algorithm = AkAlgorithm::rsa2048_rsassa_sha256;
  PcrBankSelection sha256{HashAlg::sha256, {}};
  for (uint32_t index = 0; index < 24; ++index) sha256.pcrs.push_back(index);
  options.quote_selection = {std::move(sha256)};
  options.qualifying_data_prefix = kCocoQualifyingDataBytes;
  return options;
}

Result<std::unique_ptr<VtpmBackend>> VtpmBackend::open(const VtpmOptions& options) {
  if (options.qualifying_data_prefix && options.qualifying_data_hash)
    return make_error(Errc::invalid_argument,
                      "vtpm: qualifying_data_prefix and qualifying_data_hash are exclusive");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  ACON_CHECK(impl->connect());
  ACON_CHECK(impl->learn_banks());
  ACON_CHECK(impl->choose_selection());
  ACON_CHECK(impl->create_ak());
  return std::make_unique<VtpmBackend>(OpenKey{}, std::move(impl));
}

Status VtpmBackend::extend(uint32_t index, HashAlg alg, ByteView digest_value) {
  if (digest_value.size() != hash_size(alg))
    return make_error(Errc::invalid_argument, "vtpm: extend of PCR " + pcr_label(alg, index) +
                                                  ": " + std::to_string(digest_value.size()) +
                                                  "-byte digest, the bank takes " +
                                                  std::to_string(hash_size(alg)));
  ACON_CHECK(impl_->check_register(index, alg));
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = eventlog::tpm_alg_for_hash(alg);
  std::memcpy(&values.digests[0].digest, digest_value.data(), digest_value.size());
  std::lock_guard lock(impl_->mu);
  TSS2_RC rc = Esys_PCR_Extend(impl_->esys.get(), ESYS_TR_PCR0 + index, ESYS_TR_PASSWORD,
                               ESYS_TR_NONE, ESYS_TR_NONE, &values);
  if (rc != TSS2_RC_SUCCESS)
    return tss_error("TPM2_PCR_Extend of PCR " + pcr_label(alg, index), rc);
  return {};
}

Result<Bytes> VtpmBackend::read(uint32_t index, HashAlg alg) {
  const PcrBankSelection one{alg, {index}};
  std::lock_guard lock(impl_->mu);
  ACON_TRY(auto values, impl_->read_locked({&one, 1}));
  return std::move(values.first[alg][index]);
}

Result<PcrValues> VtpmBackend::read_pcrs(std::span<const PcrBankSelection> selection) {
  std::lock_guard lock(impl_->mu);
  ACON_TRY(auto values, impl_->read_locked(selection));
  return std::move(values.first);
}

Result<Bytes> VtpmBackend::report(const ReportData& data) { return quote(data); }

Result<Bytes> VtpmBackend::quote(const ReportData& data) {
  std::lock_guard lock(impl_->mu);
  return impl_->quote_locked(data);
}

Result<Attestation> VtpmBackend::attest(const ReportData& data) {
  std::lock_guard lock(impl_->mu);
  return impl_->attest_locked(data, std::nullopt);
}

Result<Attestation> VtpmBackend::attest_prefix(const ReportData& data, size_t prefix) {
  if (prefix == 0 || prefix > data.size())
    return make_error(Errc::invalid_argument, "vtpm: qualifying data prefix of " +
                                                  std::to_string(prefix) + " bytes (1..64)");
  std::lock_guard lock(impl_->mu);
  return impl_->attest_locked(data, prefix);
}

Result<Attestation> VtpmBackend::Impl::attest_locked(const ReportData& data,
                                                     std::optional<size_t> prefix) {
  const PcrBankSelection& first = selection.front();
  const PcrBankSelection probe{first.bank, {first.pcrs.front()}};
  for (int attempt = 0; attempt < kAttestAttempts; ++attempt) {
    ACON_TRY(auto before, read_locked(selection));
    ACON_TRY(Bytes quote_bytes, quote_locked(data, prefix));
    // Any extend since the read moves pcrUpdateCounter; then the values may not be the quoted ones.
    ACON_TRY(auto after, read_locked({&probe, 1}));
    if (after.second == before.second)
      return Attestation{std::move(quote_bytes), ak_public, std::move(before.first)};
  }
  return make_error(Errc::io, "vtpm: PCRs kept changing while quoting (" +
                                  std::to_string(kAttestAttempts) + " attempts)");
}

Result<Bytes> VtpmBackend::firmware_event_log() {
  const std::string& path = impl_->options.event_log_path;
  // securityfs reports size 0 for the log, so read until end of file rather than by size.
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    return make_error(err == ENOENT ? Errc::not_found : Errc::io,
                      "vtpm: event log " + path + ": " + std::strerror(err));
  }
  Bytes log;
  uint8_t chunk[16384];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, file.get()))
    log.insert(log.end(), chunk, chunk + n);
  if (std::ferror(file.get()))
    return make_error(Errc::io, "vtpm: event log " + path + ": read error");
  if (log.empty()) return make_error(Errc::not_found, "vtpm: event log " + path + " is empty");
  return log;
}

Result<Bytes> VtpmBackend::read_ek_certificate(tpm::EkType type) {
  std::lock_guard lock(impl_->mu);
  ESYS_CONTEXT* esys = impl_->esys.get();
  const uint32_t nv_index = tpm::ek_certificate_nv_index(type);
  const std::string where = "EK certificate NV index " + hex_literal(nv_index, 8);
  ESYS_TR raw_index = ESYS_TR_NONE;
  TSS2_RC rc =
      Esys_TR_FromTPMPublic(esys, nv_index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw_index);
  if (rc != TSS2_RC_SUCCESS) {
    // TPM_RC_HANDLE from the TPM (layer 0), whichever handle number and parameter bit it names.
    if ((rc & ~TSS2_RC{0xF40}) == TPM2_RC_HANDLE)
      return make_error(Errc::not_found, "vtpm: the TPM has no " + where);
    return tss_error(where, rc);
  }
  tss::TrHandle index(esys, raw_index);
  TPM2B_NV_PUBLIC* nv_public_raw = nullptr;
  TPM2B_NAME* nv_name_raw = nullptr;
  rc = Esys_NV_ReadPublic(esys, index.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                          &nv_public_raw, &nv_name_raw);
  EsysOut<TPM2B_NV_PUBLIC> nv_public(nv_public_raw);
  EsysOut<TPM2B_NAME> nv_name(nv_name_raw);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_NV_ReadPublic of the " + where, rc);
  const uint16_t size = nv_public->nvPublic.dataSize;

  // TPM2_NV_Read returns at most TPM_PT_NV_BUFFER_MAX bytes per call, often less than a
  // certificate.
  uint32_t chunk = 512;  // the PC Client minimum, when the TPM does not say
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* caps_raw = nullptr;
  rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                          TPM2_PT_NV_BUFFER_MAX, 1, &more, &caps_raw);
  EsysOut<TPMS_CAPABILITY_DATA> caps(caps_raw);
  if (rc == TSS2_RC_SUCCESS && caps->data.tpmProperties.count == 1 &&
      caps->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
      caps->data.tpmProperties.tpmProperty[0].value > 0)
    chunk = std::min<uint32_t>(caps->data.tpmProperties.tpmProperty[0].value,
                               sizeof(TPM2B_MAX_NV_BUFFER::buffer));

  Bytes der;
  der.reserve(size);
  while (der.size() < size) {
    const auto want = static_cast<uint16_t>(std::min<size_t>(chunk, size - der.size()));
    TPM2B_MAX_NV_BUFFER* data_raw = nullptr;
    // The index's own (empty) authValue: EK certificate indices are TPMA_NV_AUTHREAD.
    rc = Esys_NV_Read(esys, index.get(), index.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                      want, static_cast<uint16_t>(der.size()), &data_raw);
    EsysOut<TPM2B_MAX_NV_BUFFER> data(data_raw);
    if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_NV_Read of the " + where, rc);
    if (data->size == 0 || data->size > want)
      return make_error(Errc::io, "vtpm: TPM2_NV_Read of the " + where + " returned " +
                                      std::to_string(data->size) + " bytes for " +
                                      std::to_string(want));
    der.insert(der.end(), data->buffer, data->buffer + data->size);
  }
  return der;
}

Result<Bytes> VtpmBackend::ek_tpm2b_public(tpm::EkType type) {
  std::lock_guard lock(impl_->mu);
  ACON_TRY(Impl::Ek * ek, impl_->ek_locked(type));
  return ek->tpm2b_public;
}

Result<SecretBytes> VtpmBackend::activate_credential(ByteView id_object, ByteView encrypted_secret,
                                                     tpm::EkType type) {
  TPM2B_ID_OBJECT credential_blob{};
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object.data(), id_object.size(), &offset,
                                                 &credential_blob);
  if (rc != TSS2_RC_SUCCESS || offset != id_object.size())
    return make_error(Errc::parse, "vtpm: id_object: not one TPM2B_ID_OBJECT of at most " +
                                       std::to_string(sizeof credential_blob.credential) +
                                       " bytes (" + std::to_string(id_object.size()) +
                                       " bytes given)");
  TPM2B_ENCRYPTED_SECRET secret{};
  offset = 0;
  rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(), encrypted_secret.size(),
                                                &offset, &secret);
  if (rc != TSS2_RC_SUCCESS || offset != encrypted_secret.size())
    return make_error(Errc::parse,
                      "vtpm: encrypted_secret: not one TPM2B_ENCRYPTED_SECRET of at most " +
                          std::to_string(sizeof secret.secret) + " bytes (" +
                          std::to_string(encrypted_secret.size()) + " bytes given)");

  std::lock_guard lock(impl_->mu);
  ACON_TRY(Impl::Ek * ek, impl_->ek_locked(type));
  ESYS_CONTEXT* esys = impl_->esys.get();

  // The EK's authPolicy is PolicySecret(TPM_RH_ENDORSEMENT): a policy session in which the
  // endorsement hierarchy's authValue has been shown.
  TPMT_SYM_DEF no_parameter_encryption{};
  no_parameter_encryption.algorithm = TPM2_ALG_NULL;
  ESYS_TR raw_session = ESYS_TR_NONE;
  rc = Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                             ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &no_parameter_encryption,
                             TPM2_ALG_SHA256, &raw_session);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_StartAuthSession (policy)", rc);
  tss::TransientObject session(esys, raw_session);
  // Kept open after the command so that `session` flushes it on every path.
  rc = Esys_TRSess_SetAttributes(esys, session.get(), TPMA_SESSION_CONTINUESESSION,
                                 TPMA_SESSION_CONTINUESESSION);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_TRSess_SetAttributes", rc);
  TPM2B_TIMEOUT* timeout_raw = nullptr;
  TPMT_TK_AUTH* ticket_raw = nullptr;
  rc =
      Esys_PolicySecret(esys, ESYS_TR_RH_ENDORSEMENT, session.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                        ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &timeout_raw, &ticket_raw);
  EsysOut<TPM2B_TIMEOUT> timeout(timeout_raw);
  EsysOut<TPMT_TK_AUTH> ticket(ticket_raw);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_PolicySecret(TPM_RH_ENDORSEMENT)", rc);

  TPM2B_DIGEST* cert_info_raw = nullptr;
  rc = Esys_ActivateCredential(esys, impl_->ak.get(), ek->object.get(), ESYS_TR_PASSWORD,
                               session.get(), ESYS_TR_NONE, &credential_blob, &secret,
                               &cert_info_raw);
  EsysOut<TPM2B_DIGEST> cert_info(cert_info_raw);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_ActivateCredential", rc);
  SecretBytes out(cert_info->buffer, cert_info->buffer + cert_info->size);
  secure_zero(cert_info->buffer, sizeof cert_info->buffer);
  return out;
}

const PublicKey& VtpmBackend::ak_public_key() const { return *impl_->ak_key; }
const Bytes& VtpmBackend::ak_tpm2b_public() const { return impl_->ak_public; }
const Bytes& VtpmBackend::ak_name() const { return impl_->ak_name; }
const std::vector<HashAlg>& VtpmBackend::allocated_banks() const { return impl_->banks; }
const std::vector<PcrBankSelection>& VtpmBackend::quote_selection() const {
  return impl_->selection;
}

}  // namespace acon::guest
