//! Workspace-level tests live beside this file; see the `[[test]]` targets.
