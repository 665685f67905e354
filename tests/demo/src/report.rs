//! The demo's report: one section per scenario, printed for a person to read.

use std::fmt::Display;

/// One scenario's findings.
pub struct Section {
    title: String,
    lines: Vec<String>,
}

impl Section {
    /// Adds a line.
    pub fn line(&mut self, text: impl Display) -> &mut Self {
        self.lines.push(text.to_string());
        self
    }
}

/// All sections, in the order the scenarios ran.
#[derive(Default)]
pub struct Report {
    sections: Vec<Section>,
}

impl Report {
    /// Starts a new section and returns it.
    pub fn section(&mut self, title: impl Into<String>) -> &mut Section {
        self.sections.push(Section {
            title: title.into(),
            lines: Vec::new(),
        });
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            out.push_str(&format!("\n== {} ==\n", s.title));
            for l in &s.lines {
                out.push_str("  ");
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}
