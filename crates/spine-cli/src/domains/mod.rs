//! Domain code, one module per domain, each with the same shape:
//! source → parse/validate → normalize → calcs.

pub mod exchange_calendar;
pub mod finra_otc;
pub mod source;
