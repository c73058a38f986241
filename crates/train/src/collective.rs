//! Training on several processes at once (synchronous data parallelism): the collective
//! operation the trainer needs from them, as a trait, so the trainer does not depend on MPI.
//! The `mpi` feature implements it over MPI ([`crate::mpi`]).

use std::any::TypeId;

use batchprop::Float;

/// The processes of a synchronous data-parallel run, as the trainer sees them: each process
/// runs the same [`crate::Trainer::fit_distributed`] on the same data, from the same seed
/// and the same initial network, and takes its share of every mini-batch. Every process
/// must make the same calls in the same order (collectives are matched by order).
pub trait Collective {
    /// This process's rank, in `0..size()`.
    fn rank(&self) -> usize;

    /// The number of processes, `P ≥ 1`.
    fn size(&self) -> usize;

    /// Replaces `values` on every process by their elementwise sum over all processes (an
    /// all-reduce), in the same order on every process, so that every process gets the
    /// same bits.
    fn sum_f32(&self, values: &mut [f32]);

    /// [`Collective::sum_f32`] for `f64`.
    fn sum_f64(&self, values: &mut [f64]);
}

/// [`Collective::sum_f32`] or [`Collective::sum_f64`], as `F` is.
pub(crate) fn sum<F: Float + 'static>(collective: &dyn Collective, values: &mut [F]) {
    let (data, len) = (values.as_mut_ptr(), values.len());
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        // SAFETY: `F` is `f32`, so the slice is one of `f32`.
        collective.sum_f32(unsafe { std::slice::from_raw_parts_mut(data.cast::<f32>(), len) })
    } else {
        // SAFETY: `Float` is sealed to `f32` and `f64`; `F` is not `f32`.
        collective.sum_f64(unsafe { std::slice::from_raw_parts_mut(data.cast::<f64>(), len) })
    }
}

/// One process: the sum is the values themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct OneProcess;

impl Collective for OneProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn sum_f32(&self, _values: &mut [f32]) {}

    fn sum_f64(&self, _values: &mut [f64]) {}
}
