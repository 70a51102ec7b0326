//! Harness for end-to-end tests: free ports, child processes, the real Envoy.
