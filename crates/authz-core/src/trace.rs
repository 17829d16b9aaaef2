//! Who is calling, on the request's one span (STYLE §8): the HTTP edge's authentication records
//! the tenant and the principal (`operator-key:<id>`, `admin:<user>`, `scim-token:<id>`,
//! `client:<id>`, `resource:<id>`) on the current span, declared with these fields empty by the
//! server's root span. Identifiers only, never a secret. Outside a request it records nothing.
use crate::tenant::TenantId;

pub fn caller(tenant: Option<&TenantId>, principal: &str) {
    let span = tracing::Span::current();
    if let Some(t) = tenant {
        span.record("tenant", t.as_str());
    }
    span.record("principal", principal);
}
