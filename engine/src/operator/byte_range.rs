//! `@validateByteRange`. STUB.
use super::OpMatch;
#[derive(Clone, Debug)]
pub struct ByteRanges;
impl ByteRanges {
    pub fn parse(spec: &str) -> Result<ByteRanges, String> {
        let _ = spec;
        Ok(ByteRanges)
    }
    pub fn find_outside(&self, value: &[u8]) -> Option<OpMatch> {
        let _ = value;
        None
    }
}
