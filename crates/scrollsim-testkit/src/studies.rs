//! Experiment texts that tests run at more than one layer (the run loop, the CLI), so each
//! layer is tested on the same study.

/// Two sessions: one judged by the offline persona model, one by `one-image`, an OpenAI-wire
/// model that may be sent one image per request, at an address where nothing listens. Over
/// the fixture corpus (four keyframes a video) the second session ends at step 0 on a
/// configuration error, before any call; the endpoint is not probed before the run, so the
/// session itself meets the limit.
pub const ONE_IMAGE_STUDY: &str = r#"
name = "fail-test"
personas = ["family"]
models = ["offline", "one-image"]
strategies = ["simple"]
policies = ["random"]
seeds = [1]
session_length = 5
windows = { first = 2, last_start = 3, last = 2 }
[judge.models.one-image]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "never-called"
images = { max_images = 1 }
[judge.probe]
before_run = false
"#;
