//! `riposte`: the command line. It parses arguments and wires the library
//! crates together; the work happens in them.

mod commands;
mod demo;
mod identity;
mod import;
mod ingest;
mod intel;
mod replay;
mod review;
mod rules;
mod runs;

/// mimalloc rather than glibc's malloc: decoding allocates and frees tens of
/// small objects per event, and glibc trims the heap between batches and
/// faults it back in (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "riposte",
    version,
    about = "Security automation and response: events in, alerts, cases and expiring decisions out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the bundled sample (Suricata EVE + sshd auth.log) end to end on an
    /// embedded SQLite store and print what Riposte decided.
    Demo {
        /// Where to write the sample, the store and the blocklist (default: a
        /// new temporary directory, kept and printed).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the long-lived service: file sources, pipeline, expiry sweeper and
    /// the REST API on loopback. Stops cleanly on SIGTERM or Ctrl-C.
    Serve {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
    },
    /// Validate a configuration and the rules and playbooks it names,
    /// listing every problem.
    Check {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
    },
    /// Playbook tools.
    /// Reads files (or stdin) once through the decoders and the pipeline;
    /// with --decode-only, prints the normalized events instead.
    Ingest(ingest::IngestArgs),
    #[command(subcommand)]
    Playbook(PlaybookCommand),
    /// List, add and delete decisions (like `cscli decisions`).
    #[command(subcommand)]
    Decisions(commands::DecisionsCommand),
    /// Review automated decisions: list, approve, revert, extend, digest.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// The active-response circuit breaker: status and reset.
    #[command(subcommand)]
    Breaker(review::BreakerCommand),
    /// List alerts.
    #[command(subcommand)]
    Alerts(commands::AlertsCommand),
    /// List and show cases.
    #[command(subcommand)]
    Cases(commands::CasesCommand),
    /// Lint rule directories (native and Sigma) and test rules on events.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Import rules from other tools (fail2ban filters and jails).
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// List input that could not be decoded.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(commands::DeadLettersCommand),
    /// Read the audit log, and verify its hash chain.
    #[command(subcommand)]
    Audit(commands::AuditCommand),
    /// Users of the API: add, list, disable, enable, set-role.
    #[command(subcommand)]
    Users(identity::UsersCommand),
    /// API keys: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(identity::KeysCommand),
    /// See what enforcers would change, or reconcile them now.
    #[command(subcommand)]
    Enforcers(commands::EnforcersCommand),
    /// Run recorded events through rules and playbooks in simulate mode:
    /// what would have been decided, and the difference from a baseline.
    Replay(replay::ReplayArgs),
    /// Playbook runs: list, show the step timeline, cancel, resume.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Approvals playbook steps wait for: list, approve, reject.
    #[command(subcommand)]
    Approvals(runs::ApprovalsCommand),
    /// Threat intel: import feeds, export indicators, look values up, stats.
    #[command(subcommand)]
    Intel(intel::IntelCommand),
}

#[derive(Subcommand, Debug)]
enum PlaybookCommand {
    /// Validate playbook files; every problem is listed with file and step.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run declarative test cases against a playbook: a trigger and mocked
    /// action results in, the expected steps, inputs and decisions out.
    /// Nothing is performed.
    Test {
        /// Playbook files or directories (the one under test and those it
        /// calls).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The cases file.
        #[arg(long = "case")]
        cases: PathBuf,
        /// Print each case's step timeline too.
        #[arg(long)]
        verbose: bool,
    },
    /// Run a playbook by hand (its trigger must allow `manual`), executed
    /// here until it finishes or waits; prints the step timeline.
    Run {
        #[arg(long, short, default_value = "riposte.yaml")]
        config: PathBuf,
        /// The playbook id.
        id: String,
        /// An input, NAME=VALUE (VALUE read as JSON when it is JSON).
        #[arg(long = "input")]
        inputs: Vec<String>,
        /// All inputs as one JSON object.
        #[arg(long)]
        inputs_json: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One-shot commands report refusals and problems in their own output or
    // error; a log line would only repeat them. The service logs its work.
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        _ => "error",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RIPOSTE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo { dir } => demo::run(dir).await,
            Command::Serve { config } => commands::serve(&config).await,
            Command::Check { config } => commands::check(&config),
            Command::Ingest(args) => ingest::run(args).await,
            Command::Rules(cmd) => rules::run(cmd),
            Command::Playbook(PlaybookCommand::Validate { files }) => {
                commands::validate_playbooks(&files)
            }
            Command::Playbook(PlaybookCommand::Run {
                config,
                id,
                inputs,
                inputs_json,
            }) => runs::run_playbook(config, id, inputs, inputs_json).await,
            Command::Playbook(PlaybookCommand::Test {
                files,
                cases,
                verbose,
            }) => runs::test_playbook(&files, &cases, verbose).await,
            Command::Runs(cmd) => runs::runs(cmd).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Approvals(cmd) => runs::approvals(cmd).await,
            Command::Decisions(cmd) => commands::decisions(cmd).await,
            Command::Review(cmd) => review::review(cmd).await,
            Command::Breaker(cmd) => review::breaker(cmd).await,
            Command::Alerts(cmd) => commands::alerts(cmd).await,
            Command::Cases(cmd) => commands::cases(cmd).await,
            Command::DeadLetters(cmd) => commands::dead_letters(cmd).await,
            Command::Audit(cmd) => commands::audit(cmd).await,
            Command::Users(cmd) => identity::users(cmd).await,
            Command::Keys(cmd) => identity::keys(cmd).await,
            Command::Enforcers(cmd) => commands::enforcers(cmd).await,
            Command::Import(cmd) => import::run(cmd),
            Command::Intel(cmd) => intel::run(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages can quote input (a reason, a log line): escape it.
            // Multi-line messages (a list of problems) keep their lines.
            let message = e.to_string();
            let mut lines = message.lines();
            eprintln!(
                "error: {}",
                commands::terminal_safe(lines.next().unwrap_or_default())
            );
            for line in lines {
                eprintln!("{}", commands::terminal_safe(line));
            }
            for cause in e.chain().skip(1) {
                eprintln!(
                    "  caused by: {}",
                    commands::terminal_safe(&cause.to_string())
                );
            }
            if e.downcast_ref::<commands::AuditAltered>().is_some() {
                ExitCode::from(commands::EXIT_AUDIT_ALTERED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
