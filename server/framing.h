// Where one HTTP/1.1 request ends, found as its bytes arrive, so that the event loop hands a
// worker only complete requests and refuses an oversized body before holding it: a
// Content-Length over the cap is refused as soon as the headers are in, a chunked body as soon as
// a chunk header would take it over the cap. Chunked bodies are decoded as they arrive (the raw
// chunks are not kept), and the request is handed on in the plain Content-Length form, without
// Expect and Accept-Encoding (answers are never compressed: see framing.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ray_admission::server {

struct FramingLimits {
  std::size_t max_header = 64u << 10;  // request line and headers
  std::size_t max_body = 7u << 20;     // decoded body
};

// What the server's direct path (HttpsServer::post_direct) needs from a plain POST.
struct PlainPost {
  std::string_view path;          // the target without its query
  std::string_view content_type;  // the first Content-Type header's value, without surrounding blanks
  bool close = false;             // a Connection header lists `close`
};

// `head` is a request's line and headers, with the blank line that ends them (what
// RequestFramer::take returns, without the body). True for `POST /path[?query] HTTP/1.1` with a
// target of plain printable characters (no escapes), and headers that are each a token, a colon
// and a value (no folded lines); anything else is left to httplib, which knows the rest of HTTP.
bool parse_plain_post(std::string_view head, PlainPost& out);

class RequestFramer {
 public:
  enum class Status { NeedMore, Complete, Error };

  explicit RequestFramer(FramingLimits limits) : limits_(limits) {}

  // Looks at the bytes received so far on the connection. May consume a prefix of `buf` (the
  // parts of a chunked body already decoded). Call again when more bytes arrive.
  Status advance(std::string& buf);

  // After Complete: the request as httplib reads it (request line, headers without
  // Transfer-Encoding, Content-Length and Expect, then `Content-Length: N` and the body). Removes
  // the request's bytes from `buf` (what follows is the next request) and resets the framer. The
  // body is the last `*body_size` bytes of the result.
  std::string take(std::string& buf, std::size_t* body_size = nullptr);

  // True once the header block is in, the client asked for `100-continue`, and the body has not
  // started: the caller sends `HTTP/1.1 100 Continue` once, then calls continue_sent().
  bool wants_continue() const { return expect_continue_ && !continue_sent_ && phase_ != Phase::Head; }
  void continue_sent() { continue_sent_ = true; }

  bool headers_done() const { return phase_ != Phase::Head; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  enum class Phase { Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailer, Done, Error };

  Status fail(int status, std::string message);
  Status parse_head(std::string& buf, std::size_t head_end);
  Status advance_chunked(std::string& buf);
  void reset();

  FramingLimits limits_;
  Phase phase_ = Phase::Head;
  std::size_t scanned_ = 0;   // bytes of the header block searched for its end so far
  std::size_t head_end_ = 0;  // length of the header block in buf (Length phase)
  std::size_t body_len_ = 0;  // Content-Length
  bool chunked_ = false;
  bool rebuild_ = false;  // a header (Expect) must be dropped for httplib
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  std::string head_;  // request line and kept headers, each ending in CRLF
  std::string body_;  // decoded chunked body
  std::size_t chunk_left_ = 0;
  std::size_t trailer_bytes_ = 0;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace ray_admission::server
