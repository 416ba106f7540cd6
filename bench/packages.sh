#!/usr/bin/env bash
# bench/packages.sh: how big are the images of real jobs made three ways,
# each checked to do its job in Docker as it does on the host:
#
#   packages   fromscratch build --packages PROGRAM (file: --package file)
#   traced     fromscratch build --trace ARGS PROGRAM
#   slim       a debian:12-slim-like image with the program's package
#              (bench/debian-slim.sh: debootstrap --variant=minbase bookworm,
#              slimmed, apt-get install --no-install-recommends PACKAGE)
#
# Jobs: iconv to latin1, ImageMagick convert writing a PPM, tclsh running a
# script, file identifying an ELF file. Sizes are the engine's (`docker image
# inspect` .Size, uncompressed layers), in MB of 10^6 bytes. A benchmark, not
# a test (TestPackagesSizes checks the same ordering). BENCH_JOBS="iconv file"
# runs only those jobs. Root only (debootstrap
# and chroot); needs docker (an engine) and debootstrap; the first run makes
# the minbase root (about 6 minutes) in /var/cache/fromscratch, the cache
# the tests use. See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=/var/cache/fromscratch
base=$cache/amd64-bookworm-minbase
mirror=http://deb.debian.org/debian
# The same command line (ROOT for the target) as minbaseDebootstrapArgs in
# cmd/fromscratch/packages_test.go: the marker makes the cache valid for both.
cmdline="debootstrap --variant=minbase bookworm ROOT $mirror"

for t in docker debootstrap jq sha256sum; do
  command -v "$t" >/dev/null || { echo "bench/packages.sh: $t is missing" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench/packages.sh: debootstrap and chroot need root" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "bench/packages.sh: no Docker engine answers" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-packages.XXXXXX")
tags=()
trap 'rm -rf "$tmp"; [ ${#tags[@]} -eq 0 ] || docker rmi -f "${tags[@]}" >/dev/null 2>&1 || true' EXIT

if [ "$(cat "$base/.fromscratch-debootstrap" 2>/dev/null)" != "$cmdline" ]; then
  echo "making $base: $cmdline (a few minutes)" >&2
  exec 9>"$base.lock"
  flock 9
  new=$(mktemp -d "$base.tmp-XXXXXX")
  chmod 755 "$new"
  debootstrap --variant=minbase bookworm "$new" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$new"; exit 1; }
  echo "$cmdline" >"$new/.fromscratch-debootstrap"
  rm -rf "$base"
  mv "$new" "$base"
  exec 9>&-
fi

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch
fs=$tmp/fromscratch

# name|program|build flags for the package route|trace arguments (JSON)|
# Debian packages of the slim image|arguments of the job|standard input
# (printf %b; @FILE: the host's FILE, the same bytes for every image)
jobs=(
  'iconv|/usr/bin/iconv|--packages|["-f","UTF-8","-t","LATIN1"]||-f UTF-8 -t LATIN1|h\303\251llo w\303\266rld\n'
  'convert|/usr/bin/convert-im6.q16|--packages|["-size","2x2","xc:red","-depth","8","ppm:-"]|imagemagick-6.q16|-size 2x2 xc:red -depth 8 ppm:-|'
  'tclsh|/usr/bin/tclsh8.6|--packages|[]|tcl8.6||puts [string toupper [info patchlevel]]\nputs [clock format 0 -gmt 1 -format %Y-%m-%dT%H]\n'
  'file|/usr/bin/file|--package file|["-b","-"]|file|-b -|@/usr/bin/file'
)

size() { docker image inspect -f '{{.Size}}' "$1"; }
input() { if [[ $stdin == @* ]]; then cat "${stdin#@}"; else printf "%b" "$stdin"; fi; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
# check NAME TAG ENTRY...: the job's output in the image is the host's.
check() {
  local name=$1 tag=$2
  shift 2
  local got
  got=$(input | docker run --rm -i "$tag" "$@" $args | sha256sum)
  if [ "$got" != "$want" ]; then
    echo "bench/packages.sh: $name in $tag does not print what the host prints" >&2
    fail=1
  fi
}

fail=0
printf '%-8s %11s %9s %9s %10s %10s\n' job packages_MB traced_MB slim_MB slim/pkgs pkgs/traced
for j in "${jobs[@]}"; do
  IFS='|' read -r name prog pkgflags trace debs args stdin <<<"$j"
  [ -z "${BENCH_JOBS:-}" ] || [[ " $BENCH_JOBS " == *" $name "* ]] || continue
  [ -x "$prog" ] || { echo "bench/packages.sh: $prog missing (apt-get install ...)" >&2; fail=1; continue; }
  want=$(input | "$prog" $args | sha256sum)
  p=fromscratch-pkgsize-bench-$name:packages t=fromscratch-pkgsize-bench-$name:traced s=fromscratch-pkgsize-bench-$name:slim
  tags+=("$p" "$t" "$s")
  # shellcheck disable=SC2086 # flags are words
  "$fs" build -o "$tmp/p.tar" -t "$p" $pkgflags "$prog" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
  input | "$fs" build -o "$tmp/t.tar" -t "$t" --trace "$trace" "$prog" >/dev/null 2>"$tmp/log" ||
    { cat "$tmp/log" >&2; exit 1; }
  docker load -q -i "$tmp/p.tar" >/dev/null
  docker load -q -i "$tmp/t.tar" >/dev/null
  # shellcheck disable=SC2086 # packages are words
  bench/debian-slim.sh "$base" "$s" $debs
  check "$name" "$p"
  check "$name" "$t"
  check "$name" "$s" "$prog"
  ps=$(size "$p") ts=$(size "$t") ss=$(size "$s")
  printf '%-8s %11s %9s %9s %10s %10s\n' "$name" "$(mb "$ps")" "$(mb "$ts")" "$(mb "$ss")" "$(ratio "$ss" "$ps")" "$(ratio "$ps" "$ts")"
done
exit $fail
