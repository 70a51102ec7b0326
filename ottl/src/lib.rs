//! OTTL conditions for trace data.
