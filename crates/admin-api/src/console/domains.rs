//! Domains: the email domains that name this organisation at sign-in. Added unverified; verified
//! by a DNS TXT record the admin publishes (checked here, live), or by the operator's override.
use actix_web::web;
use authz_core::admin::domain;
use minijinja::context;

use actix_web::http::StatusCode;
use app::manage::domain as domain_uc;

use super::objects::{self, Ask, Detail};

type Id = web::Path<(String, String)>;

use super::{
    see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult, InlineError,
};

#[derive(serde::Deserialize)]
pub struct ListQuery {
    /// The domain just added (a one-shot flash after the redirect).
    added: Option<String>,
}

pub async fn list(Admin(c): Admin, q: web::Query<ListQuery>) -> ConsoleResult {
    page(&c, None, q.added.as_deref()).await
}

/// The domains page, with a refused "Add a domain" form shown again when `refused`.
async fn page(c: &Console, refused: Option<InlineError>, added: Option<&str>) -> ConsoleResult {
    let domains = domain::list(&c.st.store.db, &c.tenant.id).await?;
    let views: Vec<_> = domains
        .iter()
        .map(|d| {
            context! {
                domain => d.domain,
                verified => d.verified,
                record_name => domain::challenge_name(&d.domain),
                record_value => d.txt_value(),
                verified_at => d.verified_at.map(when),
                verified_by => d.verified_by,
            }
        })
        .collect();
    let added = added.filter(|a| domains.iter().any(|d| d.domain == *a));
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(c.render_status(
        status,
        "console/domains.html",
        "domains",
        context! { domains => views, refused => refused, added => added },
    ))
}

pub async fn add(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let added = match f.require("domain", "The domain") {
        Ok(d) => domain::add(
            &c.st.store,
            c.st.clock.as_ref(),
            &c.tenant.id,
            d,
            &c.actor(),
        )
        .await
        .map_err(ConsoleError::from),
        Err(e) => Err(e),
    };
    match added {
        Ok(d) => Ok(see_other(c.slug(), &format!("/domains?added={}", d.domain))),
        Err(e) => {
            page(
                &c,
                Some(InlineError::of(e, "domain", &f, &["domain"])?),
                None,
            )
            .await
        }
    }
}

pub async fn verify(
    AdminWrite(c, _f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    let d = domain::get(&c.st.store.db, &c.tenant.id, &path.1).await?;
    let records =
        c.st.dns
            .txt(&domain::challenge_name(&d.domain))
            .await
            .map_err(|e| {
                ConsoleError::page(
                    actix_web::http::StatusCode::BAD_GATEWAY,
                    "The domain could not be checked",
                    format!("DNS lookup failed: {e}."),
                    "Try again in a few minutes.",
                )
            })?;
    domain::verify_by_dns(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &d.domain,
        &records,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), "/domains"))
}

pub async fn show(Admin(c): Admin, path: Id) -> ConsoleResult {
    let d = domain_uc::show(&c.st.store.db, &c.tenant.id, &path.1).await?;
    let name = &d.domain;
    let edit = (!d.verified).then(|| {
        let action = format!("/domains/{name}/verify");
        objects::form(&c, "Verify", &action, vec![], "Check the TXT record now")
    });
    let detail = Detail {
        nav: "domains",
        title: format!("Domain {name}"),
        back: ("/domains", "Domains"),
        edit,
        remove: Some(format!("/domains/{name}/remove")),
    };
    Ok(objects::detail(&c, detail, &d))
}

async fn run(c: &Console, name: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = domain_uc::remove(store, clock, &c.tenant.id, name, &c.actor(), dry).await?;
    let ask = Ask {
        nav: "domains",
        what: "domain",
        name: format!(
            "{} (people with this domain no longer find your sign-in)",
            r.removed.domain
        ),
        action: format!("/domains/{name}/remove"),
        back: "/domains",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

pub async fn confirm_remove(Admin(c): Admin, path: Id) -> ConsoleResult {
    run(&c, &path.1, true).await
}

/// Removes the domain once confirmed; without `confirm=yes`, asks.
pub async fn remove(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    run(&c, &path.1, !objects::confirmed(&f)).await
}
