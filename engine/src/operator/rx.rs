//! `@rx`. STUB.
use super::OpMatch;
#[derive(Clone, Debug)]
pub struct Rx;
impl Rx {
    pub fn new(pattern: &str) -> Result<Rx, String> {
        let _ = pattern;
        Ok(Rx)
    }
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        let _ = value;
        None
    }
}
