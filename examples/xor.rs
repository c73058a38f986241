//! The first example: a network learns XOR through the trainer, in a dozen lines.
//!
//! ```sh
//! cargo run --release --example xor
//! ```
//!
//! Four examples, one per column of `X`; a `[2, 8, 2]` network (tanh hidden layer, softmax
//! output, log-likelihood cost) trained on all four at once for 300 epochs, then asked for
//! its answers.

use batchprop::{Activation, Cost, Init, Network, argmax};
use batchprop_train::{Examples, Settings, Trainer};
use ndarray::array;

fn main() -> Result<(), batchprop_train::Error> {
    let x = array![[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]]; // (2 × 4): one example per column
    let xor = Examples::classes(x.view(), &[0, 1, 1, 0], 2)?;
    let mut trainer = Trainer::new(Settings::book().epochs(300).batch_size(4).eta(0.5).seed(1))?;
    let mut net = Network::<f64>::builder(&[2, 8, 2])
        .hidden(Activation::Tanh)
        .output(Activation::Softmax)
        .cost(Cost::LogLikelihood)
        .init(Init::Scaled)
        .build(trainer.rng())?;
    trainer.fit(&mut net, &xor, Some(&xor), &mut ())?;

    let out = net.feedforward(x.view())?; // A^L: (2 × 4), each column a distribution
    for (input, column) in x.columns().into_iter().zip(out.columns()) {
        batchprop_examples::outln!("{} xor {} = {}", input[0], input[1], argmax(column));
    }
    let last = trainer.history().last().expect("300 epochs");
    batchprop_examples::outln!("cost {:.4} after {} epochs", last.running_cost, trainer.history().len());
    Ok(())
}
