#!/usr/bin/env bash
# bench/trace.sh: the tracer's overhead on real jobs, against the same run
# untraced and against strace:
#
#   python3    /usr/bin/python3 importing much of the standard library
#   gcc        gcc -O2 of a small C file, linked (cc1, as, collect2, ld)
#
# each run five ways: untraced, under `fromscratch trace --tracer ptrace -o
# FILE` (trace), under `fromscratch trace --tracer ebpf -o FILE` (ebpf: no
# stops; root), under `strace -f -e trace=file -o /dev/null` (strace stops
# on every system call its filter cannot skip, and formats each), and under
# bench/trace-floor.c, the least a ptrace tracer with the same seccomp
# filter does per stop (the floor of the ptrace mechanism on this machine).
# Ratios: trace/untraced and ebpf/untraced (goal <= 1.5), strace/trace
# (goal > 1), floor/untraced, trace/floor and ebpf/floor. A benchmark, not a
# test. See bench/README.md.
#
# Environment:
#   BENCH_RUNS=10   timed runs of each command (hyperfine, after 2 warm-ups)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${BENCH_RUNS:-10}
for t in hyperfine strace gcc jq /usr/bin/python3; do
  command -v "$t" >/dev/null || { echo "bench/trace.sh: $t is missing (apt-get install hyperfine strace gcc jq python3)" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-trace.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)
fs="$tmp/fromscratch"
gcc -O2 -o "$tmp/trace-floor" bench/trace-floor.c
floor="$tmp/trace-floor"

cat >"$tmp/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
int main(int argc, char **argv) {
  double s = 0;
  for (int i = 1; i < argc; i++) s += sqrt(atof(argv[i])) + strlen(argv[i]);
  printf("%f\n", s);
  return 0;
}
C
mods="json, email.parser, email.mime.text, http.client, urllib.request, asyncio, xml.dom.minidom, xml.etree.ElementTree, sqlite3, decimal, fractions, statistics, csv, logging.handlers, argparse, subprocess, tempfile, shutil, tarfile, zipfile, gzip, bz2, lzma, hashlib, hmac, ssl, socket, selectors, unittest, dataclasses, typing, pathlib, datetime, zoneinfo, uuid, base64, pickle, copy, pprint, textwrap, difflib, heapq, bisect, itertools, functools, contextlib, concurrent.futures, multiprocessing, queue, threading, ctypes, struct, array, codecs, locale, gettext, string, re, inspect, ast, dis, tokenize, sysconfig, platform, getpass, glob, fnmatch, configparser, plistlib, html.parser, mimetypes, smtplib, imaplib, ftplib, ipaddress, secrets, random"
py=(/usr/bin/python3 -c "import $mods")
cc=(gcc -O2 -o "$tmp/hello" "$tmp/hello.c" -lm)
"${py[@]}" # fails here if a module is missing

q() { printf '%q ' "$@"; }
printf '%-8s %-5s %10s %10s %10s %10s %10s %14s %14s %14s %14s %12s %12s\n' job time untraced_s trace_s ebpf_s strace_s floor_s trace/untraced ebpf/untraced strace/trace floor/untraced trace/floor ebpf/floor
for job in python3 gcc; do
  if [[ $job == python3 ]]; then cmd=$(q "${py[@]}"); else cmd=$(q "${cc[@]}"); fi
  hyperfine -N -w 2 -r "$runs" --export-json "$tmp/$job.json" \
    -n untraced "$cmd" \
    -n trace "$fs trace --tracer ptrace -o $tmp/$job.files -- $cmd" \
    -n ebpf "$fs trace --tracer ebpf -o $tmp/$job.ebpf.files -- $cmd" \
    -n strace "strace -f -e trace=file -o /dev/null $cmd" \
    -n floor "$floor $cmd" >&2
  for kind in wall cpu; do
    jq -r --arg job "$job" --arg kind "$kind" '[.results[] | {(.command): (if $kind == "wall" then .mean else .user + .system end)}] | add |
      "\($job) \($kind) \(.untraced) \(.trace) \(.ebpf) \(.strace) \(.floor) \(.trace / .untraced) \(.ebpf / .untraced) \(.strace / .trace) \(.floor / .untraced) \(.trace / .floor) \(.ebpf / .floor)"' "$tmp/$job.json" |
      awk '{printf "%-8s %-5s %10.3f %10.3f %10.3f %10.3f %10.3f %14.2f %14.2f %14.2f %14.2f %12.2f %12.2f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13}'
  done
  echo "  ($job: $(grep -vc '^#' "$tmp/$job.files") paths found, $(grep -c '^# not found' "$tmp/$job.files") not found; ebpf: $(grep -vc '^#' "$tmp/$job.ebpf.files") found, $(grep -c '^# not found' "$tmp/$job.ebpf.files") not found)"
done
echo "(means of $runs runs on $(nproc) cores: wall seconds, and cpu = user + system seconds of the"
echo " whole process tree, tracer included, which a loaded machine disturbs less)"
