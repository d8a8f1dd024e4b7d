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
