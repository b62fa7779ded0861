#include "acon/acond/config.h"

// toml++ header-only and without exceptions: parse errors come back as values.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <functional>
#include <map>
#include <vector>

namespace acon::acond {
namespace {

std::string where(std::string_view name, const toml::source_region& source) {
  return std::string(name) + ": line " + std::to_string(source.begin.line);
}

Error bad_value(std::string_view name, std::string_view key, const toml::node& node,
                std::string_view expected) {
  return make_error(Errc::parse, where(name, node.source()) + ": " + std::string(key) +
                                     ": expected " + std::string(expected));
}

Result<std::string> string_value(std::string_view name, std::string_view key,
                                 const toml::node& node) {
  auto value = node.value<std::string>();
  if (!node.is_string() || !value) return bad_value(name, key, node, "a string");
  if (value->empty()) return bad_value(name, key, node, "a non-empty string");
  return *value;
}

Result<uint64_t> integer_value(std::string_view name, std::string_view key, const toml::node& node,
                               uint64_t min, uint64_t max) {
  const auto* integer = node.as_integer();
  std::string range = "an integer in " + std::to_string(min) + ".." + std::to_string(max);
  if (integer == nullptr || integer->get() < 0 || static_cast<uint64_t>(integer->get()) < min ||
      static_cast<uint64_t>(integer->get()) > max) {
    return bad_value(name, key, node, range);
  }
  return static_cast<uint64_t>(integer->get());
}

using Setter = std::function<Status(const toml::node&)>;

// The [kbs] table (config.h): its own keys, url required.
Result<KbsConfig> parse_kbs_table(std::string_view name, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return bad_value(name, "kbs", node, "a table [kbs]");
  KbsConfig kbs;
  bool has_url = false;
  for (const auto& [key, value] : *table) {
    const std::string full = "kbs." + std::string(key.str());
    if (key.str() == "url") {
      ACON_TRY(kbs.url, string_value(name, full, value));
      has_url = true;
    } else if (key.str() == "ca_file") {
      ACON_TRY(kbs.ca_file, string_value(name, full, value));
    } else if (key.str() == "insecure_http") {
      if (!value.is_boolean()) return bad_value(name, full, value, "true or false");
      kbs.insecure_http = value.as_boolean()->get();
    } else if (key.str() == "connect_timeout") {
      ACON_TRY(uint64_t seconds, integer_value(name, full, value, 1, 300));
      kbs.connect_timeout_seconds = static_cast<uint32_t>(seconds);
    } else if (key.str() == "timeout") {
      ACON_TRY(uint64_t seconds, integer_value(name, full, value, 1, 600));
      kbs.timeout_seconds = static_cast<uint32_t>(seconds);
    } else {
      return make_error(Errc::parse, where(name, key.source()) + ": unknown key '" + full + "'");
    }
  }
  if (!has_url) {
    return make_error(Errc::parse,
                      where(name, node.source()) + ": kbs.url: missing (required in [kbs])");
  }
  const bool http = kbs.url.starts_with("http://");
  if (!http && !kbs.url.starts_with("https://")) {
    return make_error(
        Errc::parse, where(name, node.source()) + ": kbs.url: expected an http:// or https:// URL");
  }
  if (http != kbs.insecure_http) {
    return make_error(Errc::parse,
                      where(name, node.source()) +
                          ": kbs.insecure_http: must be true exactly when kbs.url is http://");
  }
  return kbs;
}

// The [network] table (config.h): interface and address required, gateway optional.
Result<NetworkConfig> parse_network_table(std::string_view name, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return bad_value(name, "network", node, "a table [network]");
  NetworkConfig network;
  bool has_interface = false, has_address = false;
  for (const auto& [key, value] : *table) {
    const std::string full = "network." + std::string(key.str());
    // A named reference: clang 14 refuses lambdas that capture structured bindings.
    const toml::node& node_here = value;
    auto located = [&](const Error& error) {
      return make_error(Errc::parse, where(name, node_here.source()) + ": " + error.message);
    };
    if (key.str() == "interface") {
      ACON_TRY(network.interface, string_value(name, full, value));
      // IFNAMSIZ is 16 with its NUL; '/' and whitespace never name an interface.
      if (network.interface.size() > 15 ||
          network.interface.find_first_of("/ \t\n:") != std::string::npos) {
        return bad_value(name, full, value, "an interface name of 1..15 characters");
      }
      has_interface = true;
    } else if (key.str() == "address") {
      ACON_TRY(std::string text, string_value(name, full, value));
      auto cidr = parse_ipv4_cidr(text, full);
      if (!cidr) return located(cidr.error());
      network.address = cidr->first;
      network.prefix_length = cidr->second;
      has_address = true;
    } else if (key.str() == "gateway") {
      ACON_TRY(std::string text, string_value(name, full, value));
      auto gateway = parse_ipv4_address(text, full);
      if (!gateway) return located(gateway.error());
      network.gateway = *gateway;
    } else {
      return make_error(Errc::parse, where(name, key.source()) + ": unknown key '" + full + "'");
    }
  }
  if (!has_interface || !has_address) {
    return make_error(Errc::parse, where(name, node.source()) + ": network." +
                                       (has_interface ? "address" : "interface") +
                                       ": missing (required in [network])");
  }
  return network;
}

Result<std::vector<std::string>> parse_modules(std::string_view name, const toml::node& node) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return bad_value(name, "modules", node, "an array of paths");
  std::vector<std::string> paths;
  for (const toml::node& element : *array) {
    ACON_TRY(std::string path, string_value(name, "modules", element));
    if (!path.starts_with("/")) return bad_value(name, "modules", element, "absolute paths");
    paths.push_back(std::move(path));
  }
  return paths;
}

}  // namespace

Result<uint32_t> parse_ipv4_address(std::string_view text, std::string_view key) {
  // inet_pton accepts exactly four decimal octets (no octal, no short forms).
  in_addr address{};
  if (text.size() > 15 || ::inet_pton(AF_INET, std::string(text).c_str(), &address) != 1) {
    return make_error(Errc::parse, std::string(key) + ": expected an IPv4 address a.b.c.d, got '" +
                                       std::string(text) + "'");
  }
  return address.s_addr;
}

Result<std::pair<uint32_t, uint8_t>> parse_ipv4_cidr(std::string_view text, std::string_view key) {
  size_t slash = text.find('/');
  std::string_view prefix = slash == std::string_view::npos ? "" : text.substr(slash + 1);
  if (prefix.empty() || prefix.size() > 2 ||
      prefix.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(prefix)) > 32) {
    return make_error(Errc::parse, std::string(key) +
                                       ": expected an IPv4 address with its prefix length "
                                       "(a.b.c.d/0..32), got '" +
                                       std::string(text) + "'");
  }
  ACON_TRY(uint32_t address, parse_ipv4_address(text.substr(0, slash), key));
  return std::pair<uint32_t, uint8_t>{address,
                                      static_cast<uint8_t>(std::stoi(std::string(prefix)))};
}

Result<ConfigFile> parse_config(std::string_view text, std::string_view name) {
  // ASCII only: toml++ 3.3.0 (Debian 12) reaches an unreachable point on some non-ASCII input
  // (marzer/tomlplusplus issue 295, fixed upstream by pull request 305), and no key or value
  // acond reads needs more than ASCII.
  size_t line = 1, column = 1;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return make_error(Errc::parse, std::string(name) + ": line " + std::to_string(line) +
                                         ", column " + std::to_string(column) +
                                         ": non-ASCII byte (the configuration is ASCII)");
    }
    column = c == '\n' ? 1 : column + 1;
    line += c == '\n' ? 1 : 0;
  }
  toml::parse_result parsed = toml::parse(text, std::string(name));
  if (!parsed) {
    const auto& error = parsed.error();
    return make_error(Errc::parse, where(name, error.source()) + ", column " +
                                       std::to_string(error.source().begin.column) + ": " +
                                       std::string(error.description()));
  }
  ConfigFile config;
  // A string key whose value must be one of `allowed` (empty: any non-empty string).
  auto text_key = [&](std::string_view key, std::optional<std::string>& out,
                      std::vector<std::string_view> allowed) -> Setter {
    return [&out, allowed = std::move(allowed), key, name](const toml::node& node) -> Status {
      ACON_TRY(std::string value, string_value(name, key, node));
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        std::string expected = "one of";
        for (auto option : allowed) expected += " '" + std::string(option) + "'";
        return bad_value(name, key, node, expected + ", got '" + value + "'");
      }
      out = std::move(value);
      return {};
    };
  };
  std::map<std::string_view, Setter> keys = {
      {"backend",
       text_key("backend", config.backend, {"sim", "tdx", "tdx-tsm", "tdx-legacy", "vtpm"})},
      {"sim_state", text_key("sim_state", config.sim_state, {})},
      {"tcti", text_key("tcti", config.tcti, {})},
      {"tpm_event_log", text_key("tpm_event_log", config.tpm_event_log, {})},
      {"state_dir", text_key("state_dir", config.state_dir, {})},
      {"tcp_address", text_key("tcp_address", config.tcp_address, {})},
      {"unix", text_key("unix", config.unix_path, {})},
      {"ipc_socket", text_key("ipc_socket", config.ipc_socket, {})},
      {"tls_cert", text_key("tls_cert", config.tls_cert, {})},
      {"tls_key", text_key("tls_key", config.tls_key, {})},
      {"log_mode", text_key("log_mode", config.log_mode, {"coco", "acon"})},
      {"log_path", text_key("log_path", config.log_path, {})},
      {"policy_mode", text_key("policy_mode", config.policy_mode, {"acond", "spec"})},
      {"kernel_cmdline", text_key("kernel_cmdline", config.kernel_cmdline, {})},
      {"tcp_port",
       [&](const toml::node& node) -> Status {
         ACON_TRY(uint64_t port, integer_value(name, "tcp_port", node, 0, 65535));
         config.tcp_port = static_cast<uint16_t>(port);
         return {};
       }},
      {"stop_grace",
       [&](const toml::node& node) -> Status {
         ACON_TRY(uint64_t seconds, integer_value(name, "stop_grace", node, 0, 3600));
         config.stop_grace = static_cast<uint32_t>(seconds);
         return {};
       }},
      {"idle_timeout",
       [&](const toml::node& node) -> Status {
         ACON_TRY(uint64_t seconds, integer_value(name, "idle_timeout", node, 0, 4294967295));
         config.idle_timeout = static_cast<uint32_t>(seconds);
         return {};
       }},
      {"vsock_port",
       [&](const toml::node& node) -> Status {
         ACON_TRY(uint64_t port, integer_value(name, "vsock_port", node, 0, 4294967294));
         config.vsock_port = static_cast<uint32_t>(port);
         return {};
       }},
      {"runtime_pcr",
       [&](const toml::node& node) -> Status {
         ACON_TRY(uint64_t pcr, integer_value(name, "runtime_pcr", node, 0, kMaxPcr));
         config.runtime_pcr = static_cast<uint32_t>(pcr);
         return {};
       }},
      {"max_message",
       [&](const toml::node& node) -> Status {
         ACON_TRY(uint64_t size,
                  integer_value(name, "max_message", node, kMinMaxMessage, kMaxMaxMessage));
         config.max_message = size;
         return {};
       }},
      {"modules",
       [&](const toml::node& node) -> Status {
         ACON_TRY(config.modules, parse_modules(name, node));
         return {};
       }},
      {"network",
       [&](const toml::node& node) -> Status {
         ACON_TRY(config.network, parse_network_table(name, node));
         return {};
       }},
      {"kbs",
       [&](const toml::node& node) -> Status {
         ACON_TRY(config.kbs, parse_kbs_table(name, node));
         return {};
       }},
      {"no_tcp",
       [&](const toml::node& node) -> Status {
         if (!node.is_boolean()) return bad_value(name, "no_tcp", node, "true or false");
         config.no_tcp = node.as_boolean()->get();
         return {};
       }},
  };
  for (const auto& [key, node] : parsed.table()) {
    auto setter = keys.find(key.str());
    if (setter == keys.end()) {
      return make_error(Errc::parse, where(name, key.source()) + ": unknown key '" +
                                         std::string(key.str()) + "'");
    }
    ACON_CHECK(setter->second(node));
  }
  return config;
}

}  // namespace acon::acond
