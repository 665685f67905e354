//! The Query-API side: form parsing, the file listing, and the XML RDS answers with.
//! Shapes: <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBLogFiles.html>

use std::path::Path;
use std::time::UNIX_EPOCH;

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub last_written: u64,
}

/// Every file under `dir`, names relative with `/`, sorted.
pub fn list(dir: &Path) -> Vec<Listed> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Listed>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                walk(root, &path, out);
                continue;
            }
            let name = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let last_written = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            out.push(Listed {
                name,
                size: meta.len(),
                last_written,
            });
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Escapes text for XML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `DescribeDBLogFiles` answer for one page.
pub fn describe_xml(files: &[Listed], marker: Option<&str>) -> String {
    let mut xml = String::from(
        "<DescribeDBLogFilesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
         <DescribeDBLogFilesResult><DescribeDBLogFiles>",
    );
    for f in files {
        xml.push_str(&format!(
            "<DescribeDBLogFilesDetails><LastWritten>{}</LastWritten><LogFileName>{}</LogFileName>\
             <Size>{}</Size></DescribeDBLogFilesDetails>",
            f.last_written,
            escape(&f.name),
            f.size
        ));
    }
    xml.push_str("</DescribeDBLogFiles>");
    if let Some(m) = marker {
        xml.push_str(&format!("<Marker>{}</Marker>", escape(m)));
    }
    xml.push_str(
        "</DescribeDBLogFilesResult><ResponseMetadata><RequestId>testbed</RequestId>\
         </ResponseMetadata></DescribeDBLogFilesResponse>",
    );
    xml
}

/// An RDS Query error body.
pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>\
         <Code>{}</Code><Message>{}</Message></Error><RequestId>testbed</RequestId></ErrorResponse>",
        escape(code),
        escape(message)
    )
}
