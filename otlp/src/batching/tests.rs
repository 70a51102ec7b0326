//! split/concat unit tests.
