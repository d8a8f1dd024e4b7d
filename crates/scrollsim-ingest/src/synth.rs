//! A synthetic corpus of real size: still screenshots (9:16 JPEGs) with captions, hashtags and
//! metadata in the fixture corpus's style, written from the value keywords of
//! `config/values.toml`. The paper browsed ~50,000 screenshots; this makes a corpus of that
//! size for scale work (ingest rate, store size, study speed) without anyone's footage.
//!
//! Every item is a pure function of (seed, index): its value (round robin over the ten), two
//! of that value's keywords, a caption from a template, hashtags, topic, platform, post date
//! and views, and a picture: a title card reading the keyword over a gradient in the value's
//! hue, with the platform badge, the caption and the hashtags written on it. The same seed
//! gives the same corpus, byte for byte. Labels are the value the item was written from;
//! they are synthetic and say nothing about what a model would see in a real video.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use scrollsim_core::config::ValueCatalog;
use scrollsim_core::Value;

use crate::IngestError;

/// What to write.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub n: usize,
    pub seed: u64,
    /// `<out>/metadata.jsonl` and `<out>/media/<nnn>/<id>.jpg` (1,000 files a folder).
    pub out: PathBuf,
    pub width: u32,
    pub height: u32,
    pub jpeg_quality: u8,
}

impl SynthOptions {
    pub fn new(n: usize, out: PathBuf) -> Self {
        SynthOptions {
            n,
            seed: 7,
            out,
            width: 270,
            height: 480,
            jpeg_quality: 85,
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct SynthSummary {
    pub items: usize,
    /// Pictures a previous, interrupted run had already written whole, kept as they were.
    pub kept: usize,
    /// Size of all `items` pictures, kept ones included.
    pub bytes: u64,
    pub seconds: f64,
    pub metadata: PathBuf,
}

/// `<out>/synth.json`: what the pictures in `<out>` were made with, written before the first
/// one, so a run into a directory that holds pictures continues only the same corpus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Recipe {
    seed: u64,
    width: u32,
    height: u32,
    jpeg_quality: u8,
}

impl Recipe {
    const FILE: &'static str = "synth.json";

    fn of(opts: &SynthOptions) -> Self {
        Recipe {
            seed: opts.seed,
            width: opts.width,
            height: opts.height,
            jpeg_quality: opts.jpeg_quality,
        }
    }
}

const PLATFORMS: [&str; 3] = ["tiktok", "instagram", "youtube"];
const TOPICS: [&str; 12] = [
    "lifestyle",
    "food",
    "travel",
    "sports",
    "technology",
    "hobbies",
    "family",
    "finance",
    "education",
    "nature",
    "fashion",
    "fitness",
];
const TEMPLATES: [&str; 10] = [
    "POV: {k} on a {day} and it changed everything",
    "Day {n} of {k}. {K2} tomorrow",
    "Nobody talks about {k} like this",
    "Trying {k} for the first time, honest review",
    "When {k} meets {k2} 🙌",
    "My {k} routine, part {n}",
    "Why {k} matters more than you think",
    "{K} check ✅ {k2} next",
    "Little reminder about {k} this {day}",
    "This is what {k} looks like for us",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const HANDLES: [&str; 8] = [
    "amara.moves",
    "joon.daily",
    "the.rivera.fam",
    "kai_outdoors",
    "lena.makes",
    "dev.with.sam",
    "nour.eats",
    "oli.trains",
];

/// SplitMix64: every choice of an item is a hash of (seed, index, purpose).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Draw(u64);

impl Draw {
    fn new(seed: u64, index: usize) -> Self {
        Draw(mix(seed ^ mix(index as u64)))
    }
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One item: its metadata row and the picture's text.
struct Item {
    id: String,
    file: String,
    value: Value,
    keyword: String,
    caption: String,
    hashtags: Vec<String>,
    platform: &'static str,
    row: serde_json::Value,
    hue: f64,
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn tag(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn item(catalog: &ValueCatalog, seed: u64, index: usize) -> Item {
    let mut d = Draw::new(seed, index);
    let values = Value::ALL;
    let value = values[index % values.len()];
    let keywords = &catalog.values[value].keywords;
    let k = d.pick(keywords).clone();
    let k2 = {
        let other = d.pick(keywords).clone();
        if other == k {
            keywords[(keywords.iter().position(|x| *x == k).unwrap_or(0) + 1) % keywords.len()]
                .clone()
        } else {
            other
        }
    };
    let template = *d.pick(&TEMPLATES[..]);
    let day = *d.pick(&DAYS[..]);
    let caption = template
        .replace("{k}", &k)
        .replace("{K}", &capitalise(&k))
        .replace("{k2}", &k2)
        .replace("{K2}", &capitalise(&k2))
        .replace("{day}", day)
        .replace("{n}", &(1 + d.next() % 100).to_string());
    let platform = *d.pick(&PLATFORMS[..]);
    let hashtags = vec![
        tag(&k),
        tag(&k2),
        (*d.pick(&["fyp", "foryou", "viral", "daily"][..])).into(),
    ];
    let topic = *d.pick(&TOPICS[..]);
    let handle = *d.pick(&HANDLES[..]);
    let code = d.next();
    let url = match platform {
        "tiktok" => format!(
            "https://www.tiktok.com/@{handle}/video/{}",
            7_300_000_000_000_000_000u64 + code % 100_000_000_000_000_000
        ),
        "instagram" => format!("https://www.instagram.com/reel/{:011x}/", code >> 20),
        _ => format!("https://www.youtube.com/shorts/{:011x}", code >> 20),
    };
    let posted = chrono::NaiveDate::from_ymd_opt(2024, 7, 1).expect("a date")
        + chrono::Duration::days((d.next() % 122) as i64);
    let views = 10f64.powf(3.0 + 3.6 * d.unit()) as u64;
    let id = format!("synth-{index:06}");
    let file = format!("media/{:03}/{id}.jpg", index / 1000);
    let hue = (values.iter().position(|v| *v == value).unwrap_or(0) as f64 * 36.0
        + 20.0 * d.unit())
        % 360.0;
    let description = format!(
        "Screenshot of a title card reading \"{}\" over a gradient, with the platform badge, \
         the caption and the hashtags written on it.",
        k.to_uppercase()
    );
    let row = serde_json::json!({
        "file": file,
        "id": id,
        "platform": platform,
        "url": url,
        "posted": posted.to_string(),
        "caption": caption,
        "hashtags": hashtags,
        "topic": topic,
        "description": description,
        "views": views,
        "label": value.code(),
        // Provenance, as every corpus record carries it: made here, free to use.
        "source": "scrollsim corpus synth: a synthetic screenshot rendered from the value keywords",
        "licence": "CC0-1.0",
    });
    Item {
        id,
        file,
        value,
        keyword: k,
        caption,
        hashtags,
        platform,
        row,
        hue,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Greedy word wrap at `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn svg(it: &Item, w: u32, h: u32) -> String {
    let (h1, h2) = (it.hue, (it.hue + 40.0) % 360.0);
    let title = wrap(&it.keyword.to_uppercase(), 14);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 270 480">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="hsl({h1:.0},70%,55%)"/><stop offset="1" stop-color="hsl({h2:.0},60%,25%)"/>
</linearGradient></defs>
<rect width="270" height="480" fill="url(#g)"/>
<circle cx="{cx:.0}" cy="{cy:.0}" r="70" fill="white" fill-opacity="0.12"/>
<rect x="10" y="12" rx="8" width="96" height="24" fill="black" fill-opacity="0.55"/>
<text x="58" y="29" font-size="13" font-weight="bold" fill="white" text-anchor="middle">{badge}</text>
"##,
        cx = 40.0 + (it.hue * 7.0) % 190.0,
        cy = 120.0 + (it.hue * 3.0) % 160.0,
        badge = it.platform,
    );
    let top = 200.0 - 16.0 * title.len() as f64;
    for (i, line) in title.iter().enumerate() {
        s.push_str(&format!(
            "<text x=\"135\" y=\"{:.0}\" font-size=\"28\" font-weight=\"bold\" fill=\"white\" text-anchor=\"middle\">{}</text>\n",
            top + 34.0 * i as f64,
            escape(line)
        ));
    }
    s.push_str("<rect x=\"0\" y=\"330\" width=\"270\" height=\"150\" fill=\"black\" fill-opacity=\"0.45\"/>\n");
    for (i, line) in wrap(&it.caption, 30).iter().take(4).enumerate() {
        s.push_str(&format!(
            "<text x=\"14\" y=\"{}\" font-size=\"14\" fill=\"white\">{}</text>\n",
            354 + 19 * i,
            escape(line)
        ));
    }
    let tags: Vec<String> = it.hashtags.iter().map(|t| format!("#{t}")).collect();
    s.push_str(&format!(
        "<text x=\"14\" y=\"464\" font-size=\"12\" fill=\"#cfe8ff\">{}</text>\n</svg>\n",
        escape(&tags.join(" "))
    ));
    s
}

/// Why one picture could not be made.
#[derive(Debug, thiserror::Error)]
enum RenderError {
    #[error("its SVG: {0}")]
    Svg(#[from] resvg::usvg::Error),
    #[error("picture size is zero")]
    ZeroSize,
    #[error("JPEG encoding: {0}")]
    Jpeg(#[from] image::ImageError),
}

/// The picture of one item as JPEG bytes.
fn render(it: &Item, opts: &SynthOptions) -> Result<Vec<u8>, RenderError> {
    use resvg::{tiny_skia, usvg};
    let uopts = usvg::Options {
        fontdb: scrollsim_media::fonts(),
        font_family: scrollsim_media::SANS.into(),
        ..Default::default()
    };
    let tree = usvg::Tree::from_str(&svg(it, opts.width, opts.height), &uopts)?;
    let mut pixmap =
        tiny_skia::Pixmap::new(opts.width, opts.height).ok_or(RenderError::ZeroSize)?;
    let scale = opts.width as f32 / 270.0;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, opts.height as f32 / 480.0),
        &mut pixmap.as_mut(),
    );
    // Opaque throughout (the background covers it), so premultiplied RGBA is plain RGB.
    let rgb: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, opts.jpeg_quality).encode(
        &rgb,
        opts.width,
        opts.height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// Whether `path` holds a whole JPEG (starts with SOI, ends with EOI). Pictures are written
/// to a temporary name and renamed, so one cut short by an interrupt is normally absent; this
/// also catches one a crash left empty or that something else truncated.
fn is_whole_jpeg(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let check = || -> std::io::Result<bool> {
        let mut f = std::fs::File::open(path)?;
        let (mut head, mut tail) = ([0u8; 2], [0u8; 2]);
        f.read_exact(&mut head)?;
        f.seek(SeekFrom::End(-2))?;
        f.read_exact(&mut tail)?;
        Ok(head == [0xFF, 0xD8] && tail == [0xFF, 0xD9])
    };
    check().unwrap_or(false)
}

/// Checks `<out>/synth.json` against `opts` (a run continues only the same corpus), or writes
/// it when missing; a directory holding pictures but no recipe is refused.
fn check_recipe(opts: &SynthOptions) -> Result<(), IngestError> {
    let path = opts.out.join(Recipe::FILE);
    let want = Recipe::of(opts);
    let err = |detail: String| IngestError::Source {
        path: path.clone(),
        detail,
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let had: Recipe = serde_json::from_slice(&bytes)
                .map_err(|e| err(format!("not a synth recipe: {e}")))?;
            if had != want {
                return Err(err(format!(
                    "the pictures here were made with {had:?}, this run asks for {want:?}: \
                     use the same seed and size to continue that corpus, or another directory"
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let media = opts.out.join("media");
            let has_media = std::fs::read_dir(&media)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if has_media {
                return Err(IngestError::Source {
                    path: media,
                    detail: format!(
                        "holds pictures but {} has no {}, so what made them is unknown: \
                         use an empty directory",
                        opts.out.display(),
                        Recipe::FILE
                    ),
                });
            }
            let tmp = opts.out.join("synth.json.tmp");
            let json = serde_json::to_vec_pretty(&want).expect("a recipe serialises");
            std::fs::write(&tmp, json)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| err(e.to_string()))
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// Writes the corpus: pictures in parallel (rayon), then `metadata.jsonl` in index order.
/// Resumable: a picture already there whole (from an interrupted run with the same recipe,
/// `synth.json`) is kept, the missing ones are made, and the metadata, a pure function of
/// (seed, index), is written whole at the end. Progress is reported as items done, kept ones
/// included.
pub fn synth(
    catalog: &ValueCatalog,
    opts: &SynthOptions,
    progress: impl Fn(usize) + Sync,
) -> Result<SynthSummary, IngestError> {
    let started = std::time::Instant::now();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| IngestError::Source {
            path,
            detail: e.to_string(),
        }
    };
    if scrollsim_media::fonts().faces().next().is_none() {
        return Err(IngestError::Source {
            path: opts.out.clone(),
            detail: "no fonts found to write captions with (install fonts-dejavu-core, as \
                     scripts/setup.sh does)"
                .into(),
        });
    }
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    check_recipe(opts)?;
    std::fs::create_dir_all(opts.out.join("media")).map_err(io(&opts.out))?;
    let done = AtomicUsize::new(0);
    let kept = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    let rows = (0..opts.n)
        .into_par_iter()
        .map(|i| {
            let it = item(catalog, opts.seed, i);
            let path = opts.out.join(&it.file);
            if is_whole_jpeg(&path) {
                let size = std::fs::metadata(&path).map_err(io(&path))?.len();
                bytes.fetch_add(size as usize, Ordering::Relaxed);
                kept.fetch_add(1, Ordering::Relaxed);
            } else {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io(dir))?;
                }
                let jpeg = render(&it, opts).map_err(|detail| IngestError::Source {
                    path: path.clone(),
                    detail: format!("rendering {}: {detail}", it.id),
                })?;
                // Whole or absent: an interrupt never leaves a cut-off picture under its name.
                let tmp = path.with_extension("jpg.tmp");
                std::fs::write(&tmp, &jpeg).map_err(io(&tmp))?;
                std::fs::rename(&tmp, &path).map_err(io(&path))?;
                bytes.fetch_add(jpeg.len(), Ordering::Relaxed);
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(500) {
                progress(n);
            }
            debug_assert_eq!(it.value.code(), it.row["label"]);
            Ok(it.row.to_string())
        })
        .collect::<Result<Vec<String>, IngestError>>()?;
    let meta = opts.out.join("metadata.jsonl");
    let tmp = opts.out.join("metadata.jsonl.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
    for r in &rows {
        writeln!(f, "{r}").map_err(io(&tmp))?;
    }
    f.into_inner()
        .map_err(|e| io(&tmp)(e.into_error()))?
        .sync_all()
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &meta).map_err(io(&meta))?;
    progress(opts.n);
    Ok(SynthSummary {
        items: opts.n,
        kept: kept.into_inner(),
        bytes: bytes.into_inner() as u64,
        seconds: started.elapsed().as_secs_f64(),
        metadata: meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ValueCatalog {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/values.toml");
        ValueCatalog::load(&root).unwrap()
    }

    #[test]
    fn items_are_balanced_deterministic_and_in_the_fixture_style() {
        let c = catalog();
        let a: Vec<String> = (0..40).map(|i| item(&c, 7, i).row.to_string()).collect();
        let b: Vec<String> = (0..40).map(|i| item(&c, 7, i).row.to_string()).collect();
        assert_eq!(a, b);
        let other: Vec<String> = (0..40).map(|i| item(&c, 8, i).row.to_string()).collect();
        assert_ne!(a, other, "the seed changes the corpus");
        for i in 0..40 {
            let it = item(&c, 7, i);
            assert_eq!(it.value, Value::ALL[i % 10]);
            assert!(c.values[it.value].keywords.contains(&it.keyword));
            assert!(it
                .caption
                .to_lowercase()
                .contains(&it.keyword.to_lowercase()));
            for key in [
                "file", "id", "platform", "url", "posted", "caption", "hashtags", "source",
                "licence",
            ] {
                assert!(it.row.get(key).is_some(), "{key} missing: {}", it.row);
            }
        }
    }

    #[test]
    fn writes_pictures_and_metadata_that_ingest_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SynthOptions::new(12, dir.path().to_path_buf());
        opts.width = 135;
        opts.height = 240;
        let s = synth(&catalog(), &opts, |_| {}).unwrap();
        assert_eq!(s.items, 12);
        let rows = crate::metadata::load(&s.metadata).unwrap();
        assert_eq!(rows.len(), 12);
        let first = dir.path().join("media/000/synth-000000.jpg");
        let sniffed = scrollsim_media::sniff(&first).unwrap();
        assert_eq!(sniffed.kind, scrollsim_core::MediaKind::Image);
        let img = image::load_from_memory(&std::fs::read(&first).unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (135, 240));
        assert_eq!(s.kept, 0);
    }

    fn small(n: usize, out: &Path) -> SynthOptions {
        let mut opts = SynthOptions::new(n, out.to_path_buf());
        opts.width = 90;
        opts.height = 160;
        opts
    }

    fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                (rel, std::fs::read(e.path()).unwrap())
            })
            .collect()
    }

    /// An interrupted run leaves some pictures whole, one cut off, a temporary file and no
    /// metadata; running again keeps the whole ones untouched, makes the rest, and ends with
    /// exactly what one uninterrupted run writes.
    #[test]
    fn an_interrupted_synth_resumes_to_the_uninterrupted_corpus() {
        let c = catalog();
        let clean = tempfile::tempdir().unwrap();
        synth(&c, &small(25, clean.path()), |_| {}).unwrap();
        let want = files(clean.path());

        // The interrupted run, as it would have left the directory.
        let cut = tempfile::tempdir().unwrap();
        let out = cut.path();
        std::fs::write(
            out.join("synth.json"),
            std::fs::read(clean.path().join("synth.json")).unwrap(),
        )
        .unwrap();
        std::fs::create_dir_all(out.join("media/000")).unwrap();
        let whole = [0usize, 3, 4, 10, 17];
        for i in whole {
            let f = format!("media/000/synth-{i:06}.jpg");
            std::fs::write(out.join(&f), &want[&f]).unwrap();
        }
        let truncated = "media/000/synth-000005.jpg";
        std::fs::write(out.join(truncated), &want[truncated][..200]).unwrap();
        std::fs::write(out.join("media/000/synth-000006.jpg.tmp"), b"\xff\xd8").unwrap();
        let mtime = |f: &str| std::fs::metadata(out.join(f)).unwrap().modified().unwrap();
        let before: Vec<_> = whole
            .iter()
            .map(|i| mtime(&format!("media/000/synth-{i:06}.jpg")))
            .collect();

        let seen = std::sync::Mutex::new(Vec::new());
        let s = synth(&c, &small(25, out), |n| seen.lock().unwrap().push(n)).unwrap();
        assert_eq!((s.items, s.kept), (25, whole.len()));
        assert_eq!(seen.into_inner().unwrap().last(), Some(&25));
        assert_eq!(
            files(out),
            want,
            "resumed corpus differs from an uninterrupted one"
        );
        let after: Vec<_> = whole
            .iter()
            .map(|i| mtime(&format!("media/000/synth-{i:06}.jpg")))
            .collect();
        assert_eq!(before, after, "whole pictures are kept, not rewritten");
        assert_eq!(
            s.bytes,
            want.iter()
                .filter(|(k, _)| k.ends_with(".jpg"))
                .map(|(_, v)| v.len() as u64)
                .sum::<u64>()
        );

        // Once complete, a rerun makes nothing.
        let again = synth(&c, &small(25, out), |_| {}).unwrap();
        assert_eq!(again.kept, 25);
        assert_eq!(files(out), want);
    }

    #[test]
    fn a_resume_with_another_recipe_or_unknown_pictures_is_refused() {
        let c = catalog();
        let dir = tempfile::tempdir().unwrap();
        synth(&c, &small(3, dir.path()), |_| {}).unwrap();
        let mut other = small(3, dir.path());
        other.seed = 8;
        let e = synth(&c, &other, |_| {}).unwrap_err().to_string();
        assert!(e.contains("synth.json") && e.contains("seed: 8"), "{e}");

        std::fs::remove_file(dir.path().join("synth.json")).unwrap();
        let e = synth(&c, &small(3, dir.path()), |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("media") && e.contains("no synth.json"), "{e}");
    }
}
