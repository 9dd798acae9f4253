//! `application/x-www-form-urlencoded` bodies: the same parser as the query
//! string, bounded by `max_args`.

use super::{Body, BodyFlag, BodyLimits, Processor};
use crate::request::query;

pub fn parse(body: &mut Body, limits: &BodyLimits) {
    body.processor = Processor::UrlEncoded;
    let (args, over) = query::parse_limited(&body.raw, limits.max_args);
    body.args = args;
    if over {
        body.flags.push(BodyFlag::ArgsLimitExceeded);
    }
}
