// STAND-IN FOR THE LINUX KERNEL, for tests only. No build or test machine has TDX, so these
// classes play the parts the kernel and the TDX module play for the backends:
//
//  - TdState: the TD's measurement registers (initialised from a real v4 quote's TD report) with
//    TDX extend semantics, producing TDREPORTs and turning a TDREPORT into a quote the way a
//    quoting enclave fills the quote body. The quote is a real Intel-signed quote (go-tdx-guest
//    tdx_prod_quote_SPR_E4.dat) with its body fields replaced, so its layout parses with
//    tdx::parse_quote but its signatures no longer verify; signatures are not the subject.
//
//  - KernelTree: a temporary directory laid out like the kernel's file systems:
//      sys/kernel/config/tsm/report/            configfs-tsm
//      sys/class/misc/tdx_guest/measurements/   TSM measurement files (rtmr0..3:sha384, mrtd...)
//      sys/firmware/acpi/tables/data/           where the CCEL goes (install_ccel)
//    A thread watching the tree with inotify answers what the kernel answers inside write():
//    an inblob written to a report item yields an outblob quote binding the inblob, then the
//    item's generation moves; a 48-byte write to an rtmr file is extended into the register and
//    the file then holds the new value. The kernel does this inside write(); the stand-in does
//    it afterwards (and inotify merges two unread writes to one file), so a test waits for
//    each extend (wait_for_rtmr_writes) before reading or extending again. configfs creates an
//    item's attribute files inside mkdir(2) and removes them inside rmdir(2); the test binary is
//    linked with -Wl,--wrap=mkdir,--wrap=rmdir so that these two calls under the report directory
//    do the same here (every other mkdir/rmdir passes straight through).
//
//  - TdxGuestDriver: the /dev/tdx_guest driver behind an IoctlDevice. It answers only the
//    request codes the drivers define (written as numbers here, independently of the backend's
//    _IOWR/_IOR computation), decodes the request structs by byte offset, and answers GET_QUOTE
//    the way the host's QGS would through the shared buffer.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/guest/tdx.h"

namespace acon::guest::test {

// The real v4 quote used as the template of every quote the stand-ins produce.
Bytes template_quote();

struct TdState {
  Bytes tee_tcb_svn, mr_seam, mr_signer_seam, seam_attributes;  // TEE_TCB_INFO
  Bytes td_attributes, xfam, mr_td, mr_config_id, mr_owner, mr_owner_config;
  std::array<Bytes, 4> rtmr;

  // The TD report of a v4 quote.
  static TdState from_quote(ByteView quote);
  // RTMR[index] = SHA384(RTMR[index] || digest).
  void extend(uint32_t index, ByteView digest);
  // A TDREPORT of this state; its MAC is a keyed digest only these stand-ins check.
  Bytes tdreport(ByteView report_data) const;
};

// The quote a QE would make from `tdreport`: the template with the body fields taken from it.
Bytes quote_from_tdreport(ByteView tdreport);

class KernelTree {
 public:
  // How the configfs-tsm stand-in misbehaves (defaults: like the kernel).
  struct Behaviour {
    bool create_provider = true;
    std::string provider = "tdx_guest\n";
    uint64_t generation_step = 1;  // 2 = another writer wrote too; 0 = generation never moves
    size_t truncate_outblob = 0;   // > 0: outblob holds only this many bytes
    bool corrupt_report_data = false;
  };

  KernelTree();
  ~KernelTree();
  KernelTree(const KernelTree&) = delete;
  KernelTree& operator=(const KernelTree&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path report_dir() const;
  std::filesystem::path measurements_dir() const;

  void set_behaviour(const Behaviour& behaviour);
  void install_ccel(ByteView ccel);

  // The bytes each write to an rtmr file carried, in order: {index, bytes}.
  std::vector<std::pair<uint32_t, Bytes>> rtmr_writes() const;
  // Blocks until `count` rtmr writes were handled (false after 5 s).
  bool wait_for_rtmr_writes(size_t count);
  TdState state() const;
  // Names of report items created / removed through mkdir(2) / rmdir(2).
  std::vector<std::string> created_items() const;
  std::vector<std::string> removed_items() const;
  size_t outblobs_produced() const;

  // Called by the mkdir/rmdir wrappers for paths directly under report_dir().
  void on_item_created(const std::filesystem::path& item);
  void on_item_removing(const std::filesystem::path& item);

 private:
  void run();
  void handle_inblob(const std::filesystem::path& item);
  void handle_rtmr_write(const std::string& file);
  void replace_file(const std::filesystem::path& target, ByteView bytes);
  void write_registers_locked();

  std::filesystem::path root_;
  std::filesystem::path scratch_;
  int inotify_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int measurements_wd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Behaviour behaviour_;
  TdState state_;
  std::map<int, std::filesystem::path> item_watches_;
  std::vector<std::pair<uint32_t, Bytes>> rtmr_writes_;
  std::vector<std::string> created_, removed_;
  size_t outblobs_ = 0;
  size_t scratch_counter_ = 0;
  std::thread thread_;
};

class TdxGuestDriver {
 public:
  enum class Flavor {
    out_of_tree,  // GET_REPORT0, EXTEND_RTMR, GET_QUOTE (the driver ACON used)
    upstream,     // GET_REPORT0 only (include/uapi/linux/tdx-guest.h)
  };
  // How the host answers GET_QUOTE (defaults: a well-formed success).
  struct QuoteAnswer {
    uint64_t status = 0;
    uint32_t qgs_error_code = 0;
    Bytes selected_id;               // placed before the quote, as QGS does
    int32_t out_len_delta = 0;       // added to the correct out_len
    int32_t length_field_delta = 0;  // added to the big-endian message length
    bool corrupt_report_data = false;
  };
  // What the last GET_QUOTE carried, decoded by byte offset.
  struct QuoteRequestSeen {
    uint64_t buffer_len = 0;
    uint64_t version = 0, status = 0;
    uint32_t in_len = 0, out_len = 0, length_field = 0;
    uint16_t major = 0, minor = 0;
    uint32_t type = 0, size = 0, error_code = 0, report_size = 0, id_list_size = 0;
    Bytes tdreport;
  };

  explicit TdxGuestDriver(Flavor flavor = Flavor::out_of_tree);

  // A device handle for a backend; the driver must outlive it.
  std::unique_ptr<IoctlDevice> open();
  int ioctl(unsigned long request, void* arg);

  TdState& state() { return state_; }
  void set_quote_answer(const QuoteAnswer& answer) { answer_ = answer; }
  // Makes GET_REPORT0 return a TDREPORT for other REPORTDATA (a broken driver).
  void set_wrong_report_data(bool on) { wrong_report_data_ = on; }

  const std::vector<unsigned long>& requests() const { return requests_; }
  const QuoteRequestSeen& last_quote_request() const { return seen_; }
  // Why the last request was refused (empty when it was answered).
  const std::string& last_refusal() const { return refusal_; }

 private:
  int get_report0(uint8_t* arg);
  int extend_rtmr(uint8_t* arg);
  int get_quote(uint8_t* arg);
  int refuse(int err, std::string why);

  Flavor flavor_;
  TdState state_;
  QuoteAnswer answer_;
  bool wrong_report_data_ = false;
  std::vector<Bytes> issued_reports_;
  std::vector<unsigned long> requests_;
  QuoteRequestSeen seen_;
  std::string refusal_;
};

// Request codes as the drivers' headers expand them on x86-64 (dir << 30 | size << 16 |
// 'T' << 8 | nr): _IOWR('T', 1, 1088 bytes), _IOR('T', 3, 49 bytes), _IOR('T', 4, 16 bytes).
inline constexpr unsigned long kGetReport0Code = 0xC4405401ul;
inline constexpr unsigned long kExtendRtmrCode = 0x80315403ul;
inline constexpr unsigned long kGetQuoteCode = 0x80105404ul;

}  // namespace acon::guest::test
