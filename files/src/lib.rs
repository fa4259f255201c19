//! The file service core of an area (FILE-01..03): where uploaded bytes live (a local
//! directory for `meridian dev` and single-machine areas, an S3-compatible object store in
//! the area's region for the others) and what is derived from images and videos. The edge serves
//! uploads and downloads over HTTP (`edge/src/files/`); the cluster keeps each file's
//! record and every app's usage (`cluster/src/state/files/`).

pub mod bucket;
pub mod images;
pub mod store;
pub mod videos;

pub use bucket::BucketPrefix;
pub use store::{ObjectName, Part, Store, StoreConfig, StoreError, Upload};
