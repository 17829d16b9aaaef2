//! The organisation's administrators and admin invitations as console objects (issue 16 §2):
//! list and detail pages, extending an invitation, and removals that ask first. Removing an
//! administrator ends their signed-in sessions at once; the last one cannot be removed, and
//! nobody removes themselves here (another administrator does).
use actix_web::web;
use app::manage::{admin as admins_uc, invitation as inv_uc};

use super::objects::{self, Ask, Detail, List};
use super::{Admin, AdminWrite, Console, ConsoleError, ConsoleResult};

type Id = web::Path<(String, String)>;

pub async fn admins(Admin(c): Admin) -> ConsoleResult {
    let all = admins_uc::list(&c.st.store.db, &c.tenant.id).await?;
    let rows = all
        .iter()
        .map(|a| {
            let who = a.email.clone().unwrap_or(a.user_id.clone());
            let cells = vec![who, a.granted_via.clone(), a.since.clone()];
            let remove = Some(format!("/settings/admins/{}/remove", a.user_id));
            objects::row(&c, cells, &format!("/admins/{}", a.user_id), remove)
        })
        .collect();
    let l = List {
        nav: "settings",
        title: "Administrators",
        intro: "People made administrators by an accepted invitation or by your Gatehouse operator. Members of the admin group (Settings) are administrators too, through your identity provider.",
        columns: &["Administrator", "Made one by", "Since"],
        empty: "No explicit administrator.",
        create: None,
    };
    Ok(objects::list(&c, l, rows))
}

pub async fn admin(Admin(c): Admin, path: Id) -> ConsoleResult {
    let a = admins_uc::show(&c.st.store.db, &c.tenant.id, &path.1).await?;
    // The one thing to change on an administrator: whether they get the security alerts.
    let (next, note, button) = if a.security_alerts {
        (
            "off",
            "They receive this organisation's security alerts by email.",
            "Stop their alerts",
        )
    } else {
        (
            "on",
            "They do not receive this organisation's security alerts.",
            "Send them the alerts",
        )
    };
    let inputs = vec![objects::input("security_alerts", "", "hidden", next)];
    let form = objects::form(
        &c,
        "Security alerts",
        &format!("/admins/{}", a.user_id),
        inputs,
        button,
    );
    let edit = minijinja::context! { note => note, ..form };
    let d = Detail {
        nav: "settings",
        title: format!("Administrator {}", a.email.as_deref().unwrap_or(&a.user_id)),
        back: ("/admins", "Administrators"),
        edit: Some(edit),
        remove: Some(format!("/settings/admins/{}/remove", a.user_id)),
    };
    Ok(objects::detail(&c, d, &a))
}

/// Turns the administrator's security alerts on or off (`security_alerts` = `on` | `off`).
pub async fn update_admin(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    let on = match f.require("security_alerts", "Security alerts")? {
        "on" => true,
        "off" => false,
        _ => return Err(ConsoleError::bad_request("Security alerts are on or off.")),
    };
    let change = admins_uc::AdminChange {
        security_alerts: Some(on),
    };
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    admins_uc::update(store, clock, &c.tenant.id, &path.1, &change, &c.actor()).await?;
    Ok(super::see_other(c.slug(), &format!("/admins/{}", path.1)))
}

async fn remove_admin_run(c: &Console, user_id: &str, dry: bool) -> ConsoleResult {
    if let super::auth::Principal::Admin { user, .. } = &c.principal {
        if user.id == user_id {
            return Err(ConsoleError::bad_request(
                "You cannot remove yourself; ask another administrator.",
            ));
        }
    }
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = admins_uc::remove(store, clock, &c.tenant.id, user_id, &c.actor(), dry).await?;
    let ask = Ask {
        nav: "settings",
        what: "administrator",
        name: r.removed.email.clone().unwrap_or(r.removed.user_id.clone()),
        action: format!("/settings/admins/{user_id}/remove"),
        back: "/admins",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

pub async fn confirm_remove_admin(Admin(c): Admin, path: Id) -> ConsoleResult {
    remove_admin_run(&c, &path.1, true).await
}

/// Removes an administrator once confirmed (their sessions end); without `confirm=yes`, asks.
pub async fn remove_admin(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    remove_admin_run(&c, &path.1, !objects::confirmed(&f)).await
}

pub async fn invitations(Admin(c): Admin) -> ConsoleResult {
    let all = inv_uc::list(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id).await?;
    let rows = all
        .iter()
        .map(|i| {
            let cells = vec![
                i.email.clone(),
                i.status.clone(),
                i.created_at.clone(),
                i.expires_at.clone(),
            ];
            let open = matches!(i.status.as_str(), "pending" | "expired" | "accepted");
            let remove = open.then(|| format!("/settings/invitations/{}/revoke", i.id));
            objects::row(&c, cells, &format!("/invitations/{}", i.id), remove)
        })
        .collect();
    let l = List {
        nav: "settings",
        title: "Admin invitations",
        intro: "Invite someone from Settings. An invitation link works for seven days; extend one that expired unused, or withdraw it.",
        columns: &["Invited", "Status", "Sent", "Expires"],
        empty: "No invitation.",
        create: None,
    };
    Ok(objects::list(&c, l, rows))
}

pub async fn invitation(Admin(c): Admin, path: Id) -> ConsoleResult {
    let i = inv_uc::show(&c.st.store.db, c.st.clock.as_ref(), &c.tenant.id, &path.1).await?;
    let id = &path.1;
    let extendable = matches!(i.status.as_str(), "pending" | "expired");
    let edit = extendable.then(|| {
        let inputs = vec![objects::input("extend", "", "hidden", "yes")];
        objects::form(
            &c,
            "Extend",
            &format!("/invitations/{id}"),
            inputs,
            "Seven more days",
        )
    });
    let open = extendable || i.status == "accepted";
    let d = Detail {
        nav: "settings",
        title: format!("Invitation of {}", i.email),
        back: ("/invitations", "Admin invitations"),
        edit,
        remove: open.then(|| format!("/settings/invitations/{id}/revoke")),
    };
    Ok(objects::detail(&c, d, &i))
}

pub async fn extend_invitation(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    let change = inv_uc::InvitationChange {
        extend: objects::confirmed_field(&f, "extend"),
    };
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    inv_uc::update(store, clock, &c.tenant.id, &path.1, &change, &c.actor()).await?;
    Ok(super::see_other(
        c.slug(),
        &format!("/invitations/{}", path.1),
    ))
}

async fn revoke_invitation_run(c: &Console, id: &str, dry: bool) -> ConsoleResult {
    let (store, clock) = (&c.st.store, c.st.clock.as_ref());
    let r = inv_uc::remove(store, clock, &c.tenant.id, id, &c.actor(), dry).await?;
    let ask = Ask {
        nav: "settings",
        what: "invitation",
        name: format!("the invitation of {}", r.removed.email),
        action: format!("/settings/invitations/{id}/revoke"),
        back: "/invitations",
    };
    Ok(objects::removal(c, &r, dry, ask))
}

pub async fn confirm_revoke_invitation(Admin(c): Admin, path: Id) -> ConsoleResult {
    revoke_invitation_run(&c, &path.1, true).await
}

/// Withdraws an invitation once confirmed; without `confirm=yes`, asks.
pub async fn revoke_invitation(AdminWrite(c, f): AdminWrite, path: Id) -> ConsoleResult {
    revoke_invitation_run(&c, &path.1, !objects::confirmed(&f)).await
}
