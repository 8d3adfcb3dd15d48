//! Everything `loadgen` prints or writes about results. Reports only read
//! measurements; they never feed back into a run.

pub mod json;
pub mod markdown;
pub mod plot;
pub mod summary;
pub mod table;
