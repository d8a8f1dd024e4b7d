//! Keyframe extraction on real files that each test makes with the `ffmpeg` command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;
use scrollsim_media::{extract_keyframes, probe, ExtractOptions, ExtractedFrame, MediaError};

/// Runs `ffmpeg -y <args>` and panics with its stderr if it fails.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg command line is installed");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 180x320 H.264 clip of a moving test pattern, `seconds` long at 25 fps, with a key frame
/// every `gop` frames and no extra key frames at scene changes; `extra` output options.
fn h264_clip(p: &Path, seconds: u32, gop: u32, extra: &[&str]) {
    let (input, gop) = (
        format!("testsrc2=s=180x320:r=25:d={seconds}"),
        gop.to_string(),
    );
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        input.as_str(),
        "-c:v",
        "libx264",
        "-g",
        gop.as_str(),
    ];
    args.extend(["-x264-params", "scenecut=0", "-pix_fmt", "yuv420p"]);
    args.extend(extra);
    args.push(s(p));
    ffmpeg(&args);
}

/// A 4 s clip, its index at the front.
fn test_clip(dir: &Path, name: &str, gop: u32) -> PathBuf {
    let p = dir.join(name);
    h264_clip(&p, 4, gop, &["-movflags", "+faststart"]);
    p
}

fn opts(strategy: &str) -> ExtractOptions {
    ExtractOptions {
        strategy: strategy.parse().unwrap(),
        ..ExtractOptions::default()
    }
}

fn times(frames: &[ExtractedFrame]) -> Vec<f32> {
    frames
        .iter()
        .map(|f| f.at_s.expect("video frames carry a time"))
        .collect()
}

fn decode(jpeg: &[u8]) -> RgbImage {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG");
    image::load_from_memory(jpeg).unwrap().to_rgb8()
}

fn assert_sizes(frames: &[ExtractedFrame], o: &ExtractOptions) {
    for f in frames {
        assert_eq!(
            decode(&f.model_jpeg).dimensions(),
            (o.model_size.width, o.model_size.height)
        );
        assert_eq!(
            decode(&f.view_jpeg).dimensions(),
            (o.view_size.width, o.view_size.height)
        );
    }
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn uniform_spreads_frames_over_the_duration() {
    let d = tmp();
    // One key frame for the whole clip: every target is reached by decoding forward.
    for gop in [250, 25] {
        let clip = test_clip(d.path(), &format!("g{gop}.mp4"), gop);
        let o = opts("uniform:4");
        let frames = extract_keyframes(&clip, &o).unwrap();
        let t = times(&frames);
        assert!(close(&t, &[0.5, 1.5, 2.5, 3.5], 0.041), "gop {gop}: {t:?}");
        assert_sizes(&frames, &o);
        // Different times are different pictures (the test pattern moves).
        assert!(frames
            .windows(2)
            .all(|w| w[0].model_jpeg != w[1].model_jpeg));
    }
    // Frame-threaded decoding (FFmpeg picks the thread count) finds the same frames.
    let clip = d.path().join("g25.mp4");
    for strategy in ["uniform:4", "iframes", "scene:0.3"] {
        let single = extract_keyframes(&clip, &opts(strategy)).unwrap();
        let threaded = ExtractOptions {
            decoder_threads: 0,
            ..opts(strategy)
        };
        assert_eq!(
            extract_keyframes(&clip, &threaded).unwrap(),
            single,
            "{strategy}"
        );
    }
    // max_frames caps N.
    let o = ExtractOptions {
        max_frames: 2,
        ..opts("uniform:6")
    };
    assert!(close(
        &times(&extract_keyframes(&clip, &o).unwrap()),
        &[1.0, 3.0],
        0.041
    ));
}

#[test]
fn iframes_returns_the_key_frames_thinned_evenly() {
    let d = tmp();
    let clip = test_clip(d.path(), "g25.mp4", 25);
    let frames = extract_keyframes(&clip, &opts("iframes")).unwrap();
    assert_eq!(times(&frames), vec![0.0, 1.0, 2.0, 3.0]);
    assert_sizes(&frames, &opts("iframes"));
    let o = ExtractOptions {
        max_frames: 2,
        ..opts("iframes")
    };
    assert_eq!(
        times(&extract_keyframes(&clip, &o).unwrap()),
        vec![0.0, 3.0]
    );
}

/// MPEG-TS has no index: FFmpeg seeks it by timestamp to any packet, not to a key frame, and
/// its timestamps start well after zero (1.4 s here). Every strategy still finds frames over
/// the whole clip, at the times it would in an MP4 holding the same stream, and the clip is
/// not taken for a truncated one.
#[test]
fn mpeg_ts_seeks_between_key_frames_are_recovered() {
    let d = tmp();
    let (ts, mp4) = (d.path().join("c.ts"), d.path().join("c.mp4"));
    // MPEG-2 video, a key frame every 12 frames: decode times run one frame ahead of
    // presentation times, so even a seek to the first timestamp lands on the second packet.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=180x320:r=10:d=4",
        "-c:v",
        "mpeg2video",
        "-g",
        "12",
        "-f",
        "mpegts",
        s(&ts),
    ]);
    ffmpeg(&["-i", s(&ts), "-c", "copy", s(&mp4)]);
    for strategy in ["uniform:4", "iframes", "scene:0.3"] {
        let from_ts =
            extract_keyframes(&ts, &opts(strategy)).unwrap_or_else(|e| panic!("{strategy}: {e}"));
        let from_mp4 = extract_keyframes(&mp4, &opts(strategy)).unwrap();
        assert_eq!(times(&from_ts), times(&from_mp4), "{strategy}");
        assert!(!from_ts.is_empty(), "{strategy}");
    }
    let t = times(&extract_keyframes(&ts, &opts("uniform:4")).unwrap());
    assert!(close(&t, &[0.5, 1.5, 2.5, 3.5], 0.11), "{t:?}");
    let k = times(&extract_keyframes(&ts, &opts("iframes")).unwrap());
    assert!(close(&k, &[0.0, 1.2, 2.4, 3.6], 0.01), "{k:?}");
}

/// Three shots of 1.5 s: a red field, a blue field, a test pattern.
fn three_shots(dir: &Path) -> PathBuf {
    let p = dir.join("shots.mp4");
    ffmpeg(&[
        "-filter_complex",
        "color=c=red:s=180x320:r=25:d=1.5[a];color=c=blue:s=180x320:r=25:d=1.5[b];\
         testsrc2=s=180x320:r=25:d=1.5[c];[a][b][c]concat=n=3:v=1:a=0[v]",
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-g",
        "250",
        "-pix_fmt",
        "yuv420p",
        s(&p),
    ]);
    p
}

#[test]
fn scene_keeps_the_first_frame_and_the_cuts() {
    let d = tmp();
    let clip = three_shots(d.path());
    let o = opts("scene:0.3");
    let frames = extract_keyframes(&clip, &o).unwrap();
    let t = times(&frames);
    assert!(close(&t, &[0.0, 1.5, 3.0], 0.09), "{t:?}");
    assert_sizes(&frames, &o);
    // The second keyframe is the blue field.
    let px = decode(&frames[1].model_jpeg).get_pixel(72, 128).0;
    assert!(px[2] > 200 && px[0] < 60, "{px:?}");
    // Capped: the first frame and the strongest cut.
    let capped = extract_keyframes(
        &clip,
        &ExtractOptions {
            max_frames: 2,
            ..o.clone()
        },
    )
    .unwrap();
    assert_eq!(capped.len(), 2);
    assert_eq!(capped[0].at_s, Some(0.0));
    // A threshold nothing exceeds leaves the first frame only.
    let calm = test_clip(d.path(), "calm.mp4", 250);
    assert_eq!(
        times(&extract_keyframes(&calm, &opts("scene:0.9")).unwrap()),
        vec![0.0]
    );
}

/// A portrait picture: red top half, blue bottom half.
const PORTRAIT: &str =
    "color=c=red:s=180x160:r=25:d=2[t];color=c=blue:s=180x160:r=25:d=2[b];[t][b]vstack";

fn assert_upright(frames: &[ExtractedFrame]) {
    for f in frames {
        for jpeg in [&f.model_jpeg, &f.view_jpeg] {
            let img = decode(jpeg);
            let (w, h) = img.dimensions();
            assert!(h > w, "portrait");
            let top = img.get_pixel(w / 2, h / 8).0;
            let bottom = img.get_pixel(w / 2, h * 7 / 8).0;
            assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
            assert!(
                bottom[2] > 200 && bottom[0] < 60,
                "bottom is blue: {bottom:?}"
            );
        }
    }
}

#[test]
fn a_rotated_phone_video_comes_out_upright() {
    let d = tmp();
    // Stored as a phone stores it: landscape pixels (the portrait picture turned
    // counter-clockwise) plus a display matrix saying "turn clockwise to show".
    let landscape = d.path().join("landscape.mp4");
    ffmpeg(&[
        "-filter_complex",
        &format!("{PORTRAIT},transpose=cclock[v]"),
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        s(&landscape),
    ]);
    let phone = d.path().join("phone.mov");
    ffmpeg(&[
        "-i",
        s(&landscape),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=270",
        s(&phone),
    ]);

    let p = probe(&phone).unwrap();
    assert_eq!((p.width, p.height, p.rotation), (320, 180, 90));
    assert_eq!(p.display_size(), (180, 320));
    assert!(p.is_video);
    // Unturned, the centre crop of the landscape picture would be half red, half blue
    // side by side; upright it is red above blue.
    assert_upright(&extract_keyframes(&phone, &opts("uniform:2")).unwrap());
    assert_upright(&extract_keyframes(&phone, &opts("iframes")).unwrap());

    // And a JPEG whose EXIF says "turn clockwise" (orientation 6).
    let shot = d.path().join("landscape.jpg");
    ffmpeg(&[
        "-filter_complex",
        &format!("{PORTRAIT},transpose=cclock"),
        "-frames:v",
        "1",
        s(&shot),
    ]);
    let with_exif = d.path().join("exif.jpg");
    std::fs::write(
        &with_exif,
        add_exif_orientation(&std::fs::read(&shot).unwrap(), 6),
    )
    .unwrap();
    assert_upright(&extract_keyframes(&with_exif, &opts("uniform:4")).unwrap());
}

/// Inserts an APP1 EXIF segment holding only an Orientation tag after the JPEG's SOI marker.
fn add_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF header, IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn odd_pixel_formats_decode() {
    let d = tmp();
    let cases = [
        (
            "ten_bit.mkv",
            vec![
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p10le",
                "-profile:v",
                "high10",
            ],
            "yuv420p10le",
        ),
        ("gray.mkv", vec!["-c:v", "ffv1", "-pix_fmt", "gray"], "gray"),
        (
            "gray10.mkv",
            vec!["-c:v", "ffv1", "-pix_fmt", "gray10le"],
            "gray10le",
        ),
        // H.264 4:0:0 (FFmpeg's decoder hands it out as full-range 4:2:0).
        (
            "gray_h264.mkv",
            vec!["-c:v", "libx264", "-pix_fmt", "gray"],
            "yuvj420p",
        ),
        (
            "yuvj.mp4",
            vec!["-c:v", "libx264", "-pix_fmt", "yuvj420p"],
            "yuvj420p",
        ),
        ("rgb.mkv", vec!["-c:v", "ffv1", "-pix_fmt", "bgr0"], "bgr0"),
        ("pal8.mov", vec!["-c:v", "png", "-pix_fmt", "pal8"], "pal8"),
        (
            "vp9.webm",
            vec!["-c:v", "libvpx-vp9", "-b:v", "200k", "-cpu-used", "8"],
            "yuv420p",
        ),
        (
            "mpeg2.mpg",
            vec!["-c:v", "mpeg2video", "-f", "vob"],
            "yuv420p",
        ),
    ];
    for (name, args, pix) in cases {
        let p = d.path().join(name);
        let mut a = vec!["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2"];
        a.extend(args);
        a.push(s(&p));
        ffmpeg(&a);
        let pr = probe(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pr.pix_fmt, pix, "{name}");
        for strategy in ["uniform:3", "iframes", "scene:0.3"] {
            let o = opts(strategy);
            let frames =
                extract_keyframes(&p, &o).unwrap_or_else(|e| panic!("{name} {strategy}: {e}"));
            assert!(!frames.is_empty(), "{name} {strategy}");
            assert_sizes(&frames, &o);
        }
    }
    // Gray stays gray, in colour JPEGs.
    let f = &extract_keyframes(&d.path().join("gray.mkv"), &opts("uniform:1")).unwrap()[0];
    let img = decode(&f.view_jpeg);
    assert!(img
        .pixels()
        .all(|p| p.0[0].abs_diff(p.0[1]) < 12 && p.0[1].abs_diff(p.0[2]) < 12));
}

#[test]
fn screenshots_are_one_frame() {
    let d = tmp();
    for (name, extra) in [
        ("shot.png", vec![]),
        ("shot_pal8.png", vec!["-pix_fmt", "pal8"]),
        ("shot.jpg", vec![]),
        ("shot.webp", vec!["-c:v", "libwebp"]),
    ] {
        let p = d.path().join(name);
        let mut a = vec!["-filter_complex", PORTRAIT, "-frames:v", "1"];
        a.extend(extra);
        a.push(s(&p));
        ffmpeg(&a);
        let pr = probe(&p).unwrap();
        assert!(!pr.is_video, "{name}");
        assert_eq!(pr.duration_s, None);
        for strategy in ["uniform:4", "scene:0.2", "iframes"] {
            let frames = extract_keyframes(&p, &opts(strategy)).unwrap();
            assert_eq!(frames.len(), 1, "{name} {strategy}");
            assert_eq!(frames[0].at_s, None);
            assert_upright(&frames);
        }
    }
    // A landscape desktop screenshot is centre-cropped to 9:16, not squashed.
    let wide = d.path().join("wide.png");
    ffmpeg(&[
        "-filter_complex",
        "color=c=red:s=640x360[a];color=c=blue:s=160x360[b];[a][b]overlay=x=240",
        "-frames:v",
        "1",
        s(&wide),
    ]);
    let f = &extract_keyframes(&wide, &opts("uniform:1")).unwrap()[0];
    // The middle 9:16 column (203 px of 640) is the blue stripe (160 px) plus red edges.
    let img = decode(&f.model_jpeg);
    let centre = img.get_pixel(72, 128).0;
    let edge = img.get_pixel(3, 128).0;
    assert!(centre[2] > 200 && centre[0] < 60, "{centre:?}");
    assert!(edge[0] > 200 && edge[2] < 60, "{edge:?}");
}

fn assert_error(path: &Path, err: MediaError, kinds: &[&str]) {
    let msg = err.to_string();
    assert!(
        msg.contains(path.to_str().unwrap()),
        "names the file: {msg}"
    );
    assert_eq!(err.path(), path);
    assert!(
        kinds.contains(&err.kind()),
        "{msg} is {}, expected one of {kinds:?}",
        err.kind()
    );
}

#[test]
fn damaged_and_non_video_files_are_errors_naming_the_file() {
    let d = tmp();
    let good = test_clip(d.path(), "good.mp4", 50);
    let bytes = std::fs::read(&good).unwrap();

    // Cut in half: the index (at the front) promises 4 s, the data stops near 2 s.
    let half = d.path().join("half.mp4");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    for strategy in ["uniform:4", "scene:0.3", "iframes"] {
        assert_error(
            &half,
            extract_keyframes(&half, &opts(strategy)).unwrap_err(),
            &["truncated"],
        );
    }

    // Index at the end (no faststart), cut in half: the index is gone.
    let tail = d.path().join("tail_index.mp4");
    ffmpeg(&["-i", s(&good), "-c", "copy", s(&tail)]);
    let tb = std::fs::read(&tail).unwrap();
    let cut = d.path().join("cut.mp4");
    std::fs::write(&cut, &tb[..tb.len() / 2]).unwrap();
    assert_error(
        &cut,
        extract_keyframes(&cut, &opts("uniform:4")).unwrap_err(),
        &["unrecognized", "truncated"],
    );

    // The header overwritten.
    let mut hb = bytes.clone();
    hb[..64].fill(0x5A);
    let header = d.path().join("header.mp4");
    std::fs::write(&header, &hb).unwrap();
    assert_error(
        &header,
        extract_keyframes(&header, &opts("uniform:4")).unwrap_err(),
        &["unrecognized"],
    );

    // The middle of the picture data overwritten: the demuxer is fine, the decoder is not.
    let mut mb = bytes.clone();
    let (a, b) = (bytes.len() / 3, bytes.len() * 2 / 3);
    for (i, byte) in mb[a..b].iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    let middle = d.path().join("middle.mp4");
    std::fs::write(&middle, &mb).unwrap();
    assert_error(
        &middle,
        extract_keyframes(&middle, &opts("scene:0.3")).unwrap_err(),
        &["corrupt"],
    );

    // A text file renamed .mp4.
    let text = d.path().join("notes.mp4");
    std::fs::write(
        &text,
        "Meeting notes\n- buy milk\n- call grandma\n".repeat(20),
    )
    .unwrap();
    assert_error(
        &text,
        extract_keyframes(&text, &opts("uniform:4")).unwrap_err(),
        &["unrecognized"],
    );
    assert_error(&text, probe(&text).unwrap_err(), &["unrecognized"]);

    // Zero bytes, a directory, a missing file.
    let empty = d.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_error(
        &empty,
        extract_keyframes(&empty, &opts("iframes")).unwrap_err(),
        &["empty"],
    );
    let dir = d.path().join("folder.mp4");
    std::fs::create_dir(&dir).unwrap();
    assert_error(
        &dir,
        extract_keyframes(&dir, &opts("iframes")).unwrap_err(),
        &["unsupported"],
    );
    let missing = d.path().join("missing.mp4");
    assert_error(
        &missing,
        extract_keyframes(&missing, &opts("iframes")).unwrap_err(),
        &["unreadable"],
    );

    // Sound only.
    let audio = d.path().join("song.mp4");
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", s(&audio)]);
    assert_error(
        &audio,
        extract_keyframes(&audio, &opts("uniform:4")).unwrap_err(),
        &["no-video-stream"],
    );

    // A per-file time limit too small for anything.
    let o = ExtractOptions {
        timeout_s: 1e-6,
        ..opts("uniform:4")
    };
    assert_error(
        &good,
        extract_keyframes(&good, &o).unwrap_err(),
        &["timeout"],
    );

    // Options that cannot work are refused before the file is touched.
    let o = ExtractOptions {
        max_frames: 0,
        ..opts("uniform:4")
    };
    assert_error(
        &good,
        extract_keyframes(&good, &o).unwrap_err(),
        &["invalid-options"],
    );

    // The good file still works after all that.
    assert_eq!(
        extract_keyframes(&good, &opts("uniform:4")).unwrap().len(),
        4
    );
}

#[test]
fn probe_reports_the_stream() {
    let d = tmp();
    let clip = test_clip(d.path(), "clip.mp4", 50);
    let p = probe(&clip).unwrap();
    assert_eq!((p.width, p.height, p.rotation), (180, 320, 0));
    assert_eq!((p.codec.as_str(), p.pix_fmt.as_str()), ("h264", "yuv420p"));
    assert!((p.duration_s.unwrap() - 4.0).abs() < 0.05, "{p:?}");
    assert!((p.fps.unwrap() - 25.0).abs() < 0.01);
    assert!(p.is_video && !p.mirrored);
}

/// The `ffmpeg` command line equivalent produces the same pictures as the in-process path, so
/// the comparison it prints is like for like.
#[test]
fn the_benchmark_cli_extracts_the_same_frames() {
    let d = tmp();
    let clip = three_shots(d.path());
    for strategy in ["uniform:4", "iframes", "scene:0.3"] {
        let o = opts(strategy);
        let ours = extract_keyframes(&clip, &o).unwrap();
        let out = d.path().join(strategy.replace(':', "_"));
        std::fs::create_dir_all(&out).unwrap();
        let status =
            scrollsim_media::ffmpeg_command(Path::new("ffmpeg"), &clip, &o, &times(&ours), &out)
                .unwrap()
                .status()
                .unwrap();
        assert!(status.success(), "{strategy}");
        let mut theirs: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("m_"))
            .collect();
        theirs.sort();
        assert_eq!(theirs.len(), ours.len(), "{strategy}");
        for (mine, file) in ours.iter().zip(&theirs) {
            let (a, b) = (
                decode(&mine.model_jpeg),
                decode(&std::fs::read(file).unwrap()),
            );
            assert_eq!(a.dimensions(), b.dimensions());
            let diff: u64 = a
                .as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(x, y)| u64::from(x.abs_diff(*y)))
                .sum();
            let mean = diff as f64 / a.as_raw().len() as f64;
            assert!(
                mean < 2.0,
                "{strategy} {}: mean difference {mean}",
                file.display()
            );
        }
    }
}

/// A 40 s clip (1000 frames) with a key frame every `gop` frames.
fn long_clip(dir: &Path, gop: u32) -> PathBuf {
    let p = dir.join(format!("long_g{gop}.mp4"));
    h264_clip(&p, 40, gop, &["-preset", "ultrafast"]);
    p
}

#[test]
fn seeking_strategies_do_not_decode_the_whole_file() {
    let d = tmp();
    let clip = long_clip(d.path(), 50);
    let run = |strategy: &str| {
        let (frames, work) =
            scrollsim_media::extract_keyframes_with_work(&clip, &opts(strategy)).unwrap();
        (times(&frames), work)
    };
    // Four targets, each reached from the key frame a second before it (26 frames each), of
    // the 1000 in the file.
    let (t, work) = run("uniform:4");
    assert!(close(&t, &[5.0, 15.0, 25.0, 35.0], 0.041), "{t:?}");
    assert!(work.frames_decoded <= 4 * 30, "{work:?}");
    // Key frames only: 20 of them, thinned to 8, each decoded alone.
    let (t, work) = run("iframes");
    assert_eq!(t.len(), 8);
    assert!(work.frames_decoded <= 8 + 4, "{work:?}");
    // Scene detection has to look at every reference frame.
    let (_, work) = run("scene:0.3");
    assert!(work.frames_decoded >= 250, "{work:?}");

    // One key frame for the whole clip: a seek cannot help, and what was decoded for one target
    // is not decoded again for the next (4 targets from scratch would be 2000 frames).
    let single = long_clip(d.path(), 1000);
    let (frames, work) =
        scrollsim_media::extract_keyframes_with_work(&single, &opts("uniform:4")).unwrap();
    assert!(close(&times(&frames), &[5.0, 15.0, 25.0, 35.0], 0.041));
    assert!(work.frames_decoded <= 880, "{work:?}");
}
