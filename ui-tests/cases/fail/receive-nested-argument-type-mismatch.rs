use paragram::Process;

#[derive(Process)]
struct Greeter;

#[paragram::process]
impl Greeter {
    #[receive("point", (i32, |y: f64| y > 0.0))]
    fn point(&mut self, _x: i32, _y: f32) {}
}

fn main() {}
