#[paragram::test(Echo)]
async fn takes_what_a_test_cannot(_n: u32) {}

fn main() {}
