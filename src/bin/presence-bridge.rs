//! `presence-bridge`: the operator's command line.

use clap::{Parser, Subcommand};
use presence_bridge::app::open_store;
use presence_bridge::cli;
use presence_bridge::config::{Origin, RawConfig, validate_store};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "presence-bridge",
    version,
    about = "Keeps Microsoft Teams presence and SwyxServer status in step"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the Swyx status one Teams presence maps to: Available, Away, DoNotDisturb, Speaking or NoSync.
    Map {
        #[arg(long)]
        availability: String,
        #[arg(long)]
        activity: String,
        #[arg(long)]
        out_of_office: bool,
        /// An operator rules file (TOML) that replaces the default mapping.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Print the default mapping rules (a starting point for an operator rules file).
    DefaultRules,
    /// Decrypt a Graph notification collection read on stdin; prints each item's resource, one per line.
    Decrypt {
        /// PEM private key (PKCS#8 or PKCS#1); repeat for several keys.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// Password of a PKCS#12 key file.
        #[arg(long, env = "PRESENCE_BRIDGE_KEY_PASSWORD")]
        password: Option<String>,
    },
    /// Run the self-hosted server: every webhook route on one listener, maintenance in-process.
    Serve {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
        /// Overrides `server.listen` (e.g. 127.0.0.1:0 for a free port; the address is logged).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Start the sandbox (emulated Graph tenant and SwyxServer) and the bridge on loopback, link
    /// users, play a scripted day and print a table; exit 0 only when every user is consistent.
    Demo {
        #[arg(long, default_value_t = 50)]
        users: usize,
        /// How long the connector is down in the outage part of the day (seconds).
        #[arg(long, default_value_t = 3)]
        outage_secs: u64,
    },
    /// Check a configuration file and say what is wrong with it.
    CheckConfig {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Linked users (Entra user ↔ Swyx user).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Sync accounts: the Entra users whose delegated sign-in owns the presence subscriptions
    /// (one per 650 linked users).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Sign a sync account in (device code: open the URL, enter the code, sign in with MFA) and
    /// store its refresh token sealed. Again for an existing name: signs it in anew.
    Add {
        name: String,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// The accounts, their users, subscription, expiry, last error, and who is not covered.
    List {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Delete the account's subscription and forget the account; its users move to the others.
    Remove {
        name: String,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Print a new random key for `accounts.token_key` (base64 of 32 bytes).
    NewKey,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Link users from a CSV file: entra_id, swyx_user_id, email (header optional).
    Import {
        file: PathBuf,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// List linked users as CSV.
    List {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // JSON lines for log shippers (LOG_FORMAT=json), readable text otherwise.
    presence_bridge::telemetry::init(
        std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")),
    );
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Map {
            availability,
            activity,
            out_of_office,
            rules,
        } => {
            let status = cli::map::run(&availability, &activity, out_of_office, rules.as_deref())?;
            println!("{status}");
        }
        Command::DefaultRules => {
            print!("{}", presence_bridge::domain::MappingRules::default_text())
        }
        Command::Decrypt { keys, password } => {
            let args = cli::decrypt::DecryptArgs { keys, password };
            let mut out = std::io::stdout().lock();
            cli::decrypt::run(&args, &mut std::io::stdin().lock(), &mut out)?;
        }
        Command::Serve { config, listen } => {
            let cfg = RawConfig::from_file(&config)?.validate(Origin::File)?;
            let listener =
                presence_bridge::entry::server::bind(listen.unwrap_or(cfg.listen)).await?;
            let app = std::sync::Arc::new(presence_bridge::app::App::from_config(&cfg).await?);
            presence_bridge::entry::server::run(
                app,
                listener,
                cfg.maintenance_interval,
                presence_bridge::entry::server::shutdown_signal(),
            )
            .await?;
        }
        Command::Demo { users, outage_secs } => {
            let report = presence_bridge::demo::run(presence_bridge::demo::DemoOptions {
                users,
                store: presence_bridge::demo::DemoStore::Sqlite,
                bridge_exe: std::env::current_exe()?,
                outage: std::time::Duration::from_secs(outage_secs),
                progress: true,
            })
            .await?;
            print!("{}", report.table());
            if !report.ok() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::CheckConfig { config } => {
            let cfg = RawConfig::from_file(&config)?.validate(Origin::File)?;
            if let Some(rules) = &cfg.rules_file {
                presence_bridge::domain::MappingRules::load(rules)?;
            }
            println!("{}: OK", config.display());
        }
        Command::Accounts { command } => match command {
            AccountsCommand::Add { name, config } => {
                let cfg = RawConfig::from_file(&config)?.validate(Origin::File)?;
                cli::accounts::add(&cfg, &name, &mut std::io::stdout()).await?;
            }
            AccountsCommand::List { config } => {
                let cfg = RawConfig::from_file(&config)?.validate(Origin::File)?;
                let store = open_store(&cfg.store).await?;
                let capacity = cfg
                    .subscriptions
                    .as_ref()
                    .map_or(presence_bridge::domain::sharding::USERS_PER_ACCOUNT, |s| {
                        s.users_per_account
                    });
                let now = presence_bridge::domain::Timestamp::now();
                print!(
                    "{}",
                    cli::accounts::list(store.as_ref(), capacity, now).await?
                );
            }
            AccountsCommand::Remove { name, config } => {
                let cfg = RawConfig::from_file(&config)?.validate(Origin::File)?;
                let app = presence_bridge::app::App::from_config(&cfg).await?;
                println!("{}", cli::accounts::remove(&app, &name).await?);
            }
            AccountsCommand::NewKey => {
                println!(
                    "{}",
                    presence_bridge::graph::sealed::TokenSealer::generate_key_text()
                );
            }
        },
        Command::Users { command } => match command {
            UsersCommand::Import { file, config } => {
                let store_cfg = validate_store(RawConfig::from_file(&config)?.store, Origin::File)?;
                let store = open_store(&store_cfg).await?;
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let report = cli::users::import(store.as_ref(), &text).await?;
                println!(
                    "{} users linked, {} already linked as in the file, {} lines refused",
                    report.imported,
                    report.unchanged,
                    report.refused.len()
                );
                for (line, problem) in &report.refused {
                    println!("{}:{line}: {problem}", file.display());
                }
                if !report.refused.is_empty() {
                    return Ok(ExitCode::from(2));
                }
            }
            UsersCommand::List { config } => {
                let store_cfg = validate_store(RawConfig::from_file(&config)?.store, Origin::File)?;
                let store = open_store(&store_cfg).await?;
                println!("entra_id,swyx_user_id,email");
                for u in store.list_users().await? {
                    println!("{},{},{}", u.entra_id, u.swyx_user_id, u.email);
                }
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
