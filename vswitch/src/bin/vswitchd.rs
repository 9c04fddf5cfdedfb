//! vswitchd: runs the switch in the foreground on a TOML configuration.
#![forbid(unsafe_code)]
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use crossbeam::channel::{select, Receiver, RecvError};

use vswitch::config::Config;
use vswitch::control::ControlServer;
use vswitch::openflow::service::{OfPending, Query};
use vswitch::openflow::targets::OpenFlowServer;
use vswitch::switch::Switch;

/// How often the management thread does its periodic work.
const TICK: Duration = Duration::from_millis(100);
/// How long a learned rule or MAC address may wait before it is applied.
const LEARN_LATENCY: Duration = Duration::from_millis(10);

#[derive(Parser)]
#[command(name = "vswitchd", version, about = "DPDK virtual switch daemon")]
struct Args {
    /// Configuration file (TOML) to run.
    #[arg(long, value_name = "FILE", required_unless_present = "check_config")]
    config: Option<PathBuf>,
    /// Validate a configuration file and exit (0 = valid); DPDK is not touched.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    check_config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !std::arch::is_x86_feature_detected!("sse4.2") {
        // The build assumes it (the datapath hashes with its CRC32C instruction), as DPDK does.
        eprintln!("vswitchd: this CPU lacks SSE4.2, which vswitchd and DPDK require");
        return ExitCode::FAILURE;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Some(path) = args.check_config {
        return match Config::load(&path) {
            Ok(_) => {
                println!("{}: configuration is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vswitchd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(path) = args.config else { return ExitCode::FAILURE };
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("vswitchd: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("vswitchd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Flow_mods queued at most in one datapath version.
const FLOW_MOD_BATCH: usize = 4096;

/// Answers an OpenFlow query, and the ones queued behind it: a run of flow_mods (from any
/// connections) is applied as one datapath version, in order; anything else one by one.
fn serve_openflow(switch: &mut Switch, first: OfPending, requests: &Receiver<OfPending>) {
    let mut next = Some(first);
    while let Some(pending) = next.take() {
        let OfPending { bridge, query, reply_to } = pending;
        let Query::FlowMods { ops, origin } = query else {
            let _ = reply_to.send(switch.handle_openflow(&bridge, query));
            return;
        };
        let mut replies = vec![reply_to];
        let mut work = vec![(bridge, ops, origin)];
        while work.len() < FLOW_MOD_BATCH {
            match requests.try_recv() {
                Ok(OfPending { bridge, query: Query::FlowMods { ops, origin }, reply_to }) => {
                    replies.push(reply_to);
                    work.push((bridge, ops, origin));
                }
                Ok(other) => {
                    next = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        for (reply_to, answer) in replies.iter().zip(switch.handle_openflow_flow_mods(work)) {
            let _ = reply_to.send(answer);
        }
    }
}

fn run(config: &Config) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    // The control socket first: a second daemon on the same socket is
    // refused before it touches DPDK.
    let (control, requests) = ControlServer::start(&config.control.socket)?;
    // OpenFlow listeners next: a taken TCP port is an error before DPDK starts too.
    let (openflow, of_requests) = OpenFlowServer::start(config)?;
    let mut switch = Switch::start(config)?;
    // The switch owns the targets from now on (vsctl set-controller); they stop with it.
    switch.attach_openflow(openflow);
    let packet_ins = switch.packet_ins();
    tracing::info!(socket = %config.control.socket.display(), "vswitchd running");
    let mut next_tick = Instant::now() + TICK;
    while !stop.load(Ordering::Relaxed) {
        // Wake at least every LEARN_LATENCY for what the PMDs learned.
        let deadline = next_tick.min(Instant::now() + LEARN_LATENCY);
        let timeout = deadline.saturating_duration_since(Instant::now());
        select! {
            recv(requests) -> pending => match pending {
                Ok(pending) => {
                    let reply = switch.handle(pending.request);
                    let _ = pending.reply_to.send(reply);
                }
                Err(RecvError) => break,
            },
            // Never disconnected: the server keeps a sender.
            recv(of_requests) -> pending => if let Ok(pending) = pending {
                serve_openflow(&mut switch, pending, &of_requests);
            },
            // Never disconnected: the switch keeps a receiver and the PMDs their senders.
            recv(packet_ins) -> event => if let Ok(event) = event {
                switch.handle_packet_in(event);
            },
            default(timeout) => {}
        }
        // What the PMDs learned (learn actions, MAC addresses) takes effect
        // as soon as the management thread gets to it.
        switch.apply_side_effects();
        if Instant::now() >= next_tick {
            switch.tick();
            next_tick = Instant::now() + TICK;
        }
    }
    tracing::info!("stopping");
    switch.shutdown();
    drop(switch);
    drop(control);
    tracing::info!("stopped");
    Ok(())
}
