//! Media files made by the ffmpeg command-line tool (installed with the FFmpeg libraries by
//! scripts/setup.sh), so tests read real containers and codecs.

use std::path::Path;

/// Writes a 180x320 test pattern to `path`: `seconds` of video at 10 fps in `format` (an
/// FFmpeg muxer) with `codec`, or, for the `image2` muxer, one still frame.
pub fn test_media(path: &Path, format: &str, codec: &str, seconds: u32) {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]);
    if format == "image2" {
        cmd.args(["-i", "testsrc2=size=180x320:rate=1", "-frames:v", "1"]);
    } else {
        let t = seconds.to_string();
        cmd.args(["-i", "testsrc2=size=180x320:rate=10", "-t", &t]);
    }
    let status = cmd
        .args(["-c:v", codec, "-f", format])
        .arg(path)
        .status()
        .expect("the ffmpeg command-line tool (scripts/setup.sh installs it)");
    assert!(
        status.success(),
        "ffmpeg could not write {}",
        path.display()
    );
}

/// One clip of `seconds` in each container scrollsim must take by its content whatever its
/// name says: `a.avi`, `b.ts`, `c.flv`, `d.3gp`, `e.m4v` and `f` (Matroska, no extension),
/// written into `dir`. Returns the file names, in that order.
pub fn test_containers(dir: &Path, seconds: u32) -> [&'static str; 6] {
    const CONTAINERS: [(&str, &str, &str); 6] = [
        ("a.avi", "avi", "mpeg4"),
        ("b.ts", "mpegts", "mpeg2video"),
        ("c.flv", "flv", "flv"),
        ("d.3gp", "3gp", "mpeg4"),
        ("e.m4v", "ipod", "mpeg4"),
        ("f", "matroska", "mpeg4"),
    ];
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    CONTAINERS.map(|(name, format, codec)| {
        test_media(&dir.join(name), format, codec, seconds);
        name
    })
}
