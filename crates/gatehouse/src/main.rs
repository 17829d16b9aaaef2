//! The `gatehouse` binary: configuration, the operator CLI and the HTTP server.
mod cli;
mod config;
mod logging;
mod mailer;
mod serve;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match args.command {
        cli::Command::Serve(s) => {
            // actix-web runs its own system; the tokio runtime above is only for the CLI.
            drop(rt);
            match serve::run(args.global, s) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        other => match rt.block_on(cli::run(args.global, other)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
