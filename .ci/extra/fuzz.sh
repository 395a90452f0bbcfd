#!/usr/bin/env bash
# CI: builds the libFuzzer targets on the server's request handling with clang (ASan + UBSan, every
# library instrumented for coverage) and runs each briefly on its checked-in seed corpus.
# A crash, a sanitizer report or a broken invariant fails the run; the reproducer is left in
# build-fuzz/artifacts/. FUZZ_SECONDS (default 30) is the time per target.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-30}"
dir=build-fuzz
cmake -S . -B "$dir" -DRAY_ADMISSION_FUZZ=ON -DRAY_ADMISSION_TESTS=OFF -DRAY_ADMISSION_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target admission_fuzz framing_fuzz
mkdir -p "$dir/artifacts"
for target in admission_fuzz framing_fuzz; do
  name="${target%_fuzz}"
  work="$dir/corpus-$name"  # new inputs go here; the checked-in seeds stay as they are
  mkdir -p "$work"
  dict=()
  [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
  echo "== $target: ${seconds}s on fuzz/corpus/$name"
  "$dir/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/$name-" "${dict[@]}" "$work" "fuzz/corpus/$name"
done
