//! `presence-sandbox`: runs the emulated Microsoft Graph and SwyxServer connector on loopback
//! (`run`), and plays human-readable scenario steps against a running sandbox (`scenario`).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

use presence_sandbox::Clock;
use presence_sandbox::control::{self, GraphHandleLike, ScenarioClient, scenario};
use presence_sandbox::swyx::{SwyxEmulator, SwyxOptions, webhook};

#[derive(Parser)]
#[command(
    name = "presence-sandbox",
    version,
    about = "Local stand-ins for Microsoft Graph and a Swyx connector"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulators and the scenario API; print their URLs and secrets as one JSON line on
    /// stdout; run until SIGTERM or Ctrl-C.
    Run(RunArgs),
    /// Play steps against a running sandbox, e.g. "teams alice DoNotDisturb" "swyx 101 call start" "show".
    Scenario {
        /// The control URL that `run` printed.
        #[arg(long, env = "SANDBOX_CONTROL_URL")]
        control: String,
        #[arg(required = true, value_name = "STEP", help = scenario::STEP_HELP)]
        steps: Vec<String>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Where the connector sends call events (the bridge's `POST …/swyx/events` URL).
    #[arg(long, env = "SANDBOX_BRIDGE_EVENTS_URL")]
    bridge_events_url: Option<String>,
    /// `whsec_…` the bridge signs its connector requests with (generated if absent).
    #[arg(long, env = "SANDBOX_SWYX_INBOUND_SECRET", hide_env_values = true)]
    inbound_secret: Option<String>,
    /// `whsec_…` the connector signs its events with (generated if absent).
    #[arg(long, env = "SANDBOX_SWYX_OUTBOUND_SECRET", hide_env_values = true)]
    outbound_secret: Option<String>,
    /// Port of the emulated connector on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    swyx_port: u16,
    /// Port of the scenario API on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// Tenant of the emulated Graph.
    #[arg(long, default_value = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93")]
    tenant_id: String,
    /// The bridge's app (client) id in the emulated tenant.
    #[arg(long, default_value = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0")]
    app_id: String,
    /// The app's client secret at the emulated token endpoint (generated if absent).
    #[arg(long, env = "SANDBOX_GRAPH_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Emulated Graph throttle: requests per 30 s before 429 (none if absent).
    #[arg(long)]
    throttle_per_30s: Option<u32>,
    /// Emulated Graph throttle of the presence API alone, per 30 s (Microsoft's pages: 1,500).
    #[arg(long)]
    presence_throttle_per_30s: Option<u32>,
    /// A Swyx user to create at start, as ID:EMAIL:NAME (repeatable).
    #[arg(long = "swyx-user", value_name = "ID:EMAIL:NAME")]
    swyx_users: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr) // stdout carries the one JSON line / the scenario output
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Scenario { control, steps } => play(&control, &steps).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let users = args
        .swyx_users
        .iter()
        .map(|u| parse_user(u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let inbound_secret = args.inbound_secret.unwrap_or_else(webhook::generate_secret);
    let outbound_secret = args
        .outbound_secret
        .unwrap_or_else(webhook::generate_secret);
    // One clock for both emulators, so `clock +30m` moves the whole sandbox.
    let clock = Clock::new();

    let swyx = SwyxEmulator::start_on(
        SwyxOptions {
            inbound_secret: inbound_secret.clone(),
            outbound_secret: outbound_secret.clone(),
            bridge_events_url: args.bridge_events_url.clone(),
            clock: clock.clone(),
        },
        SocketAddr::from(([127, 0, 0, 1], args.swyx_port)),
    )
    .await?;
    for (id, email, name) in &users {
        swyx.add_user(id, name, email);
    }

    let client_secret = args
        .client_secret
        .unwrap_or_else(|| format!("sandbox-secret-{}", uuid::Uuid::new_v4().simple()));
    let graph =
        presence_sandbox::graph::GraphEmulator::start(presence_sandbox::graph::GraphOptions {
            tenant_id: args.tenant_id.clone(),
            app_id: args.app_id.clone(),
            client_secret: client_secret.clone(),
            throttle_per_30s: args.throttle_per_30s,
            clock: clock.clone(),
        })
        .await?;
    graph.set_presence_throttle(args.presence_throttle_per_30s);
    let graph_control: Option<GraphHandleLike> = Some(std::sync::Arc::new(graph.clone()));
    let graph_info = serde_json::json!({
        "baseUrl": graph.base_url(),
        "graphUrl": graph.graph_url(),
        "authorityUrl": graph.authority_url(),
        "jwksUrl": graph.jwks_url(),
        "tenantId": args.tenant_id,
        "appId": args.app_id,
        "clientSecret": client_secret,
    });

    let control = control::serve_control_on(
        graph_control,
        swyx.clone(),
        SocketAddr::from(([127, 0, 0, 1], args.control_port)),
    )
    .await?;

    // The one machine-readable line a test harness or the bridge's dev setup reads.
    let ready = serde_json::json!({
        "controlUrl": control.url(),
        "swyx": {
            "connectorUrl": swyx.url(),
            "inboundSecret": inbound_secret,
            "outboundSecret": outbound_secret,
            "bridgeEventsUrl": args.bridge_events_url,
        },
        "graph": graph_info,
    });
    println!("{ready}");
    tracing::info!(control = %control.url(), connector = %swyx.url(), "sandbox running");

    shutdown_signal().await?;
    tracing::info!("sandbox stopping");
    Ok(())
}

fn parse_user(s: &str) -> anyhow::Result<(String, String, String)> {
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(email), name) if !id.is_empty() => Ok((
            id.to_string(),
            email.to_string(),
            name.filter(|n| !n.is_empty()).unwrap_or(id).to_string(),
        )),
        _ => anyhow::bail!(
            "--swyx-user {s:?}: expected ID:EMAIL:NAME, e.g. 101:alice@contoso.com:Alice"
        ),
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}

async fn play(control: &str, steps: &[String]) -> anyhow::Result<()> {
    let steps = scenario::parse_steps(steps)?;
    let client = ScenarioClient::new(control)?;
    let mut out = std::io::stdout();
    scenario::run_steps(&client, &steps, &mut out).await
}
