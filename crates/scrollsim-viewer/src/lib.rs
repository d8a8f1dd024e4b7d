//! The web viewer behind `scrollsim serve`. Lists runs and sessions, filters them by
//! persona, model, value and decision, shows a session's timeline (keyframes, decision, reason,
//! matched trait, the policy's slate), its radar and trajectories, and two sessions side by
//! side. Binds 127.0.0.1 by default and needs no internet: styles and the one small script are
//! embedded in the binary.
//!
//! What it serves: pages built from traces under the runs directory, files under that
//! directory, and keyframes by image hash (parsed as an `ImageHash` before the store is asked,
//! so a URL never becomes a filesystem path). Run and session names and file paths in URLs
//! must be plain path components (no `..`, no separator inside a component, not hidden; after
//! percent-decoding) and must resolve inside the runs directory, symlinks followed.
//!
//! [`Viewer::export`] writes the same pages as static files that open from disk or any static
//! host (see the `export` module for what stays out).
//!
//! Must not: compute a number itself (every number and chart comes from scrollsim-report, the
//! one statistics pipeline), write anything outside an export directory it is given, or reach
//! the network beyond its own socket.

mod data;
mod export;
mod pages;

pub use export::ExportError;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::Markup;
use scrollsim_core::ImageHash;
use scrollsim_media::ImageStore;
use scrollsim_report::{build, ReportOptions};
use serde::Deserialize;
use tower_http::services::ServeFile;
use tower_http::set_header::SetResponseHeaderLayer;

use data::{component, load_session, Runs, StepFilter};

/// What the viewer serves.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The runs directory: every page and file comes from under it.
    pub runs: PathBuf,
    /// The keyframe store; without one, keyframes do not show.
    pub images: Option<ImageStore>,
    /// Rolling window of the trajectories, in steps (at least 1).
    pub window: usize,
    /// Above this share of salvaged answers the run page warns (`[report] salvaged_warn`).
    pub salvaged_warn: f64,
}

/// Why the viewer could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("runs directory {}: {source}", path.display())]
    Runs {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("runs directory {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// A request the viewer refuses or cannot answer; shown as an escaped error page.
#[derive(Debug)]
pub enum ServeError {
    BadRequest(String),
    NotFound,
    Internal(String),
}

impl ServeError {
    pub fn internal(e: impl std::fmt::Display) -> ServeError {
        ServeError::Internal(e.to_string())
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ServeError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ServeError::NotFound => (StatusCode::NOT_FOUND, "not found".to_string()),
            ServeError::Internal(m) => {
                tracing::warn!("viewer: {m}");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        (status, pages::error(status.as_u16(), &msg)).into_response()
    }
}

struct AppState {
    runs: Runs,
    images: Option<ImageStore>,
    window: usize,
    salvaged_warn: f64,
    css: String,
}

type Shared = State<Arc<AppState>>;

/// Runs blocking trace reading off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ServeError::internal)?
}

async fn home(State(s): Shared) -> Result<Markup, ServeError> {
    let st = s.clone();
    blocking(move || {
        let runs = st.runs.list()?;
        Ok(pages::home(&runs, &st.runs.root().display().to_string()))
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
struct RunQuery {
    persona: Option<String>,
    model: Option<String>,
    value: Option<String>,
    decision: Option<String>,
}

async fn run_page(
    State(s): Shared,
    UrlPath(run): UrlPath<String>,
    Query(q): Query<RunQuery>,
) -> Result<Markup, ServeError> {
    let dir = s.runs.run_dir(&run)?;
    let steps = StepFilter::parse(q.value.as_deref(), q.decision.as_deref())?;
    let salvaged_warn = s.salvaged_warn;
    blocking(move || {
        let opts = ReportOptions {
            threads: 2,
            salvaged_warn,
            ..Default::default()
        };
        let report =
            build(&run, std::slice::from_ref(&dir), None, &opts).map_err(ServeError::internal)?;
        let nonempty =
            |x: &Option<String>| x.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        let (persona, model) = (nonempty(&q.persona), nonempty(&q.model));
        let mut personas: Vec<String> = report
            .sessions()
            .iter()
            .map(|r| {
                r.persona
                    .clone()
                    .unwrap_or_else(|| scrollsim_report::CONTROL.into())
            })
            .collect();
        personas.sort();
        personas.dedup();
        let mut models: Vec<String> = report.sessions().iter().map(|r| r.model.clone()).collect();
        models.sort();
        models.dedup();
        let mut rows = Vec::new();
        let sessions_dir = dir.clone();
        for r in report.sessions() {
            let p = r.persona.as_deref().unwrap_or(scrollsim_report::CONTROL);
            if persona.as_deref().is_some_and(|x| x != p)
                || model.as_deref().is_some_and(|x| x != r.model)
            {
                continue;
            }
            // Session paths in the summary are relative to the run directory.
            let path = sessions_dir.join(&r.path);
            let matching = if steps.is_empty() {
                None
            } else {
                Some(data::count_matching(&path, &steps)?)
            };
            if matching == Some(0) {
                continue;
            }
            let stem = path
                .file_stem()
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_default();
            rows.push(pages::SessionRow {
                record: r,
                stem,
                matching,
            });
        }
        let filters = pages::RunFilters {
            persona: persona.as_deref(),
            model: model.as_deref(),
            steps,
            personas,
            models,
        };
        Ok(pages::run_page(&run, &report, &rows, &filters))
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
struct SessionQuery {
    value: Option<String>,
    decision: Option<String>,
    from: Option<u32>,
    limit: Option<u32>,
}

async fn session_page(
    State(s): Shared,
    UrlPath((run, session)): UrlPath<(String, String)>,
    Query(q): Query<SessionQuery>,
) -> Result<Markup, ServeError> {
    let trace = s.runs.trace(&run, &session)?;
    let filter = StepFilter::parse(q.value.as_deref(), q.decision.as_deref())?;
    let window = s.window;
    blocking(move || {
        let mut v = load_session(
            &trace,
            &run,
            &session,
            &filter,
            q.from.unwrap_or(0),
            q.limit.unwrap_or(200).clamp(1, 2000),
            window,
        )?;
        v.fall_back_to_judged(s.images.as_ref());
        Ok(pages::session_page(&v, &filter))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct CompareQuery {
    a: String,
    b: String,
}

/// `run/session` from a compare query.
fn run_session(s: &str) -> Result<(String, String), ServeError> {
    let (run, session) = s
        .split_once('/')
        .ok_or_else(|| ServeError::BadRequest(format!("expected run/session, got {s:?}")))?;
    Ok((component(run)?.to_string(), component(session)?.to_string()))
}

async fn compare(State(s): Shared, Query(q): Query<CompareQuery>) -> Result<Markup, ServeError> {
    let (ra, sa) = run_session(&q.a)?;
    let (rb, sb) = run_session(&q.b)?;
    let (ta, tb) = (s.runs.trace(&ra, &sa)?, s.runs.trace(&rb, &sb)?);
    let window = s.window;
    blocking(move || {
        let all = StepFilter::default();
        let mut a = load_session(&ta, &ra, &sa, &all, 0, 500, window)?;
        let mut b = load_session(&tb, &rb, &sb, &all, 0, 500, window)?;
        a.fall_back_to_judged(s.images.as_ref());
        b.fall_back_to_judged(s.images.as_ref());
        Ok(pages::compare_page(&a, &b))
    })
    .await
}

async fn image(State(s): Shared, UrlPath(hash): UrlPath<String>) -> Result<Response, ServeError> {
    // The hash is validated before anything touches the disk: 64 lowercase hex digits only.
    let hash: ImageHash = hash
        .parse()
        .map_err(|e: scrollsim_core::ids::BadImageHash| ServeError::BadRequest(e.to_string()))?;
    let store = s.images.clone().ok_or(ServeError::NotFound)?;
    let bytes = blocking(move || {
        if !store.contains(&hash) {
            return Err(ServeError::NotFound);
        }
        store.get(&hash).map_err(ServeError::internal)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A file under the runs directory (traces, summary.json, the HTML report), served by
/// tower-http's `ServeFile` once the path is checked.
async fn file(
    State(s): Shared,
    UrlPath(rel): UrlPath<String>,
    req: axum::extract::Request,
) -> Result<Response, ServeError> {
    use tower::ServiceExt as _;
    let path = s.runs.file(&rel)?;
    let res = ServeFile::new(path)
        .oneshot(req)
        .await
        .map_err(ServeError::internal)?;
    Ok(res.map(axum::body::Body::new))
}

async fn css(State(s): Shared) -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        s.css.clone(),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        pages::SCRIPT,
    )
        .into_response()
}

async fn not_found() -> ServeError {
    ServeError::NotFound
}

/// The viewer's routes.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/runs/{run}", get(run_page))
        .route("/runs/{run}/sessions/{session}", get(session_page))
        .route("/compare", get(compare))
        .route("/images/{hash}", get(image))
        .route("/assets/viewer.css", get(css))
        .route("/assets/viewer.js", get(js))
        .route("/files/{*path}", get(file))
        .fallback(not_found)
        .with_state(state)
        // Defence in depth: even if markup slipped through, no inline or foreign script runs.
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

impl Viewer {
    /// The viewer's routes, over the runs directory (checked here: it must exist).
    pub fn router(&self) -> Result<Router, ViewerError> {
        Ok(router(self.state()?))
    }

    fn state(&self) -> Result<Arc<AppState>, ViewerError> {
        Ok(Arc::new(AppState {
            runs: Runs::open(&self.runs)?,
            images: self.images.clone(),
            window: self.window.max(1),
            salvaged_warn: self.salvaged_warn,
            css: pages::stylesheet(),
        }))
    }

    /// Serves on `listener` until `shutdown` completes (then finishes the requests in flight).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ViewerError> {
        axum::serve(listener, self.router()?)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ViewerError::Serve)
    }

    /// Writes the viewer as static files into `out` (new or empty); returns the files written.
    /// The runs directory is checked first, as for [`Viewer::router`].
    pub async fn export(&self, out: &Path) -> Result<usize, ViewerError> {
        Ok(export::export(self.state()?, out).await?)
    }

    /// The runs directory as the viewer resolves it (symlinks followed), for messages.
    pub fn runs_root(&self) -> Result<PathBuf, ViewerError> {
        Ok(Runs::open(&self.runs)?.root().to_path_buf())
    }
}
