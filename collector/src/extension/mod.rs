//! Extensions: components outside the data path.

pub mod health_check;
