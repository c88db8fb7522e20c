//! Leaf adapters: the ports implemented over real protocols.

pub mod reqwest_http;
