//! Fuzzes the OS-process frame decoder: any bytes on the pipe must end in
//! frames or an error, never a panic, an abort or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    paragram::os_process::fuzz_decode(data);
});
