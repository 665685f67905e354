//! Firehose transformation for Database Activity Streams (being built; see issue 3).

fn main() {}
