//! Where a console sign-in continues: a page of the tenant's console, nothing else.

/// A return path is a page of this tenant's console, nothing else (no open redirect).
pub fn safe_return(path: &str, slug: &str) -> bool {
    let prefix = format!("/admin/t/{slug}/");
    path.starts_with(&prefix)
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains("..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.?=&%".contains(c))
}
