#!/usr/bin/env bash
# The augmentation demonstration: the exact commands behind the numbers in the closing note.
#
#   bash scripts/medical_augmentation.sh            # everything, one part after another
#   bash scripts/medical_augmentation.sh fashion    # class-conditional Fashion-MNIST and its class-consistency check
#   bash scripts/medical_augmentation.sh pneumonia  # PneumoniaMNIST augmentation report (full and 10% training sets)
#   bash scripts/medical_augmentation.sh breast     # BreastMNIST augmentation report (full and 10% training sets)
#
# Environment: SWIFTGAN (the binary, default .build/release/swiftgan, built if missing), DATA (the shared data
# folder, default ../shared/data), OUT (default runs/augment), THREADS (kernel threads per command, default 1: on a
# busy 2-core machine one thread per process was several times faster than two). The parts are independent and can run
# at the same time in separate shells. Results:
#   $OUT/fashion-synthetic/consistency.json       the fraction of generated images classified as the class asked for
#   $OUT/<pneumonia|breast>/report.md, .json      the augmentation report and its conclusion
#   $OUT/<...>/grids/synthetic-class-K.png        64 synthetic images of class K, beside real-class-K.png
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTGAN=${SWIFTGAN:-.build/release/swiftgan}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/augment}
THREADS=${THREADS:-1}
MED=$DATA/medmnist/idx

if [ ! -x "$SWIFTGAN" ]; then swift build -c release; fi
mkdir -p "$OUT"

fashion() {
    # An independent judge: the domain classifier, trained on the real labels only (about 92% test accuracy).
    "$SWIFTGAN" classifier train --data "$DATA/fashion-mnist" --out "$OUT/fashion-classifier.safetensors" --threads "$THREADS"
    # The class-conditional GAN (conditional batch norm, projection discriminator, hinge loss, spectral norm).
    # The recorded run went to 7000 steps (with stops at 3000 and 4500 and --resume; a resumed run sees the same
    # batches and noise), then was resumed with the generator weight average switched on and trained to 13000.
    "$SWIFTGAN" train --data "$DATA/fashion-mnist/train-images-idx3-ubyte.gz" --conditional --loss hinge --spectral-norm \
        --width 32 --steps 7000 --log-every 25 --out "$OUT/fashion-conditional" --threads "$THREADS"
    "$SWIFTGAN" train --out "$OUT/fashion-conditional" --resume --generator-average 0.999 --steps 13000 --threads "$THREADS"
    # 1000 images per class, and the share of them the classifier assigns to the class asked for.
    "$SWIFTGAN" augment --checkpoint "$OUT/fashion-conditional/checkpoint.safetensors" --per-class 1000 --seed 5 \
        --out "$OUT/fashion-synthetic" --consistency-classifier "$OUT/fashion-classifier.safetensors" --threads "$THREADS"
}

# Each medical run trains a conditional GAN on the full training split (OUT/<name>/gan) and a second one on the
# stratified 10% subset only (OUT/<name>/gan-reduced), writes 'per-class' synthetic images per class, then trains the
# classifier on real only, real + synthetic, synthetic only and real + resampled real (the control), 3 seeds each, on
# both training-set sizes, and measures it on the official test split.
pneumonia() {
    "$SWIFTGAN" augment --data "$MED/pneumoniamnist-train-images-idx3-ubyte.gz" --steps 4000 --reduced-steps 2000 \
        --loss hinge --spectral-norm --width 32 --generator-average 0.999 --per-class 1000 --out "$OUT/pneumonia" \
        --evaluate --seeds 3 --fraction 0.1 --control --classifier-steps 400 --threads "$THREADS"
}

breast() {
    "$SWIFTGAN" augment --data "$MED/breastmnist-train-images-idx3-ubyte.gz" --steps 2000 --reduced-steps 1000 \
        --loss hinge --spectral-norm --width 32 --generator-average 0.999 --per-class 300 --out "$OUT/breast" \
        --evaluate --seeds 3 --fraction 0.1 --control --classifier-steps 400 --threads "$THREADS"
}

case "${1:-all}" in
    fashion) fashion ;;
    pneumonia) pneumonia ;;
    breast) breast ;;
    all) fashion; pneumonia; breast ;;
    *) echo "usage: $0 [fashion|pneumonia|breast|all]" >&2; exit 2 ;;
esac
