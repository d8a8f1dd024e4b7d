//! Simulation: feed policies, the session loop, experiments, sharding and resume.
//!
//! An [`Experiment`] (TOML) expands into sessions (persona x model x strategy x policy x
//! seed); [`execute`] runs a shard of them concurrently into a [`RunDir`], each through the one
//! session loop ([`run_session`]): policy -> video -> judge -> dwell and like -> state update
//! -> trace step, flushed. A crashed or interrupted run continues from its traces: the state
//! is rebuilt by replaying the steps through [`SessionState::advance`], and every random draw
//! is derived from (seed, step), so the continued traces equal uninterrupted ones.
//!
//! Must not: reach a model or Qdrant except through [`scrollsim_vlm::Judge`] and
//! [`scrollsim_store::VideoStore`], or draw tables and charts (the report crate does).

pub mod config;
pub mod dwell;
pub mod experiment;
pub mod policy;
pub mod progress;
pub mod run;
pub mod seed;
pub mod session;
pub mod state;

pub use config::{
    ForYouParams, KeywordRetrieval, PolicyConfig, PolicyKind, PolicySpec, PolicySpecError,
};
pub use dwell::DwellConfig;
pub use experiment::{
    BadShard, ClosedLoopOf, Defaults, Experiment, SessionPlan, Shard, Sweep, SweepPoint,
};
pub use policy::{build_policy, FeedPolicy, Pick, PolicyContext, PolicyError, PolicyMemo};
pub use progress::{ProgressSnapshot, RunProgress, Stop};
pub use run::{execute, RunDeps, RunDir, RunError, RunReport};
pub use session::{run_session, Outcome, Session, SessionEnv, SessionError};
pub use state::{FeedView, Observed, SessionState, View};
