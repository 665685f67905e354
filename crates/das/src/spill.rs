//! Kept events that cannot travel in the response, written by the function to S3 instead.
//!
//! Firehose takes at most 6 MB of response per invocation and a bounded size per record; a
//! record whose kept events do not fit either would otherwise go to the error prefix, still
//! encrypted. With a spill target (`DAS_SPILL_BUCKET`, `DAS_SPILL_PREFIX`: the delivery stream's
//! bucket and `<DasS3Prefix>/events/`), such a record's events are grouped by the partition the
//! delivery stream would have used and written as one gzipped NDJSON object per partition per
//! invocation, `<prefix><resource>/<class>/<yyyy>/<mm>/<dd>/spill-<invocation id>.gz`, and the
//! record is answered `Dropped`: delivered, just not by Firehose.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use sluice_firehose::sanitize_partition_value;

use crate::config::CopiesTarget;
use crate::copies::CopyObject;
use crate::record::Routed;

/// Spilled events grouped by partition path while a batch is processed.
#[derive(Debug, Default)]
pub struct SpillSet {
    groups: BTreeMap<String, Vec<u8>>,
}

impl SpillSet {
    /// Adds a record's kept events under `path` (`<resource>/<class>/<yyyy>/<mm>/<dd>`).
    pub fn add(&mut self, path: String, routed: &Routed) {
        self.groups
            .entry(path)
            .or_default()
            .extend_from_slice(&routed.ndjson);
    }

    /// Whether nothing was spilled.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The objects, one per partition, gzipped as the delivery stream writes its own.
    pub fn into_objects(
        self,
        target: &CopiesTarget,
        invocation_id: &str,
    ) -> std::io::Result<Vec<CopyObject>> {
        let name = sanitize_partition_value(invocation_id);
        self.groups
            .into_iter()
            .map(|(path, ndjson)| {
                let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
                gz.write_all(&ndjson)?;
                Ok(CopyObject {
                    bucket: target.bucket.clone(),
                    key: format!("{}{path}/spill-{name}.gz", target.prefix),
                    body: gz.finish()?,
                })
            })
            .collect()
    }
}
