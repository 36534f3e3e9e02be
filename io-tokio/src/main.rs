//! The `blacksky` binary: reads the configuration, starts the session
//! loop, and shuts down cleanly on SIGTERM/SIGINT.

use blacksky_io::host::cli;
use blacksky_io::host::config::{Config, ProcessEnv};
use blacksky_io::host::dotenv;
use blacksky_io::host::redact;
use blacksky_io::session::runner;
use tokio::sync::watch;

/// Logs to stderr through the filter the configuration checked (RUST_LOG),
/// as JSON lines on a public host or in production; JIDs and phone
/// numbers masked unless LOG_FULL_JIDS.
fn init_logging(config: &Config) {
    redact::show_full_ids(config.log_full_jids);
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(&config.log_filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// First SIGTERM/SIGINT asks for a clean shutdown; a second exits at once.
fn spawn_signal_handler(shutdown: watch::Sender<bool>) {
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            tracing::error!("cannot listen for SIGTERM");
            return;
        };
        let mut signals = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            signals += 1;
            if signals > 1 {
                tracing::warn!("second signal: exiting now");
                std::process::exit(130);
            }
            tracing::info!("shutdown requested");
            let _ = shutdown.send(true);
        }
    });
}

fn main() {
    // A missing .env is normal; a malformed one stops the start, as a bad
    // variable does.
    if let Err(err) = dotenv::load(std::path::Path::new(dotenv::DOTENV_FILE)) {
        eprintln!("blacksky: configuration error: {err}");
        std::process::exit(2);
    }
    let config = match Config::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("blacksky: configuration error: {err}");
            std::process::exit(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("run") => {}
        Some("config") => {
            for (name, value) in config.describe() {
                println!("{name}={value}");
            }
            return;
        }
        Some("session") => {
            init_logging(&config);
            let _ = rustls::crypto::ring::default_provider().install_default();
            std::process::exit(cli::session::main(&config, &args[1..]));
        }
        Some("help" | "--help" | "-h") => {
            println!(
                "usage: blacksky [run | config | session …]\n  run      start the bot (the default)\n  config   print the effective configuration, secrets masked\n  session  export, import, verify, list or wipe the stored session (`blacksky session help`)"
            );
            return;
        }
        Some(other) => {
            eprintln!("blacksky: unknown command {other:?} (try `blacksky help`)");
            std::process::exit(2);
        }
    }
    init_logging(&config);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("blacksky: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        spawn_signal_handler(shutdown_tx);
        match runner::run(&config, shutdown_rx).await {
            Ok(code) => code,
            Err(err) => {
                tracing::error!("{err:#}");
                1
            }
        }
    });
    std::process::exit(code);
}
