#!/usr/bin/env bash
# System packages some tests drive for real: SoftHSM2 (PKCS#11 custody), Debian's
# Chromium + ChromeDriver (verify page and extension in a headless browser), and Node.js
# (the extension's logic under node --test) unless a node is already on the PATH.
# Installs only what is missing, and only where it can (root or passwordless sudo, apt).
# Without them those tests skip with a loud message; under CI=true they fail instead.
set -euo pipefail
PACKAGES=(softhsm2 chromium chromium-driver)
command -v node >/dev/null || PACKAGES+=(nodejs)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "system-deps: no apt-get; install ${missing[*]} yourself or those tests skip" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "system-deps: not root; install ${missing[*]} yourself or those tests skip" >&2
        exit 0
    fi
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && \
         $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
