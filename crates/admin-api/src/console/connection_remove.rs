//! Removing a connection from the console (issue 16 §2): `GET …/remove` shows what the removal
//! revokes (the use case run as a preview), `POST …/remove` with `confirm=yes` removes and
//! returns to the list; a POST without it shows the confirmation instead of removing.
use actix_web::web;
use app::connection::remove;

use super::{confirm_removal, see_other, Admin, AdminWrite, Console, ConsoleResult};

async fn confirmation(c: &Console, id: &str) -> ConsoleResult {
    let by = c.connection_actor();
    let preview = remove::remove(&c.st.store, c.st.clock.as_ref(), &by, id, true).await?;
    Ok(confirm_removal(
        c,
        "connections",
        "connection",
        &preview.removed.name,
        &preview.revoked,
        &format!("/connections/{id}/remove"),
        &format!("/connections/{id}"),
    ))
}

pub async fn confirm(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    confirmation(&c, &path.1).await
}

pub async fn remove(
    AdminWrite(c, f): AdminWrite,
    path: web::Path<(String, String)>,
) -> ConsoleResult {
    if f.get("confirm") != Some("yes") {
        return confirmation(&c, &path.1).await;
    }
    let by = c.connection_actor();
    remove::remove(&c.st.store, c.st.clock.as_ref(), &by, &path.1, false).await?;
    Ok(see_other(c.slug(), "/connections?removed=connection"))
}
