use paragram::term;

struct NotATerm;

fn main() {
    let _ = term!(("ok", [1, NotATerm]));
}
