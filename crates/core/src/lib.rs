//! # batchprop: backpropagation for a whole mini-batch at once
//!
//! Chapter 2 of Michael Nielsen's *Neural Networks and Deep Learning* derives
//! backpropagation (BP1–BP4) for one training example and ends with a problem: stack the `m`
//! examples of a mini-batch as the columns of one matrix `X = [x_1 … x_m]` and propagate them
//! all at once, with matrix–matrix products. This crate is that engine, with the book's
//! per-example loop kept beside it as its oracle.
//!
//! ## The data contract
//!
//! Columns are examples. For a network with layer sizes `[n_0, n_1, …, n_L]` (input layer
//! 0, output layer `L`) and a mini-batch of `m` examples:
//!
//! | symbol | shape | memory order | where |
//! |---|---|---|---|
//! | `X = A^0` | `(n_0 × m)` | any (unit stride is fastest) | the caller's |
//! | `Y` | `(n_L × m)` | any | the caller's |
//! | `W^l` | `(n_l × n_{l-1})` | row-major | `Network::weights()[l-1]` |
//! | `b^l` | `(n_l)`, broadcast over columns | contiguous | `Network::biases()[l-1]` |
//! | `Z^l, A^l, Δ^l` | `(n_l × m)` | column-major | [`Workspace`], allocated once |
//!
//! `W^l` is row-major as the book writes it (`w^l_{jk}` in row `j`), and as the saved JSON
//! stores it. The batch buffers are column-major so that the first `m` columns of a buffer
//! sized for the largest batch are one contiguous block, and each example is contiguous. A
//! batch of images stored one per row (`(m × n_0)`, row-major) is passed as its transposed
//! view, which is exactly a column-major `(n_0 × m)` matrix: no copy.
//!
//! ## The equations and where they live
//!
//! | | equation | code |
//! |---|---|---|
//! | forward | `Z^l = W^l A^{l-1} + b^l 1ᵀ`, `A^l = σ(Z^l)` | [`Network::forward`] |
//! | BP1 | `Δ^L = ∇_a C ⊙ σ'(Z^L)` | [`Cost::delta`] |
//! | BP2 | `Δ^l = ((W^{l+1})ᵀ Δ^{l+1}) ⊙ σ'(Z^l)` | [`Network::backprop`], [`Activation::backward`] |
//! | BP3 | `∂C/∂b^l = (1/m) Δ^l 1` | [`Network::backprop`] |
//! | BP4 | `∂C/∂W^l = (1/m) Δ^l (A^{l-1})ᵀ` | [`Network::backprop`] |
//! | SGD | `W^l ← (1 − ηλ/n) W^l − (η/m) Δ^l (A^{l-1})ᵀ` as one GEMM | [`Network::sgd_step`]; unfused: [`Network::backprop`], then [`Sgd::apply`] |
//! | eq. 46 | `∂C/∂p ≈ (C(p + ε) − C(p)) / ε` | [`numerical_gradient`] |
//! | eq. 46, central | `∂C/∂p ≈ (C(p + ε) − C(p − ε)) / 2ε` | [`gradient_check`] |
//!
//! The parameters `[W^1, b^1, …, W^L, b^L]` live in one 64-byte-aligned buffer
//! ([`Network::parameters`]); [`Network::weights`] and [`Network::biases`] are views into it,
//! and [`Gradients`] are laid out the same way.
//!
//! Training loops (epochs, shuffles, evaluation, early stopping, checkpoints) live in the
//! `batchprop-train` crate; this one is the step.
//!
//! ## Example
//!
//! ```
//! use batchprop::{Network, Sgd};
//! use ndarray::array;
//! use rand::{SeedableRng, rngs::ChaCha8Rng};
//!
//! // XOR, one example per column.
//! let x = array![[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]];
//! let y = array![[0.0, 1.0, 1.0, 0.0]];
//! let labels = [0u32, 1, 1, 0];
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(1);
//! let mut net = Network::<f64>::new(&[2, 4, 1], &mut rng)?;
//! let mut ws = net.workspace(4);
//! let sgd = Sgd::new(3.0)?;
//! for _ in 0..2000 {
//!     net.sgd_step(x.view(), y.view(), &sgd, &mut ws)?;
//! }
//! let out = net.forward(x.view(), &mut ws)?;
//! let predicted: Vec<u32> = out.iter().map(|&a| u32::from(a > 0.5)).collect();
//! assert_eq!(predicted, labels);
//! # Ok::<(), batchprop::Error>(())
//! ```

// The `openblas-system` feature links OpenBLAS into every binary that uses this crate.
#[cfg(feature = "openblas-system")]
extern crate blas_src as _;

mod activation;
mod aligned;
pub mod atomic;
mod batched;
mod cost;
mod dropout;
mod error;
mod float;
pub mod gemm;
mod gradient_check;
pub mod interop;
mod layers;
mod network;
pub mod onnx;
mod optimizer;
mod per_example;
mod save;
pub mod team;
mod update;

pub use activation::{Activation, DEFAULT_LEAKY_SLOPE, Elementwise, sigmoid};
pub use aligned::{ALIGN, AlignedMatrix};
pub use atomic::{check_writable, write_atomically};
pub use batched::Workspace;
pub use cost::Cost;
pub use dropout::Dropout;
pub use error::{Error, Result};
pub use float::Float;
pub use gemm::{Backend, Isa};
pub use gradient_check::{GradientCheck, Parameter, gradient_check, numerical_gradient};
pub use interop::{Assumed, Format, Opened};
pub use network::{Gradients, Init, Network, NetworkBuilder, argmax, one_hot};
pub use optimizer::{Optimizer, OptimizerState, Rule, Share};
pub use per_example::PerExampleWorkspace;
pub use save::Metadata;
pub use update::Sgd;
