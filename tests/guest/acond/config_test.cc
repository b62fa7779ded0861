// acond's TOML configuration: the parser (every key, the shipped example, errors naming the key
// and line) and a real acond started with --config, where flags win over the file.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acon/acond/config.h"
#include "acond_process.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;

std::string parse_error(std::string_view text) {
  auto parsed = parse_config(text, "acond.toml");
  EXPECT_FALSE(parsed.ok());
  return parsed ? std::string() : parsed.error().message;
}

TEST(Config, EveryKey) {
  auto config = must(parse_config(R"(
backend = "vtpm"
sim_state = "sim.json"
tcti = "swtpm:host=127.0.0.1,port=2321"
tpm_event_log = "fw.log"
runtime_pcr = 14
state_dir = "/run/acond"
tcp_address = "127.0.0.1"
tcp_port = 0
no_tcp = true
unix = "/run/acond.sock"
vsock_port = 1024
stop_grace = 7
tls_cert = "c.pem"
log_mode = "acon"
log_path = "/run/acond/log"
policy_mode = "spec"
max_message = 1048576
kernel_cmdline = "/proc/cmdline"
)"));
  EXPECT_EQ(config.backend, "vtpm");
  EXPECT_EQ(config.sim_state, "sim.json");
  EXPECT_EQ(config.tcti, "swtpm:host=127.0.0.1,port=2321");
  EXPECT_EQ(config.tpm_event_log, "fw.log");
  EXPECT_EQ(config.runtime_pcr, 14u);
  EXPECT_EQ(config.state_dir, "/run/acond");
  EXPECT_EQ(config.tcp_address, "127.0.0.1");
  EXPECT_EQ(config.tcp_port, 0);
  EXPECT_EQ(config.no_tcp, true);
  EXPECT_EQ(config.unix_path, "/run/acond.sock");
  EXPECT_EQ(config.vsock_port, 1024u);
  EXPECT_EQ(config.stop_grace, 7u);
  EXPECT_EQ(config.tls_cert, "c.pem");
  EXPECT_EQ(config.log_mode, "acon");
  EXPECT_EQ(config.log_path, "/run/acond/log");
  EXPECT_EQ(config.policy_mode, "spec");
  EXPECT_EQ(config.max_message, 1048576u);
  EXPECT_EQ(config.kernel_cmdline, "/proc/cmdline");
  // Nothing set: every key absent.
  auto empty = must(parse_config("# nothing\n"));
  EXPECT_FALSE(empty.backend || empty.tcp_port || empty.no_tcp || empty.max_message);
}

TEST(Config, ShippedExampleParses) {
  std::string text = read_text(fs::path(ACON_TEST_DATA) / "../../guest/acond/acond.toml");
  ASSERT_FALSE(text.empty());
  auto config = must(parse_config(text));
  EXPECT_EQ(config.backend, "tdx-tsm");  // not the simulator
  EXPECT_EQ(config.log_mode, "coco");
  EXPECT_EQ(config.policy_mode, "acond");
  EXPECT_EQ(config.max_message, uint64_t{1} << 30);
  EXPECT_FALSE(config.tcp_port);  // left to the kernel command line
}

TEST(Config, ErrorsNameTheKeyAndLine) {
  EXPECT_EQ(parse_error("backend = \"sim\"\nlog_level = 3\n"),
            "acond.toml: line 2: unknown key 'log_level'");
  EXPECT_EQ(parse_error("[server]\nport = 1\n"), "acond.toml: line 1: unknown key 'server'");
  EXPECT_EQ(parse_error("tcp_port = \"1025\""),
            "acond.toml: line 1: tcp_port: expected an integer in 0..65535");
  EXPECT_EQ(parse_error("tcp_port = 65536"),
            "acond.toml: line 1: tcp_port: expected an integer in 0..65535");
  EXPECT_EQ(parse_error("runtime_pcr = -1"),
            "acond.toml: line 1: runtime_pcr: expected an integer in 0..23");
  EXPECT_EQ(parse_error("max_message = 1024"),
            "acond.toml: line 1: max_message: expected an integer in 1048576..2147483647");
  EXPECT_EQ(parse_error("\n\nlog_mode = \"text\""),
            "acond.toml: line 3: log_mode: expected one of 'coco' 'acon', got 'text'");
  EXPECT_EQ(parse_error("backend = \"sgx\""),
            "acond.toml: line 1: backend: expected one of 'sim' 'tdx' 'tdx-tsm' 'tdx-legacy' "
            "'vtpm', got 'sgx'");
  EXPECT_EQ(parse_error("state_dir = \"\""),
            "acond.toml: line 1: state_dir: expected a non-empty string");
  EXPECT_EQ(parse_error("no_tcp = 1"), "acond.toml: line 1: no_tcp: expected true or false");
  // Non-ASCII bytes are refused before toml++ sees them (its 3.3.0 release reaches an
  // unreachable point on some of them).
  EXPECT_EQ(parse_error("# ok\ns = \"\"\"\\\n\xc2\xa7\"\"\"\n"),
            "acond.toml: line 3, column 1: non-ASCII byte (the configuration is ASCII)");
  // toml++'s own syntax errors carry the line and column.
  std::string syntax = parse_error("backend = \"sim\"\nbackend = \"vtpm\"\n");
  EXPECT_TRUE(syntax.starts_with("acond.toml: line 2, column ")) << syntax;
  EXPECT_TRUE(parse_error("tcp_port = ").starts_with("acond.toml: line 1, column "));
}

TEST(Config, KbsTable) {
  auto config = must(parse_config(R"(backend = "sim"
[kbs]
url = "https://kbs.example:8080"
ca_file = "kbs-ca.pem"
connect_timeout = 2
timeout = 9
)"));
  ASSERT_TRUE(config.kbs);
  EXPECT_EQ(config.kbs->url, "https://kbs.example:8080");
  EXPECT_EQ(config.kbs->ca_file, "kbs-ca.pem");
  EXPECT_FALSE(config.kbs->insecure_http);
  EXPECT_EQ(config.kbs->connect_timeout_seconds, 2u);
  EXPECT_EQ(config.kbs->timeout_seconds, 9u);
  // The defaults; plaintext only when said so.
  auto plain = must(parse_config("[kbs]\nurl = \"http://127.0.0.1:8080\"\ninsecure_http = true\n"));
  ASSERT_TRUE(plain.kbs);
  EXPECT_TRUE(plain.kbs->insecure_http);
  EXPECT_FALSE(plain.kbs->ca_file);
  EXPECT_EQ(plain.kbs->connect_timeout_seconds, 5u);
  EXPECT_EQ(plain.kbs->timeout_seconds, 30u);
  EXPECT_FALSE(must(parse_config("backend = \"sim\"\n")).kbs);

  EXPECT_EQ(parse_error("[kbs]\nca_file = \"a.pem\"\n"),
            "acond.toml: line 1: kbs.url: missing (required in [kbs])");
  EXPECT_EQ(parse_error("[kbs]\nurl = \"https://k\"\nretries = 3\n"),
            "acond.toml: line 3: unknown key 'kbs.retries'");
  EXPECT_EQ(parse_error("[kbs]\nurl = \"ftp://k\"\n"),
            "acond.toml: line 1: kbs.url: expected an http:// or https:// URL");
  EXPECT_EQ(parse_error("[kbs]\nurl = \"http://k\"\n"),
            "acond.toml: line 1: kbs.insecure_http: must be true exactly when kbs.url is http://");
  EXPECT_EQ(parse_error("[kbs]\nurl = \"https://k\"\ninsecure_http = true\n"),
            "acond.toml: line 1: kbs.insecure_http: must be true exactly when kbs.url is http://");
  EXPECT_EQ(parse_error("[kbs]\nurl = \"https://k\"\ntimeout = 0\n"),
            "acond.toml: line 3: kbs.timeout: expected an integer in 1..600");
  EXPECT_EQ(parse_error("[kbs]\nurl = 7\n"), "acond.toml: line 2: kbs.url: expected a string");
  EXPECT_EQ(parse_error("kbs = \"https://k\"\n"),
            "acond.toml: line 1: kbs: expected a table [kbs]");
}

TEST(Config, ModulesAndNetwork) {
  auto config = must(parse_config(R"(modules = ["/lib/modules/overlay.ko", "/lib/modules/e1000.ko"]
[network]
interface = "eth0"
address = "10.0.2.15/24"
gateway = "10.0.2.2"
)"));
  ASSERT_TRUE(config.modules);
  EXPECT_EQ(*config.modules,
            (std::vector<std::string>{"/lib/modules/overlay.ko", "/lib/modules/e1000.ko"}));
  ASSERT_TRUE(config.network);
  EXPECT_EQ(config.network->interface, "eth0");
  EXPECT_EQ(config.network->address, htonl(0x0a00020f));
  EXPECT_EQ(config.network->prefix_length, 24);
  EXPECT_EQ(config.network->gateway, htonl(0x0a000202));
  auto no_gateway = must(parse_config("[network]\ninterface = \"lo\"\naddress = \"0.0.0.0/0\"\n"));
  ASSERT_TRUE(no_gateway.network);
  EXPECT_EQ(no_gateway.network->prefix_length, 0);
  EXPECT_FALSE(no_gateway.network->gateway);
  EXPECT_FALSE(must(parse_config("backend = \"sim\"\n")).network);

  EXPECT_EQ(parse_error("modules = \"/lib/modules/overlay.ko\""),
            "acond.toml: line 1: modules: expected an array of paths");
  EXPECT_EQ(parse_error("modules = [\"overlay.ko\"]"),
            "acond.toml: line 1: modules: expected absolute paths");
  EXPECT_EQ(parse_error("modules = [\"/a.ko\", 3]"),
            "acond.toml: line 1: modules: expected a string");
  EXPECT_EQ(parse_error("network = \"eth0\""),
            "acond.toml: line 1: network: expected a table [network]");
  EXPECT_EQ(parse_error("[network]\naddress = \"10.0.2.15/24\"\n"),
            "acond.toml: line 1: network.interface: missing (required in [network])");
  EXPECT_EQ(parse_error("[network]\ninterface = \"eth0\"\n"),
            "acond.toml: line 1: network.address: missing (required in [network])");
  EXPECT_EQ(parse_error("[network]\ninterface = \"eth0\"\nmtu = 1500\n"),
            "acond.toml: line 3: unknown key 'network.mtu'");
  EXPECT_EQ(parse_error("[network]\ninterface = \"a-very-long-name0\"\naddress = \"1.2.3.4/8\"\n"),
            "acond.toml: line 2: network.interface: expected an interface name of 1..15 "
            "characters");
  EXPECT_EQ(parse_error("[network]\ninterface = \"../x\"\naddress = \"1.2.3.4/8\"\n"),
            "acond.toml: line 2: network.interface: expected an interface name of 1..15 "
            "characters");
  for (const char* bad :
       {"10.0.2.15", "10.0.2.15/33", "10.0.2.15/", "10.0.2.15/-1", "10.0.2.15/024", "10.0.2/24",
        "010.0.2.15/24", "::1/64", "10.0.2.15/24/1", "a.b.c.d/8"}) {
    std::string text = "[network]\ninterface = \"eth0\"\naddress = \"" + std::string(bad) + "\"\n";
    std::string error = parse_error(text);
    EXPECT_TRUE(error.starts_with("acond.toml: line 3: network.address: expected an IPv4 address"))
        << bad << ": " << error;
  }
  EXPECT_EQ(parse_error("[network]\ninterface = \"eth0\"\naddress = \"10.0.2.15/24\"\n"
                        "gateway = \"10.0.2.2/24\"\n"),
            "acond.toml: line 4: network.gateway: expected an IPv4 address a.b.c.d, got "
            "'10.0.2.2/24'");
}

TEST(Config, AcondTakesTheFileAndFlagsWin) {
  TempDir dir;
  auto sim = create_sim_state((dir.path() / "sim.json").string());
  {
    std::ofstream out(dir.path() / "acond.toml");
    out << "backend = \"sim\"\nsim_state = \"sim.json\"\nstate_dir = \"from-file\"\n"
           "log_mode = \"acon\"\ntcp_address = \"127.0.0.1\"\ntcp_port = 0\n";
  }
  {
    AcondChild acond(dir.path(), {"--config", "acond.toml"});
    ASSERT_NE(acond.port(), 0) << acond.log();
    EXPECT_EQ(acond.stop(), 0);
    EXPECT_NE(acond.log().find("log_mode=acon "), std::string::npos) << acond.log();
    EXPECT_NE(acond.log().find("state_dir=from-file "), std::string::npos) << acond.log();
  }
  fs::remove(dir.path() / "acond.log");
  {
    AcondChild acond(dir.path(),
                     {"--config", "acond.toml", "--log-mode", "coco", "--state-dir", "flag"});
    ASSERT_NE(acond.port(), 0) << acond.log();
    EXPECT_EQ(acond.stop(), 0);
    EXPECT_NE(acond.log().find("log_mode=coco "), std::string::npos) << acond.log();
    EXPECT_NE(acond.log().find("state_dir=flag "), std::string::npos) << acond.log();
  }
  {
    std::ofstream out(dir.path() / "bad.toml");
    out << "state_dir = \"st\"\nverbose = true\n";
  }
  AcondChild bad(dir.path(), {"--config", "bad.toml"});
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_NE(bad.log().find("bad.toml: line 2: unknown key 'verbose'"), std::string::npos)
      << bad.log();
}

// [kbs] reaches acond (its startup line names the KBS), --kbs-url wins and must be https.
TEST(Config, AcondTakesTheKbs) {
  TempDir dir;
  auto sim = create_sim_state((dir.path() / "sim.json").string());
  {
    std::ofstream out(dir.path() / "acond.toml");
    out << "backend = \"sim\"\nsim_state = \"sim.json\"\nstate_dir = \"st\"\n"
           "tcp_address = \"127.0.0.1\"\ntcp_port = 0\n"
           "[kbs]\nurl = \"https://kbs.invalid:8080\"\nca_file = \"ca.pem\"\n";
  }
  {
    AcondChild acond(dir.path(), {"--config", "acond.toml"});
    ASSERT_NE(acond.port(), 0) << acond.log();
    EXPECT_EQ(acond.stop(), 0);
    EXPECT_NE(acond.log().find(" kbs=https://kbs.invalid:8080 "), std::string::npos) << acond.log();
  }
  fs::remove(dir.path() / "acond.log");
  {
    AcondChild acond(dir.path(), {"--config", "acond.toml", "--kbs-url", "https://other:1"});
    ASSERT_NE(acond.port(), 0) << acond.log();
    EXPECT_EQ(acond.stop(), 0);
    EXPECT_NE(acond.log().find(" kbs=https://other:1 "), std::string::npos) << acond.log();
  }
  fs::remove(dir.path() / "acond.log");
  AcondChild plain(dir.path(), {"--config", "acond.toml", "--kbs-url", "http://other:1"});
  EXPECT_EQ(plain.wait(), 2);
  EXPECT_NE(plain.log().find("--kbs-url: expected an https:// URL"), std::string::npos)
      << plain.log();
}

}  // namespace
}  // namespace acon::acond
