//! `@pm`. STUB.
use super::OpMatch;
#[derive(Clone, Debug)]
pub struct Pm;
impl Pm {
    pub fn new(phrases: &[String]) -> Result<Pm, String> {
        let _ = phrases;
        Ok(Pm)
    }
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        let _ = value;
        None
    }
}
