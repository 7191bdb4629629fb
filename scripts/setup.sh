#!/usr/bin/env bash
# Installs what SwiftGAN needs on Debian 12 (run as root, or with sudo available), then builds it.
#   bash scripts/setup.sh            # install the Debian packages and build (debug)
#   bash scripts/setup.sh release    # ... and build the optimized binary
set -euo pipefail
cd "$(dirname "$0")/.."

# C libraries through system-library targets, plus the default dataset.
packages=(libdnnl-dev libopenblas-dev libstb-dev zlib1g-dev libgcc-12-dev dataset-fashion-mnist)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: error: the Swift toolchain (6.x) is not on PATH; install it from swift.org first" >&2
    exit 1
fi

configuration="${1:-debug}"
echo "setup: building ($configuration)"
swift build -c "$configuration" --quiet
