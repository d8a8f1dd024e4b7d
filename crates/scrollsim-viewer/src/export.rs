//! The viewer as static files (`scrollsim serve --export <dir>`) that open from disk or any
//! static host (so a paper can link its traces). The viewer's own routes are requested in
//! process (no socket) from `/` along every link, and each page is written with its links made
//! relative: `index.html`, `runs/<run>/index.html`, `runs/<run>/sessions/<session>.html`,
//! `images/<hash>.jpg`, `assets/`, and the run files the pages link (`files/`).
//!
//! What needs a server stays out: the filter forms and the two-session comparison (their links
//! point at `#`), and session pages hold up to [`STEPS`] steps.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use super::{router, AppState};

/// Why an export stopped; what was written so far stays.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: not empty; export into a new directory", .0.display())]
    NotEmpty(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("exporting {url}: {detail}")]
    Request { url: String, detail: String },
    #[error("exporting {url}: the viewer answered {status}")]
    Status { url: String, status: StatusCode },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Steps written per session page.
pub const STEPS: u32 = 2000;

/// Where a viewer URL's page lives in the export, or None when it is not exported.
fn target(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [""] => Some("index.html".into()),
        ["runs", run] => Some(format!("runs/{run}/index.html")),
        ["runs", run, "sessions", s] => Some(format!("runs/{run}/sessions/{s}.html")),
        ["images", h] => Some(format!("images/{h}.jpg")),
        ["assets", f] => Some(format!("assets/{f}")),
        ["files", rest @ ..] if !rest.is_empty() => Some(format!("files/{}", rest.join("/"))),
        _ => None,
    }
}

/// The request made for a URL (session pages ask for every step).
fn request_for(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    if path.contains("/sessions/") {
        format!("{path}?limit={STEPS}")
    } else {
        path.to_string()
    }
}

/// Rewrites `href`, `src` and `action` values that start with `/` relative to the page at
/// `page` (a path in the export); returns the rewritten page and the URLs it links.
fn rewrite(html: &str, page: &str) -> (String, Vec<String>) {
    let up = "../".repeat(page.matches('/').count());
    let mut out = String::with_capacity(html.len());
    let mut links = Vec::new();
    let mut rest = html;
    loop {
        let next = ["href=\"/", "src=\"/", "action=\"/"]
            .iter()
            .filter_map(|a| {
                rest.find(a)
                    .map(|i| (i, a.len() - 1, a.starts_with("action")))
            })
            .min();
        let Some((i, attr_len, form)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i + attr_len]);
        rest = &rest[i + attr_len..];
        let end = rest.find('"').unwrap_or(rest.len());
        let url = rest[..end].replace("&amp;", "&");
        // Forms and the comparison need the server.
        match target(&url).filter(|_| !form) {
            Some(t) if !url.starts_with("/compare") => {
                out.push_str(&up);
                out.push_str(&t);
                links.push(url);
            }
            _ => out.push('#'),
        }
        rest = &rest[end..];
    }
    (out, links)
}

async fn get(state: &Arc<AppState>, url: &str) -> Result<(StatusCode, Vec<u8>), ExportError> {
    let failed = |detail: String| ExportError::Request {
        url: url.to_string(),
        detail,
    };
    let req = Request::get(request_for(url))
        .body(Body::empty())
        .map_err(|e| failed(e.to_string()))?;
    let res = router(state.clone())
        .oneshot(req)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 30)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok((status, bytes.to_vec()))
}

/// Writes the viewer for the runs `state` serves into `out`; returns the pages written.
pub(crate) async fn export(state: Arc<AppState>, out: &Path) -> Result<usize, ExportError> {
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(ExportError::NotEmpty(out.to_path_buf()));
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::from(["/".to_string()]);
    let mut written = 0;
    while let Some(url) = queue.pop_front() {
        let Some(file) = target(&url) else { continue };
        if !seen.insert(file.clone()) {
            continue;
        }
        let (status, body) = get(&state, &url).await?;
        if status == StatusCode::NOT_FOUND && url.starts_with("/images/") {
            // A keyframe the image store does not hold shows as missing, as when served.
            continue;
        }
        if !status.is_success() {
            return Err(ExportError::Status { url, status });
        }
        let body = if file.ends_with(".html") && !url.starts_with("/files/") {
            let (page, links) = rewrite(&String::from_utf8_lossy(&body), &file);
            queue.extend(links);
            page.into_bytes()
        } else {
            body
        };
        let path = out.join(&file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&path, body).map_err(io(&path))?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_relative_to_the_page() {
        let html = r#"<link href="/assets/viewer.css"><a href="/">h</a><a href="/runs/r/sessions/s?value=BE&amp;decision=like">s</a><img src="/images/ab"><form action="/compare"><a href="/compare?a=r/s&amp;b=r/t">c</a>"#;
        let (page, links) = rewrite(html, "runs/r/sessions/s.html");
        assert_eq!(
            page,
            r##"<link href="../../../assets/viewer.css"><a href="../../../index.html">h</a><a href="../../../runs/r/sessions/s.html">s</a><img src="../../../images/ab.jpg"><form action="#"><a href="#">c</a>"##
        );
        assert_eq!(
            links,
            [
                "/assets/viewer.css",
                "/",
                "/runs/r/sessions/s?value=BE&decision=like",
                "/images/ab"
            ]
        );
    }

    fn viewer(runs: &Path) -> crate::Viewer {
        crate::Viewer {
            runs: runs.to_path_buf(),
            images: None,
            window: 25,
            salvaged_warn: 0.05,
        }
    }

    #[tokio::test]
    async fn an_export_never_writes_into_a_directory_that_holds_files() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        std::fs::create_dir_all(&runs).unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("keep.txt"), "mine").unwrap();
        let err = viewer(&runs).export(&out).await.unwrap_err();
        assert!(
            matches!(err, crate::ViewerError::Export(ExportError::NotEmpty(ref p)) if *p == out),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert_eq!(left.len(), 1, "the export wrote beside the user's file");
    }

    #[tokio::test]
    async fn an_export_of_no_runs_is_a_home_page_and_its_assets_linked_relatively() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        std::fs::create_dir_all(&runs).unwrap();
        let out = tmp.path().join("out");
        let n = viewer(&runs).export(&out).await.unwrap();
        assert!(out.join("index.html").is_file());
        assert!(out.join("assets/viewer.css").is_file());
        let home = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(home.contains("href=\"assets/viewer.css\""), "{home}");
        assert!(
            !home.contains("href=\"/"),
            "a link still points at a server: {home}"
        );
        let files = walk(&out);
        assert_eq!(n, files, "the count printed is not the files written");
    }

    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p)
                } else {
                    1
                }
            })
            .sum()
    }
}
