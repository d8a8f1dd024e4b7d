//! The content-addressed image store.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use scrollsim_media::{store_frames, ExtractedFrame, ImageStore};

/// A small real JPEG: an SOI marker, a comment that makes it unique, and an EOI marker is
/// not enough for a decoder but is for the store, which only checks the JPEG signature.
fn jpeg(tag: &str) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xFE];
    b.extend_from_slice(&((tag.len() + 2) as u16).to_be_bytes());
    b.extend_from_slice(tag.as_bytes());
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

fn files_under(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn put_is_content_addressed_and_idempotent() {
    let d = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&d.path().join("images")).unwrap();
    let a = jpeg("a");
    let h = store.put(&a).unwrap();
    // SHA-256 of the bytes, laid out as <root>/<hh>/<hash>.jpg.
    assert_eq!(h, ImageStore::hash_of(&a));
    let expected = d
        .path()
        .join("images")
        .join(&h.as_str()[..2])
        .join(format!("{h}.jpg"));
    assert_eq!(store.path(&h), expected);
    assert!(store.contains(&h));
    assert_eq!(store.get(&h).unwrap(), a);
    let mtime = std::fs::metadata(&expected).unwrap().modified().unwrap();
    // Same bytes again: same hash, nothing rewritten, still one file.
    assert_eq!(store.put(&a).unwrap(), h);
    assert_eq!(
        std::fs::metadata(&expected).unwrap().modified().unwrap(),
        mtime
    );
    let b = store.put(&jpeg("b")).unwrap();
    assert_ne!(b, h);
    assert_eq!(files_under(store.root()).len(), 2);
    assert!(!store.contains(&ImageStore::hash_of(b"never stored")));
}

#[test]
fn store_frames_shares_one_copy_across_videos() {
    let d = tempfile::tempdir().unwrap();
    let store = ImageStore::open(d.path()).unwrap();
    // Two videos whose first frames are identical (a shared intro card).
    let intro = ExtractedFrame {
        at_s: Some(0.5),
        model_jpeg: jpeg("intro-m"),
        view_jpeg: jpeg("intro-v"),
    };
    let v1 = vec![
        intro.clone(),
        ExtractedFrame {
            at_s: Some(1.5),
            model_jpeg: jpeg("1m"),
            view_jpeg: jpeg("1v"),
        },
    ];
    let v2 = vec![
        intro,
        ExtractedFrame {
            at_s: Some(1.5),
            model_jpeg: jpeg("2m"),
            view_jpeg: jpeg("2v"),
        },
    ];
    let k1 = store_frames(&store, &v1).unwrap();
    let k2 = store_frames(&store, &v2).unwrap();
    assert_eq!(k1[0], k2[0]);
    assert_eq!(k1[0].at_s, Some(0.5));
    assert_eq!(
        k1[0].view.as_ref(),
        Some(&ImageStore::hash_of(&jpeg("intro-v")))
    );
    assert_ne!(k1[1].hash, k2[1].hash);
    // 2 shared + 2 + 2 images, each stored once.
    assert_eq!(files_under(store.root()).len(), 6);
}

#[test]
fn concurrent_puts_leave_whole_files_and_no_temporaries() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(ImageStore::open(d.path()).unwrap());
    // Big enough that a torn write would be visible.
    let big: Vec<u8> = jpeg("x")
        .into_iter()
        .chain((0..200_000u32).map(|i| (i % 251) as u8))
        .collect();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, big) = (store.clone(), big.clone());
            std::thread::spawn(move || {
                (0..20)
                    .map(|_| store.put(&big).unwrap())
                    .collect::<HashSet<_>>()
            })
        })
        .collect();
    let hashes: HashSet<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(hashes.len(), 1);
    let h = hashes.into_iter().next().unwrap();
    assert_eq!(store.get(&h).unwrap(), big);
    assert_eq!(
        files_under(store.root()),
        vec![store.path(&h)],
        "no temporary files left behind"
    );
}

#[test]
fn damaged_entries_and_non_jpegs_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let store = ImageStore::open(d.path()).unwrap();
    let a = jpeg("a");
    let h = store.put(&a).unwrap();
    // A torn or altered file fails the hash check, naming the file...
    std::fs::write(store.path(&h), &a[..4]).unwrap();
    let e = store.get(&h).unwrap_err();
    assert!(
        e.to_string().contains(store.path(&h).to_str().unwrap()),
        "{e}"
    );
    // ...and putting the bytes again repairs it.
    store.put(&a).unwrap();
    assert_eq!(store.get(&h).unwrap(), a);
    // Not a JPEG.
    let e = store.put(b"GIF89a...").unwrap_err();
    assert_eq!(e.kind(), "store");
    // Missing.
    let missing = ImageStore::hash_of(b"nope");
    assert_eq!(store.get(&missing).unwrap_err().kind(), "unreadable");
}
