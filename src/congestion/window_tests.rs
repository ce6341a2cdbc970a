use super::*;

/// A path to the service, round by round: how long a round of `width` uploads takes, and what
/// the service answers.
struct Path {
    /// One upload's time on an idle path (a link call and a PUT).
    latency: Duration,
    /// Requests the service takes at once; the rest are refused with this.
    admits: usize,
    refusal: Signal,
    /// Uploads a second the client can do at most (its CPU): past it, requests queue.
    capacity: f64,
    /// One answer in this many is a fault that looks like overload (errcode -1).
    busy_every: Option<usize>,
}

impl Path {
    fn far(latency_ms: u64) -> Path {
        Path {
            latency: Duration::from_millis(latency_ms),
            admits: usize::MAX,
            refusal: Signal::SlowDown,
            capacity: f64::INFINITY,
            busy_every: None,
        }
    }
}

/// What a run of `rounds` rounds saw.
struct Run {
    widths: Vec<usize>,
    refused: usize,
    requests: usize,
}

fn run(window: &mut Window, path: &Path, rounds: usize) -> Run {
    let mut now = Instant::now();
    let mut out = Run {
        widths: Vec::new(),
        refused: 0,
        requests: 0,
    };
    let mut answers = 0;
    for _ in 0..rounds {
        let width = window.width();
        out.widths.push(width);
        let served = width.min(path.admits);
        // Past the client's capacity, the round lasts as long as the queue takes to drain.
        let busy_for = Duration::from_secs_f64(served as f64 / path.capacity);
        let took = path.latency.max(busy_for);
        now += took;
        for _ in 0..width - served {
            out.refused += 1;
            window.tell(path.refusal, now);
        }
        for _ in 0..served {
            answers += 1;
            out.requests += 1;
            let busy = path.busy_every.is_some_and(|n| answers % n == 0);
            window.tell(
                if busy {
                    Signal::Busy
                } else {
                    Signal::Answered(took / 2)
                },
                now,
            );
            window.tell(Signal::Uploaded, now);
        }
        out.requests += width - served;
    }
    out
}

fn mean(widths: &[usize]) -> f64 {
    widths.iter().sum::<usize>() as f64 / widths.len() as f64
}

#[test]
fn a_far_service_opens_the_window_to_the_ceiling_in_a_few_rounds() {
    let mut window = Window::adaptive(64, Instant::now());
    assert_eq!(window.width(), INITIAL);
    let seen = run(&mut window, &Path::far(200), 12);
    assert_eq!(&seen.widths[..3], [16, 32, 64]);
    assert!(seen.widths.iter().all(|&w| w <= 64), "{:?}", seen.widths);
    assert_eq!(window.width(), 64);
    assert_eq!(window.widest(), 64);
}

#[test]
fn a_service_admitting_24_at_once_keeps_the_window_near_24_with_few_refusals() {
    let mut window = Window::adaptive(64, Instant::now());
    let path = Path {
        admits: 24,
        ..Path::far(200)
    };
    let seen = run(&mut window, &path, 200);
    let settled = &seen.widths[20..];
    let average = mean(settled);
    assert!((18.0..=26.0).contains(&average), "{average}: {settled:?}");
    let share = seen.refused as f64 / seen.requests as f64;
    assert!(share <= 0.05, "{share}");
}

#[test]
fn a_service_refusing_past_24_with_busy_answers_keeps_the_window_near_24() {
    let mut window = Window::adaptive(64, Instant::now());
    // errcode -1 rather than SlowDown: the answers a flaky service gives too.
    let path = Path {
        admits: 24,
        refusal: Signal::Busy,
        ..Path::far(200)
    };
    let seen = run(&mut window, &path, 200);
    assert!(
        seen.widths[..4].iter().all(|&w| w <= 32),
        "{:?}",
        seen.widths
    );
    let average = mean(&seen.widths[20..]);
    assert!(
        (20.0..=28.0).contains(&average),
        "{average}: {:?}",
        seen.widths
    );
    let share = seen.refused as f64 / seen.requests as f64;
    assert!(share <= 0.05, "{share}");
}

#[test]
fn a_client_out_of_cpu_does_not_widen_the_window_to_the_ceiling() {
    let mut window = Window::adaptive(128, Instant::now());
    // 10 ms a file on the wire, 400 files a second at most: more than 4 at once only queue.
    let path = Path {
        capacity: 400.0,
        ..Path::far(10)
    };
    let seen = run(&mut window, &path, 200);
    // It starts past the knee, so it never sees the path idle: it holds about where the
    // queue first shows, far below the ceiling.
    let average = mean(&seen.widths[20..]);
    assert!(average <= 32.0, "{average}: {:?}", seen.widths);
}

#[test]
fn faults_that_look_like_overload_but_come_at_any_width_do_not_close_it() {
    let mut window = Window::adaptive(16, Instant::now());
    // One answer in five is errcode -1, whatever the load.
    let path = Path {
        busy_every: Some(5),
        ..Path::far(40)
    };
    let seen = run(&mut window, &path, 100);
    assert_eq!(window.width(), 16, "{:?}", seen.widths);
}

#[test]
fn faults_at_any_width_do_not_keep_a_far_service_narrow() {
    let mut window = Window::adaptive(64, Instant::now());
    let path = Path {
        busy_every: Some(5),
        ..Path::far(200)
    };
    let seen = run(&mut window, &path, 12);
    assert_eq!(window.width(), 64, "{:?}", seen.widths);
}

#[test]
fn busy_answers_past_the_faults_cut_it_by_an_eighth_and_a_storm_halves_it() {
    let now = Instant::now();
    let mut window = Window::adaptive(64, now);
    run(&mut window, &Path::far(100), 6);
    assert_eq!(window.width(), 64);
    // A service that never failed: two busy answers among ten are a limit met, not faults.
    for _ in 0..BUSY_SAMPLE {
        window.tell(Signal::Answered(Duration::from_millis(50)), now);
    }
    window.tell(Signal::Busy, now);
    assert_eq!(window.width(), 64);
    window.tell(Signal::Busy, now);
    assert_eq!(window.width(), 56);
    // Half of the answers since: a storm.
    for _ in 0..BURST {
        window.tell(Signal::Busy, now);
    }
    assert_eq!(window.width(), 28);
}

#[test]
fn a_burst_of_busy_answers_before_any_round_halves_it() {
    let now = Instant::now();
    let mut window = Window::adaptive(64, now);
    for _ in 0..BURST {
        window.tell(Signal::Busy, now);
    }
    assert_eq!(window.width(), INITIAL / 2);
}

#[test]
fn slow_down_cuts_once_a_round_by_half_in_slow_start_and_an_eighth_after() {
    let now = Instant::now();
    let mut window = Window::adaptive(64, now);
    run(&mut window, &Path::far(100), 1);
    assert_eq!(window.width(), 32);
    for _ in 0..10 {
        window.tell(Signal::SlowDown, now);
    }
    assert_eq!(window.width(), 16);
    let mut window = Window::adaptive(64, now);
    run(&mut window, &Path::far(100), 6);
    for _ in 0..10 {
        window.tell(Signal::SlowDown, now);
    }
    assert_eq!(window.width(), 56);
}

#[test]
fn a_fixed_window_stays_where_it_was_put() {
    let mut window = Window::fixed(16, Instant::now());
    let path = Path {
        admits: 4,
        ..Path::far(100)
    };
    let seen = run(&mut window, &path, 50);
    assert!(seen.widths.iter().all(|&w| w == 16), "{:?}", seen.widths);
    assert_eq!(window.widest(), 16);
}

#[test]
fn the_window_never_passes_its_ceiling_nor_falls_below_one() {
    let mut window = Window::adaptive(5, Instant::now());
    run(&mut window, &Path::far(300), 30);
    assert_eq!(window.width(), 5);
    let path = Path {
        admits: 0,
        ..Path::far(300)
    };
    let seen = run(&mut window, &path, 30);
    assert!(seen.widths.iter().all(|&w| (1..=5).contains(&w)));
    assert_eq!(window.width(), 1);
}
