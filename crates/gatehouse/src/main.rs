//! The `gatehouse` binary: configuration, the operator CLI and the HTTP server (which runs the
//! app assembled by the library, `gatehouse::app`).
mod cli;
mod config;
mod mailer;
mod open_store;
mod serve;

use clap::Parser;

/// jemalloc instead of glibc's malloc (ADR 0028).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start: a background thread returns memory unused for a
/// second to the system, so an idle node gives back what a burst took; and no transparent huge
/// pages for its memory, which on a host whose setting is `always` kept freed memory resident
/// (ADR 0028).
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,thp:never\0";

fn main() -> std::process::ExitCode {
    // Everything this process creates (the SQLite database and its WAL/SHM, the mail outbox,
    // key files, the data dir) is for its own user only, whatever umask it was started with:
    // the outbox holds invitation links, the database PII and audit records.
    #[cfg(unix)]
    // SAFETY: umask(2) only changes this process's file-creation mask; it has no
    // preconditions and cannot fail.
    unsafe {
        libc::umask(0o077);
    }
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
        cli::Command::Gateway(a) => {
            // Like `serve`: actix-web runs its own system.
            drop(rt);
            match cli::gateway::run(args.global, a) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        other => {
            let done = rt.block_on(cli::run(args.global, other));
            // The command is over: do not wait for background tasks. A database pool's
            // maintenance task (sqlx) was seen spinning once the runtime's timers had stopped,
            // and dropping the runtime waited for it forever (a CLI test hung).
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            match done {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
