//! Progress of one run on stderr: a bar (indicatif) when stderr is a terminal, plain lines
//! (one per tenth of the run) otherwise, e.g. in CI logs.

use std::io::IsTerminal;

/// The progress display of one run.
#[derive(Debug)]
pub struct RunProgress {
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
    end_ns: u64,
}

impl RunProgress {
    /// Progress of a run of `end_ns` virtual nanoseconds; nothing is shown unless `enabled`.
    pub fn new(end_ns: u64, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(end_ns / 1_000_000_000);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "sim [{elapsed_precise}] {bar:40} {pos}/{len} s virtual (eta {eta}) {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        RunProgress {
            bar,
            enabled,
            end_ns,
        }
    }

    /// Whether anything is shown.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Virtual nanoseconds between two updates: a hundredth of the run for the bar, a tenth
    /// for plain lines.
    pub fn step_ns(&self) -> u64 {
        let parts = if self.bar.is_some() { 100 } else { 10 };
        (self.end_ns / parts).max(1)
    }

    /// The run reached `at_ns`; `line` describes it.
    pub fn update(&self, at_ns: u64, line: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(at_ns / 1_000_000_000);
                bar.set_message(line());
            }
            None if self.enabled => eprintln!("{}", line()),
            None => {}
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
