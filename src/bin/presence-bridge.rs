//! `presence-bridge`: the operator's command line. Parses the arguments and hands each command to
//! its function in `presence_bridge::cli`.

use clap::{Parser, Subcommand};
use presence_bridge::cli;
use presence_bridge::demo::SwyxSide;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// Run the self-hosted server: the webhooks and, unless `server.admin_listen` is set, /metrics
    /// and /healthz on one listener; maintenance in-process.
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
        #[arg(long, default_value_t = 3, conflicts_with = "via_connector")]
        outage_secs: u64,
        /// The emulated connector answers every request this late (milliseconds): a slow
        /// SwyxServer; the table's "slow answers" shows whether Graph would call the bridge slow.
        #[arg(long, default_value_t = 0, conflicts_with = "via_connector")]
        connector_delay_ms: u64,
        /// Play the Swyx side with the real swyx-connector (a child process) and the sandbox's
        /// SIP stand-in for SwyxServer instead of the emulated connector (a shorter day).
        #[arg(long)]
        via_connector: bool,
        /// The swyx-connector executable (default: next to this one).
        #[arg(long, value_name = "PATH", requires = "via_connector")]
        connector_exe: Option<PathBuf>,
    },
    /// Check a configuration file and say what is wrong with it.
    CheckConfig {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Every linked user's state from the store: link, coverage, last Teams presence, the Swyx
    /// status set and whether the connector confirmed it, pending deliveries, calls; totals first.
    Status {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
        /// One user in detail: an Entra object id, a Swyx user id or an e-mail address.
        #[arg(long, value_name = "ID|EMAIL")]
        user: Option<String>,
        /// The whole report as JSON.
        #[arg(long)]
        json: bool,
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
    /// Link users automatically by e-mail address (Entra mail, then UPN, then smtp: aliases);
    /// prints the plan: link, unlink, unchanged, refused with the reason.
    Sync {
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the whole plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Link a Swyx user to an Entra user by hand (a sync never undoes it).
    Link {
        entra_id: String,
        swyx_user_id: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Unlink a Swyx user and keep it out of automatic linking (until `link` or `include`).
    Unlink {
        swyx_user_id: String,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// A user's own direction switches (by Swyx id, Entra id or e-mail address): `on`, `off`,
    /// or `default` to follow the configuration; a switch not given stays as it is.
    Set {
        id: String,
        /// Teams presence → Swyx status.
        #[arg(long, value_enum)]
        teams_to_swyx: Option<Switch>,
        /// Swyx "Speaking" → Teams "In a call".
        #[arg(long, value_enum)]
        swyx_to_teams: Option<Switch>,
        /// Swyx "Do not disturb"/"Away" set in SwyxIt! → Teams.
        #[arg(long, value_enum)]
        swyx_status_to_teams: Option<Switch>,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Let automatic linking link an excluded Swyx user again.
    Include {
        swyx_user_id: String,
        #[arg(long, env = "PRESENCE_BRIDGE_CONFIG")]
        config: PathBuf,
    },
}

/// One direction switch as `users set` takes it.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Switch {
    On,
    Off,
    /// Follow the configuration.
    Default,
}

impl Switch {
    fn change(switch: Option<Self>) -> Option<Option<bool>> {
        switch.map(|s| match s {
            Switch::On => Some(true),
            Switch::Off => Some(false),
            Switch::Default => None,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo draws progress and a table on the terminal and logs to files of its own.
    if !matches!(cli.command, Command::Demo { .. }) {
        // JSON lines for log shippers (LOG_FORMAT=json), readable text otherwise.
        presence_bridge::telemetry::init(
            std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")),
        );
    }
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout();
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
            cli::decrypt::run(&args, &mut std::io::stdin().lock(), &mut stdout)?;
        }
        Command::Serve { config, listen } => cli::serve::run(&config, listen).await?,
        Command::Demo {
            users,
            outage_secs,
            connector_delay_ms,
            via_connector,
            connector_exe,
        } => {
            let outage = Duration::from_secs(outage_secs);
            let connector_delay = Duration::from_millis(connector_delay_ms);
            let swyx = match (via_connector, connector_exe) {
                (false, _) => SwyxSide::Emulated,
                (true, Some(exe)) => SwyxSide::Connector { exe },
                (true, None) => SwyxSide::Connector {
                    exe: presence_bridge::demo::default_connector_exe()?,
                },
            };
            if !cli::demo::run(users, outage, connector_delay, swyx, &mut stdout).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::CheckConfig { config } => println!("{}", cli::check_config::run(&config)?),
        Command::Accounts { command } => match command {
            AccountsCommand::Add { name, config } => {
                cli::accounts::add(&cli::config(&config)?, &name, &mut stdout).await?;
            }
            AccountsCommand::List { config } => {
                print!(
                    "{}",
                    cli::accounts::list_configured(&cli::config(&config)?).await?
                );
            }
            AccountsCommand::Remove { name, config } => {
                let cfg = cli::config(&config)?;
                println!("{}", cli::accounts::remove_configured(&cfg, &name).await?);
            }
            AccountsCommand::NewKey => {
                println!(
                    "{}",
                    presence_bridge::graph::sealed::TokenSealer::generate_key_text()
                );
            }
        },
        Command::Status { config, user, json } => {
            let store = cli::store(&config).await?;
            let now = presence_bridge::domain::Timestamp::now();
            print!(
                "{}",
                cli::status::run(
                    store.as_ref(),
                    user.as_deref(),
                    json,
                    now,
                    cli::directions(&config)?
                )
                .await?
            );
        }
        Command::Users { command } => match command {
            UsersCommand::Import { file, config } => {
                let store = cli::store(&config).await?;
                if !cli::users::import_file(store.as_ref(), &file, &mut stdout).await? {
                    return Ok(ExitCode::from(2));
                }
            }
            UsersCommand::List { config } => {
                cli::users::list(cli::store(&config).await?.as_ref(), &mut stdout).await?;
            }
            UsersCommand::Sync {
                config,
                dry_run,
                json,
            } => {
                cli::links::sync(&cli::config(&config)?, dry_run, json, &mut stdout).await?;
            }
            UsersCommand::Link {
                entra_id,
                swyx_user_id,
                email,
                config,
            } => {
                let store = cli::store(&config).await?;
                let text =
                    cli::links::link(store.as_ref(), &entra_id, &swyx_user_id, email.as_deref())
                        .await?;
                println!("{text}");
            }
            UsersCommand::Unlink {
                swyx_user_id,
                config,
            } => {
                let cfg = cli::config(&config)?;
                println!("{}", cli::links::unlink(&cfg, &swyx_user_id).await?);
            }
            UsersCommand::Set {
                id,
                teams_to_swyx,
                swyx_to_teams,
                swyx_status_to_teams,
                config,
            } => {
                let change = presence_bridge::domain::SwitchChange {
                    teams_to_swyx: Switch::change(teams_to_swyx),
                    swyx_to_teams: Switch::change(swyx_to_teams),
                    swyx_status_to_teams: Switch::change(swyx_status_to_teams),
                };
                let cfg = cli::config(&config)?;
                println!("{}", cli::switches::set(&cfg, &id, change).await?);
            }
            UsersCommand::Include {
                swyx_user_id,
                config,
            } => {
                let store = cli::store(&config).await?;
                println!(
                    "{}",
                    cli::links::include(store.as_ref(), &swyx_user_id).await?
                );
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
