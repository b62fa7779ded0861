// ACON's kernel command-line keys for acond.
#include "acon/acond/kernel_cmdline.h"

#include <gtest/gtest.h>

namespace acon::acond {
namespace {

TEST(KernelCmdline, DefaultsWhenNoKeyIsPresent) {
  auto config = parse_kernel_cmdline("console=hvc0 root=/dev/vda rw\n");
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->vsock_conn);
  EXPECT_EQ(config->vsock_port, 1024u);
  EXPECT_EQ(config->tcp_port, 1025u);
  EXPECT_EQ(config->timeout_seconds, 180u);
}

TEST(KernelCmdline, ReadsEveryKeyAndThePrefixMatch) {
  auto config = parse_kernel_cmdline(
      "quiet acond.vsock_conn=yes acond.vsock_port=+4096\tacond.tcp_port=8080 acond.timeout=0 "
      "acond.tcp_port=9090");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->vsock_conn);
  EXPECT_EQ(config->vsock_port, 4096u);
  EXPECT_EQ(config->tcp_port, 9090u);  // the later parameter wins
  EXPECT_EQ(config->timeout_seconds, 0u);
  EXPECT_TRUE(parse_kernel_cmdline("acond.vsock_connection")->vsock_conn);
  EXPECT_FALSE(parse_kernel_cmdline("xacond.vsock_conn acond.tcp_port")->vsock_conn);
}

TEST(KernelCmdline, MalformedValuesNameTheKeyAndOffset) {
  auto bad = parse_kernel_cmdline("ro acond.tcp_port=65536");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::parse);
  EXPECT_NE(bad.error().message.find("acond.tcp_port at offset 18"), std::string::npos)
      << bad.error().message;
  for (const char* text : {"acond.timeout=", "acond.timeout=-1", "acond.vsock_port=4294967296",
                           "acond.timeout=1s", "acond.timeout=18446744073709551616"}) {
    EXPECT_FALSE(parse_kernel_cmdline(text).ok()) << text;
  }
}

}  // namespace
}  // namespace acon::acond
