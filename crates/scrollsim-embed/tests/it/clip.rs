//! CLIP: no real weights are reachable, so the test writes a tiny random-weight checkpoint in
//! Hugging Face layout (config.json, model.safetensors, tokenizer.json) and runs the full
//! loading and inference path on it; preprocessing is checked against hand-computed values.

use image::{ImageFormat, Rgb, RgbImage};
use scrollsim_embed::{
    build_embedders, cosine, mean_vector, ClipEmbedder, ClipOptions, ClipPreprocess, EmbedError,
    Embedder, EmbedderConfig, ImageEmbedderConfig, TextEmbedderConfig,
};

use scrollsim_testkit::{write_tiny_clip, TINY_CLIP_DIM as PROJ};

fn tiny(batch_size: usize) -> (tempfile::TempDir, ClipEmbedder) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_clip(dir.path()).unwrap();
    let clip = ClipEmbedder::load(&ClipOptions {
        path: dir.path().into(),
        batch_size,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (dir, clip)
}

fn encoded(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, format).unwrap();
    buf.into_inner()
}

/// A vertical 9:16 frame with a gradient and a coloured block, so frames differ.
fn frame(seed: u8) -> RgbImage {
    RgbImage::from_fn(36, 64, |x, y| {
        let block = (x / 12 + y / 16) as u8 % 3 == seed % 3;
        Rgb([
            (x * 7) as u8 ^ seed,
            (y * 4) as u8,
            if block { 250 } else { seed.wrapping_mul(40) },
        ])
    })
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[tokio::test]
async fn images_embed_through_the_vision_tower() {
    let (_dir, clip) = tiny(2);
    let info = clip.info();
    assert_eq!(
        (info.kind.as_str(), info.dim, info.images),
        ("clip", PROJ, true)
    );
    let imgs = vec![
        encoded(&frame(1), ImageFormat::Jpeg),
        encoded(&frame(2), ImageFormat::Png),
        encoded(&frame(3), ImageFormat::Jpeg),
    ];
    let v = clip.embed_images(&imgs).await.unwrap();
    assert_eq!(v.len(), 3);
    for x in &v {
        assert_eq!(x.len(), PROJ);
        assert!((norm(x) - 1.0).abs() < 1e-5);
    }
    assert!(
        cosine(&v[0], &v[1]) < 0.9999,
        "different frames, different vectors"
    );
    assert_eq!(v, clip.embed_images(&imgs).await.unwrap(), "deterministic");
    // Batching (2 per pass above) does not change a vector.
    let single = clip.embed_images(&imgs[2..]).await.unwrap();
    assert!(cosine(&single[0], &v[2]) > 0.99999);
    // The video's image vector: the normalised mean of its keyframes' vectors.
    let video = mean_vector(&v).unwrap().unwrap();
    assert!((norm(&video) - 1.0).abs() < 1e-5);
    assert!(v.iter().all(|k| cosine(k, &video) > 0.0));
}

#[tokio::test]
async fn texts_embed_through_the_text_tower_and_padding_does_not_leak() {
    let (_dir, clip) = tiny(8);
    let texts: Vec<String> = [
        "a cat",
        "a beach party on the sunset",
        "the family dog",
        "A CAT",
    ]
    .map(String::from)
    .to_vec();
    let v = clip.embed_texts(&texts).await.unwrap();
    for x in &v {
        assert_eq!(x.len(), PROJ);
        assert!((norm(x) - 1.0).abs() < 1e-5);
    }
    assert!(
        cosine(&v[0], &v[3]) > 0.99999,
        "lowercasing normaliser: same tokens, same vector"
    );
    assert!(cosine(&v[0], &v[1]) < 0.999);
    // Embedded alone (no padding) equals embedded beside a longer text (padded): the vector is
    // pooled at the end-of-text token, which the causal mask keeps clear of padding.
    let alone = clip.embed_texts(&texts[..1]).await.unwrap();
    assert!(cosine(&alone[0], &v[0]) > 0.99999);
    // Longer than max_position_embeddings: truncated, not an error.
    let long =
        vec!["the cat on the beach party on the sunset with the family dog and a cat".to_string()];
    assert_eq!(clip.embed_texts(&long).await.unwrap()[0].len(), PROJ);
}

#[tokio::test]
async fn undecodable_image_names_its_index() {
    let (_dir, clip) = tiny(4);
    let err = clip
        .embed_images(&[
            encoded(&frame(1), ImageFormat::Png),
            b"not an image".to_vec(),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::BadImage { index: 1, .. }),
        "{err}"
    );
}

#[test]
fn preprocessing_crops_the_centre_and_normalises() {
    // 2 wide x 4 tall, shortest side already 2: no resize; the crop keeps rows 1 and 2.
    let img = RgbImage::from_fn(2, 4, |x, y| Rgb([(y * 60 + x * 10) as u8, 100, 200]));
    let p = ClipPreprocess { size: 2 };
    let out = p.apply(&img);
    assert_eq!(out.len(), 3 * 2 * 2);
    // Hand-computed: (value / 255 - mean[c]) / std[c], channel-first planes of 2x2.
    // Crop pixels R: (0,1)=60, (1,1)=70, (0,2)=120, (1,2)=130; G = 100, B = 200 everywhere.
    let want = [
        -0.916357, -0.770373, -0.040451, 0.105533, // R
        -0.25132, -0.25132, -0.25132, -0.25132, // G
        1.363793, 1.363793, 1.363793, 1.363793, // B
    ];
    for (i, (g, w)) in out.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-5, "element {i}: {g} vs {w}");
    }
}

#[test]
fn preprocessing_resizes_the_shortest_side() {
    let p = ClipPreprocess { size: 224 };
    // The paper's 144x256 model frames: shortest side to 224, the other truncated like HF does.
    assert_eq!(p.resized_dims(144, 256), (224, 398));
    assert_eq!(p.resized_dims(256, 144), (398, 224));
    // A uniform colour stays that colour through resize and crop: (30, 60, 90) normalised.
    let flat = RgbImage::from_pixel(8, 4, Rgb([30, 60, 90]));
    let out = ClipPreprocess { size: 2 }.apply(&flat);
    for (c, want) in [-1.35431f32, -0.851631, -0.200414].into_iter().enumerate() {
        for g in &out[c * 4..c * 4 + 4] {
            assert!((g - want).abs() < 1e-5, "channel {c}: {g} vs {want}");
        }
    }
    // Downscaling 4x4 (left half black, right half white) to 2x2 keeps left dark, right bright.
    let halves = RgbImage::from_fn(4, 4, |x, _| {
        if x < 2 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    let out = ClipPreprocess { size: 2 }.apply(&halves);
    assert!(
        out[0] < -1.0 && out[1] > 1.0 && out[2] < -1.0,
        "{:?}",
        &out[..4]
    );
}

#[tokio::test]
async fn config_builds_one_shared_clip_for_text_and_image() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_clip(dir.path()).unwrap();
    let opts = ClipOptions {
        path: dir.path().into(),
        batch_size: 4,
    };
    let cfg = EmbedderConfig {
        text: TextEmbedderConfig::Clip(opts.clone()),
        image: ImageEmbedderConfig::Clip(opts),
        ..Default::default()
    };
    let e = build_embedders(&cfg).await.unwrap();
    let image = e.image.expect("image embedder configured");
    assert!(
        std::sync::Arc::ptr_eq(&e.text, &image),
        "one model, loaded once"
    );
    assert_eq!(image.info().dim, PROJ);
}

#[test]
fn missing_weights_say_where_to_put_them() {
    let dir = tempfile::tempdir().unwrap();
    let err = ClipEmbedder::load(&ClipOptions {
        path: dir.path().join("clip"),
        batch_size: 4,
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{msg}");
    assert!(
        msg.contains("Offline") && msg.contains("config.json is missing"),
        "{msg}"
    );
    assert!(
        msg.contains(&dir.path().join("clip").display().to_string()),
        "{msg}"
    );

    // Present but with an activation candle's CLIP cannot run: a load error naming the key.
    write_tiny_clip(dir.path()).unwrap();
    let cfg = std::fs::read_to_string(dir.path().join("config.json"))
        .unwrap()
        .replace("\"quick_gelu\"", "\"gelu\"");
    std::fs::write(dir.path().join("config.json"), cfg).unwrap();
    let err = ClipEmbedder::load(&ClipOptions {
        path: dir.path().into(),
        batch_size: 4,
    })
    .unwrap_err();
    assert!(err.to_string().contains("hidden_act"), "{err}");
}
