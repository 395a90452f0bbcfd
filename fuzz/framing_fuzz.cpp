// libFuzzer target: request framing (server/framing.h), the code that sees every byte a client
// sends before anything else does. Input: one byte for the size of the pieces the bytes arrive
// in, then the bytes. Small limits make the refusals reachable.
#include "server/framing.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using ray_admission::server::FramingLimits;
using ray_admission::server::RequestFramer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = static_cast<std::size_t>(data[0] % 64) + 1;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;

  FramingLimits limits;
  limits.max_header = 512;
  limits.max_body = 2048;
  RequestFramer framer(limits);
  std::string buf;
  std::size_t received = 0;
  for (std::size_t pos = 0; pos < n; pos += piece) {
    buf.append(bytes + pos, std::min(piece, n - pos));
    received += std::min(piece, n - pos);
    for (;;) {
      auto status = framer.advance(buf);
      if (status == RequestFramer::Status::Error) {
        int code = framer.error_status();
        if (code != 400 && code != 413 && code != 417 && code != 431 && code != 501) std::abort();
        return 0;
      }
      if (status != RequestFramer::Status::Complete) break;
      std::size_t body_size = 0;
      std::string request = framer.take(buf, &body_size);
      // Never more than the limits allow (plus the Content-Length header it may add).
      if (request.size() > limits.max_header + limits.max_body + 64) std::abort();
      std::size_t head_end = request.find("\r\n\r\n");
      if (head_end == std::string::npos) std::abort();
      // The body the workers read in place is the tail after the header block.
      if (body_size > limits.max_body || head_end + 4 + body_size != request.size()) std::abort();
      // The direct path's reading of the same head: what it returns lies inside the head, and
      // the path is the start of the target.
      std::string_view head(request.data(), head_end + 4);
      ray_admission::server::PlainPost post;
      if (ray_admission::server::parse_plain_post(head, post)) {
        auto inside = [&](std::string_view v) {
          return v.empty() || (v.data() >= head.data() && v.data() + v.size() <= head.data() + head.size());
        };
        if (!inside(post.path) || !inside(post.content_type) || post.path.empty() || post.path[0] != '/' ||
            head.substr(0, 5 + post.path.size()) != "POST " + std::string(post.path)) {
          std::abort();
        }
      }
    }
    // The receive buffer never holds much more than one request's worth.
    if (buf.size() > limits.max_header + limits.max_body + piece) std::abort();
  }
  (void)received;
  return 0;
}
