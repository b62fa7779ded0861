// A parsed event log as YAML in the shape `tpm2_eventlog` (tpm2-tools 5.4, --eventlog-version=1)
// prints, so tpm2-tools users can compare the two outputs line by line.
#pragma once

#include <functional>
#include <string>

#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"

namespace acon::eventlog {

struct Tpm2YamlOptions {
  // Debian's tpm2-tools is built without efivar and prints an image's device path as hex. When
  // set, DevicePath is device_path_to_text() instead (the text form a build with efivar prints,
  // though efivar's spelling of some nodes differs).
  bool device_path_text = false;
  // tpm2_eventlog prints at most the first 1024 bytes of an event it shows as raw hex. When
  // cleared, the whole event is printed.
  bool truncate_hex = true;
};

// "---\nversion: 1\nevents:\n- EventNum: 0 ..." then "pcrs:" with one map per bank of `replay`
// (sha1, sha256, sha384, sha512, sm3_256 order; indexes ascending), as tpm2_eventlog prints it.
//
// Where tpm2_eventlog 5.4 itself differs from this (by design):
// * the header's PCRIndex is the value in the log (OVMF writes 1; 5.4 rejects anything but 0);
// * pcrs come from `replay`, which skips EV_NO_ACTION (5.4 extends those into index 0);
// * event type names come from event_type_name() (5.4 prints "Unknown event type" for types it
//   lacks, e.g. EV_EFI_HCRTM_EVENT, EV_EFI_SPDM_*), algorithm names from tpm_alg_name();
// * a structure that does not fit its event (where 5.4 gives up on the whole log, or reads past
//   the event) is printed as raw hex;
// * UTF-16 variable names become UTF-8 (5.4 runs in the C locale and fails on non-ASCII);
// * continuation lines of a multi-line `|-` text (EV_EFI_ACTION, EV_POST_CODE) are indented so
//   the YAML stays valid (5.4 prints them at column 0).
std::string to_tpm2_yaml(const EventLog& log, const Replayer& replay,
                         const Tpm2YamlOptions& options = {});

// The same text handed to `sink` in pieces of about 16 KiB, so that a tool printing a large log
// never holds (and page-faults in) the whole text at once.
void write_tpm2_yaml(const EventLog& log, const Replayer& replay,
                     const std::function<void(std::string_view)>& sink,
                     const Tpm2YamlOptions& options = {});

}  // namespace acon::eventlog
