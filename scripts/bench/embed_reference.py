#!/usr/bin/env python3
"""The PyTorch reference for `scrollsim bench ingest`: all-MiniLM-L6-v2 with
sentence-transformers on the same texts, batch size and thread count as scrollsim's embedder.

Reads JSON on stdin: {"model": dir, "texts": [...], "batch_size": n, "threads": n,
"check": n}; writes JSON on stdout: {"texts_per_s": r, "seconds": s, "n": n, "torch": v,
"sentence_transformers": v, "vectors": [[...], ...] (the first `check` texts)}.
Exit status 3 when torch or sentence-transformers is not installed (the benchmark then says
so and goes on). Never downloads anything: the model is read from the given directory.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> int:
    req = json.load(sys.stdin)
    try:
        import torch
        import sentence_transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # the benchmark reports it and goes on
        print(f"not installed: {e}", file=sys.stderr)
        return 3
    torch.set_num_threads(int(req["threads"]))
    model = SentenceTransformer(req["model"], device="cpu")
    texts = req["texts"]
    batch = int(req["batch_size"])
    # Warm-up on a slice, as the Rust side warms up before timing.
    model.encode(texts[: batch * 2], batch_size=batch, normalize_embeddings=True)
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    json.dump(
        {
            "texts_per_s": len(texts) / seconds,
            "seconds": seconds,
            "n": len(texts),
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "threads": torch.get_num_threads(),
            "vectors": vectors[: int(req["check"])].tolist(),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
