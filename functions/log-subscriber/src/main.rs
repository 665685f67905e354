//! CloudWatch Logs export: log-subscriber (being built; see issue 4).

fn main() {}
