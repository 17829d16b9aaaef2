//! The SCIM face of the directory's filter translation (`authz_core::directory::filter::sql`,
//! where the semantics are documented): the same [`Schema`], whose refusals come back as SCIM
//! [`FilterError`]s. The column types and the case folding are the core's.
use sea_orm::sea_query::Condition;

use super::{Filter, FilterError};
use authz_core::directory::filter as core;

pub use authz_core::directory::filter::{Column, ColumnType, MultiValued};
/// The one case folding, the core's: shadow columns are written with it.
pub use authz_core::directory::fold as fold_case;

/// An allow-list of filterable attributes of one resource type (see the core's
/// [`Schema`](core::Schema)); its translation answers in SCIM's terms.
#[derive(Debug, Clone)]
pub struct Schema(core::Schema);

impl Schema {
    /// An empty allow-list for resources of `core_urn` stored in `table`, keyed by `id_column`.
    pub fn new(core_urn: &str, table: &str, id_column: &str) -> Schema {
        Schema(core::Schema::new(core_urn, table, id_column))
    }

    /// Allows filtering on `path`, compared as `column` (see [`core::Schema::attr`]).
    pub fn attr(self, path: &str, column: Column) -> Schema {
        Schema(self.0.attr(path, column))
    }

    /// Allows filtering on the multi-valued attribute `path`, with value paths.
    pub fn multi_valued(self, path: &str, values: MultiValued) -> Schema {
        Schema(self.0.multi_valued(path, values))
    }

    /// Translates `filter` into a condition on this resource's table.
    pub fn to_condition(&self, filter: &Filter) -> Result<Condition, FilterError> {
        self.0.to_condition(filter).map_err(FilterError::from)
    }

    /// The core's schema.
    pub fn core(&self) -> &core::Schema {
        &self.0
    }
}

impl From<core::Schema> for Schema {
    fn from(s: core::Schema) -> Schema {
        Schema(s)
    }
}
