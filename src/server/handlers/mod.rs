//! Route handlers: thin functions that check auth, parse, and call the library.

pub mod health;
pub mod models;
pub mod score;
