//! Ingest: walk videos and screenshots, read metadata sidecars, extract keyframes, embed, score values, upsert.
