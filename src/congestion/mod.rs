//! How many uploads may be in flight: a window shared by every upload through one [`Remote`],
//! that finds its width by itself (`window.rs` says how and why) up to the configured
//! `concurrency`, or stays pinned there when asked.
//!
//! Deploys running side by side (many environments) share the window fairly: each holds a
//! [`Share`] while it uploads and takes a [`Place`] for each upload or link request it starts;
//! a deploy gets a place while the window has one free and it holds fewer than its fair part
//! (the width over the deploys uploading), so a big environment never starves a small one.
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
    places: Mutex<Places>,
    /// Told when the window widens or a place is given back.
    changed: Notify,
}

/// How the window is being used.
#[derive(Debug, Default)]
struct Places {
    /// Places held, by every deploy.
    taken: usize,
    /// Deploys holding a [`Share`].
    sharing: usize,
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
            places: Mutex::new(Places::default()),
            changed: Notify::new(),
        }
    }

    /// A deploy's part of the window, while it uploads.
    pub fn share(&self) -> Share<'_> {
        self.places().sharing += 1;
        Share { congestion: self }
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
            self.changed.notify_waiters();
        }
    }

    /// Completes once the window widens or a place is given back (uploads waiting for a place
    /// may start). Enable it ([`Notified::enable`]) before asking for a place, so that a
    /// change in between is not missed.
    pub fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn places(&self) -> std::sync::MutexGuard<'_, Places> {
        self.places.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A deploy's claim on the window while it uploads; given back when dropped.
#[derive(Debug)]
pub struct Share<'a> {
    congestion: &'a Congestion,
}

impl<'a> Share<'a> {
    /// A place for one more upload or link request, when the window has one free and the
    /// deploy's `held` places are fewer than its fair part: the width over the deploys
    /// sharing it (at least one each).
    pub fn place(&self, held: usize) -> Option<Place<'a>> {
        let congestion = self.congestion;
        let width = congestion.allowed();
        let mut places = congestion.places();
        let fair = (width / places.sharing.max(1)).max(1);
        if places.taken >= width || held >= fair {
            return None;
        }
        places.taken += 1;
        Some(Place { congestion })
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        self.congestion.places().sharing -= 1;
        // The others' fair parts grew.
        self.congestion.changed.notify_waiters();
    }
}

/// One upload's or link request's place in the window; given back when dropped.
#[derive(Debug)]
pub struct Place<'a> {
    congestion: &'a Congestion,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.congestion.places().taken -= 1;
        self.congestion.changed.notify_waiters();
    }
}
