//! The upload window as a pure state machine, fed with what happened and when: uploads that
//! finished, the latency of API calls, and the service's overload answers. No clock of its own
//! and no I/O, so it is tested with plain data.
//!
//! Why this shape. A fixed number is right at one latency only: at 100 ms a call, eight uploads
//! at once leave the path idle, and on loopback sixty-four only queue behind the CPU. What tells
//! the right width is the goodput (uploads finished a second) as the window changes, measured
//! per *round*, a window's worth of finished uploads (about one round trip of an upload):
//!
//! - **slow start**: the window doubles each round while the goodput keeps rising with it
//!   (by a quarter at least), one more upload for each link answered; when a doubling does
//!   not pay, the window goes back halfway and the search turns to
//! - **probing**: one more upload per round while the goodput holds; a probe that makes it fall
//!   is taken back.
//! - **overload**: an explicit "slow down" (COS `SlowDown`, HTTP 429 or 503) cuts the window,
//!   once per round: by half in slow start, which may have doubled past the service's limit,
//!   by an eighth while probing, which passed it by one. Answers that may be load or may
//!   be a fault (errcode -1/-1000, other 5xx) cut it the same way only when a round has more of
//!   them than the quietest round had (a flaky service fails at any width; an overloaded one
//!   more the wider the window), and halve it in a burst (half of the recent answers), so that
//!   a flaky service does not shrink it to nothing.
//! - **queueing**: API calls taking well over the fastest seen (the requests wait in a queue
//!   somewhere, not on the wire) narrow it by an eighth, once per round.
//!
//! A gradient limiter (latency alone, as Vegas) was the other choice; it does not see a service
//! that refuses at once rather than queueing, nor a client that has run out of CPU, both of which
//! the goodput shows. The ceiling is the configured `concurrency`; a fixed window stays there.

use std::time::Duration;

use tokio::time::Instant;

/// The window a deploy starts with.
pub const INITIAL: usize = 16;
/// A doubling pays when it raises the goodput by at least this factor.
const DOUBLING_PAYS: f64 = 1.25;
/// Answers looked at for a burst of possible overload: the last this many.
const SAMPLE: u32 = u32::BITS;
/// Possible-overload answers among the last [`SAMPLE`] that make a burst.
const BURST: u32 = SAMPLE / 2;
/// API calls queue when a round's mean latency exceeds the fastest seen by this factor…
const QUEUE_FACTOR: f64 = 1.5;
/// …plus this much, so that the jitter of a fast path is not taken for a queue.
const QUEUE_SLACK: Duration = Duration::from_millis(5);
/// A round is judged on its possible-overload answers once it has this many answers.
const BUSY_SAMPLE: u32 = 8;

/// What the window is told.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signal {
    /// An upload finished: its file is online.
    Uploaded,
    /// An API call was answered (whatever it said), after this long.
    Answered(Duration),
    /// The service said to slow down: COS `SlowDown`, HTTP 429 or 503.
    SlowDown,
    /// An answer that may mean overload, or a fault: errcode -1/-1000, another 5xx.
    Busy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    SlowStart,
    Probing,
    Fixed,
}

#[derive(Debug)]
pub struct Window {
    ceiling: usize,
    width: usize,
    phase: Phase,
    round: Round,
    /// The width and goodput (uploads a second) of the last round that ended.
    last: Option<(usize, f64)>,
    /// The fastest API call seen.
    fastest: Option<Duration>,
    /// One bit per recent answer, newest lowest; 1 = possible overload.
    recent: u32,
    /// Possible-overload answers, and all answers, of the rounds not found overloaded at a
    /// width known to be safe: the service's rate of faults, whatever the load.
    faults: (u32, u32),
    /// The width the last cut left: the service coped with it. Rounds wider than it may be
    /// overloaded a little and say nothing of the faults.
    safe: usize,
    /// The widest the window has been.
    widest: usize,
    /// When an upload last finished.
    last_upload: Option<Instant>,
}

#[derive(Debug)]
struct Round {
    started: Instant,
    width: usize,
    uploaded: usize,
    /// Requests told to slow down during the round.
    refused: usize,
    /// Whether the window was cut during the round (one cut per round).
    cut: bool,
    latency_sum: Duration,
    answers: u32,
    /// Answers that may mean overload.
    busy: u32,
}

impl Round {
    fn new(started: Instant, width: usize) -> Round {
        Round {
            started,
            width,
            uploaded: 0,
            refused: 0,
            cut: false,
            latency_sum: Duration::ZERO,
            answers: 0,
            busy: 0,
        }
    }

    /// Whether a window's worth of uploads has been answered, one way or the other.
    fn over(&self) -> bool {
        self.uploaded + self.refused >= self.width
    }

    fn mean_latency(&self) -> Option<Duration> {
        (self.answers > 0).then(|| self.latency_sum / self.answers)
    }

    /// Whether the round had more possible-overload answers than the service's faults explain
    /// (`faults`: busy and all answers of earlier rounds): beyond two standard deviations of
    /// their count, and at least two more than expected. `None` with too few answers to tell.
    fn overloaded(&self, (busy, all): (u32, u32)) -> Option<bool> {
        let answers = self.answers + self.busy;
        if answers < BUSY_SAMPLE {
            return None;
        }
        if all == 0 {
            return Some(false);
        }
        let rate = f64::from(busy) / f64::from(all);
        let n = f64::from(answers);
        let expected = n * rate;
        let spread = (n * rate * (1.0 - rate)).sqrt();
        Some(f64::from(self.busy) > expected + 2.0 * spread + 1.0)
    }
}

impl Window {
    /// A window that finds its width, up to `ceiling`.
    pub fn adaptive(ceiling: usize, now: Instant) -> Window {
        let ceiling = ceiling.max(1);
        let width = INITIAL.min(ceiling);
        Window::with(ceiling, width, Phase::SlowStart, now)
    }

    /// A window pinned at `width`, whatever happens.
    pub fn fixed(width: usize, now: Instant) -> Window {
        let width = width.max(1);
        Window::with(width, width, Phase::Fixed, now)
    }

    fn with(ceiling: usize, width: usize, phase: Phase, now: Instant) -> Window {
        Window {
            ceiling,
            width,
            phase,
            round: Round::new(now, width),
            last: None,
            fastest: None,
            recent: 0,
            faults: (0, 0),
            safe: usize::MAX,
            widest: width,
            last_upload: None,
        }
    }

    /// Uploads allowed in flight now.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The widest the window has been.
    pub fn widest(&self) -> usize {
        self.widest
    }

    /// When an upload last finished.
    pub fn last_upload(&self) -> Option<Instant> {
        self.last_upload
    }

    pub fn tell(&mut self, signal: Signal, now: Instant) {
        if signal == Signal::Uploaded {
            self.last_upload = Some(now);
        }
        if self.phase == Phase::Fixed {
            return;
        }
        if matches!(
            signal,
            Signal::Answered(_) | Signal::SlowDown | Signal::Busy
        ) {
            self.recent = (self.recent << 1) | u32::from(signal == Signal::Busy);
        }
        match signal {
            Signal::Uploaded => {
                self.round.uploaded += 1;
                if self.round.over() {
                    self.end_round(now);
                }
            }
            Signal::Answered(latency) => {
                self.fastest = Some(self.fastest.map_or(latency, |f| f.min(latency)));
                self.round.latency_sum += latency;
                self.round.answers += 1;
                // Slow start widens with each link answered rather than at the round's end:
                // one upload more for each answered, a doubling a round, each place there as
                // soon as the link that earns it, half an upload sooner.
                if self.phase == Phase::SlowStart {
                    self.width = (self.width + 1).min(self.ceiling);
                    self.widest = self.widest.max(self.width);
                }
            }
            Signal::SlowDown => {
                self.round.refused += 1;
                // Once a round: the refusals of one round all answer the same width.
                if !self.round.cut {
                    self.narrow("the service asks to slow down; fewer uploads at once", now);
                }
                if self.round.over() {
                    self.end_round(now);
                }
            }
            // Its own measure: the answers before a cut do not count (`cut`).
            Signal::Busy if self.recent.count_ones() >= BURST => {
                self.overloaded(now);
            }
            Signal::Busy => {
                self.round.busy += 1;
                // Once a round, as a slow-down; judged as the answers come, so that a window
                // doubled past the service's limit is narrowed before the round ends.
                if !self.round.cut && self.round.overloaded(self.faults) == Some(true) {
                    // Half of the round's answers or more: a storm, not a limit met.
                    if self.round.busy * 2 >= self.round.answers + self.round.busy {
                        self.overloaded(now);
                    } else {
                        self.narrow(
                            "more busy answers at this width; fewer uploads at once",
                            now,
                        );
                    }
                }
            }
        }
    }

    /// Narrows the window as a sign of overload does ([`Window::narrower`]), saying why at
    /// debug level.
    fn narrow(&mut self, why: &'static str, now: Instant) {
        let to = self.narrower();
        tracing::debug!(from = self.width, to, "{why}");
        self.cut(to, now);
    }

    /// Halves the window, saying so: the service answers busy to half the requests or more.
    fn overloaded(&mut self, now: Instant) {
        let to = self.width / 2;
        if to < self.width {
            tracing::warn!(
                from = self.width,
                to,
                "the service is overloaded; fewer uploads at once"
            );
        }
        self.cut(to, now);
    }

    /// The width after a sign of overload: half in slow start, whose last doubling may have
    /// passed the service's limit by as much, an eighth less while probing.
    fn narrower(&self) -> usize {
        let by = match self.phase {
            Phase::SlowStart => self.width / 2,
            _ => self.width / 8,
        };
        self.width - by.max(1)
    }

    /// Narrows the window to `to` (at least one) and goes on probing from there.
    fn cut(&mut self, to: usize, now: Instant) {
        self.width = to.clamp(1, self.width);
        self.safe = self.width;
        // The answers so far were to the old width: the next burst is one of its own.
        self.recent = 0;
        self.phase = Phase::Probing;
        // What was measured at the old width says nothing of the new one.
        self.last = None;
        self.round = Round::new(now, self.width);
        self.round.cut = true;
    }

    /// A window's worth of uploads finished: compare the goodput with the last round's and
    /// choose the next width.
    fn end_round(&mut self, now: Instant) {
        let elapsed = now
            .saturating_duration_since(self.round.started)
            .as_secs_f64();
        let rate = self.round.uploaded as f64 / elapsed.max(1e-6);
        let queued = match (self.round.mean_latency(), self.fastest) {
            (Some(mean), Some(fastest)) => mean > fastest.mul_f64(QUEUE_FACTOR) + QUEUE_SLACK,
            _ => false,
        };
        // Busy answers cut the window as they come (`tell`); a round they did not overload
        // tells the service's rate of faults.
        if self.round.overloaded(self.faults) == Some(false) && self.round.width <= self.safe {
            self.faults.0 += self.round.busy;
            self.faults.1 += self.round.answers + self.round.busy;
        }
        let width = self.round.width;
        let grew = self.last.filter(|&(before, _)| width > before);
        let next = if self.round.refused > 0 {
            // Refused, and cut already: the next refusal cuts again.
            width
        } else if queued && !self.round.cut {
            self.phase = Phase::Probing;
            width - width / 8
        } else {
            match (self.phase, grew) {
                (Phase::SlowStart, Some((before, r0))) if rate < r0 * DOUBLING_PAYS => {
                    self.phase = Phase::Probing;
                    before + (width - before) / 2
                }
                (Phase::SlowStart, _) => self.width,
                (_, Some((before, r0))) if rate < r0 => before,
                _ => width + 1,
            }
        };
        let next = next.clamp(1, self.ceiling);
        if next < width {
            self.safe = next;
        }
        if next == self.ceiling {
            self.phase = Phase::Probing;
        }
        tracing::trace!(width, rate, next, "upload window round");
        self.last = Some((width, rate));
        self.width = next;
        self.widest = self.widest.max(next);
        self.round = Round::new(now, next);
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
