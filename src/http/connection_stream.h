#pragma once
// An httplib::Stream over one accepted connection, kept for the connection's whole life.
// cpp-httplib 0.11 makes a new stream (and read buffer) per request, so bytes a client pipelined
// behind a request can be lost; and it caps each header line but not their number. This stream
// keeps one buffer per connection and caps the bytes of a request head (request line + headers):
// past the cap reads fail, httplib answers 400 and the connection ends.
#include <httplib.h>

#include <chrono>
#include <string>
#include <vector>

namespace dd::http {

struct StreamTimeouts {
  std::chrono::microseconds read{0};   // waiting for the next bytes
  std::chrono::microseconds write{0};  // waiting to send
  // A whole request head (request line and headers) must arrive within this, however the client
  // trickles it: a slow client cannot hold a connection by sending a byte now and then.
  std::chrono::microseconds head{0};
};

class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(socket_t socket, StreamTimeouts timeouts, size_t max_head_bytes);

  bool is_readable() const override;
  bool is_writable() const override;
  // Buffered; waits up to the read timeout for the first byte. -1 on timeout or error, 0 at EOF.
  ssize_t read(char* ptr, size_t size) override;
  // Sends all `size` bytes (waiting up to the write timeout each time) or returns -1.
  ssize_t write(const char* ptr, size_t size) override;
  using httplib::Stream::write;  // the string overloads
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return socket_; }

  // Marks where a request head starts and ends: only in between are reads capped, in bytes and
  // in time (StreamTimeouts::head from begin_head()).
  void begin_head();
  void end_head();
  bool head_too_large() const { return head_too_large_; }
  bool head_too_slow() const { return head_too_slow_; }

  // Whether a byte can be read within `timeout` (buffered bytes count; so does EOF).
  bool readable_within(std::chrono::milliseconds timeout) const;
  // Reads and drops exactly `count` bytes; false on EOF, error or timeout.
  bool skip(size_t count);
  // Reads exactly `count` bytes into `out`; false on EOF, error or timeout.
  bool read_exactly(char* out, size_t count);
  // Puts bytes back in front of what is still to be read.
  void unread(const std::string& bytes);
  // Bytes read from the socket so far.
  uint64_t bytes_read() const { return bytes_read_; }
  // Reads one line including its '\n' into `line`; false past `max_length` bytes, at EOF or on
  // error.
  bool read_line(std::string& line, size_t max_length);

 private:
  // Waits up to the read timeout and reads what the socket has into the (consumed) buffer:
  // the byte count, 0 at EOF, -1 on timeout or error.
  ssize_t fill();
  size_t buffered() const { return buffer_.size() - offset_; }

  socket_t socket_;
  StreamTimeouts timeouts_;
  size_t max_head_bytes_;
  bool in_head_ = false;
  bool head_too_large_ = false;
  bool head_too_slow_ = false;
  std::chrono::steady_clock::time_point head_deadline_;
  size_t head_bytes_ = 0;
  std::vector<char> buffer_;
  size_t offset_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace dd::http
