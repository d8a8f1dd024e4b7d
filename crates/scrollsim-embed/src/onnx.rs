//! all-MiniLM-L6-v2 on ONNX Runtime: the faster of the two engines that run the network.
//!
//! The graph (`model.onnx` beside the safetensors) is built from the same weights by
//! `scripts/minilm-onnx.py`; the library (`libonnxruntime.so`) comes from the PyPI
//! `onnxruntime` wheel and is loaded at run time (`ort`'s `load-dynamic`), so scrollsim builds
//! and runs without it: [`crate::MiniLmEmbedder`] falls back to the candle encoder.
//!
//! Throughput comes from three choices:
//! - texts are sorted by token count before batching, so a batch pads to almost nothing;
//! - one session per core (up to [`MAX_SESSIONS`]), each running whole batches on one thread,
//!   instead of one session splitting every operation across threads: no barrier between the
//!   graph's ~100 operations, no thread spinning while waiting;
//! - the graph uses ONNX Runtime's fused CPU kernels (attention, bias + GELU, residual + layer
//!   norm), at optimisation level "all".

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

/// Sessions each hold the weights (~90 MB, twice once pre-packed): beyond a few, memory grows
/// faster than speed, so larger machines give each session several threads instead.
pub(crate) const MAX_SESSIONS: usize = 4;

/// The ONNX Runtime version `ort` is written against: older libraries lack its API.
const MIN_MINOR: u32 = ort::MINOR_VERSION;

/// The library this process loaded and its version: `ort` loads one per process, so a later
/// request for another file is refused. Failed attempts are not remembered.
static LOADED: Mutex<Option<(PathBuf, String)>> = Mutex::new(None);

/// Why ONNX Runtime could not be loaded or could not run. At load, the caller makes it the
/// reason it falls back to candle (or a config error when `onnx` was asked for); at run time,
/// an [`crate::EmbedError::Onnx`].
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The graph or the library is not installed.
    #[error("{} is missing (scripts/setup.sh {installs})", path.display())]
    Missing {
        path: PathBuf,
        /// How scripts/setup.sh installs it: "builds it", "fetches it".
        installs: &'static str,
    },
    /// `ort` keeps the first library a process loads.
    #[error(
        "this process already loaded ONNX Runtime from {} (one library per process), not {}",
        first.display(),
        asked.display()
    )]
    OtherLibrary { first: PathBuf, asked: PathBuf },
    #[error("{} is ONNX Runtime {version}; 1.{MIN_MINOR} or newer is needed", path.display())]
    TooOld { path: PathBuf, version: String },
    /// The file is not a loadable library, or not ONNX Runtime's.
    #[error("{}: {source}", path.display())]
    Library {
        path: PathBuf,
        source: libloading::Error,
    },
    /// The library's C API answered without a version.
    #[error("{}: {what}", path.display())]
    NoVersion { path: PathBuf, what: &'static str },
    /// ONNX Runtime refused the library or the graph at `path`.
    #[error("{}: {source}", path.display())]
    Load { path: PathBuf, source: ort::Error },
    #[error("text {0} has no tokens")]
    NoTokens(usize),
    #[error("ONNX Runtime: {0}")]
    Run(#[from] ort::Error),
    /// The graph's output does not have the shape the texts ask for.
    #[error("the graph returned {got} values for {texts} texts of dimension {dim}")]
    Shape {
        got: usize,
        texts: usize,
        dim: usize,
    },
}

/// all-MiniLM-L6-v2's graph in ONNX Runtime sessions.
pub(crate) struct OnnxEncoder {
    sessions: Vec<Mutex<Session>>,
    threads_per_session: usize,
    version: String,
    library: PathBuf,
    hidden: usize,
}

impl OnnxEncoder {
    /// Loads the library (once per process) and `model` into one session per core. The error
    /// says why, for the fallback's log line.
    pub(crate) fn load(model: &Path, library: &Path, hidden: usize) -> Result<Self, OnnxError> {
        if !model.is_file() {
            return Err(OnnxError::Missing {
                path: model.to_path_buf(),
                installs: "builds it",
            });
        }
        let (library, version) = load_library(library)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = cores.clamp(1, MAX_SESSIONS);
        let threads_per_session = (cores / n).max(1);
        let sessions = (0..n)
            .map(|_| {
                Session::builder()
                    .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::Level3))
                    .and_then(|b| b.with_intra_threads(threads_per_session))
                    .and_then(|b| b.with_inter_threads(1))
                    .and_then(|b| b.commit_from_file(model))
                    .map(Mutex::new)
                    .map_err(|source| OnnxError::Load {
                        path: model.to_path_buf(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OnnxEncoder {
            sessions,
            threads_per_session,
            version,
            library,
            hidden,
        })
    }

    /// What runs, for logs and benchmarks.
    pub(crate) fn describe(&self) -> String {
        format!(
            "ONNX Runtime {} ({}), {} session(s) x {} thread(s)",
            self.version,
            self.library.display(),
            self.sessions.len(),
            self.threads_per_session
        )
    }

    /// Token ids of each text (already truncated) to the mean of each text's last hidden
    /// states, L2-normalised, in input order. At most `batch_size` texts per forward pass.
    pub(crate) fn embed(
        &self,
        texts: &[&[u32]],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, OnnxError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(empty) = texts.iter().position(|t| t.is_empty()) {
            return Err(OnnxError::NoTokens(empty));
        }
        // Shortest first, so each batch pads to its neighbours' length; small enough batches
        // that every session gets work.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let per_batch = batch_size
            .min(texts.len().div_ceil(self.sessions.len()))
            .max(1);
        let batches: Vec<&[usize]> = order.chunks(per_batch).collect();
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<(usize, Vec<f32>)>> = Mutex::new(Vec::with_capacity(texts.len()));
        let failed: Mutex<Option<OnnxError>> = Mutex::new(None);
        let work = |session: &Mutex<Session>| {
            let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(i) else { break };
                match self.run(&mut session, texts, batch) {
                    Ok(rows) => done
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(batch.iter().copied().zip(rows)),
                    Err(e) => {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        next.store(batches.len(), Ordering::Relaxed);
                        break;
                    }
                }
            }
        };
        let workers = self.sessions.len().min(batches.len());
        if workers == 1 {
            work(&self.sessions[0]);
        } else {
            std::thread::scope(|s| {
                for session in &self.sessions[..workers] {
                    s.spawn(|| work(session));
                }
            });
        }
        if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        done.sort_unstable_by_key(|(i, _)| *i);
        Ok(done.into_iter().map(|(_, v)| v).collect())
    }

    /// One forward pass over the texts `batch` names, padded to the longest of them.
    fn run(
        &self,
        session: &mut Session,
        texts: &[&[u32]],
        batch: &[usize],
    ) -> Result<Vec<Vec<f32>>, OnnxError> {
        let len = batch.iter().map(|&i| texts[i].len()).max().unwrap_or(0);
        let mut ids = vec![0i64; batch.len() * len];
        let mut mask = vec![0i64; batch.len() * len];
        for (row, &i) in batch.iter().enumerate() {
            for (j, &id) in texts[i].iter().enumerate() {
                ids[row * len + j] = i64::from(id);
                mask[row * len + j] = 1;
            }
        }
        let shape = [batch.len(), len];
        let outputs = session.run(ort::inputs![
            "input_ids" => Tensor::from_array((shape, ids))?,
            "attention_mask" => Tensor::from_array((shape, mask))?,
        ])?;
        let (_, data) = outputs["embedding"].try_extract_tensor::<f32>()?;
        if data.len() != batch.len() * self.hidden {
            return Err(OnnxError::Shape {
                got: data.len(),
                texts: batch.len(),
                dim: self.hidden,
            });
        }
        Ok(data
            .chunks(self.hidden)
            .map(|row| {
                let mut v = row.to_vec();
                crate::normalize(&mut v);
                v
            })
            .collect())
    }
}

/// Loads ONNX Runtime from `path` for this process (`ort` keeps the first library it loads).
fn load_library(path: &Path) -> Result<(PathBuf, String), OnnxError> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((first, version)) = &*loaded {
        return if *first == path {
            Ok((first.clone(), version.clone()))
        } else {
            Err(OnnxError::OtherLibrary {
                first: first.clone(),
                asked: path,
            })
        };
    }
    let version = library_version(&path)?;
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if minor < MIN_MINOR {
        return Err(OnnxError::TooOld { path, version });
    }
    ort::init_from(path.display().to_string())
        .with_name("scrollsim")
        .commit()
        .map_err(|source| OnnxError::Load {
            path: path.clone(),
            source,
        })?;
    *loaded = Some((path.clone(), version.clone()));
    Ok((path, version))
}

/// The version string of the ONNX Runtime library at `path`, checked before `ort` loads it:
/// `ort` panics on a library it cannot load, and a missing or foreign file must instead make
/// scrollsim fall back to candle with a reason.
#[allow(unsafe_code)]
fn library_version(path: &Path) -> Result<String, OnnxError> {
    if !path.is_file() {
        return Err(OnnxError::Missing {
            path: path.to_path_buf(),
            installs: "fetches it",
        });
    }
    let failed = |source| OnnxError::Library {
        path: path.to_path_buf(),
        source,
    };
    let no_version = |what| OnnxError::NoVersion {
        path: path.to_path_buf(),
        what,
    };
    // SAFETY: loading a shared library runs its initialisers. The path is the ONNX Runtime
    // library the configuration names, which `ort` loads right after this check anyway.
    let lib = unsafe { libloading::Library::new(path) }.map_err(failed)?;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime release (its C API's
    // stable entry point); a library without the symbol is rejected here.
    let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
        unsafe { lib.get(b"OrtGetApiBase") }.map_err(failed)?;
    // SAFETY: the entry point takes no arguments and returns a pointer to a static struct
    // (checked for null); its version function returns a static NUL-terminated string.
    let version = unsafe {
        let base = get_base();
        if base.is_null() {
            return Err(no_version("OrtGetApiBase returned null"));
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return Err(no_version("no version string"));
        }
        CStr::from_ptr(v).to_string_lossy().into_owned()
    };
    Ok(version)
}
