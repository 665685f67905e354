//! Holds the template, the state machines and the code to each other, and checks the
//! template's security defaults. cfn-lint and `sam validate --lint` run in `make test` too, and
//! checkov and cfn-guard in `make scan` (tests/scan/).

mod account_policy;
mod alarms;
mod cwl_stream;
mod dashboard;
mod dead_letters;
mod logs;
mod own_groups;
mod queries;
mod security;
mod structure;
mod support;
