#!/usr/bin/env bash
# bench/inspect.sh: `fromscratch inspect` of an image in the Docker engine
# and of its `docker save` archive, against `docker save` itself (to
# /dev/null, and piped into `tar -t`) and dive (`dive --ci`), on the same
# image, BENCH_RUNS rounds. See bench/README.md. Not a test.
#
# The image is FROM scratch: busybox (busybox-static) in one layer, then
# BENCH_LAYERS COPY layers of about BENCH_MB MB each of real files: the
# regular files of BENCH_SRC (/usr/lib) in path order (ELF libraries,
# Python modules, data...), hard-linked into the build context.
#
# Each command is timed for its wall time and its CPU time: user + system
# of the command and its children, plus the CPU dockerd spent meanwhile
# (from /proc/PID/stat of the local engine; the engine's work is most of a
# save). The ratios are per round, then the median of the rounds.
#
# Environment:
#   BENCH_LAYERS=4    COPY layers on top of the busybox one
#   BENCH_MB=90       MB of files per COPY layer
#   BENCH_SRC=/usr/lib  where the files come from
#   BENCH_RUNS=3      rounds
#   BASELINE=PATH     another fromscratch (an older build) timed on the
#                     engine's image too, in the same rounds
#   DIVE=PATH         the dive to run (default: dive in PATH; Debian has no
#                     dive package, so without one its rows are skipped)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

nlayers=${BENCH_LAYERS:-4}
mb=${BENCH_MB:-90}
src=${BENCH_SRC:-/usr/lib}
runs=${BENCH_RUNS:-3}
tag=fromscratch-bench/inspect:$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-inspect.XXXXXX")
cleanup() {
	docker rmi -f "$tag" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

[[ -x /bin/busybox ]] || { echo "bench/inspect.sh: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "bench/inspect.sh: no Docker engine answers" >&2; exit 2; }
dive=${DIVE:-$(command -v dive || true)}
dpid=$(cat /var/run/docker.pid 2>/dev/null || true)
if [[ -z $dpid || ! -r /proc/$dpid/stat || -n ${DOCKER_HOST:-} ]]; then
	echo "bench/inspect.sh: no local dockerd to count the CPU of: the CPU columns are the clients' only" >&2
	dpid=
fi
tck=$(getconf CLK_TCK)

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)
fs="$tmp/fromscratch"

echo "docker build: busybox and $nlayers layers of about $mb MB of $src's files" >&2
mkdir -p "$tmp/ctx"
cp /bin/busybox "$tmp/ctx/busybox"
{
	echo "FROM scratch"
	echo "COPY busybox /bin/busybox"
	for ((l = 1; l <= nlayers; l++)); do
		echo "COPY l$l /"
	done
	echo 'ENTRYPOINT ["/bin/busybox"]'
} >"$tmp/ctx/Dockerfile"
# Files in path order, mb MB a layer; hard links when the context is on
# the same filesystem, copies otherwise.
find "$src" -type f -size +0 -printf '%s\t%p\n' 2>/dev/null | sort -t$'\t' -k2 |
	awk -F'\t' -v mb="$mb" -v n="$nlayers" -v dir="$tmp/ctx" '
		{ if (sum + $1 > mb * 1000000 && sum > 0) { l++; sum = 0 } if (l >= n) next
		  sum += $1; print dir "/l" l + 1 "\t" $2 }' |
	while IFS=$'\t' read -r d f; do
		mkdir -p "$d$(dirname "$f")"
		ln "$f" "$d$f" 2>/dev/null || cp "$f" "$d$f"
	done
docker build -q -t "$tag" "$tmp/ctx" >/dev/null 2>"$tmp/build.err" || { cat "$tmp/build.err" >&2; exit 1; }
rm -rf "$tmp/ctx"
layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$tag")
size=$(docker image inspect -f '{{.Size}}' "$tag")
docker save -o "$tmp/image.tar" "$tag" # untimed: the engine's files in the page cache, and the archive

dcpu() { if [[ -n $dpid ]]; then awk '{print $14 + $15}' "/proc/$dpid/stat"; else echo 0; fi; }
# timed NAME CMD: runs the shell command CMD once (stdout discarded) and
# appends "NAME WALL CPU" to $tmp/times.
timed() {
	local n=$1 cmd=$2 t0 t1 d0 d1 cpu
	d0=$(dcpu)
	t0=$(date +%s.%N)
	cpu=$({ TIMEFORMAT='%U %S'; time bash -c "$cmd || echo \"$n exited \$?\" >&2" >/dev/null 2>>"$tmp/stderr"; } 2>&1 | tail -1)
	t1=$(date +%s.%N)
	d1=$(dcpu)
	read -r u s <<<"$cpu"
	echo "$n $(echo "$t1 - $t0" | bc) $(echo "$u + $s + ($d1 - $d0) / $tck" | bc -l)" >>"$tmp/times"
}

echo "timing: $runs rounds" >&2
baseline=${BASELINE:-}
export FS=$fs TAG=$tag TAR=$tmp/image.tar DIVE_BIN=$dive BASE=$baseline
for ((r = 1; r <= runs; r++)); do
	timed save 'docker save "$TAG"'
	timed save_tar 'docker save "$TAG" | tar -t'
	timed fs_daemon '"$FS" inspect "docker-daemon:$TAG"'
	if [[ -n $baseline ]]; then
		timed base_daemon '"$BASE" inspect "docker-daemon:$TAG"'
	fi
	timed fs_archive '"$FS" inspect "$TAR"'
	if [[ -n $dive ]]; then
		# dive reads .dive-ci from its working directory: run it where there is none.
		timed dive_daemon 'cd "${TAR%/*}" && "$DIVE_BIN" --ci --source docker "$TAG"'
		timed dive_archive 'cd "${TAR%/*}" && "$DIVE_BIN" --ci --source docker-archive "$TAR"'
	fi
done

# median NAME COL: the median of column COL (2 wall, 3 CPU) of NAME's rows.
median() {
	awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$tmp/times" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A B COL: the median over the rounds of A's COL over B's in the same round.
ratio() {
	awk -v a="$1" -v b="$2" -v c="$3" '$1 == a { x[++i] = $c } $1 == b { y[++j] = $c }
		END { for (k = 1; k <= i && k <= j; k++) if (y[k] > 0) print x[k] / y[k] }' "$tmp/times" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
row() { printf '%-44s %8s %8s\n' "$1" "$(median "$2" 2)" "$(median "$2" 3)"; }

echo
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); image: $layers layers, $((size / 1000000)) MB ($(docker version -f '{{.Server.Version}}') engine); $runs rounds, medians"
printf '%-44s %8s %8s\n' "" "wall s" "CPU s"
row "docker save IMAGE >/dev/null" save
row "docker save IMAGE | tar -t" save_tar
row "fromscratch inspect docker-daemon:IMAGE" fs_daemon
row "fromscratch inspect image.tar" fs_archive
if [[ -n $baseline ]]; then
	row "BASELINE inspect docker-daemon:IMAGE" base_daemon
fi
if [[ -n $dive ]]; then
	row "dive --ci --source docker IMAGE" dive_daemon
	row "dive --ci --source docker-archive image.tar" dive_archive
else
	echo "dive: not installed (Debian has no dive package): its rows are skipped; DIVE=PATH to add them"
fi
if grep -q ' exited ' "$tmp/stderr" 2>/dev/null; then
	echo "bench/inspect.sh: some commands failed (their times are kept):" >&2
	grep ' exited ' "$tmp/stderr" >&2
fi
echo "fromscratch (engine) / docker save:         wall $(ratio fs_daemon save 2)  CPU $(ratio fs_daemon save 3)  (goal: <= 1.2)"
echo "fromscratch (engine) / docker save | tar -t: wall $(ratio fs_daemon save_tar 2)  CPU $(ratio fs_daemon save_tar 3)"
if [[ -n $baseline ]]; then
	echo "BASELINE (engine) / docker save:            wall $(ratio base_daemon save 2)  CPU $(ratio base_daemon save 3)"
	echo "BASELINE (engine) / docker save | tar -t:   wall $(ratio base_daemon save_tar 2)  CPU $(ratio base_daemon save_tar 3)"
fi
if [[ -n $dive ]]; then
	echo "dive / fromscratch (engine):                wall $(ratio dive_daemon fs_daemon 2)  CPU $(ratio dive_daemon fs_daemon 3)"
	echo "dive / fromscratch (archive):               wall $(ratio dive_archive fs_archive 2)  CPU $(ratio dive_archive fs_archive 3)"
fi
