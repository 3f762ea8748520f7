//! `swyx-connector`: run the connector, check a configuration, or show a running one's status.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use swyx_connector::Config;

#[derive(Parser)]
#[command(
    name = "swyx-connector",
    version,
    about = "The Swyx side of the Teams ⇄ Swyx presence bridge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the connector until SIGTERM / Ctrl-C (the service's command).
    Run {
        #[arg(long, env = "SWYX_CONNECTOR_CONFIG")]
        config: PathBuf,
    },
    /// Validate a configuration file (and read the user directory once) without starting.
    CheckConfig {
        #[arg(long, env = "SWYX_CONNECTOR_CONFIG")]
        config: PathBuf,
    },
    /// Show a running connector's registration, subscriptions, outbox and last errors.
    Status {
        #[arg(long, env = "SWYX_CONNECTOR_CONFIG")]
        config: PathBuf,
        /// Print the raw JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let json_logs = std::env::var("LOG_FORMAT").map_or(true, |v| !v.eq_ignore_ascii_case("text"));
    swyx_connector::logging::init(json_logs);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse())) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config } => {
            let cfg = Config::load(&config)?;
            swyx_connector::run(cfg, swyx_connector::logging::shutdown_signal()).await?;
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            let users = swyx_connector::directory::load(&cfg.directory).await?;
            println!(
                "{}: OK ({} users in the directory, writer {})",
                config.display(),
                users.len(),
                match &cfg.writer {
                    swyx_connector::config::WriterConfig::Log => "log",
                    swyx_connector::config::WriterConfig::Command(_) => "command",
                    swyx_connector::config::WriterConfig::Http(_) => "http",
                }
            );
        }
        Command::Status { config, json } => {
            let cfg = Config::load(&config)?;
            let Some(addr) = cfg.admin_listen else {
                anyhow::bail!(
                    "server.admin_listen is off in {}; status needs it",
                    config.display()
                );
            };
            let text = swyx_connector::status::fetch_summary(addr, json).await?;
            print!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
