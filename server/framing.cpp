#include "framing.h"

#include <algorithm>

namespace ray_admission::server {

namespace {

constexpr std::size_t kMaxChunkLine = 1024;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A decimal Content-Length; false when it is not one or does not fit.
bool parse_length(std::string_view s, std::size_t& out) {
  if (s.empty() || s.size() > 18) return false;
  std::size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  out = v;
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

RequestFramer::Status RequestFramer::fail(int status, std::string message) {
  phase_ = Phase::Error;
  error_status_ = status;
  error_message_ = std::move(message);
  return Status::Error;
}

void RequestFramer::reset() {
  phase_ = Phase::Head;
  scanned_ = head_end_ = body_len_ = chunk_left_ = trailer_bytes_ = 0;
  chunked_ = rebuild_ = expect_continue_ = continue_sent_ = false;
  head_.clear();
  body_.clear();
}

RequestFramer::Status RequestFramer::advance(std::string& buf) {
  switch (phase_) {
    case Phase::Head: {
      std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
      std::size_t end = buf.find("\r\n\r\n", from);
      if (end == std::string::npos) {
        scanned_ = buf.size();
        if (buf.size() > limits_.max_header) {
          return fail(431, "the request line and headers exceed " + std::to_string(limits_.max_header) + " bytes");
        }
        return Status::NeedMore;
      }
      if (end + 4 > limits_.max_header) {
        return fail(431, "the request line and headers exceed " + std::to_string(limits_.max_header) + " bytes");
      }
      Status s = parse_head(buf, end + 4);
      if (s == Status::Error) return s;
      return advance(buf);
    }
    case Phase::Length:
      return buf.size() >= head_end_ + body_len_ ? (phase_ = Phase::Done, Status::Complete) : Status::NeedMore;
    case Phase::ChunkSize:
    case Phase::ChunkData:
    case Phase::ChunkEnd:
    case Phase::Trailer: return advance_chunked(buf);
    case Phase::Done: return Status::Complete;
    case Phase::Error: return Status::Error;
  }
  return Status::Error;
}

RequestFramer::Status RequestFramer::parse_head(std::string& buf, std::size_t head_end) {
  std::string_view block(buf.data(), head_end - 2);  // keeps the CRLF of the last header line
  std::size_t eol = block.find("\r\n");
  std::string_view request_line = block.substr(0, eol);
  if (request_line.empty()) return fail(400, "the request line is empty");
  head_.assign(request_line);
  head_ += "\r\n";

  bool has_length = false, chunked = false, has_te = false;
  std::size_t length = 0;
  std::size_t pos = eol + 2;
  while (pos < block.size()) {
    std::size_t next = block.find("\r\n", pos);
    std::string_view line = block.substr(pos, next - pos);
    pos = next + 2;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "folded header lines are not allowed");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "a header line has no name");
    std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return fail(400, "a header name is not a token");
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      std::size_t v = 0;
      if (!parse_length(value, v)) return fail(400, "Content-Length is not a number");
      if (has_length && v != length) return fail(400, "two different Content-Length headers");
      has_length = true;
      length = v;
      continue;
    }
    if (iequals(name, "Transfer-Encoding")) {
      if (has_te || !iequals(value, "chunked")) {
        return fail(501, "only Transfer-Encoding: chunked is supported");
      }
      has_te = chunked = true;
      continue;
    }
    if (iequals(name, "Accept-Encoding")) {
      // Answers are a few hundred bytes: compressing them (httplib would, with gzip or brotli,
      // whenever asked, and Go's HTTP client always asks) costs more than it saves. The header is
      // renamed in place, so that a request is not copied for it.
      buf.replace(static_cast<std::size_t>(name.data() - buf.data()), name.size(), "X-Skip-Encoding");
      continue;
    }
    if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) return fail(417, "only Expect: 100-continue is supported");
      expect_continue_ = true;
      rebuild_ = true;
      continue;
    }
    head_ += line;
    head_ += "\r\n";
  }
  if (has_length && chunked) return fail(400, "both Content-Length and Transfer-Encoding are set");
  if (has_length && length > limits_.max_body) {
    return fail(413, "the body of " + std::to_string(length) + " bytes exceeds the limit of " +
                         std::to_string(limits_.max_body) + " bytes");
  }
  head_end_ = head_end;
  if (chunked) {
    chunked_ = true;
    buf.erase(0, head_end);
    phase_ = Phase::ChunkSize;
  } else {
    body_len_ = length;
    phase_ = Phase::Length;
    if (body_len_ == 0) expect_continue_ = false;
  }
  return Status::NeedMore;
}

RequestFramer::Status RequestFramer::advance_chunked(std::string& buf) {
  std::size_t pos = 0;
  Status status = Status::NeedMore;
  while (status == Status::NeedMore) {
    if (phase_ == Phase::ChunkSize || phase_ == Phase::Trailer) {
      std::size_t eol = buf.find("\r\n", pos);
      if (eol == std::string::npos) {
        if (buf.size() - pos > kMaxChunkLine) return fail(400, "a chunk header line is too long");
        break;
      }
      std::string_view line(buf.data() + pos, eol - pos);
      pos = eol + 2;
      if (phase_ == Phase::Trailer) {
        trailer_bytes_ += line.size() + 2;
        if (trailer_bytes_ > limits_.max_header) return fail(431, "the chunked trailer is too long");
        if (line.empty()) {
          phase_ = Phase::Done;
          status = Status::Complete;
        }
        continue;
      }
      std::string_view digits = trim(line.substr(0, line.find(';')));
      if (digits.empty() || digits.size() > 15) return fail(400, "a chunk size is not a hexadecimal number");
      std::size_t size = 0;
      for (char c : digits) {
        int d = hex_digit(c);
        if (d < 0) return fail(400, "a chunk size is not a hexadecimal number");
        size = size * 16 + static_cast<std::size_t>(d);
      }
      if (size > limits_.max_body - body_.size()) {
        return fail(413, "the chunked body exceeds the limit of " + std::to_string(limits_.max_body) + " bytes");
      }
      if (size == 0) {
        phase_ = Phase::Trailer;
      } else {
        chunk_left_ = size;
        phase_ = Phase::ChunkData;
      }
    } else if (phase_ == Phase::ChunkData) {
      std::size_t n = std::min(chunk_left_, buf.size() - pos);
      if (n == 0) break;
      body_.append(buf, pos, n);
      pos += n;
      chunk_left_ -= n;
      if (chunk_left_ == 0) phase_ = Phase::ChunkEnd;
    } else {  // ChunkEnd: the CRLF after a chunk's data
      if (buf.size() - pos < 2) break;
      if (buf.compare(pos, 2, "\r\n") != 0) return fail(400, "a chunk is longer than its size says");
      pos += 2;
      phase_ = Phase::ChunkSize;
    }
  }
  buf.erase(0, pos);  // decoded: the raw chunks are not kept
  return status;
}

std::string RequestFramer::take(std::string& buf, std::size_t* body_size) {
  std::string out;
  if (body_size != nullptr) *body_size = 0;
  if (phase_ != Phase::Done) return out;
  if (body_size != nullptr) *body_size = chunked_ ? body_.size() : body_len_;
  if (chunked_) {
    // The chunks were decoded (and removed from buf) as they came.
    out.reserve(head_.size() + body_.size() + 40);
    out += head_;
    out += "Content-Length: " + std::to_string(body_.size()) + "\r\n\r\n";
    out += body_;
  } else if (rebuild_) {
    out.reserve(head_.size() + body_len_ + 40);
    out += head_;
    out += "Content-Length: " + std::to_string(body_len_) + "\r\n\r\n";
    out.append(buf, head_end_, body_len_);
    buf.erase(0, head_end_ + body_len_);
  } else if (buf.size() == head_end_ + body_len_) {
    out = std::move(buf);
    buf.clear();
  } else {
    out = buf.substr(0, head_end_ + body_len_);
    buf.erase(0, head_end_ + body_len_);
  }
  reset();
  return out;
}

bool parse_plain_post(std::string_view head, PlainPost& out) {
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return false;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  constexpr std::string_view kMethod = "POST ", kVersion = " HTTP/1.1";
  if (line.size() <= kMethod.size() + kVersion.size() || line.substr(0, kMethod.size()) != kMethod ||
      line.substr(line.size() - kVersion.size()) != kVersion) {
    return false;
  }
  std::string_view target = line.substr(kMethod.size(), line.size() - kMethod.size() - kVersion.size());
  if (target.front() != '/') return false;
  for (char ch : target) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7f || ch == '%' || ch == '#') return false;
  }
  out.path = target.substr(0, target.find('?'));
  bool have_type = false;
  for (std::size_t pos = eol + 2; pos + 2 < head.size();) {
    std::size_t end = head.find("\r\n", pos);
    std::string_view header = head.substr(pos, end - pos);
    pos = end + 2;
    std::size_t colon = header.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    std::string_view name = header.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return false;
    std::string_view value = trim(header.substr(colon + 1));
    if (!have_type && iequals(name, "Content-Type")) {
      out.content_type = value;
      have_type = true;
    } else if (iequals(name, "Connection")) {
      // A list of options: `close` anywhere in it.
      for (std::size_t start = 0; start <= value.size();) {
        std::size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        if (iequals(trim(value.substr(start, comma - start)), "close")) out.close = true;
        start = comma + 1;
      }
    }
  }
  return true;
}

}  // namespace ray_admission::server
