//! The generated SQL run on a real in-memory SQLite: the semantics the SQL-text tests describe
//! are the ones a client gets back.
use scim::filter::{fold_case, parse_filter, Column, MultiValued, Schema};
use sea_orm::sea_query::{Alias, Order, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn users() -> Schema {
    Schema::new(USER, "users", "id")
        .attr("userName", Column::ci_string("user_name_lower"))
        .attr("externalId", Column::exact_string("external_id"))
        .attr("title", Column::ci_string("title_lower"))
        .attr("active", Column::boolean("active"))
        .attr("meta.lastModified", Column::datetime("updated_at_us"))
        .multi_valued(
            "emails",
            MultiValued::new("user_emails", "user_id")
                .attr("value", Column::ci_string("value_lower"))
                .attr("type", Column::ci_string("type_lower")),
        )
}

async fn db() -> DatabaseConnection {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, user_name_lower TEXT NOT NULL,
             external_id TEXT, title_lower TEXT, active BOOLEAN NOT NULL, updated_at_us INTEGER);
         CREATE TABLE user_emails (user_id INTEGER NOT NULL, value_lower TEXT, type_lower TEXT);",
    )
    .await
    .unwrap();
    // (id, userName, externalId, title, active, lastModified µs)
    let users = [
        (
            1,
            "BJensen",
            Some("Ab-1"),
            Some("Boss"),
            true,
            1_305_261_754_000_000i64,
        ),
        (
            2,
            "50%_off\\",
            Some("ab-2"),
            None,
            false,
            1_305_261_755_000_000,
        ),
        (3, "Élodie", None, Some(""), true, 1_305_261_753_000_000),
    ];
    for (id, name, ext, title, active, at) in users {
        let q = Query::insert()
            .into_table(Alias::new("users"))
            .columns(
                [
                    "id",
                    "user_name_lower",
                    "external_id",
                    "title_lower",
                    "active",
                    "updated_at_us",
                ]
                .map(Alias::new),
            )
            .values_panic([
                id.into(),
                fold_case(name).into(),
                ext.map(str::to_string).into(),
                title.map(fold_case).into(),
                active.into(),
                at.into(),
            ])
            .to_owned();
        db.execute(db.get_database_backend().build(&q))
            .await
            .unwrap();
    }
    for (user, value, ty) in [
        (1, "bjensen@Example.com", "work"),
        (1, "babs@home.org", "home"),
        (2, "x@example.org", "home"),
    ] {
        let q = Query::insert()
            .into_table(Alias::new("user_emails"))
            .columns(["user_id", "value_lower", "type_lower"].map(Alias::new))
            .values_panic([user.into(), fold_case(value).into(), ty.into()])
            .to_owned();
        db.execute(db.get_database_backend().build(&q))
            .await
            .unwrap();
    }
    db
}

async fn ids(db: &DatabaseConnection, filter: &str) -> Vec<i64> {
    let condition = users()
        .to_condition(&parse_filter(filter).unwrap())
        .unwrap();
    let q = Query::select()
        .column((Alias::new("users"), Alias::new("id")))
        .from(Alias::new("users"))
        .cond_where(condition)
        .order_by((Alias::new("users"), Alias::new("id")), Order::Asc)
        .to_owned();
    let rows = db
        .query_all(db.get_database_backend().build(&q))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<i64>("", "id").unwrap())
        .collect()
}

#[tokio::test]
async fn filters_select_the_users_a_client_expects() {
    let db = db().await;
    let cases: &[(&str, &[i64])] = &[
        (r#"userName eq "bjensen""#, &[1]),
        (r#"userName eq "ÉLODIE""#, &[3]),
        (r#"userName co "%""#, &[2]),
        (r#"userName co "_""#, &[2]),
        (r#"userName ew "\\""#, &[2]),
        (r#"userName sw "50%_off\\""#, &[2]),
        (r#"userName co "j""#, &[1]),
        // Case-exact: SQLite's LIKE alone would also match "ab-2".
        (r#"externalId sw "Ab""#, &[1]),
        (r#"externalId co "b-""#, &[1, 2]),
        (r#"externalId ew "-2""#, &[2]),
        ("title pr", &[1]),
        ("title eq null", &[2, 3]),
        // A user without a title is "not equal" to Boss, and not (title eq "boss") too.
        (r#"title ne "boss""#, &[2, 3]),
        (r#"not (title eq "BOSS")"#, &[2, 3]),
        (r#"not (title ne "boss")"#, &[1]),
        ("active eq false", &[2]),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, &[2]),
        (
            r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#,
            &[1, 2],
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            &[1],
        ),
        // Not the same as the value path: the two conditions may hold on different emails.
        (
            r#"emails.type eq "home" and emails.value co "example""#,
            &[1, 2],
        ),
        (r#"emails[type eq "home" and value co "example"]"#, &[2]),
        ("emails pr", &[1, 2]),
        ("not (emails pr)", &[3]),
        (r#"userName eq "x" or active eq true and title pr"#, &[1]),
    ];
    for (filter, expected) in cases {
        assert_eq!(&ids(&db, filter).await, expected, "{filter}");
    }
}
