#!/usr/bin/env bash
# SwiftGAN vs PyTorch (CPU) on the same cases, run side by side, with the GEMM ceiling measured in the same run.
#
#   bash scripts/bench.sh [--rounds R] [--steps N] [--warmup N] [--threads LIST] [--cases LIST | --sizes 32,64]
#                         [--batch-size N] [--width N] [--volume-batch-size N] [--volume-width N] [--gemm-size N]
#
# Cases (default: all): train-32, train-64 (DCGAN training step, batch 64, width 64), sample-32, sample-64 (the
# generator alone on 256 latents), d-conv, g-deconv (one convolution / transposed convolution layer, forward and
# backward, batch 64), train-3d (the volumetric GAN's training step, 32^3, batch 32, width 32). --sizes 32,64 is
# short for the train and sample cases at those sizes. --threads takes a list (default 1,<cores>).
#
# For each round 1..R and each thread count: one `swiftgan bench --gemm` (cblas_sgemm from the OpenBLAS and
# dnnl_sgemm from the oneDNN SwiftGAN links, --gemm-size square matrices, default 2048), then for each case `swiftgan bench` and
# scripts/bench_pytorch.py, each case in its own process (so peak memory is per case), SwiftGAN first in odd rounds
# and PyTorch first in even ones. Then it prints, per case and thread count, the medians over the rounds of
# images/s, the ratio SwiftGAN/PyTorch, effective GFLOP/s (nominal FLOP per iteration / median time; the same count
# on both sides) and its percentage of the GEMM ceiling at that thread count, and peak resident memory; below the
# table, the median GEMM ceiling of each thread count (each run's best call).
#
# Environment: ROUNDS, STEPS, WARMUP, THREADS, CASES, SIZES, BATCH_SIZE, WIDTH, VOLUME_BATCH_SIZE, VOLUME_WIDTH,
#   GEMM_SIZE give the defaults for the flags;
#   SWIFTGAN_BIN   use this binary instead of building (`swift build -c release` in the package root);
#   PYTHON         the interpreter for the PyTorch side and the summary (default python3);
#   BENCH_LOG_DIR  keep every run's raw output in this folder (default: a temporary folder, removed afterwards).
# Without PyTorch it prints SwiftGAN's numbers alone, with a note.
set -euo pipefail
cd "$(dirname "$0")/.."

all_cases="train-32,sample-32,train-64,sample-64,d-conv,g-deconv,train-3d"
rounds="${ROUNDS:-3}"
steps="${STEPS:-5}"
warmup="${WARMUP:-2}"
cores="$(nproc)"
threads="${THREADS:-$([ "$cores" -gt 1 ] && echo "1,$cores" || echo 1)}"
cases="${CASES:-}"
sizes="${SIZES:-}"
batch="${BATCH_SIZE:-64}"
width="${WIDTH:-64}"
volume_batch="${VOLUME_BATCH_SIZE:-32}"
volume_width="${VOLUME_WIDTH:-32}"
gemm_size="${GEMM_SIZE:-2048}"
python="${PYTHON:-python3}"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
fail() { echo "bench: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds|--steps|--warmup|--threads|--cases|--sizes|--batch-size|--width|--volume-batch-size|--volume-width|--gemm-size)
            if [ $# -lt 2 ] || [ -z "$2" ]; then fail "option '$1' needs a value"; fi ;;
    esac
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --cases) cases="$2"; shift 2 ;;
        --sizes) sizes="$2"; shift 2 ;;
        --batch-size) batch="$2"; shift 2 ;;
        --width) width="$2"; shift 2 ;;
        --volume-batch-size) volume_batch="$2"; shift 2 ;;
        --volume-width) volume_width="$2"; shift 2 ;;
        --gemm-size) gemm_size="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) fail "unknown option '$1' (see --help)" ;;
    esac
done
for value in "$rounds" "$steps" "$warmup" "$batch" "$width" "$volume_batch" "$volume_width" "$gemm_size"; do
    [[ "$value" =~ ^[0-9]+$ ]] || fail "'$value' is not a non-negative integer"
done
[ "$rounds" -ge 1 ] || fail "--rounds must be at least 1"
[ "$steps" -ge 1 ] || fail "--steps must be at least 1"
[ "$batch" -ge 2 ] && [ "$volume_batch" -ge 2 ] || fail "batch sizes must be at least 2"
[ "$width" -ge 1 ] && [ "$volume_width" -ge 1 ] || fail "widths must be at least 1"
[ "$gemm_size" -ge 16 ] || fail "--gemm-size must be at least 16"
IFS=',' read -r -a thread_list <<< "$threads"
[ "${#thread_list[@]}" -ge 1 ] || fail "--threads needs at least one thread count"
for t in "${thread_list[@]}"; do
    [[ "$t" =~ ^[1-9][0-9]*$ ]] || fail "thread count '$t' is not a positive integer"
done
if [ -n "$sizes" ]; then
    [ -z "$cases" ] || fail "give --cases or --sizes, not both"
    IFS=',' read -r -a size_list <<< "$sizes"
    for size in "${size_list[@]}"; do
        [ "$size" = 32 ] || [ "$size" = 64 ] || fail "size '$size' is not 32 or 64"
        cases="${cases:+$cases,}train-$size,sample-$size"
    done
fi
[ -n "$cases" ] && [ "$cases" != all ] || cases="$all_cases"
IFS=',' read -r -a case_list <<< "$cases"
for c in "${case_list[@]}"; do
    [[ ",$all_cases," == *",$c,"* ]] || fail "'$c' is not a case ($all_cases)"
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

common=(--batch-size "$batch" --width "$width" --volume-batch-size "$volume_batch" --volume-width "$volume_width"
        --steps "$steps" --warmup "$warmup")

run_logged() {  # what output-file command...
    local what="$1" out="$2"; shift 2
    if ! "$@" > "$out" 2> "$out.err"; then
        echo "bench: $what failed:" >&2; cat "$out" "$out.err" >&2; exit 1
    fi
}

run_gemm() {  # round threads
    echo "bench: round $1/$rounds, $2 thread(s), GEMM ceiling" >&2
    run_logged "swiftgan bench --gemm" "$logs/gemm-r$1-t$2.txt" \
        "$bin" bench --gemm --gemm-size "$gemm_size" --threads "$2"
}

run_swift() {  # round threads case
    echo "bench: round $1/$rounds, $2 thread(s), $3, SwiftGAN" >&2
    run_logged "swiftgan bench" "$logs/swiftgan-r$1-t$2-$3.txt" \
        "$bin" bench --cases "$3" --threads "$2" "${common[@]}"
}

run_torch() {  # round threads case
    echo "bench: round $1/$rounds, $2 thread(s), $3, PyTorch" >&2
    run_logged "scripts/bench_pytorch.py" "$logs/pytorch-r$1-t$2-$3.txt" \
        "$python" scripts/bench_pytorch.py --cases "$3" --threads "$2" "${common[@]}"
}

for round in $(seq 1 "$rounds"); do
    for t in "${thread_list[@]}"; do
        run_gemm "$round" "$t"
        for c in "${case_list[@]}"; do
            if [ "$have_torch" = 0 ]; then
                run_swift "$round" "$t" "$c"
            elif [ $((round % 2)) = 1 ]; then
                run_swift "$round" "$t" "$c"; run_torch "$round" "$t" "$c"
            else
                run_torch "$round" "$t" "$c"; run_swift "$round" "$t" "$c"
            fi
        done
    done
done

"$python" - "$logs" "$rounds" "$have_torch" "$threads" "$cases" "$gemm_size" <<'EOF'
import glob, os, re, statistics, sys

logs, rounds, have_torch = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
thread_list, case_list, gemm_size = sys.argv[4].split(","), sys.argv[5].split(","), sys.argv[6]
row_line = re.compile(r"^(\S+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(.*)$")
peak_line = re.compile(r"^peak resident memory: ([0-9.]+) MiB")
params_line = re.compile(r"^# (\S+): (\d+) parameters")
gemm_line = re.compile(r"^gemm ceiling \d+\^3: best ([0-9.]+) GFLOP/s")
library_line = re.compile(r"^gemm (cblas_sgemm|dnnl_sgemm) \d+\^3: best ([0-9.]+) GFLOP/s")
median = lambda xs: statistics.median(xs) if xs else float("nan")

def collect(side, threads, case):
    """Per round: images/s, GFLOP per iteration, GFLOP/s, peak MiB; plus the description and parameter counts."""
    found = {"ips": [], "gflop": [], "gflops": [], "peak": [], "what": "", "params": set(), "torch": ""}
    for path in sorted(glob.glob(os.path.join(logs, f"{side}-r*-t{threads}-{case}.txt"))):
        for line in open(path):
            line = line.rstrip("\n")
            m = row_line.match(line)
            if m and m.group(1) == case:
                found["ips"].append(float(m.group(3)))
                found["gflop"].append(float(m.group(4)))
                found["gflops"].append(float(m.group(5)))
                found["what"] = m.group(6)
            elif peak_line.match(line):
                found["peak"].append(float(peak_line.match(line).group(1)))
            elif params_line.match(line):
                found["params"].add(int(params_line.match(line).group(2)))
            elif line.startswith("# torch"):
                found["torch"] = line[2:].split(",")[0]  # the version; the thread counts are in the table
    return found

ceilings, library_bests = {}, {}
for t in thread_list:
    bests, per_library = [], {}
    for path in glob.glob(os.path.join(logs, f"gemm-r*-t{t}.txt")):
        for line in open(path):
            m = gemm_line.match(line)
            if m:
                bests.append(float(m.group(1)))
            m = library_line.match(line)
            if m:
                per_library.setdefault(m.group(1), []).append(float(m.group(2)))
    ceilings[t] = median(bests)
    library_bests[t] = {name: median(values) for name, values in sorted(per_library.items())}

torch_version, warnings, descriptions = "", [], {}
header = (f"{'case':<10} {'thr':>3} {'SwiftGAN img/s':>14} {'PyTorch img/s':>13} {'ratio':>6} {'GFLOP/it':>9} "
          f"{'SwiftGAN GFLOP/s':>16} {'%ceil':>5} {'PyTorch GFLOP/s':>15} {'%ceil':>5} {'SwiftGAN MiB':>12} {'PyTorch MiB':>11}")
rows = []
for t in thread_list:
    for case in case_list:
        ours = collect("swiftgan", t, case)
        theirs = collect("pytorch", t, case) if have_torch else None
        if not ours["ips"]:
            continue
        descriptions[case] = ours["what"]
        ceiling = ceilings[t]
        gflop = median(ours["gflop"])
        o_ips, o_gf, o_peak = median(ours["ips"]), median(ours["gflops"]), median(ours["peak"])
        cells = [f"{case:<10}", f"{t:>3}", f"{o_ips:>14.1f}"]
        if theirs and theirs["ips"]:
            torch_version = torch_version or theirs["torch"]
            p_ips, p_gf, p_peak = median(theirs["ips"]), median(theirs["gflops"]), median(theirs["peak"])
            if abs(median(theirs["gflop"]) - gflop) > 1e-3 * max(gflop, 1e-9):
                warnings.append(f"{case}: nominal GFLOP differ (SwiftGAN {gflop}, PyTorch {median(theirs['gflop'])})")
            if ours["params"] != theirs["params"]:
                warnings.append(f"{case}: parameter counts differ (SwiftGAN {sorted(ours['params'])}, "
                                f"PyTorch {sorted(theirs['params'])})")
            cells += [f"{p_ips:>13.1f}", f"{o_ips / p_ips:>6.2f}", f"{gflop:>9.2f}", f"{o_gf:>16.1f}",
                      f"{100 * o_gf / ceiling:>5.0f}", f"{p_gf:>15.1f}", f"{100 * p_gf / ceiling:>5.0f}",
                      f"{o_peak:>12.0f}", f"{p_peak:>11.0f}"]
        else:
            cells += [f"{'-':>13}", f"{'-':>6}", f"{gflop:>9.2f}", f"{o_gf:>16.1f}", f"{100 * o_gf / ceiling:>5.0f}",
                      f"{'-':>15}", f"{'-':>5}", f"{o_peak:>12.0f}", f"{'-':>11}"]
        rows.append(" ".join(cells))

print()
if torch_version:
    print(f"PyTorch: {torch_version}")
print(f"median over {rounds} round(s); ratio = SwiftGAN / PyTorch img/s (above 1: SwiftGAN faster); "
      "img/s counts images, layer samples or voxel grids;")
print("GFLOP/it = nominal FLOP per iteration (2 per convolution multiply-add: training step 9 discriminator + "
      "3 generator passes, sampling 1 generator pass, layer 3 passes); %ceil = GFLOP/s / GEMM ceiling at that thread "
      "count; MiB = peak resident memory of the process running that one case")
print(header)
for row in rows:
    print(row)
print()
for case in case_list:
    if case in descriptions:
        print(f"  {case:<10} {descriptions[case]}")
print("GEMM ceiling (%s^3; per run the best call of the faster of OpenBLAS's cblas_sgemm and oneDNN's dnnl_sgemm, "
      "the two SwiftGAN links; median over rounds): %s"
      % (gemm_size, ", ".join(f"{t} thread(s) {ceilings[t]:.1f} GFLOP/s" for t in thread_list)))
for t in thread_list:
    if library_bests[t]:
        print(f"  {t} thread(s): " + ", ".join(f"{name} {value:.1f}" for name, value in library_bests[t].items())
              + " GFLOP/s")
if not have_torch:
    print("note: PyTorch is not installed (pip install torch); SwiftGAN's numbers only")
for warning in warnings:
    print(f"warning: {warning}")
EOF
