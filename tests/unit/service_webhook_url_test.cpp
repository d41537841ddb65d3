// The webhook URL policy: private, loopback and reserved addresses refused unless allowed, and
// malformed URLs refused, each naming webhookUrl.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/webhook_url.h"
#include "util/error.h"

namespace dd::service {
namespace {

TEST(WebhookUrl, RefusesPrivateAddressesWhenNotAllowed) {
  for (const std::string& url : std::vector<std::string>{
           "http://127.0.0.1/hook", "http://localhost:8080/hook", "http://10.1.2.3/",
           "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
           "http://100.64.0.1/", "http://0.0.0.0/", "http://224.0.0.1/", "http://[::1]:8080/",
           "http://[fe80::1]/", "http://[fc00::1]/", "http://[::ffff:127.0.0.1]/", "http://[::]/",
           "http://[64:ff9b::a00:1]/", "http://[2002:c0a8:101::1]/"}) {
    try {
      validate_webhook_url(url, false);
      ADD_FAILURE() << url << " was accepted";
    } catch (const InvalidParameter& e) {
      EXPECT_EQ(e.param(), "webhookUrl") << url;
      EXPECT_NE(std::string(e.what()).find("--allow-private-webhooks"), std::string::npos) << url;
    }
  }
  EXPECT_NO_THROW(validate_webhook_url("http://127.0.0.1:9/hook", true));
  EXPECT_NO_THROW(validate_webhook_url("https://[::1]/hook", true));
  EXPECT_NO_THROW(validate_webhook_url("http://8.8.8.8/hook?x=1", false));
  EXPECT_NO_THROW(validate_webhook_url("HTTPS://[2606:4700::1111]:8443/", false));
}

TEST(WebhookUrl, RefusesMalformedUrls) {
  for (const std::string& url : std::vector<std::string>{
           "", "not a url", "ftp://example.com/", "file:///etc/passwd", "http://", "http:///path",
           "http://user:pw@example.com/", "http://host:99999/", "http://host:0/", "http://host:x/",
           "http://[::1/", "http://exa mple.com/", "http://ex\xc3\xa4mple.com/",
           "http://" + std::string(3000, 'a') + ".com/"}) {
    try {
      validate_webhook_url(url, true);
      ADD_FAILURE() << url << " was accepted";
    } catch (const InvalidParameter& e) {
      EXPECT_EQ(e.param(), "webhookUrl") << url;
    }
  }
}

TEST(WebhookUrl, ChecksEveryResolvedAddressOnceAndConnectsToTheFirst) {
  int calls = 0;
  const HostResolver resolver = [&calls](const std::string& host) {
    ++calls;
    EXPECT_EQ(host, "hooks.example");
    return std::vector<std::string>{"93.184.216.34", "2606:2800:220:1::1"};
  };
  const auto checked = check_webhook_url("https://hooks.example:8443/in?x=1", false, resolver);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(checked.address, "93.184.216.34");
  EXPECT_EQ(checked.url.host, "hooks.example");
  EXPECT_EQ(checked.url.port, 8443);
  EXPECT_EQ(checked.url.target, "/in?x=1");

  // One private address among public ones refuses the host; allowed, the first one is used.
  const HostResolver rebinding = [](const std::string&) {
    return std::vector<std::string>{"93.184.216.34", "127.0.0.1"};
  };
  EXPECT_THROW(check_webhook_url("http://hooks.example/", false, rebinding), InvalidParameter);
  EXPECT_EQ(check_webhook_url("http://hooks.example/", true, rebinding).address, "93.184.216.34");
  // No address, or one that is not numeric (which a connection would look up again), is refused.
  const HostResolver none = [](const std::string&) { return std::vector<std::string>{}; };
  EXPECT_THROW(check_webhook_url("http://hooks.example/", true, none), InvalidParameter);
  const HostResolver name = [](const std::string&) {
    return std::vector<std::string>{"elsewhere.example"};
  };
  EXPECT_THROW(check_webhook_url("http://hooks.example/", true, name), InvalidParameter);
}

TEST(WebhookUrl, TheSystemResolverAnswersNumericAddresses) {
  EXPECT_EQ(resolve_host("127.0.0.1"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(resolve_host("::1"), std::vector<std::string>{"::1"});
  EXPECT_EQ(check_webhook_url("http://[::1]:9/", true).address, "::1");
  EXPECT_TRUE(resolve_host("no-such-host.invalid").empty());
}

}  // namespace
}  // namespace dd::service
