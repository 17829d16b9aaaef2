//! Label values from bounded sets: whatever a caller sends outside them is counted under one
//! catch-all value, so no request can add a series of its own.

/// An HTTP method: the registered ones, else `other`.
pub fn method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A token request's `grant_type` (RFC 6749 §4, RFC 7523, ID-JAG): the supported ones, `none`
/// when absent, else `other`.
pub fn grant_type(g: Option<&str>) -> &'static str {
    match g {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some("client_credentials") => "client_credentials",
        Some(crate::token::jwt_bearer::GRANT_TYPE) => "jwt_bearer",
        Some(_) => "other",
        None => "none",
    }
}

/// The SCIM resource type and operation (RFC 7644 §3) of a request matched to the route
/// `pattern` (`/scim/v2/{tenant}/Users/{id}`) with `method`.
pub fn scim(pattern: &str, method: &str) -> (&'static str, &'static str) {
    let rest = pattern
        .split_once("/scim/v2/{tenant}/")
        .map_or("", |(_, r)| r);
    let mut parts = rest.split('/');
    let resource = match parts.next().unwrap_or("") {
        "Users" => "Users",
        "Groups" => "Groups",
        "Bulk" => "Bulk",
        "Me" => "Me",
        "ServiceProviderConfig" | "Schemas" | "ResourceTypes" => "discovery",
        _ => "other",
    };
    let tail = parts.next();
    let operation = match (method, tail) {
        (_, Some(".search")) => "search",
        ("POST", _) if resource == "Bulk" => "bulk",
        ("GET", Some(_)) => "get",
        ("GET", None) if resource == "discovery" => "get",
        ("GET", None) => "list",
        ("POST", None) => "create",
        ("PUT", _) => "replace",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "other",
    };
    (resource, operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_operations_come_from_the_route_and_method() {
        let p = "/scim/v2/{tenant}/Users/{id}";
        assert_eq!(scim(p, "PATCH"), ("Users", "patch"));
        assert_eq!(scim(p, "GET"), ("Users", "get"));
        assert_eq!(scim("/scim/v2/{tenant}/Groups", "GET"), ("Groups", "list"));
        assert_eq!(
            scim("/scim/v2/{tenant}/Groups", "POST"),
            ("Groups", "create")
        );
        assert_eq!(
            scim("/scim/v2/{tenant}/Users/.search", "POST"),
            ("Users", "search")
        );
        assert_eq!(scim("/scim/v2/{tenant}/Bulk", "POST"), ("Bulk", "bulk"));
        assert_eq!(
            scim("/scim/v2/{tenant}/Schemas", "GET"),
            ("discovery", "get")
        );
        assert_eq!(scim("unmatched", "GET"), ("other", "list"));
    }

    #[test]
    fn unknown_values_share_one_label() {
        assert_eq!(method("BREW"), "other");
        assert_eq!(grant_type(Some("password")), "other");
        assert_eq!(grant_type(None), "none");
    }
}
