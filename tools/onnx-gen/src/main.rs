// Generates crates/core/src/onnx/onnx.rs from onnx.proto with prost-build (protox parses the
// schema, so no protoc is needed).
fn main() {
    let mut args = std::env::args().skip(1);
    let (proto, out) = (args.next().expect("onnx.proto"), args.next().expect("out dir"));
    let dir = std::path::Path::new(&proto).parent().unwrap().to_path_buf();
    let fds = protox::compile([&proto], [&dir]).expect("onnx.proto compiles");
    prost_build::Config::new().out_dir(&out).compile_fds(fds).expect("generated");
}
