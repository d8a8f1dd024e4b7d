//! An inference-only BERT encoder, written for throughput on CPU: what all-MiniLM-L6-v2 runs.
//!
//! The same network as candle-transformers' `BertModel` (the tests compare the two on the real
//! weights), arranged for speed:
//! - the texts of a batch are packed end to end, without padding, so every row of every matrix
//!   product is a real token, whatever the mix of lengths;
//! - the query, key and value projections are one matrix product (and the query's scale
//!   `1/sqrt(head size)` is folded into its weights);
//! - each bias, GELU, residual addition and layer norm is applied in one pass over a matrix
//!   product's output, rows split across cores;
//! - attention runs per text and head over that text's own tokens (no mask, no padded keys).
//!
//! Only the matrix products go through candle (its gemm); everything else is plain loops over
//! slices, written so the compiler vectorises them.

use std::ops::Range;

use candle_core::{DType, Device, Storage, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

type Result<T> = candle_core::Result<T>;

/// Rows per rayon task in the row-wise passes: enough work per task to amortise scheduling.
const ROWS_PER_TASK: usize = 16;

/// The encoder's weights, ready to run.
pub(crate) struct Encoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    dims: Dims,
}

/// Shapes and settings every pass needs.
#[derive(Clone, Copy)]
struct Dims {
    hidden: usize,
    heads: usize,
    eps: f32,
}

struct Embeddings {
    /// `[vocab, hidden]`, row-major.
    word: Vec<f32>,
    /// `[max_positions, hidden]`.
    position: Vec<f32>,
    /// Token type 0's row: every text is one segment.
    token_type: Vec<f32>,
    norm: Norm,
    vocab: usize,
    max_positions: usize,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// `[hidden, 3 * hidden]`: query (pre-scaled), key, value, side by side.
    qkv: Tensor,
    qkv_bias: Vec<f32>,
    /// `[hidden, hidden]`.
    out: Tensor,
    out_bias: Vec<f32>,
    attn_norm: Norm,
    /// `[hidden, intermediate]`.
    up: Tensor,
    up_bias: Vec<f32>,
    /// `[intermediate, hidden]`.
    down: Tensor,
    down_bias: Vec<f32>,
    out_norm: Norm,
}

fn vector(vb: &VarBuilder, name: &str, len: usize) -> Result<Vec<f32>> {
    vb.get(len, name)?.to_vec1::<f32>()
}

fn matrix(vb: &VarBuilder, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
    vb.get((rows, cols), name)?.flatten_all()?.to_vec1::<f32>()
}

fn norm(vb: &VarBuilder, hidden: usize) -> Result<Norm> {
    Ok(Norm {
        gamma: vector(vb, "weight", hidden)?,
        beta: vector(vb, "bias", hidden)?,
    })
}

/// `weight` (`[out, in]`, as PyTorch stores a linear layer) as the `[in, out]` right-hand side
/// of `x @ w`, contiguous.
fn transposed(vb: &VarBuilder, out: usize, inp: usize) -> Result<Tensor> {
    vb.get((out, inp), "weight")?.t()?.contiguous()
}

impl Encoder {
    /// Loads a BERT checkpoint's encoder (names with or without the `bert.` prefix). Only the
    /// exact GELU (`hidden_act = "gelu"`) is supported: it is what MiniLM uses.
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        if config.hidden_act != HiddenAct::Gelu {
            candle_core::bail!(
                "hidden_act {:?} is not supported (only \"gelu\")",
                config.hidden_act
            );
        }
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let (hidden, inter, heads) = (
            config.hidden_size,
            config.intermediate_size,
            config.num_attention_heads,
        );
        if heads == 0 || hidden % heads != 0 {
            candle_core::bail!("hidden_size {hidden} is not a multiple of {heads} heads");
        }
        let e = vb.pp("embeddings");
        let token_types = matrix(
            &e.pp("token_type_embeddings"),
            "weight",
            config.type_vocab_size,
            hidden,
        )?;
        let embeddings = Embeddings {
            word: matrix(
                &e.pp("word_embeddings"),
                "weight",
                config.vocab_size,
                hidden,
            )?,
            position: matrix(
                &e.pp("position_embeddings"),
                "weight",
                config.max_position_embeddings,
                hidden,
            )?,
            token_type: token_types[..hidden].to_vec(),
            norm: norm(&e.pp("LayerNorm"), hidden)?,
            vocab: config.vocab_size,
            max_positions: config.max_position_embeddings,
        };
        let scale = 1.0 / ((hidden / heads) as f64).sqrt();
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                let s = a.pp("self");
                let q = (transposed(&s.pp("query"), hidden, hidden)? * scale)?;
                let k = transposed(&s.pp("key"), hidden, hidden)?;
                let v = transposed(&s.pp("value"), hidden, hidden)?;
                let mut qkv_bias: Vec<f32> = vector(&s.pp("query"), "bias", hidden)?
                    .into_iter()
                    .map(|b| (b as f64 * scale) as f32)
                    .collect();
                qkv_bias.extend(vector(&s.pp("key"), "bias", hidden)?);
                qkv_bias.extend(vector(&s.pp("value"), "bias", hidden)?);
                Ok(Layer {
                    qkv: Tensor::cat(&[q, k, v], 1)?.contiguous()?,
                    qkv_bias,
                    out: transposed(&a.pp("output.dense"), hidden, hidden)?,
                    out_bias: vector(&a.pp("output.dense"), "bias", hidden)?,
                    attn_norm: norm(&a.pp("output.LayerNorm"), hidden)?,
                    up: transposed(&l.pp("intermediate.dense"), inter, hidden)?,
                    up_bias: vector(&l.pp("intermediate.dense"), "bias", inter)?,
                    down: transposed(&l.pp("output.dense"), hidden, inter)?,
                    down_bias: vector(&l.pp("output.dense"), "bias", hidden)?,
                    out_norm: norm(&l.pp("output.LayerNorm"), hidden)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder {
            embeddings,
            layers,
            dims: Dims {
                hidden,
                heads,
                eps: config.layer_norm_eps as f32,
            },
        })
    }

    /// Token ids of each text (already truncated) to the mean of each text's last hidden
    /// states, L2-normalised: sentence-transformers' mean pooling.
    pub(crate) fn embed(&self, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let mut spans = Vec::with_capacity(texts.len());
        let mut end = 0;
        for ids in texts {
            if ids.is_empty() || ids.len() > self.embeddings.max_positions {
                candle_core::bail!(
                    "a text has {} tokens (1 to {} allowed)",
                    ids.len(),
                    self.embeddings.max_positions
                );
            }
            spans.push(end..end + ids.len());
            end += ids.len();
        }
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let mut x = self.embeddings.forward(texts, self.dims)?;
        for layer in &self.layers {
            x = layer.forward(x, &spans, self.dims)?;
        }
        Ok(mean_pool(&x, &spans, self.dims.hidden))
    }
}

impl Embeddings {
    /// Word + position + token type rows of every token, layer-normed: `[tokens, hidden]`.
    fn forward(&self, texts: &[&[u32]], dims: Dims) -> Result<Vec<f32>> {
        let hidden = dims.hidden;
        let tokens: Vec<(u32, usize)> = texts
            .iter()
            .flat_map(|ids| ids.iter().enumerate().map(|(p, &id)| (id, p)))
            .collect();
        if let Some(&(id, _)) = tokens.iter().find(|(id, _)| *id as usize >= self.vocab) {
            candle_core::bail!("token id {id} is outside the vocabulary ({})", self.vocab);
        }
        let mut x = vec![0f32; tokens.len() * hidden];
        x.par_chunks_mut(hidden)
            .zip(tokens.par_iter())
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(row, &(id, pos))| {
                let w = &self.word[id as usize * hidden..][..hidden];
                let p = &self.position[pos * hidden..][..hidden];
                for (((o, w), p), t) in row.iter_mut().zip(w).zip(p).zip(&self.token_type) {
                    *o = w + p + t;
                }
                layer_norm(row, &self.norm, dims.eps);
            });
        Ok(x)
    }
}

impl Layer {
    /// One transformer layer on packed tokens `x` (`[tokens, hidden]`).
    fn forward(&self, x: Vec<f32>, spans: &[Range<usize>], dims: Dims) -> Result<Vec<f32>> {
        let hidden = dims.hidden;
        let tokens = x.len() / hidden;
        let x = Tensor::from_vec(x, (tokens, hidden), &Device::Cpu)?;
        let qkv = x.matmul(&self.qkv)?;
        let context = with_f32(&qkv, |qkv| attention(qkv, &self.qkv_bias, spans, dims))?;
        let context = Tensor::from_vec(context, (tokens, hidden), &Device::Cpu)?;
        let projected = context.matmul(&self.out)?;
        let attended = with_f32(&projected, |p| {
            with_f32(&x, |x| {
                bias_residual_norm(p, &self.out_bias, x, &self.attn_norm, dims)
            })
        })??;
        let attended = Tensor::from_vec(attended, (tokens, hidden), &Device::Cpu)?;
        let up = attended.matmul(&self.up)?;
        let activated = with_f32(&up, |u| bias_gelu(u, &self.up_bias))?;
        let activated = Tensor::from_vec(activated, (tokens, self.up_bias.len()), &Device::Cpu)?;
        let down = activated.matmul(&self.down)?;
        with_f32(&down, |d| {
            with_f32(&attended, |a| {
                bias_residual_norm(d, &self.down_bias, a, &self.out_norm, dims)
            })
        })?
    }
}

/// Calls `f` with a contiguous f32 CPU tensor's elements.
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    if t.dtype() != DType::F32 {
        candle_core::bail!("expected f32, got {:?}", t.dtype());
    }
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("expected a CPU tensor");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("expected a contiguous tensor");
    };
    Ok(f(&cpu.as_slice::<f32>()?[start..end]))
}

/// Self-attention of every text on its own tokens. `qkv` is `[tokens, 3 * hidden]` (query,
/// key, value; the query pre-scaled), without its bias; the result is `[tokens, hidden]`, the
/// heads' outputs side by side.
fn attention(qkv: &[f32], bias: &[f32], spans: &[Range<usize>], dims: Dims) -> Vec<f32> {
    let hidden = dims.hidden;
    let tokens = qkv.len() / (3 * hidden);
    let mut out = vec![0f32; tokens * hidden];
    // Each text's rows of the output, so texts run side by side.
    let mut parts = Vec::with_capacity(spans.len());
    let mut rest = out.as_mut_slice();
    for span in spans {
        let (mine, tail) = rest.split_at_mut(span.len() * hidden);
        parts.push((span.clone(), mine));
        rest = tail;
    }
    parts
        .into_par_iter()
        .for_each(|(span, out)| text_attention(qkv, bias, span, out, dims));
    out
}

/// [`attention`] for one text: `span` are its rows of `qkv`, `out` its rows of the result.
#[inline(always)]
fn text_attention(qkv: &[f32], bias: &[f32], span: Range<usize>, out: &mut [f32], dims: Dims) {
    let (hidden, heads) = (dims.hidden, dims.heads);
    let (d, width, n) = (hidden / heads, 3 * hidden, span.len());
    let (mut q, mut k, mut v) = (vec![0f32; n * d], vec![0f32; n * d], vec![0f32; n * d]);
    let mut scores = vec![0f32; n];
    for h in 0..heads {
        let cols = h * d..(h + 1) * d;
        for (i, row) in span.clone().enumerate() {
            let r = &qkv[row * width..][..width];
            for (dst, part) in [(&mut q, 0), (&mut k, hidden), (&mut v, 2 * hidden)] {
                let src = &r[part + cols.start..part + cols.end];
                let b = &bias[part + cols.start..part + cols.end];
                for ((o, s), b) in dst[i * d..][..d].iter_mut().zip(src).zip(b) {
                    *o = s + b;
                }
            }
        }
        for i in 0..n {
            let qi = &q[i * d..][..d];
            let mut max = f32::NEG_INFINITY;
            for (j, s) in scores.iter_mut().enumerate() {
                *s = dot(qi, &k[j * d..][..d]);
                max = max.max(*s);
            }
            let mut sum = 0.0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let o = &mut out[i * hidden + cols.start..][..d];
            o.fill(0.0);
            for (j, &s) in scores.iter().enumerate() {
                let p = s / sum;
                for (o, v) in o.iter_mut().zip(&v[j * d..][..d]) {
                    *o += p * v;
                }
            }
        }
    }
}

/// `a . b`, in eight lanes so the compiler vectorises it (a single running sum cannot be
/// reordered).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((acc, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *acc += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `layer_norm(y + bias + residual)` row by row.
fn bias_residual_norm(
    y: &[f32],
    bias: &[f32],
    residual: &[f32],
    norm: &Norm,
    dims: Dims,
) -> Vec<f32> {
    let hidden = bias.len();
    let mut out = vec![0f32; y.len()];
    out.par_chunks_mut(hidden)
        .zip(y.par_chunks(hidden))
        .zip(residual.par_chunks(hidden))
        .with_min_len(ROWS_PER_TASK)
        .for_each(|((o, y), r)| {
            for (((o, y), b), r) in o.iter_mut().zip(y).zip(bias).zip(r) {
                *o = y + b + r;
            }
            layer_norm(o, norm, dims.eps);
        });
    out
}

/// Layer norm of one row, in place (biased variance, as PyTorch).
#[inline(always)]
fn layer_norm(row: &mut [f32], norm: &Norm, eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut lanes = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum();
    for c in chunks {
        for (acc, x) in lanes.iter_mut().zip(c) {
            *acc += (x - mean) * (x - mean);
        }
    }
    let var = (lanes.iter().sum::<f32>() + tail) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((x, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *x = (*x - mean) * inv * g + b;
    }
}

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (acc, x) in lanes.iter_mut().zip(c) {
            *acc += x;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `gelu(y + bias)` row by row (the exact, erf-based GELU).
fn bias_gelu(y: &[f32], bias: &[f32]) -> Vec<f32> {
    let width = bias.len();
    let mut out = vec![0f32; y.len()];
    out.par_chunks_mut(width)
        .zip(y.par_chunks(width))
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(o, y)| {
            for ((o, y), b) in o.iter_mut().zip(y).zip(bias) {
                *o = gelu(y + b);
            }
        });
    out
}

/// `x * (1 + erf(x / sqrt 2)) / 2`.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf as a rational function of `x` on [-4, 4] (beyond, erf is +/-1 in f32): the
/// approximation XLA and Eigen use, accurate to a few ulp. Branch-free, so a loop over it
/// vectorises, where libm's `erff` does not.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub(crate) fn erf(x: f32) -> f32 {
    // Numerator (odd, x times a polynomial in x^2) and denominator (even), highest power first.
    const P: [f32; 7] = [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ];
    const Q: [f32; 5] = [
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = P.iter().fold(0.0, |acc, c| acc * x2 + c);
    let q = Q.iter().fold(0.0, |acc, c| acc * x2 + c);
    x * p / q
}

/// Mean of each text's rows, L2-normalised.
fn mean_pool(x: &[f32], spans: &[Range<usize>], hidden: usize) -> Vec<Vec<f32>> {
    spans
        .iter()
        .map(|span| {
            let mut mean = vec![0f32; hidden];
            for row in span.clone() {
                for (m, v) in mean.iter_mut().zip(&x[row * hidden..][..hidden]) {
                    *m += v;
                }
            }
            let n = span.len() as f32;
            mean.iter_mut().for_each(|m| *m /= n);
            let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt();
            if norm > 0.0 {
                mean.iter_mut().for_each(|m| *m /= norm);
            }
            mean
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_candles_erf_gelu() {
        let xs: Vec<f32> = (-1200..=1200).map(|i| i as f32 / 100.0).collect();
        let want = Tensor::new(xs.as_slice(), &Device::Cpu)
            .and_then(|t| t.gelu_erf())
            .and_then(|t| t.to_vec1::<f32>())
            .unwrap();
        for (x, w) in xs.iter().zip(want) {
            let got = gelu(*x);
            assert!(
                (got - w).abs() <= 2e-6 * w.abs().max(1.0),
                "gelu({x}) = {got}, libm erf gives {w}"
            );
        }
    }

    #[test]
    fn dot_and_sum_count_every_element() {
        let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..37).map(|i| (i % 5) as f32).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), want);
        assert_eq!(sum(&a), (0..37).sum::<i32>() as f32);
    }
}
