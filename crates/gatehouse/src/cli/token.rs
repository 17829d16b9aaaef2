use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use authz_core::token::revoke::{self, Revoked};
use clap::Subcommand;

use super::{read_secret, Ctx};

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Revoke tokens: all of a user's, all of a client's, or one token.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["user", "client", "token_file"])))]
    Revoke {
        /// The tenant's slug (with --user).
        #[arg(long, requires = "user")]
        tenant: Option<String>,
        /// The user's email (all their accounts in the tenant).
        #[arg(long, requires = "tenant")]
        user: Option<String>,
        /// A client id: its tokens in every tenant.
        #[arg(long)]
        client: Option<String>,
        /// A file holding one token, or `-` for standard input.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
}

pub async fn token(ctx: &Ctx, cmd: TokenCmd) -> Result<()> {
    let TokenCmd::Revoke {
        tenant,
        user,
        client,
        token_file,
    } = cmd;
    let clock = ctx.clock.as_ref();
    if let (Some(slug), Some(email)) = (tenant, user) {
        let t = authz_core::tenant::find_by_slug(&ctx.store.db, &slug)
            .await
            .with_context(|| format!("tenant '{slug}'"))?;
        let Some(r) = app::users::revoke::all_of_email(
            &ctx.store,
            clock,
            &app::Operator::cli(),
            &t.id,
            &email,
        )
        .await?
        else {
            bail!("no user with email '{email}' in tenant '{slug}'");
        };
        println!("users: {}", r.users);
        println!("tokens_revoked: {}", r.tokens);
        return Ok(());
    }
    if let Some(c) = client {
        if authz_core::client::get(&ctx.store.db, &c).await?.is_none() {
            bail!("no client '{c}'");
        }
        let n = revoke::revoke_client(&ctx.store, clock, &c).await?;
        println!("client_id: {c}");
        println!("tokens_revoked: {n}");
        return Ok(());
    }
    if let Some(f) = token_file {
        let t = read_secret(&f)?;
        match revoke::revoke_by_operator(&ctx.store, clock, t.trim()).await? {
            Revoked::Nothing => bail!("no such token"),
            Revoked::Access => println!("revoked: access_token"),
            Revoked::Grant(n) => println!("revoked: refresh_token (grant with {n} tokens)"),
        }
        return Ok(());
    }
    bail!("say what to revoke: --tenant S --user EMAIL, --client ID or --token-file F")
}
