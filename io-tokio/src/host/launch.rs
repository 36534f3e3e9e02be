//! The process around a bot: reads the configuration (and `.env`),
//! answers the `blacksky` subcommands, starts the session loop with the
//! bot's handler and shuts down cleanly on SIGTERM/SIGINT. The `blacksky`
//! binary and every bot written with the library start here.

use blacksky_bot::{AutoReplies, Bot, BotConfig, Either, Handler};
use tokio::sync::watch;

use crate::host::cli;
use crate::host::config::{AutoReplySource, Config, ProcessEnv};
use crate::host::dotenv;
use crate::host::redact;
use crate::host::runtime_facts::BoardFacts;
use crate::session::proactive::{self, Outbox};
use crate::session::runner;
use crate::session::worker::StoreHealth;

/// Exit code of a start refused for its configuration (a variable, the
/// `.env` file, the auto-reply file).
pub const EXIT_CONFIG: i32 = 2;

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

/// Runs the process: `blacksky [run | config | session …]`. `build`
/// makes the bot's handler once the configuration is read (inside the
/// runtime: it may spawn tasks that send through the [`Outbox`]); an
/// `Err` stops the start with its text (exit 2). Auto-replies from
/// `AUTO_REPLY_FILE` answer first; the handler gets what they do not
/// answer. Never returns: the process exits with the session's code.
pub fn main_with<H, F>(build: F) -> !
where
    H: Handler,
    F: FnOnce(&Config, Outbox) -> Result<H, String>,
{
    main_with_facts(|config, outbox, _| build(config, outbox))
}

/// [`main_with`], and `build` also gets what the process knows of itself
/// ([`BoardFacts`]: the numbers of /stats), for commands like `.stats`
/// (the `blacksky` binary's built-in commands start here).
pub fn main_with_facts<H, F>(build: F) -> !
where
    H: Handler,
    F: FnOnce(&Config, Outbox, BoardFacts) -> Result<H, String>,
{
    // A missing .env is normal; a malformed one stops the start, as a bad
    // variable does.
    if let Err(err) = dotenv::load(std::path::Path::new(dotenv::DOTENV_FILE)) {
        eprintln!("blacksky: configuration error: {err}");
        std::process::exit(EXIT_CONFIG);
    }
    let config = match Config::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("blacksky: configuration error: {err}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("run") => {}
        Some("config") => {
            for (name, value) in config.describe() {
                println!("{name}={value}");
            }
            std::process::exit(0);
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
            std::process::exit(0);
        }
        Some(other) => {
            eprintln!("blacksky: unknown command {other:?} (try `blacksky help`)");
            std::process::exit(EXIT_CONFIG);
        }
    }
    init_logging(&config);
    report_clips();
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
    let auto_replies = match load_auto_replies(&config.auto_replies) {
        Ok(rules) => rules,
        Err(err) => {
            eprintln!("blacksky: configuration error: {err}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let code = runtime.block_on(async {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        spawn_signal_handler(shutdown_tx);
        let (outbox, intake) = proactive::channel();
        let facts = BoardFacts::new(&config, StoreHealth::new());
        let handler = match build(&config, outbox.clone(), facts.clone()) {
            Ok(handler) => handler,
            Err(err) => {
                eprintln!("blacksky: the bot did not start: {err}");
                return EXIT_CONFIG;
            }
        };
        let bot_config = BotConfig {
            rate_limit_per_min: config.rate_limit_per_min,
            ..BotConfig::default()
        };
        let bot = Bot::new(Either(auto_replies, handler), bot_config);
        let proactive = proactive::Proactive { outbox, intake };
        match runner::run(&config, shutdown_rx, bot, proactive, facts).await {
            Ok(code) => code,
            Err(err) => {
                tracing::error!("{err:#}");
                1
            }
        }
    });
    std::process::exit(code);
}

/// Checks the shipped reaction clips at start: a broken one is said by
/// name now, not when someone asks for its reaction.
fn report_clips() {
    match blacksky_bot::reactions::check_clips() {
        Ok(count) => tracing::info!(clips = count, "reaction clips checked"),
        Err(broken) => {
            for clip in broken {
                tracing::error!("{clip}");
            }
        }
    }
}

/// The rules `source` names: none when the default file does not exist.
fn load_auto_replies(
    source: &AutoReplySource,
) -> Result<AutoReplies, blacksky_bot::AutoReplyError> {
    let rules = match source {
        AutoReplySource::Default(path) if !path.exists() => return AutoReplies::parse("", ""),
        AutoReplySource::Default(path) | AutoReplySource::Named(path) => AutoReplies::load(path)?,
    };
    tracing::info!(rules = rules.len(), "auto-replies loaded");
    Ok(rules)
}
