//! The application context every subcommand takes: the resolved settings and what is built
//! from them, each in one place: the data directory's layout, the store, ingest, experiments
//! and run directories, and a run's dependencies (store, text embedder, keyframes, judges).
//! Subcommands never call each other; what two of them need lives here or in a library.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use scrollsim_core::config::ValueCatalog;
use scrollsim_core::RunId;
use scrollsim_embed::Embedder;
use scrollsim_ingest::{IngestConfig, IngestOptions, IngestProgress, IngestSummary};
use scrollsim_media::ImageStore;
use scrollsim_sim::{Defaults, Experiment, PolicyKind, RunDeps, RunDir};
use scrollsim_store::{Filter, StoreError, VideoStore};
use scrollsim_vlm::{check_study, JudgeConfig, JudgeEnv, ProbeCache, ProbeOptions, StudyPlan};

use crate::settings::{Provenance, Settings};

/// Settings, and the one way to open each thing they describe.
pub struct App {
    pub settings: Settings,
    /// Which config files were layered and which set each value.
    pub provenance: Provenance,
    /// The text embedder, when not the configured one (an archive's recorded vectors).
    text_embedder: Option<Arc<dyn Embedder>>,
}

/// The data directory: the embedded store, the keyframe store, the call cache and the ingest
/// journal, each where the crate that owns it puts it.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content-addressed keyframe store.
    pub fn images(&self) -> PathBuf {
        ImageStore::default_path(&self.root)
    }

    /// The record/replay database of model calls.
    pub fn call_cache(&self) -> PathBuf {
        JudgeEnv::default_cache_path(&self.root)
    }

    /// The ingest journal of a collection.
    pub fn journal(&self, collection: &str) -> PathBuf {
        IngestOptions::journal_path(&self.root, collection)
    }
}

impl App {
    /// `config/default.toml` with `configs` layered over it in order.
    pub fn load(configs: &[PathBuf]) -> anyhow::Result<App> {
        let (settings, provenance) = Settings::load(configs)?;
        Ok(App {
            settings,
            provenance,
            text_embedder: None,
        })
    }

    /// These settings over the data directory `data`, filled from an opened archive: its
    /// shown videos in an embedded store, its recorded calls, its keyframes, and its recorded
    /// text vectors in place of the text embedder (when it holds them).
    pub async fn restore_packed(
        &self,
        packed: &scrollsim_pack::Opened,
        data: &Path,
    ) -> anyhow::Result<App> {
        let restored = scrollsim_pack::restore_data_dir(packed, data, &self.settings.store)
            .await
            .with_context(|| {
                format!(
                    "restoring {} into {}",
                    packed.folder.display(),
                    data.display()
                )
            })?;
        let mut settings = self.settings.clone();
        settings.paths.data = data.to_path_buf();
        settings.store = restored.store;
        Ok(App {
            settings,
            provenance: self.provenance.clone(),
            text_embedder: restored
                .text_embedder
                .map(|e| e as Arc<dyn Embedder>)
                .or_else(|| self.text_embedder.clone()),
        })
    }

    pub fn data(&self) -> DataDir {
        DataDir::new(&self.settings.paths.data)
    }

    /// The keyframe store's directory: `path` when given, else the data directory's.
    pub fn images_path(&self, path: Option<&Path>) -> PathBuf {
        path.map_or_else(|| self.data().images(), Path::to_path_buf)
    }

    /// The keyframe store at [`App::images_path`], created when missing.
    pub fn image_store(&self, path: Option<&Path>) -> anyhow::Result<ImageStore> {
        let root = self.images_path(path);
        ImageStore::open(&root)
            .with_context(|| format!("opening the image store {}", root.display()))
    }

    /// [`App::image_store`] when it exists: reading commands show keyframes where they can
    /// and work without them.
    pub fn existing_image_store(&self, path: Option<&Path>) -> anyhow::Result<Option<ImageStore>> {
        if !self.images_path(path).is_dir() {
            return Ok(None);
        }
        self.image_store(path).map(Some)
    }

    /// The configured store (`[store]`, with the environment's overrides).
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn VideoStore>> {
        let cfg = &self.settings.store;
        scrollsim_store::open_store(cfg, &self.settings.paths.data)
            .await
            .with_context(|| format!("opening the {} store", cfg.backend.as_str()))
    }

    /// The configured store, with the fixture corpus ingested first when the collection is
    /// missing or empty.
    pub async fn fixture_store(&self, quiet: bool) -> anyhow::Result<Arc<dyn VideoStore>> {
        let fixtures = &self.settings.paths.fixtures;
        let stored = match self.open_store().await?.count(&Filter::default()).await {
            Ok(n) => n,
            Err(StoreError::NoCollection(_)) => 0,
            Err(e) => return Err(e).context("counting the stored videos"),
        };
        // The handle above is closed here: ingest opens the store itself.
        if stored == 0 {
            eprintln!(
                "ingesting the fixture corpus from {} (first run only)",
                fixtures.display()
            );
            let meta = fixtures.join("metadata.jsonl");
            let progress = if quiet {
                IngestProgress::hidden()
            } else {
                IngestProgress::stderr()
            };
            let summary = self
                .ingest(
                    std::slice::from_ref(fixtures),
                    meta.is_file().then_some(meta.as_path()),
                    self.settings.ingest.clone(),
                    None,
                    &progress,
                )
                .await
                .context("ingesting the fixture corpus")?;
            eprintln!("{summary}");
            if summary.nothing_available() {
                anyhow::bail!("nothing could be ingested from {}", fixtures.display());
            }
        }
        self.open_store().await
    }

    /// The value catalogue (`values.toml` in the config directory).
    pub fn catalog(&self) -> anyhow::Result<ValueCatalog> {
        Ok(ValueCatalog::load(
            &self.settings.paths.config.join("values.toml"),
        )?)
    }

    /// Ingests `sources` into the configured store with the configured embedders.
    pub async fn ingest(
        &self,
        sources: &[PathBuf],
        meta: Option<&Path>,
        config: IngestConfig,
        limit: Option<usize>,
        progress: &IngestProgress,
    ) -> anyhow::Result<IngestSummary> {
        config.validate()?;
        let s = &self.settings;
        let catalog = self.catalog()?;
        let embedders = scrollsim_embed::build_embedders(&s.embedder)
            .await
            .context("loading the embedders ([embedder] in the config)")?;
        let images = self.image_store(None)?;
        let store = self.open_store().await?;
        let opts = IngestOptions {
            config,
            value_scoring: s.embedder.value_scores,
            journal: self.data().journal(&s.store.collection),
            collection: s.store.collection.clone(),
            limit,
        };
        Ok(scrollsim_ingest::ingest(
            sources,
            meta,
            &opts,
            store.as_ref(),
            &embedders,
            &images,
            &catalog,
            progress,
        )
        .await?)
    }

    /// What an experiment file leaves out comes from here.
    pub fn defaults(&self) -> Defaults<'_> {
        let s = &self.settings;
        Defaults {
            config_dir: &s.paths.config,
            policy: &s.policy,
            judge: &s.judge,
        }
    }

    /// Reads an experiment file against the config's defaults.
    pub fn load_experiment(&self, path: &Path) -> anyhow::Result<Experiment> {
        Ok(Experiment::load(path, &self.defaults())?)
    }

    /// Checks the study's judges as a whole before any call (models, keys, prompt files
    /// against the persona and control arms, and a probe of every live model, cached per model
    /// and endpoint), prints its warnings, and records the probes in the experiment
    /// (resolved.json and every trace header). Every problem is listed, naming the experiment
    /// file and key.
    pub async fn check_judges(&self, path: &Path, exp: &mut Experiment) -> anyhow::Result<()> {
        let plan = StudyPlan {
            models: &exp.models,
            strategies: &exp.strategies,
            personas: !exp.personas.is_empty(),
            control: exp.control,
            probe: ProbeOptions::default(),
        };
        let probes = ProbeCache::new(ProbeCache::default_dir(self.data().root()));
        let prompts = exp.judge.prompt_dir(&self.settings.paths.config);
        match check_study(&exp.judge, &plan, &prompts, Some(&probes)).await {
            Ok(ready) => {
                for w in &ready.warnings {
                    eprintln!("warning: {}: {w}", path.display());
                }
                for (name, fresh) in &ready.probed {
                    let c = &ready.capabilities[name];
                    eprintln!(
                        "probe {} `{name}`: images seen {}, structured output {}, {} ms a call",
                        if *fresh { "ran for" } else { "cached for" },
                        if c.sees_images { "yes" } else { "no" },
                        c.best_structured().map_or("none".into(), |m| m.to_string()),
                        c.latency_ms
                    );
                }
                exp.capabilities = ready.capabilities;
                Ok(())
            }
            Err(errors) => {
                let list = errors
                    .0
                    .iter()
                    .map(|p| format!("  {}: {}: {}", path.display(), p.key, p.message))
                    .collect::<Vec<_>>()
                    .join("\n");
                anyhow::bail!(
                    "the study cannot run; nothing was called or spent ({} problem(s)):\n{list}",
                    errors.0.len()
                )
            }
        }
    }

    /// Creates (or reopens, when identical) `<paths.runs>/<id>/` for the experiment in `path`.
    pub fn create_run(&self, path: &Path, id: &RunId, exp: &Experiment) -> anyhow::Result<RunDir> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(RunDir::create(&self.settings.paths.runs, id, &text, exp)?)
    }

    /// The configured text embedder (the offline persona model and the keyword benchmark use
    /// it), or an archive's recorded vectors when replaying one.
    pub async fn text_embedder(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        if let Some(e) = &self.text_embedder {
            return Ok(e.clone());
        }
        scrollsim_embed::build_text_embedder(&self.settings.embedder.text)
            .await
            .context(
                "loading the text embedder ([embedder.text]; the offline persona model needs \
                 it, and so does replaying its sessions from an archive packed without their \
                 trait vectors)",
            )
    }

    /// A fresh judge environment for `judge` (its prompts, the call cache, keyframes and the
    /// text embedder): a run's judges share one, so limits, budget and ledger hold across it.
    pub fn judge_env(
        &self,
        judge: &JudgeConfig,
        images: Arc<ImageStore>,
        text: Arc<dyn Embedder>,
    ) -> JudgeEnv {
        JudgeEnv::new(
            self.data().call_cache(),
            judge.prompt_dir(&self.settings.paths.config),
        )
        .with_text_embedder(text)
        .with_images(images)
    }

    /// A run's dependencies around an open store; warns when the corpus is smaller than a
    /// session.
    pub async fn run_deps(
        &self,
        exp: &Experiment,
        store: Arc<dyn VideoStore>,
    ) -> anyhow::Result<RunDeps> {
        let text = self.text_embedder().await?;
        let images = Arc::new(self.image_store(None)?);
        let videos = store
            .count(&Filter::default())
            .await
            .context("counting the corpus")?;
        let needs = exp.session_length as u64;
        if exp.policies.iter().any(|p| p.kind != PolicyKind::Keyword) && videos < needs {
            eprintln!(
                "warning: the corpus holds {videos} videos but sessions are {needs} steps long and never \
                 repeat a video: sessions will end early (corpus_exhausted)"
            );
        }
        // CLIP loads only when the keyword benchmark may retrieve by image vectors.
        let image_embedder = if exp.uses_keyword()
            && exp.policy.keyword.using != scrollsim_sim::KeywordRetrieval::Text
        {
            scrollsim_embed::build_image_embedder(&self.settings.embedder.image)
                .await
                .context("loading the image embedder ([embedder.image])")?
        } else {
            None
        };
        Ok(RunDeps {
            store,
            judges: self
                .judge_env(&exp.judge, images, text.clone())
                .with_capabilities(exp.capabilities.clone()),
            text_embedder: Some(text),
            image_embedder,
        })
    }
}
