//! Observers: code that runs between the trainer's steps without being part of the loop
//! (progress bars, log lines, checkpoints, a user's own stopping rule).

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use batchprop::{Float, Network};

use crate::{Epoch, Result, Trainer, Warning};

/// Whether the run goes on after a mini-batch or an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on to the next mini-batch or epoch.
    Continue,
    /// End the run here. After an epoch, its record and any checkpoint are kept; after a
    /// mini-batch, [`Trainer::fit`] returns [`Finish::Interrupted`](crate::Finish::Interrupted)
    /// and [`Trainer::save_checkpoint`] saves the run in the middle of its epoch.
    Stop,
}

/// What an observer sees at the end of an epoch.
pub struct EpochEnd<'a, F: Float> {
    /// The epoch's record, also the last entry of [`Trainer::history`].
    pub record: &'a Epoch,
    /// The network after the epoch's updates.
    pub network: &'a Network<F>,
    /// The run, with its state after this epoch (what [`Trainer::save_checkpoint`] saves).
    pub trainer: &'a Trainer<F>,
    /// Whether the run ends after this epoch: the last epoch, or a policy (early stopping,
    /// the η schedule) ends it here.
    pub last: bool,
}

/// Hooks into a training run; every method defaults to doing nothing.
///
/// ```
/// use batchprop::Float;
/// use batchprop_train::{Control, EpochEnd, Observer};
///
/// /// Stops once the evaluation accuracy reaches a target.
/// struct Target(f64);
///
/// impl<F: Float> Observer<F> for Target {
///     fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> batchprop_train::Result<Control> {
///         let reached = end.record.evaluation.as_ref().and_then(|m| m.accuracy()) >= Some(self.0);
///         Ok(if reached { Control::Stop } else { Control::Continue })
///     }
/// }
/// ```
pub trait Observer<F: Float> {
    /// An epoch of `batches` mini-batches starts.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}

    /// Mini-batch `batch` of `epoch` is done (called between steps: keep it cheap).
    /// [`Control::Stop`] interrupts the run before the next step.
    fn batch_end(&mut self, _epoch: usize, _batch: usize) -> Control {
        Control::Continue
    }

    /// An epoch is done and evaluated.
    fn epoch_end(&mut self, _end: &EpochEnd<'_, F>) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// The run has something to say that does not stop it (once per kind).
    fn warning(&mut self, _warning: &Warning) {}
}

/// The observer that observes nothing.
impl<F: Float> Observer<F> for () {}

/// An observer lent to the run.
impl<F: Float, O: Observer<F> + ?Sized> Observer<F> for &mut O {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        (**self).epoch_start(epoch, batches);
    }

    fn batch_end(&mut self, epoch: usize, batch: usize) -> Control {
        (**self).batch_end(epoch, batch)
    }

    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> Result<Control> {
        (**self).epoch_end(end)
    }

    fn warning(&mut self, warning: &Warning) {
        (**self).warning(warning);
    }
}

/// Two observers, called in order; the run stops if either says so.
impl<F: Float, A: Observer<F>, B: Observer<F>> Observer<F> for (A, B) {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        self.0.epoch_start(epoch, batches);
        self.1.epoch_start(epoch, batches);
    }

    fn batch_end(&mut self, epoch: usize, batch: usize) -> Control {
        let (a, b) = (self.0.batch_end(epoch, batch), self.1.batch_end(epoch, batch));
        either(a, b)
    }

    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> Result<Control> {
        let (a, b) = (self.0.epoch_end(end)?, self.1.epoch_end(end)?);
        Ok(either(a, b))
    }

    fn warning(&mut self, warning: &Warning) {
        self.0.warning(warning);
        self.1.warning(warning);
    }
}

/// Stop if either says so.
fn either(a: Control, b: Control) -> Control {
    if a == Control::Stop || b == Control::Stop {
        Control::Stop
    } else {
        Control::Continue
    }
}

/// Interrupts the run at the next mini-batch boundary once its flag is set: what a signal
/// handler (Ctrl-C) or another thread sets. The library installs no handler itself.
///
/// ```
/// use std::sync::{Arc, atomic::AtomicBool};
/// use batchprop_train::StopFlag;
///
/// let stop = Arc::new(AtomicBool::new(false));
/// let observer = StopFlag(Arc::clone(&stop));
/// // e.g. signal_hook::flag::register(SIGINT, stop), then trainer.fit(…, &mut observer)
/// # let _ = observer;
/// ```
#[derive(Clone, Debug, Default)]
pub struct StopFlag(pub Arc<AtomicBool>);

impl<F: Float> Observer<F> for StopFlag {
    fn batch_end(&mut self, _epoch: usize, _batch: usize) -> Control {
        if self.0.load(Ordering::Relaxed) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// Saves a checkpoint (the network and the run's state, atomically) to `path` after every
/// `every` epochs and after the run's last epoch, so that a killed run loses at most
/// `every` epochs; [`Trainer::resume`] continues it with the same bits.
#[derive(Clone, Debug)]
pub struct Checkpointer {
    /// The checkpoint file, replaced atomically at each save.
    pub path: PathBuf,
    /// Epochs between checkpoints; 0 saves only after the last epoch.
    pub every: usize,
}

impl<F: Float> Observer<F> for Checkpointer {
    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> Result<Control> {
        let done = end.record.epoch + 1;
        if end.last || (self.every > 0 && done.is_multiple_of(self.every)) {
            end.trainer.save_checkpoint(end.network, &self.path)?;
        }
        Ok(Control::Continue)
    }
}
