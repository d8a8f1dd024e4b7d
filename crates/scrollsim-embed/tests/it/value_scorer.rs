//! ValueScorer with the real MiniLM and the shipped keyword seeds (config/values.toml), and the
//! formula's arithmetic with a transparent embedder.

use std::path::PathBuf;

use async_trait::async_trait;
use scrollsim_core::config::ValueCatalog;
use scrollsim_core::{PerValue, Value, ValueLabeling};
use scrollsim_embed::{
    Embedder, EmbedderInfo, MiniLmEmbedder, MiniLmOptions, ValueScorer, ValueScoring,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn catalog() -> ValueCatalog {
    ValueCatalog::load(&root().join("config/values.toml")).unwrap()
}

#[tokio::test]
async fn real_captions_score_highest_on_their_value() {
    let minilm = MiniLmEmbedder::load(&MiniLmOptions {
        path: root().join("models/all-MiniLM-L6-v2"),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let scorer = ValueScorer::new(&catalog(), &minilm, None, ValueScoring::default())
        .await
        .unwrap();

    let kw = scorer.keyword_vectors();
    for (v, spec) in catalog().values.iter() {
        assert_eq!(
            kw[v].len(),
            spec.keywords.len(),
            "{v}: every keyword embedded once"
        );
        assert!(kw[v]
            .iter()
            .all(|k| k.text.len() == 384 && k.image.is_none()));
    }

    let cases = [
        (
            "Beach party all night! Cocktails, music and sunshine #vacation #party #fun",
            Value::Hedonism,
        ),
        (
            "Helping my elderly neighbour with her groceries every week #kindness #family",
            Value::Benevolence,
        ),
        (
            "Climate march today: protect nature, recycle, equality for all #climateaction",
            Value::Universalism,
        ),
        (
            "Finally graduated! Years of hard work paid off #graduation #success",
            Value::Achievement,
        ),
        (
            "Skydiving for the first time, pure adrenaline #extremesports #adventure",
            Value::Stimulation,
        ),
        (
            "Lamborghini collection in my mansion #luxury #wealth #boss",
            Value::Power,
        ),
    ];
    let texts: Vec<String> = cases.iter().map(|(t, _)| t.to_string()).collect();
    let vecs = minilm.embed_texts(&texts).await.unwrap();
    for ((text, want), v) in cases.iter().zip(&vecs) {
        let scores = scorer.score(Some(v), None).unwrap();
        assert_eq!(scores.argmax(), *want, "{text}: {scores:?}");
        let labels = ValueLabeling::default().assign(&scores);
        assert_eq!(labels[0], *want);
    }
}

/// Maps each known word to a one-hot axis, so every cosine is 0 or 1 and the formula can be
/// checked by hand. Text and "image" spaces differ by a rotation of the axes.
struct OneHot {
    words: Vec<&'static str>,
    shift: usize,
}

#[async_trait]
impl Embedder for OneHot {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo {
            kind: "onehot".into(),
            model: "test".into(),
            dim: self.words.len(),
            images: self.shift > 0,
        }
    }
    async fn embed_texts(&self, texts: &[String]) -> scrollsim_embed::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0; self.words.len()];
                let i = self.words.iter().position(|w| w == t).expect("known word");
                v[(i + self.shift) % self.words.len()] = 1.0;
                v
            })
            .collect())
    }
}

#[tokio::test]
async fn formula_mean_of_top_k_and_image_weight() {
    let mut cat = catalog();
    let mut words = Vec::new();
    for (v, spec) in cat.values.0.iter_mut().enumerate() {
        spec.keywords = (0..4)
            .map(|k| format!("{}{k}", Value::ALL[v].code()))
            .collect();
    }
    for (_, spec) in cat.values.iter() {
        words.extend(
            spec.keywords
                .iter()
                .map(|k| &*Box::leak(k.clone().into_boxed_str())),
        );
    }
    let text = OneHot {
        words: words.clone(),
        shift: 0,
    };
    let image = OneHot {
        words: words.clone(),
        shift: 1,
    };
    let scoring = ValueScoring {
        top_k: 2,
        image_weight: 0.25,
    };
    let scorer = ValueScorer::new(&cat, &text, Some(&image), scoring)
        .await
        .unwrap();

    // Text vector halfway between HE0 and HE1: cos = 1/sqrt2 with each, top-2 mean = 1/sqrt2.
    let he = |k: usize| words.iter().position(|w| *w == format!("HE{k}")).unwrap();
    let mut t = vec![0.0f32; words.len()];
    t[he(0)] = 1.0;
    t[he(1)] = 1.0;
    scrollsim_embed::normalize(&mut t);
    // Image vector on the image-space axis of PO3 (text axis index + 1).
    let po3 = words.iter().position(|w| *w == "PO3").unwrap();
    let mut i = vec![0.0f32; words.len()];
    i[(po3 + 1) % words.len()] = 1.0;

    let s = scorer.score(Some(&t), Some(&i)).unwrap();
    let r = std::f32::consts::FRAC_1_SQRT_2;
    assert!((s[Value::Hedonism] - 0.75 * r).abs() < 1e-6, "{s:?}");
    assert!(
        (s[Value::Power] - 0.25 * 0.5).abs() < 1e-6,
        "top-2 mean of (1, 0) weighted 0.25: {s:?}"
    );
    assert_eq!(s[Value::Tradition], 0.0);

    let text_only = scorer.score(Some(&t), None).unwrap();
    assert!((text_only[Value::Hedonism] - r).abs() < 1e-6);
    assert_eq!(text_only[Value::Power], 0.0);
    assert_eq!(scorer.score(None, None).unwrap(), PerValue::default());
    assert!(
        scorer.score(Some(&[1.0, 0.0]), None).is_err(),
        "wrong dimension is an error"
    );
}
