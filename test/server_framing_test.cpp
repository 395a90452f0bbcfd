// Request framing (server/framing.h): where a request ends, byte by byte, and the refusals that
// must come before the body is held.
#include "server/framing.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using ray_admission::server::FramingLimits;
using ray_admission::server::RequestFramer;
using Status = RequestFramer::Status;

namespace {

// Feeds `raw` one piece at a time, as a slow client would.
Status feed(RequestFramer& f, std::string& buf, std::string_view raw, std::size_t piece) {
  Status s = Status::NeedMore;
  for (std::size_t i = 0; i < raw.size() && s == Status::NeedMore; i += piece) {
    buf.append(raw.substr(i, piece));
    s = f.advance(buf);
  }
  return s;
}

}  // namespace

TEST_CASE("framing: a Content-Length request, whole or byte by byte, with a pipelined successor") {
  const std::string req = "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, req.size()}) {
    RequestFramer f(FramingLimits{});
    std::string buf;
    REQUIRE(feed(f, buf, req, piece) == Status::Complete);
    buf += "GET /healthz HTTP/1.1\r\n\r\n";
    std::size_t body_size = 99;
    CHECK(f.take(buf, &body_size) == req);  // passed on untouched
    CHECK(body_size == 5);
    CHECK(buf == "GET /healthz HTTP/1.1\r\n\r\n");
    CHECK(f.advance(buf) == Status::Complete);
    CHECK(f.take(buf, &body_size) == "GET /healthz HTTP/1.1\r\n\r\n");
    CHECK(body_size == 0);
    CHECK(buf.empty());
  }
}

TEST_CASE("framing: a chunked body is decoded as it arrives and passed on with a length") {
  const std::string req =
      "POST /mutate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
      "3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{5}, req.size()}) {
    RequestFramer f(FramingLimits{});
    std::string buf;
    REQUIRE(feed(f, buf, req, piece) == Status::Complete);
    std::size_t body_size = 0;
    CHECK(f.take(buf, &body_size) ==
          "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    CHECK(body_size == 7);
  }
}

TEST_CASE("framing: an oversized body is refused before it arrives") {
  FramingLimits lim;
  lim.max_body = 1000;
  {
    RequestFramer f(lim);
    std::string buf = "POST /validate HTTP/1.1\r\nContent-Length: 1001\r\n\r\n";
    CHECK(f.advance(buf) == Status::Error);
    CHECK(f.error_status() == 413);
  }
  {
    // Chunked: refused at the chunk header that would cross the limit, with its data not sent.
    RequestFramer f(lim);
    std::string buf = "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(f.advance(buf) == Status::NeedMore);
    buf += "1f4\r\n" + std::string(500, 'a') + "\r\n";
    CHECK(f.advance(buf) == Status::NeedMore);
    CHECK(buf.empty());  // decoded chunks are not kept in the receive buffer
    buf += "1f5\r\n";
    CHECK(f.advance(buf) == Status::Error);
    CHECK(f.error_status() == 413);
  }
  {
    // Many tiny chunks: the decoded size counts, not the number of chunks.
    RequestFramer f(lim);
    std::string buf = "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    Status s = f.advance(buf);
    for (int i = 0; i < 1001 && s == Status::NeedMore; ++i) {
      buf += "1\r\nx\r\n";
      s = f.advance(buf);
    }
    CHECK(s == Status::Error);
    CHECK(f.error_status() == 413);
  }
}

TEST_CASE("framing: malformed requests") {
  struct Case {
    std::string raw;
    int status;
  };
  FramingLimits lim;
  lim.max_header = 200;
  const std::vector<Case> cases = {
      {"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400},
      {"POST / HTTP/1.1\r\n folded\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nbad header\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nExpect: something\r\n\r\n", 417},
      {"POST / HTTP/1.1\r\nX: " + std::string(300, 'x'), 431},
      {"\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    INFO(c.raw.substr(0, 60));
    RequestFramer f(lim);
    std::string buf = c.raw;
    CHECK(f.advance(buf) == Status::Error);
    CHECK(f.error_status() == c.status);
    CHECK_FALSE(f.error_message().empty());
  }
}

TEST_CASE("framing: Expect: 100-continue is answered once and dropped before httplib") {
  RequestFramer f(FramingLimits{});
  std::string buf = "POST /validate HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  CHECK(f.advance(buf) == Status::NeedMore);
  CHECK(f.wants_continue());
  f.continue_sent();
  CHECK_FALSE(f.wants_continue());
  buf += "{}";
  REQUIRE(f.advance(buf) == Status::Complete);
  std::size_t body_size = 0;
  CHECK(f.take(buf, &body_size) == "POST /validate HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  CHECK(body_size == 2);
}

TEST_CASE("framing: Accept-Encoding is neutralised in place, so answers are never compressed") {
  RequestFramer f(FramingLimits{});
  std::string buf = "POST /validate HTTP/1.1\r\naccept-encoding: gzip, br\r\nContent-Length: 2\r\n\r\n{}";
  REQUIRE(f.advance(buf) == Status::Complete);
  CHECK(f.take(buf) == "POST /validate HTTP/1.1\r\nX-Skip-Encoding: gzip, br\r\nContent-Length: 2\r\n\r\n{}");
}

TEST_CASE("framing: a plain POST is recognised for the direct path, anything unusual is left to httplib") {
  using ray_admission::server::parse_plain_post;
  using ray_admission::server::PlainPost;
  PlainPost p;
  REQUIRE(
      parse_plain_post("POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\ncontent-type:  application/json \r\n"
                       "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n",
                       p));
  CHECK(p.path == "/validate");
  CHECK(p.content_type == "application/json");  // the first one, without the blanks around it
  CHECK_FALSE(p.close);

  for (std::string_view connection : {"close", "Close", "keep-alive, CLOSE", " upgrade ,close "}) {
    PlainPost q;
    std::string head = "POST /mutate HTTP/1.1\r\nConnection: " + std::string(connection) + "\r\n\r\n";
    REQUIRE(parse_plain_post(head, q));
    CHECK_MESSAGE(q.close, connection);
    CHECK(q.content_type.empty());
  }
  PlainPost ka;
  REQUIRE(parse_plain_post("POST /mutate HTTP/1.1\r\nConnection: keep-alive, closed\r\n\r\n", ka));
  CHECK_FALSE(ka.close);

  for (std::string_view head : {
           "GET /validate HTTP/1.1\r\nHost: x\r\n\r\n",              // not a POST
           "POST /validate HTTP/1.0\r\nHost: x\r\n\r\n",             // HTTP/1.0 keeps other rules
           "POST /valid%61te HTTP/1.1\r\nHost: x\r\n\r\n",           // an escape to decode
           "POST validate HTTP/1.1\r\nHost: x\r\n\r\n",              // not an origin-form target
           "POST http://x/validate HTTP/1.1\r\nHost: x\r\n\r\n",     // absolute form
           "POST /validate  HTTP/1.1\r\nHost: x\r\n\r\n",            // two spaces
           "POST /validate HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",  // an obsolete folded line
           "POST /validate HTTP/1.1\r\nNo colon here\r\n\r\n", "POST /validate HTTP/1.1\r\n: empty name\r\n\r\n",
           "POST /validate HTTP/1.1\r\nBad Name: x\r\n\r\n",
           "POST /validate HTTP/1.1\r\nHost: x\r\n",  // no blank line
       }) {
    PlainPost q;
    CHECK_FALSE_MESSAGE(parse_plain_post(head, q), head);
  }
}
