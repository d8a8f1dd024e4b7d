//! Keyframe extraction with ffmpeg-next, scaling, JPEG encoding and the content-addressed image store.
