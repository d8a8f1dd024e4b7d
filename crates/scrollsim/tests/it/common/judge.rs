//! A local judge endpoint speaking the OpenAI chat-completions wire format, for tests that need
//! a judge which is not the offline persona model (it proves nothing about a real server).
//!
//! It can hold requests, so a test stops a run at a known point instead of racing it: after
//! [`JudgeServer::hold_after`]`(n)` the requests past the n-th get no answer until
//! [`JudgeServer::release`], and [`JudgeServer::wait_until_held`] returns once one is waiting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What the endpoint answers to a request body.
pub type Answer = fn(&[u8]) -> &'static str;

pub struct JudgeServer {
    /// `http://127.0.0.1:<port>/v1`, for a `[judge.models.*]` `base_url`.
    pub url: String,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    answered: usize,
    hold_after: Option<usize>,
    holding: usize,
}

impl JudgeServer {
    /// Serves on a free port until the test process ends, answering `answer(body)`.
    pub fn start(answer: Answer) -> JudgeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let g = g.clone();
                std::thread::spawn(move || handle(stream, &g, answer));
            }
        });
        JudgeServer { url, gate }
    }

    /// An endpoint that answers "Yes" to everything.
    pub fn yes() -> JudgeServer {
        JudgeServer::start(|_| "Yes")
    }

    /// An experiment's judge section naming this endpoint as model `name` (OpenAI wire format),
    /// not probed before the run (the probe's colour test is not what these tests check).
    pub fn model_toml(&self, name: &str) -> String {
        format!(
            "[judge.probe]\nbefore_run = false\n[judge.models.{name}]\nprovider = \"openai\"\n\
             base_url = \"{}\"\nmodel = \"{name}\"\n",
            self.url
        )
    }

    /// Requests answered so far.
    pub fn answered(&self) -> usize {
        self.gate.state.lock().unwrap().answered
    }

    /// From now on, the first `n` requests are answered and later ones held until
    /// [`Self::release`] (the count starts again from zero).
    pub fn hold_after(&self, n: usize) {
        let mut st = self.gate.state.lock().unwrap();
        st.answered = 0;
        st.hold_after = Some(n);
    }

    /// Blocks until a request is held. `still_running` is asked now and then (a hang guard,
    /// not a timing condition): when it says false first, the caller's run ended unheld.
    pub fn wait_until_held(&self, mut still_running: impl FnMut() -> bool) {
        let mut st = self.gate.state.lock().unwrap();
        while st.holding == 0 {
            assert!(still_running(), "the run ended before a request was held");
            st = self
                .gate
                .changed
                .wait_timeout(st, Duration::from_secs(1))
                .unwrap()
                .0;
        }
    }

    /// Answers the held requests and every later one.
    pub fn release(&self) {
        self.gate.state.lock().unwrap().hold_after = None;
        self.gate.changed.notify_all();
    }
}

fn handle(stream: TcpStream, gate: &Gate, answer: Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    {
        let mut st = gate.state.lock().unwrap();
        let mut held = false;
        while matches!(st.hold_after, Some(n) if st.answered >= n) {
            if !held {
                held = true;
                st.holding += 1;
                gate.changed.notify_all();
            }
            st = gate.changed.wait(st).unwrap();
        }
        if held {
            st.holding -= 1;
        }
        st.answered += 1;
    }
    let reply = serde_json::json!({
        "id": "c", "object": "chat.completion", "created": 0, "model": "test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer(&body)}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    })
    .to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
}
