//! Filters end to end: RFC 7644 §3.4.2.2 examples into the AST, the AST into SQL on both
//! databases, and the refusals a client would see.
use scim::filter::{
    parse_filter, AttrPath, Column, CompareOp, Filter, FilterError, MultiValued, Schema, Value,
    MAX_DEPTH, MAX_FILTER_LEN,
};
use sea_orm::sea_query::{Alias, Condition, PostgresQueryBuilder, Query, SqliteQueryBuilder};

mod sqlite;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn users() -> Schema {
    Schema::new(USER, "users", "id")
        .attr("id", Column::exact_string("id"))
        .attr("externalId", Column::exact_string("external_id"))
        .attr("userName", Column::ci_string("user_name_lower"))
        .attr("title", Column::ci_string("title_lower"))
        .attr("userType", Column::ci_string("user_type_lower"))
        .attr("name.familyName", Column::ci_string("family_name_lower"))
        .attr("name.givenName", Column::ci_string("given_name_lower"))
        .attr("active", Column::boolean("active"))
        .attr("meta.lastModified", Column::datetime("updated_at_us"))
        .attr("meta.version", Column::integer("version"))
        .attr(
            &format!("{ENTERPRISE}:employeeNumber"),
            Column::exact_string("employee_number"),
        )
        .multi_valued(
            "emails",
            MultiValued::new("user_emails", "user_id")
                .attr("value", Column::ci_string("value_lower"))
                .attr("type", Column::ci_string("type_lower"))
                .attr("primary", Column::boolean("is_primary")),
        )
        .multi_valued(
            "ims",
            MultiValued::new("user_ims", "user_id")
                .attr("value", Column::exact_string("value"))
                .attr("type", Column::ci_string("type_lower")),
        )
}

fn condition(filter: &str) -> Condition {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    users()
        .to_condition(&f)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
}

/// The WHERE clause as each database would receive it (values inlined for reading).
fn sql(filter: &str) -> (String, String) {
    let select = Query::select()
        .column((Alias::new("users"), Alias::new("id")))
        .from(Alias::new("users"))
        .cond_where(condition(filter))
        .to_owned();
    let strip = |s: String| {
        s.split_once(" WHERE ")
            .expect("a WHERE clause")
            .1
            .to_string()
    };
    (
        strip(select.to_string(PostgresQueryBuilder)),
        strip(select.to_string(SqliteQueryBuilder)),
    )
}

fn p(attr: &str) -> AttrPath {
    AttrPath::new(attr)
}

fn cmp(path: AttrPath, op: CompareOp, value: &str) -> Filter {
    Filter::compare(path, op, Value::Str(value.into()))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::and(a, b)
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::or(a, b)
}

#[test]
fn rfc_7644_examples_parse() {
    use CompareOp::*;
    let last_modified = || AttrPath::with_sub("meta", "lastModified");
    let emails_or = || {
        or(
            cmp(p("emails"), Co, "example.com"),
            cmp(AttrPath::with_sub("emails", "value"), Co, "example.org"),
        )
    };
    let work_email = || {
        Filter::value_path(
            p("emails"),
            and(
                cmp(p("type"), Eq, "work"),
                cmp(p("value"), Co, "@example.com"),
            ),
        )
    };
    let employee_number = format!("{ENTERPRISE}:employeeNumber eq \"701984\"");
    let ts = "2011-05-13T04:42:34Z";
    let cases: Vec<(&str, Filter)> = vec![
        (r#"userName Eq "john""#, cmp(p("userName"), Eq, "john")),
        (
            r#"userName eq "bjensen""#,
            cmp(p("userName"), Eq, "bjensen"),
        ),
        (
            r#"name.familyName co "O'Malley""#,
            cmp(AttrPath::with_sub("name", "familyName"), Co, "O'Malley"),
        ),
        (r#"userName sw "J""#, cmp(p("userName"), Sw, "J")),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(p("userName").in_schema(USER), Sw, "J"),
        ),
        ("title pr", Filter::Present(p("title"))),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp(last_modified(), Gt, ts),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp(last_modified(), Ge, ts),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp(last_modified(), Lt, ts),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp(last_modified(), Le, ts),
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(
                Filter::Present(p("title")),
                cmp(p("userType"), Eq, "Employee"),
            ),
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(
                Filter::Present(p("title")),
                cmp(p("userType"), Eq, "Intern"),
            ),
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            cmp(p("schemas"), Eq, ENTERPRISE),
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            and(cmp(p("userType"), Eq, "Employee"), emails_or()),
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            and(cmp(p("userType"), Ne, "Employee"), Filter::not(emails_or())),
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(
                cmp(p("userType"), Eq, "Employee"),
                cmp(AttrPath::with_sub("emails", "type"), Eq, "work"),
            ),
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            and(cmp(p("userType"), Eq, "Employee"), work_email()),
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            or(
                work_email(),
                Filter::value_path(
                    p("ims"),
                    and(cmp(p("type"), Eq, "xmpp"), cmp(p("value"), Co, "@foo.com")),
                ),
            ),
        ),
        (
            &employee_number,
            cmp(p("employeeNumber").in_schema(ENTERPRISE), Eq, "701984"),
        ),
        (
            "meta.version ge 3 and active eq false and x eq null",
            and(
                and(
                    Filter::compare(AttrPath::with_sub("meta", "version"), Ge, Value::Num(3.0)),
                    Filter::compare(p("active"), Eq, Value::Bool(false)),
                ),
                Filter::compare(p("x"), Eq, Value::Null),
            ),
        ),
    ];
    for (input, expected) in cases {
        let parsed = parse_filter(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let a = || Filter::compare(p("a"), CompareOp::Eq, Value::Num(1.0));
    let b = || Filter::compare(p("b"), CompareOp::Eq, Value::Num(2.0));
    let c = || Filter::compare(p("c"), CompareOp::Eq, Value::Num(3.0));
    let parse = |s: &str| parse_filter(s).unwrap();
    assert_eq!(parse("a eq 1 or b eq 2 and c eq 3"), or(a(), and(b(), c())));
    assert_eq!(parse("a eq 1 and b eq 2 or c eq 3"), or(and(a(), b()), c()));
    assert_eq!(
        parse("(a eq 1 or b eq 2) and c eq 3"),
        and(or(a(), b()), c())
    );
    assert_eq!(parse("not (a eq 1) and b eq 2"), and(Filter::not(a()), b()));
    // Chains are left-associative.
    assert_eq!(parse("a eq 1 or b eq 2 or c eq 3"), or(or(a(), b()), c()));
}

fn invalid_filter(input: &str) -> String {
    match parse_filter(input) {
        Err(e @ FilterError::InvalidFilter(_)) => {
            assert_eq!(e.scim_type(), "invalidFilter");
            e.detail().to_string()
        }
        other => panic!("{input:?}: expected invalidFilter, got {other:?}"),
    }
}

#[test]
fn malformed_filters_are_refused_with_a_precise_message() {
    let cases = [
        (r#"userName eq "john"#, "unterminated string starting at 12"),
        (r#"userName regex "j.*""#, "unknown operator 'regex' at 9"),
        ("emails[", "found the end of the filter at 7"),
        (
            r#"emails[type eq "work""#,
            "expected ']' to close the '[' opened at 6",
        ),
        (
            r#"userName eq "john" garbage"#,
            "unexpected 'garbage' at 19 after a complete filter",
        ),
        (r#"userName eq "john")"#, "unexpected ')' at 18"),
        (
            r#"userName eq "john" and"#,
            "found the end of the filter at 22",
        ),
        ("userName eq 'john'", "unexpected character ''' at 12"),
    ];
    for (input, message) in cases {
        let detail = invalid_filter(input);
        assert!(detail.contains(message), "{input}: {detail}");
    }
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("{}title pr{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nested(MAX_DEPTH)).is_ok());
    assert!(invalid_filter(&nested(MAX_DEPTH + 1)).contains("deeper than 32 levels"));
    let nots = format!(
        "{}title pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(invalid_filter(&nots).contains("deeper than"));
    // Far deeper than the stack would survive without the limit.
    assert!(invalid_filter(&"(".repeat(MAX_FILTER_LEN)).contains("deeper than"));
}

#[test]
fn length_is_bounded_and_long_chains_stay_flat_in_sql() {
    let clause = "title pr and ";
    let mut chain = clause.repeat((MAX_FILTER_LEN - 8) / clause.len());
    chain.push_str("title pr");
    assert!(chain.len() <= MAX_FILTER_LEN);
    let (pg, _) = sql(&chain);
    assert!(
        !pg.contains("(("),
        "an and-chain renders flat: {}",
        &pg[..200]
    );

    let too_long = format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    assert!(invalid_filter(&too_long).contains("at most 4096 are accepted"));
}

/// Both databases get the same text except for PostgreSQL's `E'…'` escape-string syntax.
fn same_sql(filter: &str, expected_sqlite: &str) {
    let (pg, lite) = sql(filter);
    assert_eq!(lite, expected_sqlite, "{filter} (SQLite)");
    if !expected_sqlite.contains('\\') {
        assert_eq!(pg, expected_sqlite, "{filter} (PostgreSQL)");
    }
}

#[test]
fn case_insensitive_eq_compares_the_lowercase_shadow_column() {
    same_sql(
        r#"userName eq "BJensen""#,
        r#""users"."user_name_lower" = 'bjensen'"#,
    );
    same_sql(
        r#"URN:IETF:params:scim:schemas:core:2.0:User:USERNAME Eq "ÉLODIE""#,
        r#""users"."user_name_lower" = 'élodie'"#,
    );
    same_sql(r#"externalId eq "AbC""#, r#""users"."external_id" = 'AbC'"#);
    same_sql(
        &format!("{ENTERPRISE}:employeeNumber eq \"701984\""),
        r#""users"."employee_number" = '701984'"#,
    );
}

#[test]
fn ne_pr_and_null_have_documented_meanings() {
    same_sql(
        r#"title ne "Boss""#,
        r#""users"."title_lower" IS NULL OR "users"."title_lower" <> 'boss'"#,
    );
    same_sql(
        "title pr",
        r#""users"."title_lower" IS NOT NULL AND "users"."title_lower" <> ''"#,
    );
    same_sql("active pr", r#""users"."active" IS NOT NULL"#);
    same_sql(
        "title eq null",
        r#"NOT ("users"."title_lower" IS NOT NULL AND "users"."title_lower" <> '')"#,
    );
    same_sql(
        r#"not (userName eq "x")"#,
        r#"NOT COALESCE("users"."user_name_lower" = 'x', FALSE)"#,
    );
}

#[test]
fn like_operators_escape_wildcards() {
    let (pg, lite) = sql(r#"userName co "50%_off\\""#);
    assert_eq!(
        lite,
        r#""users"."user_name_lower" LIKE '%50\%\_off\\%' ESCAPE '\'"#
    );
    assert_eq!(
        pg,
        r#""users"."user_name_lower" LIKE E'%50\\%\\_off\\\\%' ESCAPE E'\\'"#
    );
    same_sql(
        r#"name.familyName sw "O'M""#,
        r#""users"."family_name_lower" LIKE 'o''m%' ESCAPE '\'"#,
    );
    // Case-exact: SQLite's LIKE ignores ASCII case, so a case-sensitive check follows.
    same_sql(
        r#"externalId ew "Ab""#,
        r#""users"."external_id" LIKE '%Ab' ESCAPE '\' AND substr("users"."external_id", length("users"."external_id") - 1) = 'Ab'"#,
    );
}

#[test]
fn value_paths_and_multi_valued_attributes_become_exists() {
    same_sql(
        r#"emails[type eq "Work" and value co "@example.com"]"#,
        r#"EXISTS(SELECT 1 FROM "user_emails" WHERE "user_emails"."user_id" = "users"."id" AND ("user_emails"."type_lower" = 'work' AND "user_emails"."value_lower" LIKE '%@example.com%' ESCAPE '\'))"#,
    );
    same_sql(
        r#"emails co "example.com""#,
        r#"EXISTS(SELECT 1 FROM "user_emails" WHERE "user_emails"."user_id" = "users"."id" AND "user_emails"."value_lower" LIKE '%example.com%' ESCAPE '\')"#,
    );
    same_sql(
        "emails.primary eq true",
        r#"EXISTS(SELECT 1 FROM "user_emails" WHERE "user_emails"."user_id" = "users"."id" AND "user_emails"."is_primary" = TRUE)"#,
    );
    // A value path on a single-valued complex attribute stays on the resource table.
    same_sql(
        r#"name[givenName eq "Barbara" and familyName eq "Jensen"]"#,
        r#""users"."given_name_lower" = 'barbara' AND "users"."family_name_lower" = 'jensen'"#,
    );
}

#[test]
fn booleans_datetimes_and_integers_compare_as_their_type() {
    same_sql("active eq true", r#""users"."active" = TRUE"#);
    same_sql(
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#""users"."updated_at_us" > 1305261754000000"#,
    );
    same_sql(
        r#"meta.lastModified le "2011-05-13T06:42:34.5+02:00""#,
        r#""users"."updated_at_us" <= 1305261754500000"#,
    );
    same_sql("meta.version ge 3", r#""users"."version" >= 3"#);
}

fn translate(filter: &str) -> Result<Condition, FilterError> {
    users().to_condition(&parse_filter(filter).unwrap())
}

#[test]
fn attributes_outside_the_allow_list_are_invalid_filter() {
    for filter in [
        r#"password eq "x""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"name.middleName eq "x""#,
        // Extension attributes must carry their URN (RFC 7644 §3.10).
        r#"employeeNumber eq "1""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:Group:userName eq "x""#,
        r#"emails.display eq "x""#,
        r#"emails[display eq "x"]"#,
        r#"emails[emails.type eq "x"]"#,
        r#"userName[value eq "x"]"#,
    ] {
        match translate(filter) {
            // RFC 7644 §3.4.2.2: an unsupported attribute in a filter is invalidFilter.
            Err(e @ FilterError::UnknownAttribute(_)) => {
                assert_eq!(e.scim_type(), "invalidFilter");
                assert_eq!(e.code(), "SCIM0002");
            }
            other => panic!("{filter}: expected an unknown-attribute invalidFilter, got {other:?}"),
        }
    }
}

#[test]
fn values_and_operators_must_fit_the_attribute_type() {
    let cases = [
        (
            r#"active eq "yes""#,
            "'active eq' needs true or false, not a string",
        ),
        (
            "active gt true",
            "'gt' does not apply to 'active', which is a boolean",
        ),
        (
            r#"meta.lastModified co "2011""#,
            "'co' does not apply to 'meta.lastModified'",
        ),
        (
            r#"meta.lastModified gt "yesterday""#,
            "needs an xsd:dateTime",
        ),
        ("meta.lastModified gt 1305261754", "not a number"),
        (
            "userName eq 5",
            "'userName eq' needs a quoted string, not a number",
        ),
        ("meta.version eq 1.5", "needs an integer"),
        ("title gt null", "only eq and ne accept null"),
    ];
    for (filter, message) in cases {
        match translate(filter) {
            Err(FilterError::InvalidFilter(m)) => assert!(m.contains(message), "{filter}: {m}"),
            other => panic!("{filter}: expected invalidFilter, got {other:?}"),
        }
    }
    // A multi-valued attribute without a default sub-attribute must be named in full.
    let schema = Schema::new(USER, "users", "id").multi_valued(
        "roles",
        MultiValued::new("user_roles", "user_id")
            .attr("type", Column::ci_string("type_lower"))
            .default_sub(None),
    );
    let err = schema
        .to_condition(&parse_filter(r#"roles eq "x""#).unwrap())
        .unwrap_err();
    assert!(err.detail().contains("name one"), "{err}");
    assert!(schema
        .to_condition(&parse_filter("roles pr").unwrap())
        .is_ok());
}

/// The only way to apply a filter is `Schema::to_condition`, which returns SQL: this fails to
/// compile if it ever returns anything else (an in-memory matcher, rows).
#[test]
fn filters_only_become_sql() {
    let to_condition: fn(&Schema, &Filter) -> Result<Condition, FilterError> = Schema::to_condition;
    let f = parse_filter("title pr").unwrap();
    assert!(to_condition(&users(), &f).is_ok());
}
