//! Per-database sanitize settings: `SOURCE_MAPPINGS` (template parameter
//! `SnapshotSourceMappings`), a JSON list of entries
//! `{"source": "<instance or cluster id>" | "tag:<key>=<value>", "scriptKey", "scriptSha256",
//! "database", "prefix", "kmsKeyArn"}`, parsed once at cold start.
//!
//! `validate` resolves a run's settings ([`Resolved`]) from them: an id match first, then the
//! first tag match (the source's own tags), then the stack's single configuration when the run
//! names `SOURCE_ID`. Nothing else is sanitized. The execution input only names the source and
//! the snapshot: the settings come from here, never from the input.
//!
//! What IAM cannot loop over is declared beside the mapping, and checked here:
//! `MAPPED_SOURCE_IDS` (`SnapshotMappedSourceIds`: every database a mapping may apply to, the
//! role's RDS grants) and `MAPPED_KMS_KEY_ARNS` (`SnapshotMappedKmsKeyArns`: the keys RDS may be
//! granted). A mapped script lives under [`MAPPED_SCRIPT_PREFIX`] in the stack's bucket (the
//! function and the task may read there) and is always pinned by its SHA-256. A kept snapshot's
//! prefix starts with its source's id and `-` (the role names, copies, shares and deletes
//! `<mapped id>-*` snapshots only).

use serde::Deserialize;
use sluice_runtime::config::ConfigError;
use sluice_runtime::pin::Sha256Pin;

/// The variable holding the mapping.
pub const VAR: &str = "SOURCE_MAPPINGS";
/// Where a mapped script must live in the stack's bucket.
pub const MAPPED_SCRIPT_PREFIX: &str = "sanitize-scripts/";

/// Which sources an entry applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The instance or cluster with this id.
    Id(String),
    /// Any mapped source carrying this tag.
    Tag {
        /// The tag's key.
        key: String,
        /// Its value.
        value: String,
    },
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Tag { key, value } => write!(f, "tag:{key}={value}"),
        }
    }
}

/// One entry; a field left out takes the single configuration's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Which sources it applies to.
    pub source: Selector,
    /// The script's key in the stack's bucket, with its pin.
    pub script: Option<(String, Sha256Pin)>,
    /// The database the script runs in.
    pub database: Option<String>,
    /// Prefix of the kept snapshots' ids.
    pub prefix: Option<String>,
    /// Key of the re-encrypting copy.
    pub kms_key: Option<String>,
}

/// The settings a run uses, resolved by `validate` and carried in its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// What they came from: `SnapshotSourceId`, or the mapping entry's source.
    pub mapping: String,
    /// The script, `s3://bucket/key`.
    pub script_uri: String,
    /// Its pinned SHA-256.
    pub script_sha256: String,
    /// The database the script runs in.
    pub database: String,
    /// Prefix of the kept snapshots' ids.
    pub prefix: String,
    /// Key of the re-encrypting copy, when re-encrypting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    source: String,
    script_key: Option<String>,
    script_sha256: Option<String>,
    database: Option<String>,
    prefix: Option<String>,
    kms_key_arn: Option<String>,
}

/// Whether two key references name the same key (ARNs or bare ids, by key id).
pub fn same_key(a: &str, b: &str) -> bool {
    fn id(k: &str) -> &str {
        k.rsplit_once(":key/").map_or(k, |(_, id)| id)
    }
    id(a).eq_ignore_ascii_case(id(b))
}

fn selector(text: &str) -> Result<Selector, String> {
    if let Some(tag) = text.strip_prefix("tag:") {
        return match tag.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok(Selector::Tag {
                key: key.to_owned(),
                value: value.to_owned(),
            }),
            _ => Err("expected tag:<key>=<value>".into()),
        };
    }
    sluice_snapshots::ids::validate(sluice_snapshots::ids::IdKind::Instance, text)
        .map_err(|e| format!("not an instance or cluster id, nor tag:<key>=<value>: {e}"))?;
    Ok(Selector::Id(text.to_owned()))
}

/// Parses `SOURCE_MAPPINGS` (empty: no mapping). `mapped_ids` and `mapped_keys` are what the
/// template grants (`MAPPED_SOURCE_IDS`, `MAPPED_KMS_KEY_ARNS`); `default_key` is `KMS_KEY_ARN`.
/// Every error names the entry (by position and source) and the field.
pub fn parse(
    text: &str,
    mapped_ids: &[String],
    mapped_keys: &[String],
    default_key: Option<&str>,
) -> Result<Vec<Mapping>, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let shown = |why: String| ConfigError::invalid(VAR, "(see the reason)", why);
    let entries: Vec<Entry> = serde_json::from_str(text).map_err(|e| {
        shown(format!(
            "expected a JSON list of {{\"source\", \"scriptKey\", \"scriptSha256\", \
             \"database\", \"prefix\", \"kmsKeyArn\"}}: {e}"
        ))
    })?;
    let mut out: Vec<Mapping> = Vec::with_capacity(entries.len());
    for (n, e) in entries.into_iter().enumerate() {
        let at = |field: &str, why: &str| {
            shown(format!(
                "entry {} (source {:?}), field {field}: {why}",
                n + 1,
                e.source
            ))
        };
        let source = selector(&e.source).map_err(|why| at("source", &why))?;
        if out.iter().any(|m| m.source == source) {
            return Err(at("source", "mapped twice"));
        }
        if let Selector::Id(id) = &source
            && !mapped_ids.contains(id)
        {
            return Err(at(
                "source",
                "not in SnapshotMappedSourceIds (MAPPED_SOURCE_IDS): the stack's role may not \
                 reach it; add it there",
            ));
        }
        let script = match (e.script_key.as_deref(), e.script_sha256.as_deref()) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(at(
                    "scriptSha256",
                    "required with scriptKey: every script is pinned by its SHA-256",
                ));
            }
            (None, Some(_)) => {
                return Err(at("scriptKey", "required with scriptSha256"));
            }
            (Some(key), Some(pin)) => {
                if !key.starts_with(MAPPED_SCRIPT_PREFIX) || key.len() == MAPPED_SCRIPT_PREFIX.len()
                {
                    return Err(at(
                        "scriptKey",
                        &format!(
                            "expected a key under {MAPPED_SCRIPT_PREFIX} in the stack's bucket \
                             (the function and the task may read only there)"
                        ),
                    ));
                }
                let pin: Sha256Pin = pin.parse().map_err(|_| {
                    at(
                        "scriptSha256",
                        "expected 64 hex digits, as sha256sum prints them",
                    )
                })?;
                Some((key.to_owned(), pin))
            }
        };
        if let Some(key) = &e.kms_key_arn {
            let mut granted = mapped_keys.iter().map(String::as_str).chain(default_key);
            if !granted.any(|k| same_key(k, key)) {
                return Err(at(
                    "kmsKeyArn",
                    "not in SnapshotMappedKmsKeyArns (MAPPED_KMS_KEY_ARNS) nor \
                     SnapshotKmsKeyArn: RDS may not be granted its use; add it there",
                ));
            }
        }
        if let (Selector::Id(id), Some(prefix)) = (&source, &e.prefix)
            && !prefix.starts_with(&format!("{id}-"))
        {
            return Err(at(
                "prefix",
                &format!("expected {id}-… (the role names kept snapshots <source id>-* only)"),
            ));
        }
        if e.database.as_deref() == Some("") || e.prefix.as_deref() == Some("") {
            return Err(at("database/prefix", "empty: leave the field out instead"));
        }
        out.push(Mapping {
            source,
            script,
            database: e.database,
            prefix: e.prefix,
            kms_key: e.kms_key_arn,
        });
    }
    Ok(out)
}

/// The sources of `SOURCE_MAPPINGS`' entries only (backup actions decide with them whether a
/// recovery point has settings; the sanitized-snapshot function checks the rest).
pub fn selectors(text: &str) -> Result<Vec<Selector>, ConfigError> {
    #[derive(Deserialize)]
    struct Source {
        source: String,
    }
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<Source> = serde_json::from_str(text).map_err(|e| {
        ConfigError::invalid(
            VAR,
            "(see the reason)",
            format!("expected a JSON list of {{\"source\", …}}: {e}"),
        )
    })?;
    entries
        .iter()
        .enumerate()
        .map(|(n, e)| {
            selector(&e.source).map_err(|why| {
                ConfigError::invalid(
                    VAR,
                    "(see the reason)",
                    format!(
                        "entry {} (source {:?}), field source: {why}",
                        n + 1,
                        e.source
                    ),
                )
            })
        })
        .collect()
}

/// The entry that applies to source `id` with `tags`: an id match first, then the first tag
/// match; `None` when none does.
pub fn find<'a>(
    mappings: &'a [Mapping],
    id: &str,
    tags: &[(String, String)],
) -> Option<&'a Mapping> {
    mappings
        .iter()
        .find(|m| m.source == Selector::Id(id.to_owned()))
        .or_else(|| {
            mappings.iter().find(|m| match &m.source {
                Selector::Tag { key, value } => tags.iter().any(|(k, v)| k == key && v == value),
                Selector::Id(_) => false,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn ids() -> Vec<String> {
        vec!["orders".into(), "ledger".into()]
    }

    fn parse_ok(text: &str) -> Vec<Mapping> {
        parse(text, &ids(), &[KEY.to_owned()], None).expect("mapping")
    }

    fn parse_err(text: &str) -> String {
        parse(text, &ids(), &[KEY.to_owned()], None)
            .expect_err(text)
            .to_string()
    }

    #[test]
    fn given_no_mapping_then_empty() {
        assert!(parse_ok("").is_empty());
        assert!(parse_ok("  ").is_empty());
        assert!(parse_ok("[]").is_empty());
    }

    #[test]
    fn given_id_and_tag_entries_then_every_field_is_read() {
        let m = parse_ok(&format!(
            r#"[{{"source":"orders","scriptKey":"sanitize-scripts/orders.sql","scriptSha256":"{PIN}",
                "database":"shop","prefix":"orders-dev","kmsKeyArn":"{KEY}"}},
               {{"source":"tag:sluice-sanitize=payments"}}]"#
        ));
        assert_eq!(m[0].source, Selector::Id("orders".into()));
        let (key, pin) = m[0].script.clone().expect("script");
        assert_eq!(key, "sanitize-scripts/orders.sql");
        assert_eq!(pin.to_string(), PIN);
        assert_eq!(m[0].database.as_deref(), Some("shop"));
        assert_eq!(m[0].prefix.as_deref(), Some("orders-dev"));
        assert_eq!(m[0].kms_key.as_deref(), Some(KEY));
        assert_eq!(
            m[1].source,
            Selector::Tag {
                key: "sluice-sanitize".into(),
                value: "payments".into()
            }
        );
        assert_eq!(m[1].script, None);
    }

    #[test]
    fn given_a_bad_entry_then_the_error_names_the_entry_and_the_field() {
        let cases = [
            (
                r#"[{"source":"orders"},{"source":"orders"}]"#.to_owned(),
                "entry 2",
                "source",
            ),
            (r#"[{"source":"billing"}]"#.to_owned(), "entry 1", "MAPPED_SOURCE_IDS"),
            (r#"[{"source":"tag:=x"}]"#.to_owned(), "entry 1", "tag:<key>=<value>"),
            (
                r#"[{"source":"orders","scriptKey":"sanitize-scripts/o.sql"}]"#.to_owned(),
                "entry 1",
                "scriptSha256",
            ),
            (
                format!(r#"[{{"source":"orders","scriptSha256":"{PIN}"}}]"#),
                "entry 1",
                "scriptKey",
            ),
            (
                format!(r#"[{{"source":"orders","scriptKey":"other/o.sql","scriptSha256":"{PIN}"}}]"#),
                "entry 1",
                "sanitize-scripts/",
            ),
            (
                r#"[{"source":"orders","scriptKey":"sanitize-scripts/o.sql","scriptSha256":"abc"}]"#
                    .to_owned(),
                "entry 1",
                "64 hex digits",
            ),
            (
                r#"[{"source":"orders","kmsKeyArn":"arn:aws:kms:us-east-1:1:key/other"}]"#.to_owned(),
                "entry 1",
                "kmsKeyArn",
            ),
            (
                r#"[{"source":"orders","prefix":"dev-orders"}]"#.to_owned(),
                "entry 1",
                "prefix",
            ),
            (
                r#"[{"source":"orders","script":"x"}]"#.to_owned(),
                VAR,
                "unknown field",
            ),
            (r#"{"source":"orders"}"#.to_owned(), VAR, "JSON list"),
        ];
        for (text, entry, field) in cases {
            let err = parse_err(&text);
            assert!(
                err.contains(VAR) && err.contains(entry) && err.contains(field),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn given_the_stacks_own_key_then_a_mapping_may_name_it_by_bare_id() {
        let own = "arn:aws:kms:us-east-1:1:key/own";
        let m = parse(
            r#"[{"source":"orders","kmsKeyArn":"OWN"}]"#,
            &ids(),
            &[],
            Some(own),
        )
        .expect("own key");
        assert_eq!(m[0].kms_key.as_deref(), Some("OWN"));
    }

    #[test]
    fn given_id_and_tag_matches_then_the_id_wins_and_tags_pick_the_first_match() {
        let m = parse_ok(
            r#"[{"source":"tag:team=payments","database":"by-tag"},
                {"source":"tag:team=ledger","database":"by-second-tag"},
                {"source":"orders","database":"by-id"}]"#,
        );
        let tags = |v: &str| vec![("team".to_owned(), v.to_owned())];
        assert_eq!(
            find(&m, "orders", &tags("payments")).and_then(|m| m.database.as_deref()),
            Some("by-id")
        );
        assert_eq!(
            find(&m, "ledger", &tags("ledger")).and_then(|m| m.database.as_deref()),
            Some("by-second-tag")
        );
        assert_eq!(find(&m, "ledger", &tags("other")), None);
        assert_eq!(find(&m, "billing", &[]), None);
    }
}
