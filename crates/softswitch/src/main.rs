//! softswitch: the binary. Parses the command line and configuration, wires
//! the crates together, and handles signals. It holds no call logic.

mod account_cmd;
mod admin_start;
mod audit_cmd;
mod auth_config;
mod check_flow;
mod config;
mod ha1_cmd;
mod run;
mod secrets;
mod sip_tls;
mod sla_cmd;
mod strategies;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "softswitch",
    version,
    about = "Contact-centre softswitch: SIP trunks, IVR, ACD, CDR"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the softswitch.
    Run {
        /// Configuration file (default: configs/default.toml, else the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a configuration file and exit (1 with `file:line: message` on error).
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate IVR flow files; prints `file:line: message` per error, exit 1 if any.
    CheckFlow {
        /// Flow files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory of the prompts the flows may name.
        #[arg(long, default_value = "prompts")]
        prompts: PathBuf,
        /// The configuration whose queues the flows may name (default
        /// configs/default.toml, else the embedded one).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the HA1 of a SIP password, read from standard input, for
    /// `ha1 = "..."` in [[agents]] or [[trunks]] (no clear password in the
    /// configuration).
    Ha1 {
        /// The agent's id (or the trunk's username).
        #[arg(long)]
        user: String,
        /// The digest realm: [sip] realm of the configuration.
        #[arg(long, default_value = "softswitch")]
        realm: String,
    },
    /// KPIs from call records (REQUIREMENTS D): per time slot, queue, flow
    /// or DID, HO / HNO, against the [sla] targets.
    Sla(sla_cmd::Args),
    /// Manage accounts (add, list, disable, reset-password, set-role...).
    Account(account_cmd::AccountArgs),
    /// Check the audit log's hash chain, or export a range of it.
    Audit(audit_cmd::AuditArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { config } => {
            init_logs();
            match run::run(config.as_deref()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("softswitch: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Cmd::CheckFlow {
            files,
            prompts,
            config,
        } => check_flow::run(&files, &prompts, config.as_deref()),
        Cmd::Sla(args) => sla_cmd::run(&args),
        Cmd::Account(args) => account_cmd::run(&args),
        Cmd::Audit(args) => audit_cmd::run(&args),
        Cmd::Ha1 { user, realm } => ha1_cmd::run(&user, &realm),
        Cmd::CheckConfig { config } => match config::Config::load(config.as_deref()) {
            Ok(c) => {
                println!("{}: ok ({} trunk(s))", c.origin, c.trunks.len());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SOFTSWITCH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: log files and journald get plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
