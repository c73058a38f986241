//! The [`Collective`] over MPI (Open MPI, MPICH), through the `mpi` crate (rsmpi): feature
//! `mpi`. Each process of an `mpirun -np P …` job makes an [`Mpi`] and passes it to
//! [`crate::Trainer::fit_distributed`].

use std::cell::RefCell;

use mpi::{
    Threading,
    collective::{CommunicatorCollectives, SystemOperation},
    datatype::Equivalence,
    environment::Universe,
    topology::{Communicator, SimpleCommunicator},
};

use crate::Collective;

/// This process's place in the MPI job (`MPI_COMM_WORLD`). MPI ends (`MPI_Finalize`) when it
/// is dropped.
pub struct Mpi {
    world: SimpleCommunicator,
    // The all-reduce's receive buffers, grown to the largest call and kept: rsmpi has no
    // MPI_IN_PLACE, so each sum lands here and is copied back (a memcpy of the gradient).
    sums_f32: RefCell<Vec<f32>>,
    sums_f64: RefCell<Vec<f64>>,
    _universe: Universe,
}

impl Mpi {
    /// Starts MPI in this process (once; `None` if it already was), for calls from the one
    /// thread that makes it (`MPI_THREAD_FUNNELED`: the engine's own threads never call MPI).
    /// Run alone, outside `mpirun`, the process is a job of one.
    pub fn init() -> Option<Self> {
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)?;
        Some(Mpi {
            world: universe.world(),
            sums_f32: RefCell::default(),
            sums_f64: RefCell::default(),
            _universe: universe,
        })
    }

    /// Ends every process of the job with `code` (`MPI_Abort`): what a process that fails
    /// must do, so that the others do not wait for it in the next all-reduce.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// All-reduces `values` with `MPI_SUM` into `sums`, then copies the sums back.
    fn sum<T: Equivalence + Copy + Default>(&self, values: &mut [T], sums: &RefCell<Vec<T>>) {
        let mut sums = sums.borrow_mut();
        if sums.len() < values.len() {
            sums.resize(values.len(), T::default());
        }
        let sums = &mut sums[..values.len()];
        self.world.all_reduce_into(&values[..], sums, SystemOperation::sum());
        values.copy_from_slice(sums);
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn sum_f32(&self, values: &mut [f32]) {
        self.sum(values, &self.sums_f32)
    }

    fn sum_f64(&self, values: &mut [f64]) {
        self.sum(values, &self.sums_f64)
    }
}
