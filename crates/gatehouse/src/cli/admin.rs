//! Operator commands for tenant administration: inviting a tenant's first admin (the invitation
//! email goes through the outbox: SMTP, or `<data dir>/outbox/` without SMTP; the link is never
//! printed), listing and granting admins, and managing domains, including the documented
//! operator override of DNS verification.
use anyhow::{Context, Result};
use authz_core::admin::{domain, invitation, role};
use clap::Subcommand;

use super::manage::{self, ListArgs, RemoveArgs, ShowArgs};
use super::{ts, Ctx};
use app::manage::{admin as admin_uc, domain as domain_uc};

#[derive(clap::Args, Debug)]
pub struct AdminUpdateArgs {
    /// The tenant's slug.
    #[arg(long)]
    tenant: String,
    /// The administrator's user id (as `gatehouse admin list` shows it).
    #[arg(long)]
    id: String,
    /// Send the tenant's security alerts to this administrator's email (`on`), or stop (`off`).
    #[arg(long, value_parser = ["on", "off"])]
    security_alerts: Option<String>,
    /// Print the changed administrator as one JSON object instead of `key: value` lines.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Invite an administrator of a tenant by email (the tenant's first admin, typically).
    Invite {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The invitee's email address; the invitation link is mailed there, never printed.
        #[arg(long)]
        email: String,
    },
    /// List a tenant's explicit administrators (and, without --json, its admin group and
    /// invitations).
    List(ListArgs),
    /// Show one explicit administrator (by user id).
    Show(ShowArgs),
    /// Change an explicit administrator: whether their email receives the tenant's security
    /// alerts (there is one administrator role).
    Update(AdminUpdateArgs),
    /// Remove an explicit administrator, after saying what ends: their signed-in sessions.
    /// The last administrator cannot be removed.
    Remove(RemoveArgs),
    /// Make an existing user of the tenant an administrator (recovery when no admin is left).
    Grant {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The user's id (as `gatehouse admin list` or the console shows it).
        #[arg(long)]
        user_id: String,
    },
    /// Remove an explicit administrator.
    Revoke {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The administrator's user id (as `gatehouse admin list` shows it).
        #[arg(long)]
        user_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DomainCmd {
    /// List a tenant's domains with their verification state and TXT record.
    List(ListArgs),
    /// Show one domain (by name) and the TXT record that verifies it.
    Show(ShowArgs),
    /// Re-check a domain's verification by DNS now (or, with --operator-verified, vouch for it).
    Update {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The domain name, as `domain list` shows it.
        #[arg(long)]
        id: String,
        /// Operator override: mark it verified without DNS (audited as the operator's decision).
        #[arg(long)]
        operator_verified: bool,
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove a domain, after saying what it ends.
    Remove(RemoveArgs),
    /// Add an unverified domain; prints the TXT record that verifies it.
    Add {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The domain name, e.g. acme.com.
        #[arg(long)]
        domain: String,
    },
    /// Operator override: mark a domain verified without DNS (after checking ownership another
    /// way). Audited as the operator's decision.
    Verify {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The domain name, as `domain list` shows it.
        #[arg(long)]
        domain: String,
    },
}

async fn tenant_of(ctx: &Ctx, slug: &str) -> Result<authz_core::tenant::Tenant> {
    authz_core::tenant::find_by_slug(&ctx.store.db, slug)
        .await
        .with_context(|| format!("tenant '{slug}'"))
}

pub async fn admin(ctx: &Ctx, cmd: AdminCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    match cmd {
        AdminCmd::Invite { tenant, email } => {
            let t = tenant_of(ctx, &tenant).await?;
            let by = app::admin::AdminActor::Operator {
                operator: app::Operator::cli(),
                tenant: t.id,
            };
            let inv = app::admin::invite::invite(&ctx.store, clock, &by, &email).await?;
            println!("invitation_id: {}", inv.id);
            println!("email: {}", inv.email);
            println!("expires_at: {}", ts(inv.expires_at));
            println!("delivery: queued in the mail outbox (SMTP, or the data dir's outbox/ without SMTP)");
        }
        AdminCmd::List(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            let all = admin_uc::list(&ctx.store.db, &t.id).await?;
            let line = |v: &admin_uc::AdminView| {
                format!(
                    "{} {} via={} since={}",
                    v.user_id,
                    v.email.as_deref().unwrap_or_default(),
                    v.granted_via,
                    v.since
                )
            };
            manage::print_list("admin", &all, line, a.json)?;
            if a.json {
                return Ok(());
            }
            if let Some(g) = role::admin_group(&ctx.store.db, &t.id).await? {
                println!("admin_group: {g}");
            }
            for i in invitation::list(&ctx.store.db, &t.id).await? {
                println!(
                    "invitation: {} {} sent={} accepted={} bound={} revoked={}",
                    i.id,
                    i.email,
                    ts(i.created_at),
                    i.accepted_at.is_some(),
                    i.bound_user_id.is_some(),
                    i.revoked_at.is_some()
                );
            }
        }
        AdminCmd::Show(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            manage::print_one(&admin_uc::show(&ctx.store.db, &t.id, &a.id).await?, a.json)?;
        }
        AdminCmd::Update(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            let change = admin_uc::AdminChange {
                security_alerts: a.security_alerts.as_deref().map(|v| v == "on"),
            };
            let v = admin_uc::update(&ctx.store, clock, &t.id, &a.id, &change, "operator").await?;
            manage::print_one(&v, a.json)?;
        }
        AdminCmd::Remove(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            let what = |v: &admin_uc::AdminView| {
                format!(
                    "administrator {}",
                    v.email.as_deref().unwrap_or(v.user_id.as_str())
                )
            };
            let run = |dry| admin_uc::remove(&ctx.store, clock, &t.id, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
        AdminCmd::Grant { tenant, user_id } => {
            let t = tenant_of(ctx, &tenant).await?;
            use app::admin::grant::{grant, GrantError};
            match grant(&ctx.store, clock, &app::Operator::cli(), &t.id, &user_id).await {
                Ok(()) => {}
                Err(GrantError::UnknownUser(e)) => {
                    return Err(anyhow::Error::from(e)
                        .context(format!("user '{user_id}' of tenant '{tenant}'")))
                }
                Err(GrantError::Core(e)) => return Err(e.into()),
            }
            println!("admin: {user_id}");
        }
        AdminCmd::Revoke { tenant, user_id } => {
            let t = tenant_of(ctx, &tenant).await?;
            admin_uc::remove(&ctx.store, clock, &t.id, &user_id, "operator", false)
                .await
                .with_context(|| format!("administrator '{user_id}' of '{tenant}'"))?;
            println!("removed: {user_id}");
        }
    }
    Ok(())
}

pub async fn domain(ctx: &Ctx, cmd: DomainCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    match cmd {
        DomainCmd::List(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            let all = domain_uc::list(&ctx.store.db, &t.id).await?;
            let line = |d: &domain_uc::DomainView| {
                format!(
                    "{} verified={}{}",
                    d.domain,
                    d.verified,
                    d.verified_by
                        .as_ref()
                        .map(|b| format!(" by={b}"))
                        .unwrap_or_default()
                )
            };
            manage::print_list("domain", &all, line, a.json)?;
        }
        DomainCmd::Show(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            manage::print_one(&domain_uc::show(&ctx.store.db, &t.id, &a.id).await?, a.json)?;
        }
        DomainCmd::Update {
            tenant,
            id,
            operator_verified,
            json,
        } => {
            let t = tenant_of(ctx, &tenant).await?;
            let d = domain_uc::show(&ctx.store.db, &t.id, &id).await?;
            let how = if operator_verified {
                domain_uc::Verification::Operator
            } else if d.verified {
                return manage::print_one(&d, json);
            } else {
                let dns = admin_api::console::dns::Resolver::system();
                domain_uc::Verification::Dns(dns.txt(&d.txt_name).await.unwrap_or_default())
            };
            let d = domain_uc::update(&ctx.store, clock, &t.id, &id, how, "operator").await?;
            manage::print_one(&d, json)?;
        }
        DomainCmd::Remove(a) => {
            let t = tenant_of(ctx, &a.tenant).await?;
            let what = |d: &domain_uc::DomainView| format!("domain {}", d.domain);
            let run = |dry| domain_uc::remove(&ctx.store, clock, &t.id, &a.id, "operator", dry);
            manage::remove(&a, what, run).await?;
        }
        DomainCmd::Add {
            tenant,
            domain: name,
        } => {
            let t = tenant_of(ctx, &tenant).await?;
            let d = domain::add(&ctx.store, clock, &t.id, &name, "operator").await?;
            println!("domain: {}", d.domain);
            println!("txt_name: {}", domain::challenge_name(&d.domain));
            println!("txt_value: {}", d.txt_value().unwrap_or_default());
        }
        DomainCmd::Verify {
            tenant,
            domain: name,
        } => {
            let t = tenant_of(ctx, &tenant).await?;
            domain::verify_by_operator(&ctx.store, clock, &t.id, &name, "operator").await?;
            println!("domain: {name}");
            println!("verified: true");
        }
    }
    Ok(())
}
