# ray-admission image: multi-stage, Debian bookworm.
#
#   docker build -t ray-admission:0.1.0 .
#
# The build stage installs its packages with scripts/install-deps.sh (the README's script, with
# --build-only) and builds the binary. The runtime stage starts from nothing (scratch) and holds
# only the binary, the dynamic loader and the shared libraries `ldd` names: no shell, no package
# manager, no other file. It runs as a non-root user. test/deploy_dockerfile_test.py runs the
# collect-rootfs step below on a locally built binary and runs the result in a chroot.

FROM debian:bookworm AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAY_ADMISSION_TESTS=OFF -DRAY_ADMISSION_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target ray-admission \
 && strip --strip-unneeded /build/ray-admission \
 && /build/ray-admission --version

# collect-rootfs: the binary, then every file `ldd` names (shared libraries and the loader),
# copied with their paths under $root.
RUN set -eu; bin=/build/ray-admission; root=/rootfs; \
    mkdir -p "$root/usr/local/bin"; \
    cp "$bin" "$root/usr/local/bin/ray-admission"; \
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$root"; done

FROM scratch
COPY --from=build /rootfs/ /
# 65532: a non-root user with no home and no login; the chart runs the pod as the same user.
USER 65532:65532
EXPOSE 8443
# glibc keeps up to 32 freed blocks of each size per thread instead of 7: a review allocates and
# frees a few hundred small blocks (the rules' findings, the patch, the answer), and past 7 of a
# size each one went through malloc's slower bins. 3 % fewer instructions per /validate request,
# 5 % per /mutate, and /mutate's p99 under load lower, for no change in memory (docs/benchmarks.md,
# section 31). Set GLIBC_TUNABLES in the pod to override it.
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=32
ENTRYPOINT ["/usr/local/bin/ray-admission"]
CMD ["serve"]
