//! Removal asks before it acts and says what it revokes (issue 16 §2). The CLI prints the
//! [`Impact`] of the removal on stderr; on a terminal it then asks for `yes`, elsewhere (a
//! script, CI) it refuses unless `--yes` was given, so a pipeline never removes by accident.
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use app::removal::Impact;

/// Asks before removing `what` (`connection "Okta"`), after saying what it ends. `yes` is the
/// command's `--yes` flag.
pub fn removal(what: &str, impact: &Impact, yes: bool) -> Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "Removing {what}:")?;
    for line in impact.lines() {
        writeln!(err, "  - {line}")?;
    }
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("not removed: pass --yes to confirm the removal of {what}");
    }
    write!(err, "Type yes to remove it: ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not removed: the answer was not yes");
    }
    Ok(())
}

/// Prints a value as JSON on stdout (`--json`), one document per command.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
