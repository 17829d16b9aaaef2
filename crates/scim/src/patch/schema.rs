//! What a PATCH may touch: the attributes of one resource type, their types, plurality,
//! sub-attributes and mutability (RFC 7643 §2, §7). Names match case-insensitively; the
//! spelling given here is the one written into the resource.

/// SCIM data types (RFC 7643 §2.3) as far as PATCH needs them: to coerce and validate values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    /// An RFC 3339 date-time string.
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    WriteOnly,
    /// May be set while it has no value, never changed afterwards.
    Immutable,
    /// Never written by a client (`id`, `meta`, `groups`).
    ReadOnly,
}

/// One attribute or sub-attribute.
#[derive(Debug, Clone)]
pub struct Attr {
    pub(crate) name: String,
    pub(crate) ty: AttrType,
    pub(crate) multi: bool,
    pub(crate) mutability: Mutability,
    pub(crate) required: bool,
    pub(crate) case_exact: bool,
    /// Values of this multi-valued attribute are the same value when their `value`
    /// sub-attributes are equal (group members), rather than when they are equal as a whole.
    pub(crate) identified_by_value: bool,
    /// This is the group membership list whose changes [`PatchOutcome`](super::PatchOutcome)
    /// reports as deltas.
    pub(crate) members: bool,
    pub(crate) subs: Vec<Attr>,
}

impl Attr {
    pub fn new(name: &str, ty: AttrType) -> Attr {
        Attr {
            name: name.to_string(),
            ty,
            multi: false,
            mutability: Mutability::ReadWrite,
            required: false,
            case_exact: false,
            identified_by_value: false,
            members: false,
            subs: Vec::new(),
        }
    }
    pub fn string(name: &str) -> Attr {
        Attr::new(name, AttrType::String)
    }
    pub fn boolean(name: &str) -> Attr {
        Attr::new(name, AttrType::Boolean)
    }
    pub fn integer(name: &str) -> Attr {
        Attr::new(name, AttrType::Integer)
    }
    pub fn decimal(name: &str) -> Attr {
        Attr::new(name, AttrType::Decimal)
    }
    pub fn datetime(name: &str) -> Attr {
        Attr::new(name, AttrType::DateTime)
    }
    pub fn binary(name: &str) -> Attr {
        Attr::new(name, AttrType::Binary)
    }
    pub fn reference(name: &str) -> Attr {
        Attr::new(name, AttrType::Reference)
    }
    pub fn complex(name: &str) -> Attr {
        Attr::new(name, AttrType::Complex)
    }

    /// Multi-valued (`emails`, `members`).
    pub fn multi(mut self) -> Attr {
        self.multi = true;
        self
    }
    pub fn read_only(mut self) -> Attr {
        self.mutability = Mutability::ReadOnly;
        self
    }
    pub fn immutable(mut self) -> Attr {
        self.mutability = Mutability::Immutable;
        self
    }
    pub fn write_only(mut self) -> Attr {
        self.mutability = Mutability::WriteOnly;
        self
    }
    /// Cannot be removed (`userName`, a group's `displayName`).
    pub fn required(mut self) -> Attr {
        self.required = true;
        self
    }
    /// Compared case-sensitively in value filters (`id`, member `value`).
    pub fn case_exact(mut self) -> Attr {
        self.case_exact = true;
        self
    }
    /// Values are the same value when their `value` sub-attributes are equal.
    pub fn identified_by_value(mut self) -> Attr {
        self.identified_by_value = true;
        self
    }
    /// Marks the group membership list: multi-valued, identified by `value`, and reported in
    /// [`PatchOutcome`](super::PatchOutcome).
    pub fn members(mut self) -> Attr {
        self.multi = true;
        self.identified_by_value = true;
        self.members = true;
        self
    }
    /// Adds a sub-attribute (the attribute must be complex).
    pub fn with_sub(mut self, sub: Attr) -> Attr {
        assert_eq!(
            self.ty,
            AttrType::Complex,
            "only complex attributes have sub-attributes"
        );
        self.subs.push(sub);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn find_sub(&self, name: &str) -> Option<&Attr> {
        self.subs.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// The attributes of one schema (the core schema or an extension), under its URN.
#[derive(Debug, Clone)]
pub(crate) struct SchemaAttrs {
    pub(crate) urn: String,
    pub(crate) attrs: Vec<Attr>,
}

impl SchemaAttrs {
    pub(crate) fn find(&self, name: &str) -> Option<&Attr> {
        self.attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The attributes a PATCH may name for one resource type. Core attributes live at the top of
/// the resource; an extension's live in the object under its URN (RFC 7643 §3.3).
#[derive(Debug, Clone)]
pub struct PatchSchema {
    pub(crate) core: SchemaAttrs,
    pub(crate) extensions: Vec<SchemaAttrs>,
}

// The schema URNs are the directory's (its filter schemas are keyed by them).
pub use authz_core::directory::filter::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN};

impl PatchSchema {
    /// No attributes yet, for resources of the core schema `core_urn`.
    pub fn new(core_urn: &str) -> PatchSchema {
        PatchSchema {
            core: SchemaAttrs {
                urn: core_urn.to_string(),
                attrs: Vec::new(),
            },
            extensions: Vec::new(),
        }
    }

    /// Adds a core attribute.
    pub fn attr(mut self, attr: Attr) -> PatchSchema {
        self.core.attrs.push(attr);
        self
    }

    /// Adds an attribute of the extension `urn` (declaring the extension on first use).
    pub fn extension_attr(mut self, urn: &str, attr: Attr) -> PatchSchema {
        match self
            .extensions
            .iter_mut()
            .find(|e| e.urn.eq_ignore_ascii_case(urn))
        {
            Some(ext) => ext.attrs.push(attr),
            None => self.extensions.push(SchemaAttrs {
                urn: urn.to_string(),
                attrs: vec![attr],
            }),
        }
        self
    }

    pub(crate) fn scope(&self, urn: Option<&str>) -> Option<&SchemaAttrs> {
        match urn {
            None => Some(&self.core),
            Some(u) if u.eq_ignore_ascii_case(&self.core.urn) => Some(&self.core),
            Some(u) => self.extension(u),
        }
    }

    pub(crate) fn extension(&self, urn: &str) -> Option<&SchemaAttrs> {
        self.extensions
            .iter()
            .find(|e| e.urn.eq_ignore_ascii_case(urn))
    }

    /// The common attributes (`id`, `externalId`, `meta`; RFC 7643 §3.1).
    fn common(core_urn: &str) -> PatchSchema {
        PatchSchema::new(core_urn)
            .attr(Attr::string("id").read_only().case_exact())
            .attr(Attr::string("externalId").case_exact())
            .attr(
                Attr::complex("meta")
                    .read_only()
                    .with_sub(Attr::string("resourceType"))
                    .with_sub(Attr::datetime("created"))
                    .with_sub(Attr::datetime("lastModified"))
                    .with_sub(Attr::reference("location"))
                    .with_sub(Attr::string("version").case_exact()),
            )
    }

    /// The User resource (RFC 7643 §4.1) with the enterprise extension (§4.3).
    pub fn user() -> PatchSchema {
        let typed = |name: &str, value: Attr| {
            Attr::complex(name)
                .multi()
                .with_sub(value)
                .with_sub(Attr::string("display"))
                .with_sub(Attr::string("type"))
                .with_sub(Attr::boolean("primary"))
        };
        let e = ENTERPRISE_USER_URN;
        PatchSchema::common(USER_URN)
            .attr(Attr::string("userName").required())
            .attr(
                Attr::complex("name")
                    .with_sub(Attr::string("formatted"))
                    .with_sub(Attr::string("familyName"))
                    .with_sub(Attr::string("givenName"))
                    .with_sub(Attr::string("middleName"))
                    .with_sub(Attr::string("honorificPrefix"))
                    .with_sub(Attr::string("honorificSuffix")),
            )
            .attr(Attr::string("displayName"))
            .attr(Attr::string("nickName"))
            .attr(Attr::reference("profileUrl"))
            .attr(Attr::string("title"))
            .attr(Attr::string("userType"))
            .attr(Attr::string("preferredLanguage"))
            .attr(Attr::string("locale"))
            .attr(Attr::string("timezone"))
            .attr(Attr::boolean("active"))
            .attr(Attr::string("password").write_only().case_exact())
            .attr(typed("emails", Attr::string("value")))
            .attr(typed("phoneNumbers", Attr::string("value")))
            .attr(typed("ims", Attr::string("value")))
            .attr(typed("photos", Attr::reference("value")))
            .attr(
                Attr::complex("addresses")
                    .multi()
                    .with_sub(Attr::string("formatted"))
                    .with_sub(Attr::string("streetAddress"))
                    .with_sub(Attr::string("locality"))
                    .with_sub(Attr::string("region"))
                    .with_sub(Attr::string("postalCode"))
                    .with_sub(Attr::string("country"))
                    .with_sub(Attr::string("type"))
                    .with_sub(Attr::boolean("primary")),
            )
            .attr(
                Attr::complex("groups")
                    .multi()
                    .read_only()
                    .identified_by_value()
                    .with_sub(Attr::string("value").case_exact())
                    .with_sub(Attr::reference("$ref"))
                    .with_sub(Attr::string("display"))
                    .with_sub(Attr::string("type")),
            )
            .attr(typed("entitlements", Attr::string("value")))
            .attr(typed("roles", Attr::string("value")))
            .attr(typed("x509Certificates", Attr::binary("value")))
            .extension_attr(e, Attr::string("employeeNumber"))
            .extension_attr(e, Attr::string("costCenter"))
            .extension_attr(e, Attr::string("organization"))
            .extension_attr(e, Attr::string("division"))
            .extension_attr(e, Attr::string("department"))
            .extension_attr(
                e,
                Attr::complex("manager")
                    .with_sub(Attr::string("value").case_exact())
                    .with_sub(Attr::reference("$ref"))
                    .with_sub(Attr::string("displayName").read_only()),
            )
    }

    /// The Group resource (RFC 7643 §4.2); `members` is the tracked membership list.
    pub fn group() -> PatchSchema {
        PatchSchema::common(GROUP_URN)
            .attr(Attr::string("displayName").required())
            .attr(
                Attr::complex("members")
                    .members()
                    .with_sub(Attr::string("value").case_exact())
                    .with_sub(Attr::reference("$ref"))
                    .with_sub(Attr::string("display"))
                    .with_sub(Attr::string("type")),
            )
    }
}
