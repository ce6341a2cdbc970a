//! How many uploads may be in flight: a window shared by every upload through one [`Remote`],
//! that finds its width by itself (`window.rs` says how and why) up to the configured
//! `concurrency`, or stays pinned there when asked.
//!
//! [`Remote`]: crate::remote::Remote

mod window;

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Instant;

pub use window::Signal;
use window::Window;

use crate::api::Pressure;

impl From<Pressure> for Signal {
    fn from(pressure: Pressure) -> Signal {
        match pressure {
            Pressure::SlowDown => Signal::SlowDown,
            Pressure::Busy => Signal::Busy,
        }
    }
}

/// Uploads are flowing while one finished this recently.
const FLOWING: Duration = Duration::from_secs(1);

/// How wide the upload window may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Finds its width, up to this many uploads at once.
    Adaptive(usize),
    /// Always this many.
    Fixed(usize),
}

#[derive(Debug)]
pub struct Congestion {
    window: Mutex<Window>,
    widened: Notify,
}

impl Congestion {
    pub fn new(limit: Limit) -> Congestion {
        let now = Instant::now();
        let window = match limit {
            Limit::Adaptive(ceiling) => Window::adaptive(ceiling, now),
            Limit::Fixed(width) => Window::fixed(width, now),
        };
        Congestion {
            window: Mutex::new(window),
            widened: Notify::new(),
        }
    }

    /// Uploads allowed in flight now.
    pub fn allowed(&self) -> usize {
        self.lock().width()
    }

    /// Whether a request refused with this `pressure` met a service at capacity, not one that
    /// is down: it was refused as overload while uploads get through (one finished in the
    /// last [`FLOWING`]). Its retry then needs no growing wait (`Attempt::Crowded`).
    pub fn crowded(&self, pressure: Option<Pressure>) -> bool {
        pressure.is_some()
            && self
                .lock()
                .last_upload()
                .is_some_and(|at| at.elapsed() < FLOWING)
    }

    /// The widest the window has been: what a report shows.
    pub fn widest(&self) -> usize {
        self.lock().widest()
    }

    pub fn tell(&self, signal: Signal) {
        let mut window = self.lock();
        let before = window.width();
        window.tell(signal, Instant::now());
        let wider = window.width() > before;
        drop(window);
        if wider {
            self.widened.notify_waiters();
        }
    }

    /// Completes once the window widens (uploads waiting for a place may start). Enable it
    /// ([`Notified::enable`]) before looking at [`Congestion::allowed`], so that a widening in
    /// between is not missed.
    pub fn widened(&self) -> Notified<'_> {
        self.widened.notified()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }
}
