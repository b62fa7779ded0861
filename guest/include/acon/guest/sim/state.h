// One simulated TD shared by several processes (acond, tests, acon-sim) through a state file:
// every change is a read-modify-write under an exclusive flock on "<path>.lock", written to a
// temporary file, fsynced and renamed over <path>, so concurrent extends from two processes both
// land and a reader never sees half a file. The file holds private keys: it is created 0600.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "acon/guest/backend.h"
#include "acon/guest/sim/sim.h"

namespace acon::guest::sim {

// Reads the state under a shared lock.
Result<Simulator> load_state(const std::string& path);
// Creates or replaces the state under the exclusive lock.
Status save_state(const std::string& path, const Simulator& simulator);
// Loads, applies `change`, and saves, all under one exclusive lock; nothing is written when
// `change` fails.
Status update_state(const std::string& path, const std::function<Status(Simulator&)>& change);

// The Backend over a state file: name "sim", RTMR registers 0..3 in the SHA-384 bank; report()
// gives the 1024-byte TDREPORT, quote() the DCAP quote (v4 or v5 as the state says),
// firmware_event_log() the CCEL. Each call loads the current state, so two SimBackends (in one
// process or two) on one file see each other's extends.
class SimBackend final : public Backend {
 public:
  explicit SimBackend(std::string state_path) : path_(std::move(state_path)) {}

  std::string_view name() const override { return "sim"; }
  RegisterKind register_kind() const override { return RegisterKind::rtmr; }
  Status extend(uint32_t index, HashAlg alg, ByteView digest) override;
  Result<Bytes> read(uint32_t index, HashAlg alg) override;
  Result<Bytes> report(const ReportData& data) override;
  Result<Bytes> quote(const ReportData& data) override;
  Result<Bytes> firmware_event_log() override;

  const std::string& state_path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace acon::guest::sim
