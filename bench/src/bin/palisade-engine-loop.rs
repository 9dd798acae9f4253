//! The engine alone in a plain loop: one mix's requests through a compiled
//! ruleset, timed per round. Built natively it measures what criterion
//! does; built for `wasm32-wasip1` and run in Node's V8 (`bench/v8.sh`) it
//! measures the engine as Envoy runs it, compiled to wasm and executed by
//! V8, without Envoy's noise.
//!
//! Why both: instruction counts of the native build (callgrind) are stable,
//! but do not always carry over to wasm in V8; a change can save 6% of the
//! native instructions and nothing in V8 (bench/README.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use palisade_bench::{inspect, Mix};
use palisade_engine::{config, Transaction};

#[derive(Parser, Debug)]
#[command(
    about = "Time the engine alone on one request mix, natively or as wasm (bench/v8.sh)",
    after_help = "Example: palisade-engine-loop --ruleset crs.ruleset --config '{\"paranoia_level\": 1}' --mix get"
)]
struct Args {
    /// A compiled ruleset (`palisade compile ... -o FILE`).
    #[arg(long)]
    ruleset: PathBuf,
    /// The plugin configuration, as JSON.
    #[arg(long, default_value = "{}")]
    config: String,
    /// The request mix.
    #[arg(long, value_enum, default_value = "get")]
    mix: Mix,
    /// Requests per timed round (a fifth as many warm up first).
    #[arg(long, default_value_t = 2_000)]
    requests: u32,
    /// Timed rounds; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Sleep this many microseconds before each request and time each
    /// request alone, reporting its p50 and p90 beside the same requests
    /// back to back: what a machine idle between requests (as Envoy at a
    /// fixed rate) costs the engine itself.
    #[arg(long)]
    pause_us: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let artifact = match std::fs::read(&args.ruleset) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("cannot read --ruleset {}: {e}", args.ruleset.display());
            return ExitCode::from(2);
        }
    };
    let settings = match config::load(args.config.as_bytes(), &artifact) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration refused: {e}");
            return ExitCode::from(2);
        }
    };
    let requests = args.mix.requests();
    let mut next = 0;
    let mut tx = Transaction::new();
    let mut run = |n: u32| {
        for _ in 0..n {
            std::hint::black_box(inspect(&settings, &requests[next], &mut tx));
            next = (next + 1) % requests.len();
        }
    };
    // Warm-up: the lazy DFAs build their states in the first requests.
    run(args.requests / 5);
    if let Some(pause) = args.pause_us {
        let pause = std::time::Duration::from_micros(pause);
        let mut each = |pause: Option<std::time::Duration>| {
            let mut micros: Vec<f64> = (0..args.requests.max(1))
                .map(|_| {
                    if let Some(pause) = pause {
                        std::thread::sleep(pause);
                    }
                    let start = Instant::now();
                    std::hint::black_box(inspect(&settings, &requests[next], &mut tx));
                    next = (next + 1) % requests.len();
                    start.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            micros.sort_by(f64::total_cmp);
            let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
            (at(0.5), at(0.9))
        };
        let (paused50, paused90) = each(Some(pause));
        let (plain50, plain90) = each(None);
        println!(
            "{}: each request alone after a {} µs pause: p50 {paused50:.1} µs, p90 {paused90:.1} µs (back to back: p50 {plain50:.1} µs, p90 {plain90:.1} µs)",
            args.mix.name(),
            pause.as_micros(),
        );
        return ExitCode::SUCCESS;
    }
    let mut micros: Vec<f64> = (0..args.rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            run(args.requests);
            start.elapsed().as_secs_f64() * 1e6 / f64::from(args.requests.max(1))
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    let rounds: Vec<String> = micros.iter().map(|m| format!("{m:.1}")).collect();
    println!(
        "{}: median {:.1} µs per request (rounds, sorted: {})",
        args.mix.name(),
        micros[micros.len() / 2],
        rounds.join(", ")
    );
    ExitCode::SUCCESS
}
