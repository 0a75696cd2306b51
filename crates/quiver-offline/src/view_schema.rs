//! The canonical Arrow layout of a feature view's rows, as the offline store
//! keeps them: join keys, the two timestamps, then the features, each with its
//! declared type. Every source is converted to this before it is stored.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use quiver_core::{FeatureViewSpec, JoinKey, RepoSpec, ScalarType, SourceSpec, ValueType};

use crate::error::OfflineError;

/// Event time of a row, UTC microseconds.
pub const EVENT_TS: &str = "__event_ts";
/// When the row was written (tie-break and as-of-known-time), UTC microseconds.
pub const CREATED_TS: &str = "__created_ts";

/// The Arrow type that stores a declared type.
pub fn arrow_type(declared: ValueType) -> DataType {
    match declared {
        ValueType::Scalar(s) => scalar_type(s),
        ValueType::List(s) => DataType::List(Arc::new(Field::new("item", scalar_type(s), true))),
    }
}

fn scalar_type(s: ScalarType) -> DataType {
    match s {
        ScalarType::Bool => DataType::Boolean,
        ScalarType::Int32 => DataType::Int32,
        ScalarType::Int64 => DataType::Int64,
        ScalarType::Float32 => DataType::Float32,
        ScalarType::Float64 => DataType::Float64,
        ScalarType::String => DataType::Utf8,
        ScalarType::Bytes => DataType::Binary,
        ScalarType::Timestamp => timestamp_type(),
    }
}

/// All timestamps are stored as UTC microseconds.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A view with everything needed to read, store and join its rows.
#[derive(Debug, Clone)]
pub struct ViewSchema {
    pub view: FeatureViewSpec,
    pub source: SourceSpec,
    pub keys: Vec<JoinKey>,
    pub schema: SchemaRef,
}

impl ViewSchema {
    pub fn new(repo: &RepoSpec, view_name: &str) -> Result<Self, OfflineError> {
        let view = repo
            .feature_view(view_name)
            .ok_or_else(|| OfflineError::NotFound {
                kind: quiver_core::ObjectKind::FeatureView,
                name: view_name.to_string(),
                message: format!("unknown feature view `{view_name}`"),
            })?
            .clone();
        let source = repo
            .source(&view.source)
            .ok_or_else(|| {
                OfflineError::Config(format!(
                    "view `{view_name}` reads unknown source `{}`",
                    view.source
                ))
            })?
            .clone();
        let keys = repo.join_keys(&view);
        let mut fields: Vec<Field> = keys
            .iter()
            .map(|k| Field::new(&k.name, arrow_type(k.dtype), false))
            .collect();
        fields.push(Field::new(EVENT_TS, timestamp_type(), false));
        fields.push(Field::new(CREATED_TS, timestamp_type(), true));
        fields.extend(
            view.features
                .iter()
                .map(|f| Field::new(&f.name, arrow_type(f.dtype), true)),
        );
        Ok(Self {
            view,
            source,
            keys,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    pub fn name(&self) -> &str {
        &self.view.name
    }

    /// The canonical layout as a source's rows arrive in it: join keys and
    /// event time may still be null (the built-in checks drop those rows
    /// before anything is stored).
    pub fn source_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        Arc::new(Schema::new_with_metadata(
            fields,
            self.schema.metadata().clone(),
        ))
    }

    /// Column names of the join keys, in order.
    pub fn key_names(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.name.as_str()).collect()
    }
}

/// The order rows are stored in: join keys, then event time, then created time
/// (a missing created time first, as the lowest).
pub fn storage_order(view: &ViewSchema) -> Vec<datafusion::logical_expr::SortExpr> {
    use datafusion::logical_expr::ident;
    let mut order: Vec<_> = view
        .keys
        .iter()
        .map(|k| ident(&k.name).sort(true, true))
        .collect();
    order.push(ident(EVENT_TS).sort(true, true));
    order.push(ident(CREATED_TS).sort(true, true));
    order
}
