//! View unit tests.
