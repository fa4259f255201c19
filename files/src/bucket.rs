//! A place in an S3-compatible bucket for what is not media, such as an area's backups
//! (LIFE-06): `s3://bucket/prefix`, reached as the AWS tools reach it, through the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, an instance
//! role; `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for other S3-compatible services). Keep it
//! apart from an area's file store bucket, whose sweep deletes what it does not record.

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::ObjectStore;

use crate::StoreError;

pub struct BucketPrefix {
    bucket: AmazonS3,
    prefix: String,
    url: String,
}

impl BucketPrefix {
    /// The place an `s3://bucket/prefix` URL names; `None` for anything else (a path).
    pub fn parse(url: &str) -> Result<Option<BucketPrefix>, StoreError> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Ok(None);
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::Setup(format!("{url}: no bucket")));
        }
        let built = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| StoreError::Setup(format!("bucket {bucket}: {e}")))?;
        Ok(Some(BucketPrefix {
            bucket: built,
            prefix: prefix.trim_matches('/').to_string(),
            url: url.to_string(),
        }))
    }

    fn path(&self, name: &str) -> Path {
        match self.prefix.is_empty() {
            true => Path::from(name),
            false => Path::from(format!("{}/{name}", self.prefix)),
        }
    }

    /// Writes an object whole (visible only once written).
    pub async fn put(&self, name: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.bucket.put(&self.path(name), bytes.into()).await?;
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Bytes, StoreError> {
        Ok(self.bucket.get(&self.path(name)).await?.bytes().await?)
    }

    pub async fn exists(&self, name: &str) -> Result<bool, StoreError> {
        match self.bucket.head(&self.path(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

impl std::fmt::Display for BucketPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}
