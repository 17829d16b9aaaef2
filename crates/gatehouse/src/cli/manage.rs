//! What the `list`, `show`, `update` and `remove` commands of every kind share (issue 16 §2):
//! their arguments, `key: value` or `--json` output, and the removal that first previews what
//! it revokes (the use case's `dry_run`), asks, and then removes.
use std::future::Future;

use anyhow::{Context, Result};
use app::manage::Removed;
use authz_core::{CoreResult, TenantId};
use serde::Serialize;

use super::confirm;
use super::Ctx;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// Print one JSON array instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// Which one: the id `list` shows.
    #[arg(long)]
    pub id: String,
    /// Print one JSON object instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// Which one: the id `list` shows.
    #[arg(long)]
    pub id: String,
    /// Remove without asking (needed when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Print one JSON object (`removed` and `revoked`) instead of lines.
    #[arg(long)]
    pub json: bool,
}

pub async fn tenant_id(ctx: &Ctx, slug: &str) -> Result<TenantId> {
    Ok(authz_core::tenant::find_by_slug(&ctx.store.db, slug)
        .await
        .with_context(|| format!("tenant '{slug}'"))?
        .id)
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".into(),
        serde_json::Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// An object as `key: value` lines (its view's fields, in order), or as JSON.
pub fn print_one(v: &impl Serialize, json: bool) -> Result<()> {
    if json {
        return confirm::print_json(v);
    }
    if let serde_json::Value::Object(m) = serde_json::to_value(v)? {
        for (k, v) in m {
            println!("{k}: {}", scalar(&v));
        }
    }
    Ok(())
}

/// Objects as one line each (`kind: <fields>`), or as a JSON array.
pub fn print_list<V: Serialize>(
    kind: &str,
    items: &[V],
    line: impl Fn(&V) -> String,
    json: bool,
) -> Result<()> {
    if json {
        return confirm::print_json(&items);
    }
    for v in items {
        println!("{kind}: {}", line(v));
    }
    Ok(())
}

/// Removes after saying what it revokes: `run(true)` previews (nothing changes), the person
/// (or `--yes`) confirms, `run(false)` removes. `what` names the object for the question.
pub async fn remove<V, F, Fut>(args: &RemoveArgs, what: impl Fn(&V) -> String, run: F) -> Result<()>
where
    V: Serialize,
    F: Fn(bool) -> Fut,
    Fut: Future<Output = CoreResult<Removed<V>>>,
{
    let preview = run(true).await?;
    confirm::removal(&what(&preview.removed), &preview.revoked, args.yes)?;
    let done = run(false).await?;
    if args.json {
        return confirm::print_json(&done);
    }
    print_one(&done.removed, false)?;
    println!("removed: true");
    for line in done.revoked.lines() {
        println!("revoked: {line}");
    }
    Ok(())
}
