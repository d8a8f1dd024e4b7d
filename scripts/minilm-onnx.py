#!/usr/bin/env python3
"""Builds all-MiniLM-L6-v2 as an ONNX graph for ONNX Runtime from the model's own safetensors.

    minilm-onnx.py MODEL_DIR [OUT]     (OUT defaults to MODEL_DIR/model.onnx)

Needs numpy, safetensors and onnx (no torch, no model hub): scripts/setup.sh runs it in a
small venv. The graph is the network scrollsim's candle encoder runs, with the same weights:

  inputs   input_ids [batch, seq] int64, attention_mask [batch, seq] int64 (1 = token, 0 = pad)
  output   embedding [batch, 384] float32: mean of each text's token states (padding excluded),
           not yet L2-normalised (scrollsim normalises, as it does for the candle encoder)

Embeddings (word + position + token type 0, layer norm) use standard ONNX ops; each encoder
layer uses ONNX Runtime's fused CPU kernels from the com.microsoft domain (Attention with the
query, key and value weights side by side, SkipLayerNormalization for residual + bias + layer
norm, BiasGelu for the exact erf GELU), so the graph runs on ONNX Runtime only.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

OPSET = 17  # LayerNormalization
MS = "com.microsoft"


def build(model_dir: Path):
    cfg = json.loads((model_dir / "config.json").read_text())
    w = load_file(str(model_dir / "model.safetensors"))
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    eps = float(cfg["layer_norm_eps"])
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise SystemExit(f"{model_dir}/config.json: hidden_act {cfg['hidden_act']!r} is not gelu")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit(f"{model_dir}/config.json: only absolute position embeddings are supported")

    inits, nodes = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=array.dtype), name))
        return name

    def f32(name, key):
        return const(name, w[key].astype(np.float32))

    def node(op, inputs, outputs, domain=None, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, domain=domain, name=outputs[0], **attrs))
        return outputs[0]

    def dense_add_norm(inp, residual, dense_name, dense_key, norm_name, norm_key, out):
        """A dense layer's product, then its bias + the residual + layer norm as one fused node."""
        weight = const(f"{dense_name}_w", w[dense_key + ".weight"].T.astype(np.float32))
        y = node("MatMul", [inp, weight], [dense_name])
        return node(
            "SkipLayerNormalization",
            [
                y,
                residual,
                f32(f"{norm_name}_g", norm_key + ".weight"),
                f32(f"{norm_name}_b", norm_key + ".bias"),
                f32(f"{dense_name}_b", dense_key + ".bias"),
            ],
            [out],
            domain=MS,
            epsilon=eps,
        )

    # Embeddings: every text is one segment, so token type 0's row is folded into positions.
    word = f32("word_embeddings", "embeddings.word_embeddings.weight")
    pos = const(
        "position_embeddings",
        (w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0])
        .astype(np.float32),
    )
    const("zero", np.array([0], dtype=np.int64))
    const("one", np.array([1], dtype=np.int64))
    node("Gather", [word, "input_ids"], ["tok"], axis=0)
    node("Shape", ["input_ids"], ["ids_shape"])
    const("two", np.array([2], dtype=np.int64))
    node("Slice", ["ids_shape", "one", "two"], ["seq_len"])
    node("Slice", [pos, "zero", "seq_len", "zero"], ["pos_rows"])
    node("Add", ["tok", "pos_rows"], ["emb_sum"])
    x = node(
        "LayerNormalization",
        ["emb_sum", f32("emb_ln_g", "embeddings.LayerNorm.weight"), f32("emb_ln_b", "embeddings.LayerNorm.bias")],
        ["emb_out"],
        axis=-1,
        epsilon=eps,
    )
    node("Cast", ["attention_mask"], ["mask_i32"], to=TensorProto.INT32)

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        # Linear weights are stored [out, in]; ONNX MatMul wants [in, out].
        qkv_w = np.concatenate(
            [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
        ).astype(np.float32)
        qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]).astype(
            np.float32
        )
        att = node(
            "Attention",
            [x, const(f"l{i}_qkv_w", qkv_w), const(f"l{i}_qkv_b", qkv_b), "mask_i32"],
            [f"l{i}_att"],
            domain=MS,
            num_heads=heads,
        )
        x = dense_add_norm(
            att, x, f"l{i}_ao", p + "attention.output.dense",
            f"l{i}_aln", p + "attention.output.LayerNorm", f"l{i}_attn_out",
        )
        up = node(
            "MatMul", [x, const(f"l{i}_up_w", w[p + "intermediate.dense.weight"].T.astype(np.float32))], [f"l{i}_up"]
        )
        act = node("BiasGelu", [up, f32(f"l{i}_up_b", p + "intermediate.dense.bias")], [f"l{i}_gelu"], domain=MS)
        x = dense_add_norm(act, x, f"l{i}_down", p + "output.dense", f"l{i}_oln", p + "output.LayerNorm", f"l{i}_out")

    # Mean pooling over real tokens: sum(h * mask) / max(sum(mask), 1e-9), as sentence-transformers.
    node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT)
    node("Unsqueeze", ["mask_f", const("minus_one", np.array([-1], dtype=np.int64))], ["mask_f3"])
    node("Mul", [x, "mask_f3"], ["masked"])
    node("ReduceSum", ["masked", "one"], ["summed"], keepdims=0)
    node("ReduceSum", ["mask_f", "one"], ["count"], keepdims=1)
    node("Max", ["count", const("tiny", np.array([1e-9], dtype=np.float32))], ["count_safe"])
    node("Div", ["summed", "count_safe"], ["embedding"])

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)],
        producer_name="scrollsim scripts/minilm-onnx.py",
    )
    model.ir_version = 8
    return model


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    model_dir = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else model_dir / "model.onnx"
    model = build(model_dir)
    tmp = out.with_suffix(out.suffix + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)  # never leave a half-written graph where scrollsim looks for one
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
