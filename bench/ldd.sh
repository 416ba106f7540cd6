#!/usr/bin/env bash
# bench/ldd.sh: how fast is `fromscratch ldd` against the tools people use for
# the same question, in one run, on one corpus: every ELF file (regular file,
# not a symlink) under /usr/bin /usr/sbin /usr/lib /usr/libexec.
#
#   fromscratch ldd --json FILE...   one call for the whole corpus
#   ldd FILE                         glibc's ldd, once per file
#   lddtree FILE...                  pax-utils, one call (it takes several files)
#   libtree FILE                     once per file
#   libtree -vv FILE...              one call, whole closure (as fromscratch)
#   libtree FILE...                  one call, default: does not descend into
#                                    libc, libm, libstdc++... (less work)
#
# A benchmark, not a test: exit codes of the tools (1 for "not found", errors
# on files they cannot read) are ignored. See bench/README.md.
#
# Environment:
#   BENCH_LIMIT=N       only the first N files of the (sorted) corpus
#   BENCH_RUNS=5        timed runs of each one-call command (hyperfine only)
#   BENCH_SLOW_RUNS=1   timed runs of each per-file loop and of lddtree, which
#                       take longest (hyperfine only)
#   BENCH_DIRS="..."    the directories to scan
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

dirs=()
for d in ${BENCH_DIRS:-/usr/bin /usr/sbin /usr/lib /usr/libexec}; do
  [[ -d $d ]] && dirs+=("$d")
done
[[ ${#dirs[@]} -gt 0 ]] || { echo "bench/ldd.sh: no directory to scan" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)

# The corpus, NUL-separated and sorted, cached in $tmp/files. ELF files are
# told by their 4 magic bytes; perl (Debian's perl-base, always installed)
# reads them without a process per file.
echo "finding ELF files under ${dirs[*]}" >&2
{ find "${dirs[@]}" -type f -print0 2>/dev/null || true; } |
  perl -0 -ne 'chomp; open(my $f, "<", $_) or next; my $m = "";
    read($f, $m, 4); print "$_\0" if $m eq "\x7fELF"' |
  sort -z >"$tmp/all"
if [[ -n ${BENCH_LIMIT:-} ]]; then
  head -z -n "$BENCH_LIMIT" "$tmp/all" >"$tmp/files"
else
  mv "$tmp/all" "$tmp/files"
fi
nfiles=$(tr -cd '\0' <"$tmp/files" | wc -c)
[[ $nfiles -gt 0 ]] || { echo "bench/ldd.sh: no ELF files found" >&2; exit 2; }

# One call if the argument list fits in ARG_MAX (with room for the
# environment and the pointers), else as few calls as xargs can make.
argmax=$(getconf ARG_MAX)
need=$(($(wc -c <"$tmp/files") + 8 * nfiles + $(env | wc -c) + 8192))
# The generated commands are run by bash later: their $ must not expand here.
# shellcheck disable=SC2016
if ((need < argmax)); then
  onecall() { printf 'mapfile -d "" f <%q; exec %s "${f[@]}" >/dev/null 2>&1\n' "$tmp/files" "$1"; }
  calls="one call"
else
  max=$(xargs --show-limits </dev/null 2>&1 | awk -F': ' '/actually use/ {print $2}')
  onecall() { printf 'xargs -0 -s %d %s <%q >/dev/null 2>&1 || true\n' "$max" "$1" "$tmp/files"; }
  calls="xargs calls"
fi
# perfile runs a command once per file, in one bash loop (no extra shell per
# file), ignoring exit codes.
# shellcheck disable=SC2016
perfile() { printf 'while IFS= read -r -d "" f; do %s "$f" || true; done <%q >/dev/null 2>&1\n' "$1" "$tmp/files"; }

# lddtree is a Python script that needs python3-pyelftools, which Debian
# installs for /usr/bin/python3: run it with that interpreter, whatever
# python3 comes first in PATH.
lddtree_cmd=""
if lt=$(command -v lddtree); then
  for py in /usr/bin/python3 ""; do
    if $py "$lt" /bin/true >/dev/null 2>&1; then
      lddtree_cmd="${py:+$py }$lt"
      break
    fi
  done
fi

# Untimed check run, which also warms the page cache: fromscratch must report
# every file (exit 1, "something not found", is fine).
set +e
if [[ $calls == "one call" ]]; then
  mapfile -d '' f <"$tmp/files"
  "$tmp/fromscratch" ldd --json "${f[@]}" >"$tmp/out.json" 2>"$tmp/err"
else
  xargs -0 -s "$max" "$tmp/fromscratch" ldd --json <"$tmp/files" >"$tmp/out.json" 2>"$tmp/err"
fi
rc=$?
set -e
check="exit code $rc"
if command -v jq >/dev/null; then
  if stats=$(jq -rs 'add | "\(length) reported, \(map(select(.error)) | length) with an error, \(map(select(any(.libraries[]?; .found == false))) | length) with a library not found"' "$tmp/out.json" 2>/dev/null); then
    check="$stats (exit code $rc)"
    reported=${stats%% *}
    if [[ $reported != "$nfiles" ]]; then
      echo "bench/ldd.sh: warning: fromscratch reported $reported of $nfiles files; stderr:" >&2
      head -n 5 "$tmp/err" >&2
    fi
  else
    echo "bench/ldd.sh: warning: fromscratch did not print valid JSON (exit code $rc); stderr:" >&2
    head -n 5 "$tmp/err" >&2
    check="no valid JSON (exit code $rc)"
  fi
fi

names=() cmds=()
names+=("fromscratch ldd --json ($calls)"); cmds+=("$(onecall "$tmp/fromscratch ldd --json")")
if command -v ldd >/dev/null; then
  names+=("glibc ldd (per file)"); cmds+=("$(perfile ldd)")
else
  echo "skipping glibc ldd: not installed" >&2
fi
if [[ -n $lddtree_cmd ]]; then
  names+=("lddtree (one call)"); cmds+=("$(onecall "$lddtree_cmd")")
else
  echo "skipping lddtree: not installed or not working (apt-get install pax-utils)" >&2
fi
if command -v libtree >/dev/null; then
  names+=("libtree (per file)"); cmds+=("$(perfile libtree)")
  # -vv: the whole closure, libc and its kind included, as fromscratch and
  # ldd give it; plain libtree stops at libc, libstdc++, libm... (kept for
  # reference: less work).
  names+=("libtree -vv (one call)"); cmds+=("$(onecall "libtree -vv")")
  names+=("libtree default (one call)"); cmds+=("$(onecall libtree)")
else
  echo "skipping libtree: not installed (apt-get install libtree)" >&2
fi

secs=()
if command -v hyperfine >/dev/null; then
  timer="hyperfine, mean of ${BENCH_RUNS:-5} runs (${BENCH_SLOW_RUNS:-1} for per-file loops and lddtree)"
  for i in "${!names[@]}"; do
    runs=${BENCH_RUNS:-5} warmup=1
    if [[ ${names[i]} == *"per file"* || ${names[i]} == lddtree* ]]; then
      runs=${BENCH_SLOW_RUNS:-1} warmup=0
    fi
    echo "timing ${names[i]}" >&2
    hyperfine --shell=bash --style=basic --ignore-failure --warmup "$warmup" \
      --runs "$runs" --export-csv "$tmp/h$i.csv" -n "${names[i]}" "${cmds[i]}" >&2
    secs[i]=$(awk -F, 'NR == 2 { print $2 }' "$tmp/h$i.csv")
  done
else
  # bash's own time: millisecond resolution (/usr/bin/time -f %e has 10 ms).
  timer="one run each, bash's time (install hyperfine for repeated runs)"
  TIMEFORMAT=%3R
  for i in "${!names[@]}"; do
    echo "timing ${names[i]}" >&2
    secs[i]=$({ time bash -c "${cmds[i]}" || true; } 2>&1)
  done
fi

echo
echo "corpus: $nfiles ELF files under ${dirs[*]}${BENCH_LIMIT:+ (BENCH_LIMIT=$BENCH_LIMIT)}"
echo "fromscratch check run: $check"
echo "timer: $timer"
echo
printf '%-38s %10s %14s\n' "command" "wall s" "/ fromscratch"
for i in "${!names[@]}"; do
  awk -v n="${names[i]}" -v s="${secs[i]}" -v base="${secs[0]}" \
    'BEGIN { r = base > 0 ? sprintf("%.1fx", s / base) : "n/a"; printf "%-38s %10.3f %14s\n", n, s, r }'
done
