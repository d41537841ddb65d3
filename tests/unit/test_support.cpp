#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

namespace dd::test {

std::string shared_dir() {
  const char* env = std::getenv("DD_SHARED_DIR");
  return env ? env : DD_SHARED_DIR;
}

std::string fixtures_dir() {
  const std::string dir = shared_dir() + "/fixtures";
  return std::filesystem::exists(dir + "/manifest.json") ? dir : "";
}

std::string clip_tokenizer_dir() {
  const std::string dir = shared_dir() + "/tokenizers/clip";
  return std::filesystem::exists(dir + "/vocab.json") &&
                 std::filesystem::exists(dir + "/merges.txt")
             ? dir
             : "";
}

const io::FixtureSet& fixtures() {
  static const io::FixtureSet set(fixtures_dir());
  return set;
}

namespace {
std::string manifest_dir(const std::string& name) {
  const std::string dir = shared_dir() + "/" + name;
  return std::filesystem::exists(dir + "/manifest.json") ? dir : "";
}
}  // namespace

std::string flux_fixtures_dir() { return manifest_dir("fixtures-flux"); }
std::string flux_fill_fixtures_dir() { return manifest_dir("fixtures-flux-fill"); }

const io::FixtureSet& flux_fixtures() {
  static const io::FixtureSet set(flux_fixtures_dir());
  return set;
}

const io::FixtureSet& flux_fill_fixtures() {
  static const io::FixtureSet set(flux_fill_fixtures_dir());
  return set;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace dd::test
