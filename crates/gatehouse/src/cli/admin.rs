//! Operator commands for tenant administration: inviting a tenant's first admin (the invitation
//! email goes through the outbox: SMTP, or `<data dir>/outbox/` without SMTP; the link is never
//! printed), listing and granting admins, and managing domains, including the documented
//! operator override of DNS verification.
use anyhow::{Context, Result};
use authz_core::admin::{domain, invitation, role};
use clap::Subcommand;

use super::{ts, Ctx};

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
    /// List a tenant's explicit administrators and invitations.
    List {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
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
    List {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
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
        AdminCmd::List { tenant } => {
            let t = tenant_of(ctx, &tenant).await?;
            for a in role::list(&ctx.store.db, &t.id).await? {
                let u = authz_core::user::get(&ctx.store.db, &t.id, &a.user_id).await?;
                println!(
                    "admin: {} {} via={} since={}",
                    a.user_id,
                    u.email.unwrap_or_default(),
                    a.granted_via,
                    ts(a.created_at)
                );
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
            if !role::revoke(&ctx.store, clock, &t.id, &user_id, "operator").await? {
                anyhow::bail!("user '{user_id}' is not an explicit admin of '{tenant}'");
            }
            println!("removed: {user_id}");
        }
    }
    Ok(())
}

pub async fn domain(ctx: &Ctx, cmd: DomainCmd) -> Result<()> {
    let clock = ctx.clock.as_ref();
    match cmd {
        DomainCmd::List { tenant } => {
            let t = tenant_of(ctx, &tenant).await?;
            for d in domain::list(&ctx.store.db, &t.id).await? {
                println!(
                    "domain: {} verified={}{}",
                    d.domain,
                    d.verified,
                    d.verified_by
                        .map(|b| format!(" by={b}"))
                        .unwrap_or_default()
                );
            }
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
