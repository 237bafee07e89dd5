"""Search: full text (SQLite FTS5 / PostgreSQL tsvector) and embeddings over stories and articles."""
