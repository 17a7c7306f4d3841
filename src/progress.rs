//! Progress bars for long steps: shown on a terminal, silent in CI and when piped.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Factory for progress bars that are either drawn on stderr or hidden.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Bars on when stderr is a terminal and `CI` is not set.
    pub fn auto() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
        }
    }

    /// No bars (library use, tests).
    pub fn hidden() -> Self {
        Progress { enabled: false }
    }

    fn make(&self, total: Option<u64>, template: &str, msg: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(msg.to_string());
        if total.is_none() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar
    }

    /// A bar over bytes.
    pub fn bytes_bar(&self, msg: &str, total: u64) -> ProgressBar {
        self.make(
            Some(total),
            "{msg:24} [{bar:30}] {bytes}/{total_bytes} ({eta})",
            msg,
        )
    }

    /// A bar over counted steps.
    pub fn bar(&self, msg: &str, total: u64) -> ProgressBar {
        self.make(
            Some(total),
            "{msg:24} [{bar:30}] {pos}/{len} ({elapsed})",
            msg,
        )
    }

    /// A spinner for steps of unknown length.
    pub fn spinner(&self, msg: &str) -> ProgressBar {
        self.make(None, "{spinner} {msg} ({elapsed})", msg)
    }
}
