//! quiver's definitions: the feature repo format (`quiver.yaml` plus YAML
//! definition files), its validation with file/line/field errors, the canonical
//! specs the registry stores, and the diff `plan` shows.

pub mod auth;
pub mod checks;
pub mod config;
pub mod diff;
pub mod dtype;
pub mod env;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod loader;
pub mod locations;
pub mod process;
pub mod ranges;
mod raw;
mod read;
pub mod redact;
pub mod spec;
pub mod ttl;
mod validate;
mod yaml;

pub use checks::{CheckPolicy, DriftSpec, FeatureCheck, FeatureRule, ViewCheck, ViewRule};
pub use config::{KafkaConfig, OnlineStoreConfig, ProjectConfig};
pub use diff::{ChangeKind, FieldChange, ObjectChange, diff_objects};
pub use dtype::{ScalarType, ValueType};
pub use error::{DefinitionError, Location, RepoError};
pub use loader::{Repo, load_repo, parse_definitions};
pub use locations::Locations;
pub use redact::redact_url;
pub use spec::{
    EntitySpec, FeatureServiceSpec, FeatureSpec, FeatureViewSpec, JoinKey, MessageFormat,
    ObjectKind, RegistryObject, RepoSpec, SourceKind, SourceSpec,
};
pub use validate::{MAX_NAME_LEN, identifier_error, is_identifier};
