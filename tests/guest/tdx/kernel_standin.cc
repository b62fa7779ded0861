// STAND-IN FOR THE LINUX KERNEL (tests only): see kernel_standin.h.
#include "kernel_standin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "acon/common/hash.h"
#include "test_util.h"

namespace acon::guest::test {
namespace {

// TD report 1.0 field offsets inside a quote body (docs/tdx-quote.md §4), and where the same
// field sits in a TDREPORT (TDX module ABI; the kernel's tdx-guest.c enum).
struct FieldMap {
  size_t body_offset, tdreport_offset, size;
};
constexpr size_t kQuoteBody = 48;
constexpr FieldMap kTeeTcbSvn{0, 264, 16}, kMrSeam{16, 280, 48}, kMrSignerSeam{64, 328, 48},
    kSeamAttributes{112, 376, 8}, kTdAttributes{120, 512, 8}, kXfam{128, 520, 8},
    kMrTd{136, 528, 48}, kMrConfigId{184, 576, 48}, kMrOwner{232, 624, 48},
    kMrOwnerConfig{280, 672, 48}, kReportData{520, 128, 64};
constexpr size_t kBodyRtmr0 = 328, kTdReportRtmr0 = 720;

Bytes slice(ByteView b, size_t off, size_t n) {
  return Bytes(b.begin() + off, b.begin() + off + n);
}

void put(Bytes& out, size_t off, ByteView v) { std::copy(v.begin(), v.end(), out.begin() + off); }

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24; }
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t{le32(p + 4)} << 32; }
void set_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void set_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The stand-in TDX module's "MAC": a digest under a key only these stand-ins know, so that the
// QGS stand-in can tell its own TDREPORTs from anything else.
Bytes standin_mac(ByteView tdreport) {
  Bytes input = to_bytes("acon test stand-in TDREPORT MAC key");
  input.insert(input.end(), tdreport.begin(), tdreport.begin() + 224);
  input.insert(input.end(), tdreport.begin() + 256, tdreport.end());
  Bytes mac = sha256(input);
  return mac;
}

void write_file(const std::filesystem::path& path, ByteView bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("stand-in cannot write " + path.string());
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The one KernelTree the mkdir/rmdir wrappers serve.
std::atomic<KernelTree*> g_tree{nullptr};

}  // namespace

// ---- TdState ----

Bytes template_quote() {
  static const Bytes quote =
      acon::test::read_data_bytes("quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
  return quote;
}

TdState TdState::from_quote(ByteView quote) {
  auto body = [&](const FieldMap& f) { return slice(quote, kQuoteBody + f.body_offset, f.size); };
  TdState s;
  s.tee_tcb_svn = body(kTeeTcbSvn);
  s.mr_seam = body(kMrSeam);
  s.mr_signer_seam = body(kMrSignerSeam);
  s.seam_attributes = body(kSeamAttributes);
  s.td_attributes = body(kTdAttributes);
  s.xfam = body(kXfam);
  s.mr_td = body(kMrTd);
  s.mr_config_id = body(kMrConfigId);
  s.mr_owner = body(kMrOwner);
  s.mr_owner_config = body(kMrOwnerConfig);
  for (size_t i = 0; i < 4; ++i) s.rtmr[i] = slice(quote, kQuoteBody + kBodyRtmr0 + 48 * i, 48);
  return s;
}

void TdState::extend(uint32_t index, ByteView digest) {
  Bytes input = rtmr.at(index);
  input.insert(input.end(), digest.begin(), digest.end());
  rtmr[index] = sha384(input);
}

Bytes TdState::tdreport(ByteView report_data) const {
  Bytes r(1024, 0);
  r[0] = 0x81;                                        // REPORTTYPE.type = TDX
  std::fill(r.begin() + 16, r.begin() + 32, 0x05);    // CPUSVN
  std::fill(r.begin() + 256, r.begin() + 264, 0xff);  // TEE_TCB_INFO.VALID
  put(r, kReportData.tdreport_offset, report_data);
  put(r, kTeeTcbSvn.tdreport_offset, tee_tcb_svn);
  put(r, kMrSeam.tdreport_offset, mr_seam);
  put(r, kMrSignerSeam.tdreport_offset, mr_signer_seam);
  put(r, kSeamAttributes.tdreport_offset, seam_attributes);
  put(r, kTdAttributes.tdreport_offset, td_attributes);
  put(r, kXfam.tdreport_offset, xfam);
  put(r, kMrTd.tdreport_offset, mr_td);
  put(r, kMrConfigId.tdreport_offset, mr_config_id);
  put(r, kMrOwner.tdreport_offset, mr_owner);
  put(r, kMrOwnerConfig.tdreport_offset, mr_owner_config);
  for (size_t i = 0; i < 4; ++i) put(r, kTdReportRtmr0 + 48 * i, rtmr[i]);
  put(r, 224, standin_mac(r));
  return r;
}

Bytes quote_from_tdreport(ByteView tdreport) {
  Bytes quote = template_quote();
  if (quote.size() < kQuoteBody + 584) throw std::runtime_error("template quote missing");
  for (const FieldMap* f :
       {&kTeeTcbSvn, &kMrSeam, &kMrSignerSeam, &kSeamAttributes, &kTdAttributes, &kXfam, &kMrTd,
        &kMrConfigId, &kMrOwner, &kMrOwnerConfig, &kReportData}) {
    put(quote, kQuoteBody + f->body_offset, tdreport.subspan(f->tdreport_offset, f->size));
  }
  for (size_t i = 0; i < 4; ++i) {
    put(quote, kQuoteBody + kBodyRtmr0 + 48 * i, tdreport.subspan(kTdReportRtmr0 + 48 * i, 48));
  }
  return quote;
}

// ---- KernelTree ----

KernelTree::KernelTree() : state_(TdState::from_quote(template_quote())) {
  std::string templ = (std::filesystem::temp_directory_path() / "acon-tdx-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  root_ = templ;
  scratch_ = root_ / "standin-scratch";
  std::filesystem::create_directories(scratch_);
  std::filesystem::create_directories(report_dir());
  std::filesystem::create_directories(measurements_dir());
  std::filesystem::create_directories(root_ / "sys/firmware/acpi/tables/data");
  write_registers_locked();

  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0 || ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    throw std::runtime_error("stand-in: inotify/pipe failed");
  }
  measurements_wd_ = ::inotify_add_watch(inotify_fd_, measurements_dir().c_str(), IN_CLOSE_WRITE);
  KernelTree* expected = nullptr;
  if (!g_tree.compare_exchange_strong(expected, this)) {
    throw std::runtime_error("stand-in: one KernelTree at a time");
  }
  thread_ = std::thread([this] { run(); });
}

KernelTree::~KernelTree() {
  g_tree.store(nullptr);
  char byte = 1;
  if (::write(stop_pipe_[1], &byte, 1) != 1) std::terminate();
  thread_.join();
  ::close(inotify_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::filesystem::path KernelTree::report_dir() const {
  return root_ / "sys/kernel/config/tsm/report";
}

std::filesystem::path KernelTree::measurements_dir() const {
  return root_ / "sys/class/misc/tdx_guest/measurements";
}

void KernelTree::set_behaviour(const Behaviour& behaviour) {
  std::lock_guard lock(mu_);
  behaviour_ = behaviour;
}

void KernelTree::install_ccel(ByteView ccel) {
  write_file(root_ / "sys/firmware/acpi/tables/data/CCEL", ccel);
}

std::vector<std::pair<uint32_t, Bytes>> KernelTree::rtmr_writes() const {
  std::lock_guard lock(mu_);
  return rtmr_writes_;
}

bool KernelTree::wait_for_rtmr_writes(size_t count) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return rtmr_writes_.size() >= count; });
}

TdState KernelTree::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::vector<std::string> KernelTree::created_items() const {
  std::lock_guard lock(mu_);
  return created_;
}

std::vector<std::string> KernelTree::removed_items() const {
  std::lock_guard lock(mu_);
  return removed_;
}

size_t KernelTree::outblobs_produced() const {
  std::lock_guard lock(mu_);
  return outblobs_;
}

void KernelTree::replace_file(const std::filesystem::path& target, ByteView bytes) {
  // Written aside and renamed in, so that a reader never sees half a value.
  const auto temp = scratch_ / ("f" + std::to_string(scratch_counter_++));
  write_file(temp, bytes);
  std::filesystem::rename(temp, target);
}

void KernelTree::write_registers_locked() {
  const auto dir = measurements_dir();
  for (size_t i = 0; i < 4; ++i) {
    replace_file(dir / ("rtmr" + std::to_string(i) + ":sha384"), state_.rtmr[i]);
  }
  replace_file(dir / "mrtd:sha384", state_.mr_td);
  replace_file(dir / "mrconfigid", state_.mr_config_id);
  replace_file(dir / "mrowner", state_.mr_owner);
  replace_file(dir / "mrownerconfig", state_.mr_owner_config);
}

void KernelTree::on_item_created(const std::filesystem::path& item) {
  std::lock_guard lock(mu_);
  created_.push_back(item.filename().string());
  // configfs-tsm attributes of a fresh item: provider, generation 0, empty blobs.
  if (behaviour_.create_provider) replace_file(item / "provider", as_bytes(behaviour_.provider));
  replace_file(item / "generation", as_bytes("0\n"));
  replace_file(item / "inblob", {});
  replace_file(item / "outblob", {});
  int wd = ::inotify_add_watch(inotify_fd_, item.c_str(), IN_CLOSE_WRITE);
  if (wd >= 0) item_watches_[wd] = item;
}

void KernelTree::on_item_removing(const std::filesystem::path& item) {
  std::lock_guard lock(mu_);
  for (auto it = item_watches_.begin(); it != item_watches_.end(); ++it) {
    if (it->second == item) {
      ::inotify_rm_watch(inotify_fd_, it->first);
      item_watches_.erase(it);
      break;
    }
  }
  std::error_code ec;
  for (const char* attr : {"provider", "generation", "inblob", "outblob"}) {
    std::filesystem::remove(item / attr, ec);
  }
  removed_.push_back(item.filename().string());
}

void KernelTree::run() {
  alignas(struct inotify_event) char buf[8192];
  for (;;) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) continue;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (!(ev->mask & IN_CLOSE_WRITE) || ev->len == 0) continue;
      const std::string name = ev->name;
      if (ev->wd == measurements_wd_) {
        handle_rtmr_write(name);
        continue;
      }
      std::filesystem::path item;
      {
        std::lock_guard lock(mu_);
        auto it = item_watches_.find(ev->wd);
        if (it == item_watches_.end()) continue;
        item = it->second;
      }
      if (name == "inblob") handle_inblob(item);
    }
  }
}

void KernelTree::handle_inblob(const std::filesystem::path& item) {
  std::lock_guard lock(mu_);
  const bool live = std::any_of(item_watches_.begin(), item_watches_.end(),
                                [&](const auto& watch) { return watch.second == item; });
  if (!live) return;  // removed meanwhile
  const Bytes inblob = read_file(item / "inblob");
  const uint64_t generation = std::stoull(to_string(read_file(item / "generation")));
  // The TDX provider accepts exactly 64 bytes of REPORTDATA (the kernel answers EINVAL else).
  Bytes outblob;
  if (inblob.size() == 64) {
    outblob = quote_from_tdreport(state_.tdreport(inblob));
    if (behaviour_.corrupt_report_data) outblob[kQuoteBody + kReportData.body_offset] ^= 0x01;
    if (behaviour_.truncate_outblob > 0) outblob.resize(behaviour_.truncate_outblob);
  }
  replace_file(item / "outblob", outblob);
  replace_file(item / "generation",
               as_bytes(std::to_string(generation + behaviour_.generation_step) + "\n"));
  ++outblobs_;
}

void KernelTree::handle_rtmr_write(const std::string& file) {
  if (file.rfind("rtmr", 0) != 0 || file.size() != std::string("rtmr0:sha384").size()) return;
  const uint32_t index = static_cast<uint32_t>(file[4] - '0');
  if (index > 3) return;
  std::lock_guard lock(mu_);
  const Bytes written = read_file(measurements_dir() / file);
  rtmr_writes_.emplace_back(index, written);
  // The kernel accepts only a 48-byte write at offset 0 and extends it; the file always shows
  // the register afterwards.
  if (written.size() == 48) state_.extend(index, written);
  write_registers_locked();
  cv_.notify_all();
}

// ---- TdxGuestDriver ----

namespace {
class DriverHandle final : public IoctlDevice {
 public:
  explicit DriverHandle(TdxGuestDriver& driver) : driver_(driver) {}
  int ioctl(unsigned long request, void* arg) override { return driver_.ioctl(request, arg); }

 private:
  TdxGuestDriver& driver_;
};
}  // namespace

TdxGuestDriver::TdxGuestDriver(Flavor flavor)
    : flavor_(flavor), state_(TdState::from_quote(template_quote())) {}

std::unique_ptr<IoctlDevice> TdxGuestDriver::open() {
  return std::make_unique<DriverHandle>(*this);
}

int TdxGuestDriver::refuse(int err, std::string why) {
  refusal_ = std::move(why);
  return err;
}

int TdxGuestDriver::ioctl(unsigned long request, void* arg) {
  requests_.push_back(request);
  refusal_.clear();
  auto* bytes = static_cast<uint8_t*>(arg);
  if (request == kGetReport0Code) return get_report0(bytes);
  if (flavor_ == Flavor::out_of_tree && request == kExtendRtmrCode) return extend_rtmr(bytes);
  if (flavor_ == Flavor::out_of_tree && request == kGetQuoteCode) return get_quote(bytes);
  return refuse(ENOTTY, "unknown request code");
}

// struct tdx_report_req {u8 reportdata[64]; u8 tdreport[1024];}
int TdxGuestDriver::get_report0(uint8_t* arg) {
  Bytes report_data(arg, arg + 64);
  if (wrong_report_data_) report_data[0] ^= 0xff;
  Bytes report = state_.tdreport(report_data);
  std::memcpy(arg + 64, report.data(), report.size());
  issued_reports_.push_back(std::move(report));
  return 0;
}

// struct tdx_extend_rtmr_req {u8 data[48]; u8 index;}
int TdxGuestDriver::extend_rtmr(uint8_t* arg) {
  const uint8_t index = arg[48];
  if (index < 2) return refuse(EPERM, "RTMR0/1 are not for user space");
  if (index > 3) return refuse(EINVAL, "no such RTMR");
  state_.extend(index, ByteView(arg, 48));
  return 0;
}

// struct tdx_quote_req {u64 buf; u64 len;} pointing at tdx_quote_hdr + BE length + QGS message.
int TdxGuestDriver::get_quote(uint8_t* arg) {
  seen_ = {};
  auto* buf = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(le64(arg)));
  const uint64_t len = le64(arg + 8);
  seen_.buffer_len = len;
  if (buf == nullptr || len < 28) return refuse(EINVAL, "buffer too small");
  seen_.version = le64(buf);
  seen_.status = le64(buf + 8);
  seen_.in_len = le32(buf + 16);
  seen_.out_len = le32(buf + 20);
  seen_.length_field = uint32_t{buf[24]} << 24 | buf[25] << 16 | buf[26] << 8 | buf[27];
  if (seen_.version != 1) return refuse(EINVAL, "tdx_quote_hdr.version");
  if (uint64_t{seen_.in_len} + 24 > len) return refuse(EINVAL, "in_len beyond the buffer");
  if (seen_.length_field + 4 != seen_.in_len) return refuse(EINVAL, "length field vs in_len");
  const uint8_t* msg = buf + 28;
  if (seen_.length_field < 24) return refuse(EINVAL, "QGS message too short");
  seen_.major = le16(msg);
  seen_.minor = le16(msg + 2);
  seen_.type = le32(msg + 4);
  seen_.size = le32(msg + 8);
  seen_.error_code = le32(msg + 12);
  seen_.report_size = le32(msg + 16);
  seen_.id_list_size = le32(msg + 20);
  if (seen_.major != 1 || seen_.type != 0) return refuse(EINVAL, "not a v1 GET_QUOTE_REQ");
  if (seen_.size != seen_.length_field) return refuse(EINVAL, "QGS size vs length field");
  if (seen_.report_size != 1024 || seen_.size != 24 + seen_.report_size + seen_.id_list_size) {
    return refuse(EINVAL, "QGS report_size / size");
  }
  seen_.tdreport.assign(msg + 24, msg + 24 + 1024);
  // The QE accepts only TDREPORTs whose MAC the TDX module made.
  if (std::find(issued_reports_.begin(), issued_reports_.end(), seen_.tdreport) ==
      issued_reports_.end()) {
    // A refused TDREPORT is still a completed request: the host reports it in status.
    set_le64(buf + 8, 0x8000000000000000ull);
    return 0;
  }

  Bytes quote = quote_from_tdreport(seen_.tdreport);
  if (answer_.corrupt_report_data) quote[kQuoteBody + kReportData.body_offset] ^= 0x01;
  const bool success = answer_.qgs_error_code == 0;
  const Bytes& id = answer_.selected_id;
  Bytes resp(24, 0);
  const uint32_t id_size = success ? static_cast<uint32_t>(id.size()) : 0;
  const uint32_t quote_size = success ? static_cast<uint32_t>(quote.size()) : 0;
  resp[0] = 1;                   // major 1, minor 0
  set_le32(resp.data() + 4, 1);  // GET_QUOTE_RESP
  set_le32(resp.data() + 8, 24 + id_size + quote_size);
  set_le32(resp.data() + 12, answer_.qgs_error_code);
  set_le32(resp.data() + 16, id_size);
  set_le32(resp.data() + 20, quote_size);
  if (success) {
    resp.insert(resp.end(), id.begin(), id.end());
    resp.insert(resp.end(), quote.begin(), quote.end());
  }
  if (28 + resp.size() > len) return refuse(EINVAL, "answer does not fit");
  std::memcpy(buf + 28, resp.data(), resp.size());
  const uint32_t length_field = static_cast<uint32_t>(resp.size() + answer_.length_field_delta);
  buf[24] = static_cast<uint8_t>(length_field >> 24);
  buf[25] = static_cast<uint8_t>(length_field >> 16);
  buf[26] = static_cast<uint8_t>(length_field >> 8);
  buf[27] = static_cast<uint8_t>(length_field);
  set_le32(buf + 20, static_cast<uint32_t>(4 + resp.size() + answer_.out_len_delta));
  set_le64(buf + 8, answer_.status);
  return 0;
}

}  // namespace acon::guest::test

// ---- configfs item creation and removal at the system call (see kernel_standin.h) ----

extern "C" int __real_mkdir(const char* path, mode_t mode);
extern "C" int __real_rmdir(const char* path);

extern "C" int __wrap_mkdir(const char* path, mode_t mode) {
  int rc = __real_mkdir(path, mode);
  auto* tree = acon::guest::test::g_tree.load();
  if (rc == 0 && tree != nullptr) {
    const std::filesystem::path p(path);
    if (p.parent_path() == tree->report_dir()) tree->on_item_created(p);
  }
  return rc;
}

extern "C" int __wrap_rmdir(const char* path) {
  auto* tree = acon::guest::test::g_tree.load();
  if (tree != nullptr) {
    const std::filesystem::path p(path);
    if (p.parent_path() == tree->report_dir()) tree->on_item_removing(p);
  }
  return __real_rmdir(path);
}
