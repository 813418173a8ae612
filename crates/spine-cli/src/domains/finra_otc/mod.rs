//! FINRA OTC Transparency weekly data (`finra.otc_transparency`).

pub mod calcs;
pub mod generate;
pub mod parse;
