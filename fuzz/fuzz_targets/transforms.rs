//! Every transform on arbitrary bytes: the first byte picks the transform,
//! the rest is the value. Checks the output stays within the transform's
//! stated bound (`Transform::max_output_len`), alone and chained twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_engine::transform::{apply_chain, Transform};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    let t = Transform::ALL[usize::from(pick) % Transform::ALL.len()];
    let once = t.apply(input);
    assert!(
        once.len() <= t.max_output_len(input.len()),
        "{}: {} bytes in, {} out",
        t.name(),
        input.len(),
        once.len()
    );
    let twice = apply_chain(&[t, t], input);
    assert!(twice.len() <= t.max_output_len(t.max_output_len(input.len())));
    // The chain must agree with applying the steps one by one.
    assert_eq!(twice.as_ref(), t.apply(&once).as_ref());
});
