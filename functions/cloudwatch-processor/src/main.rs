//! CloudWatch Logs export: cloudwatch-processor (being built; see issue 4).

fn main() {}
