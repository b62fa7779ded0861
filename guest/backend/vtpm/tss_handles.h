// RAII ownership of tpm2-tss handles: the TCTI, the ESAPI context, ESAPI-allocated outputs,
// transient objects and sessions inside the TPM, and ESAPI's records of other TPM entities.
#pragma once

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "acon/common/result.h"

namespace acon::guest::tss {

struct TctiDeleter {
  void operator()(TSS2_TCTI_CONTEXT* tcti) const { Tss2_TctiLdr_Finalize(&tcti); }
};
using TctiPtr = std::unique_ptr<TSS2_TCTI_CONTEXT, TctiDeleter>;

struct EsysDeleter {
  void operator()(ESYS_CONTEXT* esys) const { Esys_Finalize(&esys); }
};
using EsysPtr = std::unique_ptr<ESYS_CONTEXT, EsysDeleter>;

// Output structures ESAPI allocates (with calloc) and the caller releases with Esys_Free.
struct EsysFreeDeleter {
  void operator()(void* p) const { Esys_Free(p); }
};
template <class T>
using EsysOut = std::unique_ptr<T, EsysFreeDeleter>;

// A transient object (key) loaded in the TPM, or a session; flushed when dropped so that the TPM's
// few object slots are not leaked, even when the caller's process keeps running.
class TransientObject {
 public:
  TransientObject() = default;
  TransientObject(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  TransientObject(TransientObject&& other) noexcept
      : esys_(std::exchange(other.esys_, nullptr)),
        handle_(std::exchange(other.handle_, ESYS_TR_NONE)) {}
  TransientObject& operator=(TransientObject&& other) noexcept {
    if (this != &other) {
      flush();
      esys_ = std::exchange(other.esys_, nullptr);
      handle_ = std::exchange(other.handle_, ESYS_TR_NONE);
    }
    return *this;
  }
  TransientObject(const TransientObject&) = delete;
  TransientObject& operator=(const TransientObject&) = delete;
  ~TransientObject() { flush(); }

  ESYS_TR get() const { return handle_; }

 private:
  void flush() {
    // A failed flush leaves nothing to recover here: the resource manager (tpmrm0) or a TPM
    // restart reclaims the slot.
    if (esys_ != nullptr && handle_ != ESYS_TR_NONE) (void)Esys_FlushContext(esys_, handle_);
    handle_ = ESYS_TR_NONE;
  }
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR handle_ = ESYS_TR_NONE;
};

// An ESYS_TR for a TPM entity the caller did not create (an NV index, a persistent key), from
// Esys_TR_FromTPMPublic: closing it frees ESAPI's record and leaves the entity in the TPM.
class TrHandle {
 public:
  TrHandle(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  TrHandle(const TrHandle&) = delete;
  TrHandle& operator=(const TrHandle&) = delete;
  ~TrHandle() {
    if (handle_ != ESYS_TR_NONE) (void)Esys_TR_Close(esys_, &handle_);
  }
  ESYS_TR get() const { return handle_; }

 private:
  ESYS_CONTEXT* esys_;
  ESYS_TR handle_;
};

// "vtpm: TPM2_Quote: tpm:handle(1):the handle is not correct for the use".
inline Error tss_error(std::string_view what, TSS2_RC rc) {
  return make_error(Errc::io, "vtpm: " + std::string(what) + ": " + Tss2_RC_Decode(rc));
}

}  // namespace acon::guest::tss
