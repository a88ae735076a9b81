#!/usr/bin/env bash
# Installs every Debian package that Cairn's build, tests and the real S3 clients
# used by the tests need. Idempotent: when everything is present it only runs
# dpkg-query once and returns in well under a second, so scripts that build
# (scripts/cluster.sh, scripts/test.sh) run it every time rather than guess
# what is missing.
set -euo pipefail

PACKAGES=(
  # toolchain (clang: the fuzzing build, scripts/fuzz.sh; it ships libFuzzer)
  build-essential cmake pkg-config clang-format clang
  # libraries (see docs/dependencies.md for why each one is here)
  libisal-dev libmicrohttpd-dev libleveldb-dev libsnappy-dev check libsubunit-dev
  libcurl4-openssl-dev libssl-dev libxml2-dev libjansson-dev protobuf-c-compiler libprotobuf-c-dev
  # test tooling
  curl python3 iproute2 util-linux e2fsprogs procps psmisc
  # the mount test copies trees with rsync and clones a repository with git
  rsync git
  # real S3 clients driven by the integration tests
  awscli s3cmd rclone s3fs fuse3 python3-boto3 python3-botocore python3-awscrt
  # the gateway status page is checked in headless Chromium
  chromium fonts-dejavu-core
)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: no dpkg-query (not Debian or Ubuntu): install your system's" \
       "equivalents of: ${PACKAGES[*]}" >&2
  exit 0
fi
# One dpkg-query for all (a package it does not know is simply not listed).
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)"
missing=()
for p in "${PACKAGES[@]}"; do
  grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
