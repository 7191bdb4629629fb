#!/usr/bin/env bash
# SwiftGAN vs PyTorch (CPU) on the same DCGAN training step and sampling case, run side by side.
#
#   bash scripts/bench.sh [--rounds R] [--steps N] [--warmup N] [--threads N] [--width N] [--batch-size N] [--sizes 32,64]
#
# For each round 1..R and each image size, it runs `swiftgan bench` and scripts/bench_pytorch.py as separate
# processes (so peak memory is per case), alternating which goes first each round, then prints the median
# images/s over the rounds, the ratio SwiftGAN/PyTorch, and the median peak resident memory of each process.
#
# Environment: ROUNDS, STEPS, WARMUP, THREADS, WIDTH, BATCH_SIZE, SIZES give the defaults for the flags;
#   SWIFTGAN_BIN   use this binary instead of building (`swift build -c release` in the package root);
#   PYTHON         the interpreter for the PyTorch side (default python3);
#   BENCH_LOG_DIR  keep every run's raw output in this folder (default: a temporary folder, removed afterwards).
# Without PyTorch it prints SwiftGAN's numbers alone, with a note.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${ROUNDS:-3}"
steps="${STEPS:-5}"
warmup="${WARMUP:-2}"
threads="${THREADS:-$(nproc)}"
width="${WIDTH:-64}"
batch="${BATCH_SIZE:-64}"
sizes="${SIZES:-32,64}"
python="${PYTHON:-python3}"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds|--steps|--warmup|--threads|--width|--batch-size|--sizes)
            if [ $# -lt 2 ] || [ -z "$2" ]; then echo "bench: option '$1' needs a value" >&2; exit 2; fi ;;
    esac
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --width) width="$2"; shift 2 ;;
        --batch-size) batch="$2"; shift 2 ;;
        --sizes) sizes="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for value in "$rounds" "$steps" "$warmup" "$threads" "$width" "$batch"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "bench: '$value' is not a non-negative integer" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] || { echo "bench: --rounds must be at least 1" >&2; exit 2; }
IFS=',' read -r -a size_list <<< "$sizes"
for size in "${size_list[@]}"; do
    [ "$size" = 32 ] || [ "$size" = 64 ] || { echo "bench: size '$size' is not 32 or 64" >&2; exit 2; }
done

if [ -n "${SWIFTGAN_BIN:-}" ]; then
    bin="$SWIFTGAN_BIN"
else
    echo "bench: building (swift build -c release)" >&2
    swift build -c release --quiet
    bin=".build/release/swiftgan"
fi
[ -x "$bin" ] || { echo "bench: $bin is not an executable" >&2; exit 1; }

have_torch=1
if ! "$python" -c 'import torch' >/dev/null 2>&1; then
    have_torch=0
fi

if [ -n "${BENCH_LOG_DIR:-}" ]; then
    logs="$BENCH_LOG_DIR"
    mkdir -p "$logs"
else
    logs="$(mktemp -d)"
    trap 'rm -rf "$logs"' EXIT
fi

common=(--batch-size "$batch" --width "$width" --steps "$steps" --warmup "$warmup" --threads "$threads")

run_swift() {  # round size
    local out="$logs/swiftgan-r$1-$2.txt"
    echo "bench: round $1/$rounds, ${2}x$2, SwiftGAN" >&2
    if ! "$bin" bench --image-sizes "$2" "${common[@]}" > "$out" 2> "$out.err"; then
        echo "bench: swiftgan bench failed:" >&2; cat "$out" "$out.err" >&2; exit 1
    fi
}

run_torch() {  # round size
    local out="$logs/pytorch-r$1-$2.txt"
    echo "bench: round $1/$rounds, ${2}x$2, PyTorch" >&2
    if ! "$python" scripts/bench_pytorch.py --image-sizes "$2" "${common[@]}" > "$out" 2> "$out.err"; then
        echo "bench: scripts/bench_pytorch.py failed:" >&2; cat "$out" "$out.err" >&2; exit 1
    fi
}

for round in $(seq 1 "$rounds"); do
    for size in "${size_list[@]}"; do
        if [ "$have_torch" = 0 ]; then
            run_swift "$round" "$size"
        elif [ $((round % 2)) = 1 ]; then
            run_swift "$round" "$size"; run_torch "$round" "$size"
        else
            run_torch "$round" "$size"; run_swift "$round" "$size"
        fi
    done
done

# ---------------------------------------------------------------------------------------------------------------
# GEMM CEILING: not measured yet (a later issue adds it). It belongs here, in this same run, measured with the
# BLAS that SwiftGAN links (not numpy's, which may be a different BLAS), and reported below the table.
# ---------------------------------------------------------------------------------------------------------------

"$python" - "$logs" "$rounds" "$have_torch" "$sizes" <<'EOF'
import glob, os, re, statistics, sys

logs, rounds, have_torch, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4].split(",")
case_line = re.compile(r"^((?:train step|sample 256 at) \d+x\d+)\s+([0-9.]+)\s+([0-9.]+)\s*$")
peak_line = re.compile(r"^peak resident memory: ([0-9.]+) MiB")

def collect(side):
    """{case: ([images/s per round], [peak MiB per round])}, in the order the cases appear; plus header lines."""
    results, headers = {}, []
    for size in sizes:
        for path in sorted(glob.glob(os.path.join(logs, f"{side}-r*-{size}.txt"))):
            cases, peak = [], None
            for line in open(path):
                line = line.rstrip("\n")
                m = case_line.match(line)
                if m:
                    cases.append((m.group(1), float(m.group(3))))
                elif peak_line.match(line):
                    peak = float(peak_line.match(line).group(1))
                elif line.startswith("threads ") or line.startswith("# torch"):
                    if line not in headers:
                        headers.append(line)
            for name, ips in cases:
                entry = results.setdefault(name, ([], []))
                entry[0].append(ips)
                if peak is not None:
                    entry[1].append(peak)
    return results, headers

ours, our_headers = collect("swiftgan")
theirs, their_headers = collect("pytorch") if have_torch else ({}, [])
median = lambda xs: statistics.median(xs) if xs else float("nan")

print()
for line in our_headers:
    print(f"SwiftGAN: {line}")
for line in their_headers:
    print(f"PyTorch:  {line.lstrip('# ')}")
print(f"median over {rounds} round(s); ratio = SwiftGAN / PyTorch images/s; peak = whole process, one image size")
print(f"{'case':<22} {'SwiftGAN img/s':>14} {'PyTorch img/s':>14} {'ratio':>7} {'SwiftGAN MiB':>13} {'PyTorch MiB':>12}")
for name, (ips, peaks) in ours.items():
    our_ips, our_peak = median(ips), median(peaks)
    if name in theirs:
        t_ips, t_peak = median(theirs[name][0]), median(theirs[name][1])
        print(f"{name:<22} {our_ips:>14.1f} {t_ips:>14.1f} {our_ips / t_ips:>7.2f} {our_peak:>13.0f} {t_peak:>12.0f}")
    else:
        print(f"{name:<22} {our_ips:>14.1f} {'-':>14} {'-':>7} {our_peak:>13.0f} {'-':>12}")
if not have_torch:
    print("note: PyTorch is not installed (pip install torch); SwiftGAN's numbers only")
print("GEMM ceiling: not measured yet")
EOF
