//! The `GET /tickets` (and `GET /knowledge-base/search`) query string: extractor, filters and
//! paging for a customer and an agent (see `api::tickets::fuzz_ticket_query`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| alphintra_support::api::tickets::fuzz_ticket_query(data));
