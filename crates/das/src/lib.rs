//! Database Activity Stream records: decrypt pipeline, event model, filters and routing.
