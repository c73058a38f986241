//! What the training tools share around a run: the signal handlers, checkpoints beside
//! `--save`, saving with a fallback, and resuming with `--epochs`/`--eta` applied.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize},
    },
};

use batchprop::Float;
use batchprop_train::{Finish, Trainer};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::{BoxError, Dtype, given};

/// The first SIGINT (Ctrl-C) or SIGTERM sets the returned flag, which the trainer checks
/// between mini-batches, and records the signal; a second one exits at once.
pub fn on_signals() -> Result<(Arc<AtomicBool>, Arc<AtomicUsize>), BoxError> {
    let (stop, which) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so that it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)?;
    }
    Ok((stop, which))
}

/// `NAME.checkpoint.json` beside `path`.
pub fn checkpoint_beside(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or(path.as_os_str()).to_string_lossy();
    path.with_file_name(format!("{stem}.checkpoint.json"))
}

/// Where a file that could not be saved at `path` goes instead: the system's temporary
/// directory, under a name of this process's own.
pub fn fallback_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map_or("network".into(), |s| s.to_string_lossy());
    std::env::temp_dir().join(format!("batchprop-{stem}-{}.json", std::process::id()))
}

/// Saves with `save` to `path`, or, if that fails, to [`fallback_path`]: the error then
/// names where the work went.
pub fn save_or_fallback(what: &str, path: &Path, save: impl Fn(&Path) -> Result<(), BoxError>) -> Result<(), BoxError> {
    let Err(e) = save(path) else {
        return Ok(());
    };
    let fallback = fallback_path(path);
    match save(&fallback) {
        Ok(()) => Err(format!(
            "could not save {what}: {e}; it is saved in {} instead",
            fallback.display()
        )
        .into()),
        Err(e2) => Err(format!("could not save {what}: {e}; nor in {}: {e2}", fallback.display()).into()),
    }
}

/// The precision to run in: the saved run's when resuming (its `dtype`), else `flag`.
pub fn run_dtype(resume: Option<&Path>, flag: Dtype) -> Result<Dtype, BoxError> {
    let Some(path) = resume else {
        return Ok(flag);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a saved network: {e}", path.display()))?;
    match json["dtype"].as_str() {
        Some("f64") => Ok(Dtype::F64),
        _ => Ok(Dtype::F32),
    }
}

/// Refuses, by name, any of the flags `fixed` (clap ids) given with `--resume path`: a run
/// goes on with the settings it was saved with.
pub fn refuse_when_resuming(matches: &clap::ArgMatches, fixed: &[&str], path: &Path) -> Result<(), BoxError> {
    match fixed.iter().find(|id| given(matches, id)) {
        Some(flag) => Err(format!(
            "--{} cannot change when resuming: the run in {} goes on with the settings it was saved with \
             (only --epochs and --eta can change mid-run); start a new run to change it",
            flag.replace('_', "-"),
            path.display()
        )
        .into()),
        None => Ok(()),
    }
}

/// Applies `--epochs` and `--eta` to the run resumed from `path` and says so; `false` (also
/// said) when the run is finished and there is nothing to train.
pub fn continue_run<F: Float>(
    trainer: &mut Trainer<F>,
    path: &Path,
    epochs: Option<usize>,
    eta: Option<f64>,
) -> Result<bool, BoxError> {
    let (done, total) = (trainer.epochs_done(), trainer.settings().epochs);
    if let Some(epochs) = epochs {
        trainer.set_epochs(epochs)?;
    }
    if let Some(eta) = eta.filter(|&eta| eta != trainer.eta()) {
        eprintln!("η is {eta} from epoch {done} on (it was {})", trainer.eta());
        trainer.set_eta(eta)?;
    }
    match trainer.finished() {
        Some(Finish::Completed) => {
            eprintln!(
                "The run in {} is finished: {done} of {} epochs done; nothing to train or save. Pass --epochs N \
                 (more than {done}) to train it further.",
                path.display(),
                trainer.settings().epochs
            );
            return Ok(false);
        }
        Some(how) => {
            eprintln!(
                "The run in {} is finished ({}); nothing to train or save.",
                path.display(),
                match how {
                    Finish::EarlyStopped { best_epoch } =>
                        format!("early stopping ended it, keeping epoch {best_epoch}"),
                    _ => "the η schedule ended it".into(),
                }
            );
            return Ok(false);
        }
        None => {}
    }
    eprintln!(
        "Resuming {} after epoch {done} of {total}{}, with its saved settings",
        path.display(),
        if total == trainer.settings().epochs {
            String::new()
        } else {
            format!(" (now of {})", trainer.settings().epochs)
        }
    );
    Ok(true)
}

/// The error `e` that ended a run, after keeping the run where it can be found when the
/// trained network is good and what failed was saving a checkpoint (a full disk, a directory
/// removed) or an observer: saved with `save` in the [`fallback_path`] of `checkpoint` (or
/// of `NAME.checkpoint.json`), which the message names.
pub fn keep_run(
    e: batchprop_train::Error,
    checkpoint: Option<&Path>,
    name: &str,
    save: impl Fn(&Path) -> Result<(), BoxError>,
) -> BoxError {
    use batchprop_train::Error;
    if !matches!(e, Error::Core(batchprop::Error::Io { .. }) | Error::Observer(_)) {
        return e.into();
    }
    let fallback = fallback_path(checkpoint.unwrap_or(Path::new(&format!("{name}.checkpoint.json"))));
    match save(&fallback) {
        Ok(()) => format!("{e}; the run is saved in {} (for --resume)", fallback.display()).into(),
        Err(e2) => format!("{e}; nor could the run be saved in {}: {e2}", fallback.display()).into(),
    }
}

/// Where an interrupted run stopped, for the message: `in epoch 17 after 3387 of 5000
/// mini-batches`, or `after epoch 4` when it stopped between epochs.
pub fn stopped_at<F: Float>(finish: &Finish, trainer: &Trainer<F>, batches_per_epoch: usize) -> String {
    match *finish {
        Finish::Interrupted { epoch, batches_done } => {
            format!("in epoch {epoch} after {batches_done} of {batches_per_epoch} mini-batches")
        }
        _ => format!("after epoch {}", trainer.epochs_done().saturating_sub(1)),
    }
}

/// Saves the interrupted run (`save`) to its checkpoint, if it has one, and says where it
/// is and how to continue it; the exit code is 128 + the signal.
pub fn report_interrupt(
    place: &str,
    checkpoint: Option<&Path>,
    signal: usize,
    save: impl Fn(&Path) -> Result<(), BoxError>,
) -> Result<std::process::ExitCode, BoxError> {
    match checkpoint {
        Some(path) => {
            save_or_fallback(&format!("the checkpoint to {}", path.display()), path, save)?;
            eprintln!(
                "Interrupted {place}: the run is saved in {p}; continue it with --resume {p}",
                p = path.display()
            );
        }
        None => eprintln!(
            "Interrupted {place}; nothing is saved (--save FILE or --checkpoint FILE keeps an interrupted run)"
        ),
    }
    Ok(std::process::ExitCode::from(128 + signal as u8))
}
