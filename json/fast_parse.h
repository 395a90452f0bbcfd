// A fast JSON parse into the engine's model (ray_admission::Json), for the server's hot path.
//
// nlohmann's own parser takes about 70 µs for an 8 KB AdmissionReview here; simdjson's parse plus a
// direct build of the same DOM takes a fraction of that (docs/benchmarks.md). The rules never know
// which parser ran: they see the same Json either way.
#pragma once

#include "rules/types.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

class FastJsonParser {
 public:
  // Documents nested deeper than `max_depth` are refused (no recursion deeper than that happens,
  // in simdjson or in the build of the DOM).
  explicit FastJsonParser(std::size_t max_depth = 256);
  ~FastJsonParser();
  FastJsonParser(const FastJsonParser&) = delete;
  FastJsonParser& operator=(const FastJsonParser&) = delete;
  FastJsonParser(FastJsonParser&&) noexcept;
  FastJsonParser& operator=(FastJsonParser&&) noexcept;

  // Parses `text` into `out`. Returns false and sets `error` for invalid JSON, a document over
  // the depth limit, or invalid UTF-8 (`out` is then unchanged). Not thread-safe: use one parser
  // per thread.
  //
  // The document's nodes live in the parser's arena (json/arena.h): it is an ordinary Json, except
  // that it must be destroyed on this thread. The parser may be destroyed first.
  // `too_deep`, when given, tells a document over the depth limit from other errors.
  bool parse(std::string_view text, Json& out, std::string& error, bool* too_deep = nullptr);

  // Frees the document that the last parse() built and leaves it null, without walking it: the
  // strings that own heap memory are freed from a list the parse kept, and the arena is reset.
  // For a document that was only read since: if it, or anything in the arena, changed in a way
  // the parser can see (a node freed, a new parse), this falls back to release(). One thing it
  // cannot see: a part moved out of the document would be left pointing into reused memory
  // (AddressSanitizer reports its use). The server's handler reads its document and drops it.
  void discard(Json& doc);

  // Leaves the members these JSON Pointers name out of every document it parses, as if they were
  // not in the text (they are still checked to be valid JSON). For what no reader of the
  // documents looks at: the server skips managedFields and status. Pointers name object members
  // only (a token never matches an array index); at most 32. False, with `error`, for a pointer
  // that is not one.
  bool skip(const std::vector<std::string>& pointers, std::string& error);

  // Blocks of the parser's arena still held by documents, and the bytes it holds (for tests and
  // benchmarks).
  std::size_t arena_blocks() const;
  std::size_t arena_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Frees a document and leaves it null, with about 40 % fewer instructions than Json's own
// destructor, which moves every nested value onto a heap-allocated stack first (docs/benchmarks.md).
// Nesting deeper than `max_depth` is left to that destructor: no deeper recursion happens here.
void release(Json& doc, std::size_t max_depth = 256);

}  // namespace ray_admission
