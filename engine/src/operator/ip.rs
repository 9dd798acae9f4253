//! `@ipMatch`. STUB.
use super::OpMatch;
#[derive(Clone, Debug)]
pub struct IpSet;
impl IpSet {
    pub fn parse(list: &[String]) -> Result<IpSet, String> {
        let _ = list;
        Ok(IpSet)
    }
    pub fn find(&self, value: &[u8]) -> Option<OpMatch> {
        let _ = value;
        None
    }
}
