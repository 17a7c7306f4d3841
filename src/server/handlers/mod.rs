//! Route handlers: thin functions that take the checked scope and the served model from
//! [`extract`], parse, and call the library.

pub mod extract;

pub mod health;
pub mod kserve;
pub mod models;
pub mod score;
