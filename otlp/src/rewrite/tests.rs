//! Rewrite unit tests.
