//! What the command-line tools share: argument parsing, the flags' enums and their mapping to
//! the library's, finding MNIST, and MNIST as the trainer's input. The training loop itself
//! is `batchprop-train`'s.

use std::path::{Path, PathBuf};

use batchprop::{Activation, Assumed, Cost, Float, Init, Network, Rule};
use batchprop_data::{Dataset, MNIST_FILES, mnist_file};
use batchprop_train::{Control, EpochEnd, Error, Examples, Observer};
use clap::ValueEnum;

mod run;
pub use run::{
    checkpoint_beside, continue_run, fallback_path, keep_run, on_signals, refuse_when_resuming, report_interrupt,
    run_dtype, save_or_fallback, stopped_at,
};

/// Any error a tool reports: printed as one message, never a panic.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `print!` for the tools' reports: a closed stdout (`mnist | head -3`) is not a panic, as
/// `print!`'s is, and does not stop a run (it goes on, saves what it was asked to and exits
/// as it would). Printing is the tools' report, never their work: a failed write is skipped.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_fmt(format_args!($($arg)*));
    }};
}

/// `println!` as [`out!`] writes: a closed stdout is neither a panic nor the end of a run.
#[macro_export]
macro_rules! outln {
    () => { $crate::out!("\n") };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_fmt(format_args!($($arg)*)).and_then(|()| stdout.write_all(b"\n"));
    }};
}

/// Parses the command line; on `--help` or `--version` prints them and exits 0, on a bad
/// flag prints one line and exits 2 (the `Err` is the exit code to return from `main`).
pub fn parse_args<T: clap::Parser>() -> Result<T, std::process::ExitCode> {
    parse_args_and_matches().map(|(args, _)| args)
}

/// [`parse_args`], also returning clap's matches, which tell the flags given from their
/// defaults ([`given`]).
pub fn parse_args_and_matches<T: clap::Parser>() -> Result<(T, clap::ArgMatches), std::process::ExitCode> {
    let report = |e: clap::Error| {
        if e.use_stderr() {
            eprintln!("{}", one_line(&e));
            std::process::ExitCode::from(2)
        } else {
            out!("{e}");
            std::process::ExitCode::SUCCESS
        }
    };
    let matches = T::command().try_get_matches().map_err(report)?;
    let args = T::from_arg_matches(&matches).map_err(report)?;
    Ok((args, matches))
}

/// Whether the flag with clap id `id` (the field's name) was given on the command line.
pub fn given(matches: &clap::ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
}

/// The thread count `--threads` asks for, checked: more than the machine's cores is slower,
/// not faster (a warning on stderr); more than [`MAX_THREADS_PER_CORE`] per core is refused,
/// before any thread is made.
pub fn check_threads(threads: Option<u32>) -> Result<Option<usize>, BoxError> {
    let Some(threads) = threads.map(|t| t as usize) else {
        return Ok(None);
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = MAX_THREADS_PER_CORE * cores;
    if threads > most {
        return Err(format!(
            "--threads {threads} is more than {most} ({MAX_THREADS_PER_CORE} per core, and this machine has {cores}): \
             the engine is compute-bound, and threads beyond the cores only share them, each step slower; \
             use --threads {cores}"
        )
        .into());
    }
    if threads > cores {
        eprintln!(
            "warning: --threads {threads} is more than the {cores} cores of this machine: \
             the extra threads share cores and make each step slower, not faster"
        );
    }
    Ok(Some(threads))
}

/// The most threads per core `--threads` may ask for.
pub const MAX_THREADS_PER_CORE: usize = 8;

/// `--max-load-gb`: the bound on what loading the data may allocate, in bytes.
pub fn max_load_bytes(gb: f64) -> Result<u64, BoxError> {
    if !(gb.is_finite() && gb > 0.0) {
        return Err(format!("--max-load-gb {gb}: must be a positive number of gigabytes").into());
    }
    Ok((gb * 1e9).min(u64::MAX as f64) as u64)
}

/// A command-line parse error as one line: clap's message without its usage and help
/// hints, e.g. `error: the following required arguments were not provided: <MODEL>`.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    text.lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--cost`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CostArg {
    Quadratic,
    CrossEntropy,
    LogLikelihood,
}

impl From<CostArg> for Cost {
    fn from(c: CostArg) -> Cost {
        match c {
            CostArg::Quadratic => Cost::Quadratic,
            CostArg::CrossEntropy => Cost::CrossEntropy,
            CostArg::LogLikelihood => Cost::LogLikelihood,
        }
    }
}

/// `--activation`: the hidden layers' activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActivationArg {
    Sigmoid,
    Tanh,
    Relu,
    /// Leaky ReLU, with `--leaky-slope`
    LeakyRelu,
}

impl ActivationArg {
    /// The library's activation (`slope` is a leaky ReLU's).
    pub fn activation<F: Float>(self, slope: f64) -> Activation<F> {
        match self {
            ActivationArg::Sigmoid => Activation::Sigmoid,
            ActivationArg::Tanh => Activation::Tanh,
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::LeakyRelu => Activation::LeakyRelu(F::from_f64(slope)),
        }
    }
}

/// `--output-activation`: the output layer's activation, for files that do not say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    Sigmoid,
    Softmax,
    Identity,
    Tanh,
    Relu,
}

impl<F: Float> From<OutputArg> for Activation<F> {
    fn from(o: OutputArg) -> Activation<F> {
        match o {
            OutputArg::Sigmoid => Activation::Sigmoid,
            OutputArg::Softmax => Activation::Softmax,
            OutputArg::Identity => Activation::Identity,
            OutputArg::Tanh => Activation::Tanh,
            OutputArg::Relu => Activation::Relu,
        }
    }
}

/// What a network file from elsewhere (a PyTorch `state_dict` saved as safetensors, NumPy
/// arrays) may not say, given on the command line; ignored where the file says.
#[derive(clap::Args, Clone, Debug)]
pub struct AssumeFlags {
    /// For a file without batchprop's metadata: the hidden layers' activation
    #[arg(long, value_enum)]
    pub activation: Option<ActivationArg>,
    /// The slope of --activation leaky-relu for z < 0
    #[arg(long, value_name = "A", default_value_t = batchprop::DEFAULT_LEAKY_SLOPE)]
    pub leaky_slope: f64,
    /// For a file without batchprop's metadata: the output layer's activation
    #[arg(long, value_enum)]
    pub output_activation: Option<OutputArg>,
    /// For a file without batchprop's metadata: the cost [default: the one that pairs with
    /// the output]
    #[arg(long, value_enum)]
    pub cost: Option<CostArg>,
    /// The layers' tensor names in order, for a safetensors file whose names do not end in
    /// the layer's index (e.g. fc1,fc2,out for fc1.weight, …)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub layers: Option<Vec<String>>,
}

impl AssumeFlags {
    /// The library's [`Assumed`].
    pub fn assumed<F: Float>(&self) -> Assumed<F> {
        Assumed {
            hidden: self.activation.map(|a| a.activation(self.leaky_slope)),
            output: self.output_activation.map(Activation::from),
            cost: self.cost.map(Cost::from),
            layers: self.layers.clone(),
        }
    }
}

/// The network in `path`, in any format batchprop reads, saying on stderr what was converted
/// or assumed.
pub fn open_network<F: Float>(path: &Path, assumed: &Assumed<F>) -> Result<Network<F>, BoxError> {
    let opened = Network::<F>::open::<serde::de::IgnoredAny>(path, assumed)?;
    for note in &opened.notes {
        eprintln!("{}: {note}", path.display());
    }
    Ok(opened.network)
}

/// `--init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    /// N(0, 1): network.py's
    Standard,
    /// N(0, 1/n_in): network2.py's default_weight_initializer
    Scaled,
    /// He: N(0, gain²/n_in), PyTorch's kaiming_normal_ (gain √2 for ReLU)
    #[value(alias = "kaiming-normal")]
    He,
    /// Glorot: uniform in ±√(6/(n_in + n_out)), PyTorch's xavier_uniform_
    #[value(alias = "xavier-uniform")]
    Xavier,
}

impl From<InitArg> for Init {
    fn from(i: InitArg) -> Init {
        match i {
            InitArg::Standard => Init::Standard,
            InitArg::Scaled => Init::Scaled,
            InitArg::He => Init::KaimingNormal,
            InitArg::Xavier => Init::XavierUniform,
        }
    }
}

/// `--optimizer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// Stochastic gradient descent; with `--momentum μ`, momentum SGD (`--nesterov`: Nesterov's)
    Sgd,
    /// Adam (PyTorch's torch.optim.Adam; --beta1, --beta2, --epsilon)
    Adam,
    /// AdamW: Adam with decoupled weight decay (--lambda)
    Adamw,
}

/// The update rule the flags ask for: `--optimizer`, `--momentum μ`, `--nesterov`,
/// `--beta1`, `--beta2`, `--epsilon` (Adam's betas and epsilon only with Adam/AdamW).
pub fn update_rule(
    optimizer: OptimizerArg,
    momentum: Option<f64>,
    nesterov: bool,
    (beta1, beta2, epsilon): (f64, f64, f64),
) -> Result<Rule, BoxError> {
    match (optimizer, momentum) {
        (OptimizerArg::Sgd, None) if nesterov => Err("--nesterov needs --momentum MU".into()),
        (OptimizerArg::Sgd, None) => Ok(Rule::Sgd),
        (OptimizerArg::Sgd, Some(mu)) if nesterov => Ok(Rule::Nesterov { mu }),
        (OptimizerArg::Sgd, Some(mu)) => Ok(Rule::Momentum { mu }),
        (_, Some(_)) => Err("--momentum is for --optimizer sgd (Adam has its own --beta1)".into()),
        (OptimizerArg::Adam, None) => Ok(Rule::Adam { beta1, beta2, epsilon }),
        (OptimizerArg::Adamw, None) => Ok(Rule::AdamW { beta1, beta2, epsilon }),
    }
}

/// The update rule's own flags, shared by the tools (`--optimizer` stays each tool's, with
/// its own default).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct RuleFlags {
    /// Momentum μ for --optimizer sgd (0 is plain SGD)
    #[arg(long, value_name = "MU")]
    pub momentum: Option<f64>,
    /// Nesterov momentum (with --momentum)
    #[arg(long)]
    pub nesterov: bool,
    /// Adam's β₁
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f64,
    /// Adam's β₂
    #[arg(long, default_value_t = 0.999)]
    pub beta2: f64,
    /// Adam's ε
    #[arg(long, default_value_t = 1e-8)]
    pub epsilon: f64,
}

impl RuleFlags {
    /// The flags' clap ids: the settings a resumed run keeps ([`refuse_when_resuming`]).
    pub const IDS: [&'static str; 5] = ["momentum", "nesterov", "beta1", "beta2", "epsilon"];

    /// The rule these flags and `optimizer` ask for ([`update_rule`]).
    pub fn rule(&self, optimizer: OptimizerArg) -> Result<Rule, BoxError> {
        update_rule(
            optimizer,
            self.momentum,
            self.nesterov,
            (self.beta1, self.beta2, self.epsilon),
        )
    }
}

/// `--dtype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Dtype {
    F32,
    F64,
}

/// A network to draw: the sizes and the book's choices of activation, cost and init.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    /// `[n_0, …, n_L]`.
    pub sizes: Vec<usize>,
    pub hidden: ActivationArg,
    /// The hidden layers' slope, if they are leaky ReLUs.
    pub leaky_slope: f64,
    pub cost: Cost,
    pub init: Init,
}

impl Architecture {
    /// The book's first network: `[784, 30, 10]`, sigmoid neurons, quadratic cost, N(0, 1).
    pub fn book() -> Self {
        Architecture {
            sizes: vec![784, 30, 10],
            hidden: ActivationArg::Sigmoid,
            leaky_slope: batchprop::DEFAULT_LEAKY_SLOPE,
            cost: Cost::Quadratic,
            init: Init::Standard,
        }
    }

    /// The output activation that goes with the cost: softmax for the log-likelihood,
    /// sigmoid otherwise (the book's pairings).
    pub fn output<F: Float>(&self) -> Activation<F> {
        match self.cost {
            Cost::LogLikelihood => Activation::Softmax,
            _ => Activation::Sigmoid,
        }
    }

    /// Draws the network from `rng`.
    pub fn build<F: Float>(&self, rng: &mut impl rand::Rng) -> batchprop::Result<Network<F>> {
        Network::builder(&self.sizes)
            .hidden(self.hidden.activation(self.leaky_slope))
            .output(self.output())
            .cost(self.cost)
            .init(self.init)
            .build(rng)
    }
}

/// MNIST (or any labelled image set) as the trainer's input: the images' transposed view,
/// no copy.
pub fn examples<F: Float + batchprop_data::Float>(data: &Dataset<F>) -> Result<Examples<'_, F>, Error> {
    Examples::classes(data.x(), data.labels(), data.classes())
}

/// Counts the test images classified correctly after each epoch (network.py's per-epoch
/// `test_data` line), outside the training loop.
pub struct TestAccuracy<'a, F> {
    pub test: &'a Dataset<F>,
    /// `[epoch] = correct`, for the epochs of this run.
    pub correct: Vec<usize>,
}

impl<'a, F> TestAccuracy<'a, F> {
    pub fn new(test: &'a Dataset<F>) -> Self {
        TestAccuracy {
            test,
            correct: Vec::new(),
        }
    }
}

impl<F: Float + batchprop_data::Float> Observer<F> for TestAccuracy<'_, F> {
    fn epoch_end(&mut self, end: &EpochEnd<'_, F>) -> batchprop_train::Result<Control> {
        self.correct
            .push(end.network.accuracy(self.test.x(), self.test.labels())?);
        Ok(Control::Continue)
    }
}

/// Whether `dir` holds all four MNIST files (gzipped or not).
pub fn has_mnist(dir: &Path) -> bool {
    MNIST_FILES.iter().all(|name| mnist_file(dir, name).is_some())
}

/// The first of `dirs` that holds the four MNIST files, or an error that lists the files,
/// the places searched and where to get them.
pub fn find_mnist(dirs: &[PathBuf]) -> Result<PathBuf, BoxError> {
    if let Some(dir) = dirs.iter().find(|d| has_mnist(d)) {
        return Ok(dir.clone());
    }
    let searched: Vec<String> = dirs.iter().map(|d| format!("  {}", d.display())).collect();
    Err(format!(
        "MNIST not found. It needs these four files (gzipped or not) in one directory:\n  {}\n\
         searched:\n{}\n\
         They ship with this repository in data/mnist; elsewhere they are in Yann LeCun's MNIST \
         distribution (mirrored by e.g. the PyTorch and TensorFlow dataset downloaders). Pass the \
         directory with --data DIR or the MNIST_DIR environment variable.",
        MNIST_FILES.join(".gz\n  ") + ".gz",
        searched.join("\n")
    )
    .into())
}

/// The MNIST directory: the one the user names, `flag` (`--data DIR`) or else `$MNIST_DIR`,
/// which must hold the `files` (an error says which are missing, never a silent fallback);
/// else the first of `./data/mnist` and this repository's `data/mnist` that holds them.
pub fn mnist_dir(flag: Option<&Path>, files: &[&str]) -> Result<PathBuf, BoxError> {
    let named = match flag {
        Some(dir) => Some((dir.to_path_buf(), "--data")),
        None => std::env::var_os("MNIST_DIR").map(|d| (PathBuf::from(d), "MNIST_DIR")),
    };
    if let Some((dir, how)) = named {
        let missing: Vec<&str> = files
            .iter()
            .filter(|name| mnist_file(&dir, name).is_none())
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(dir);
        }
        let problem = if !dir.is_dir() {
            "is not a directory".to_string()
        } else {
            format!(
                "lacks {} of the MNIST files (gzipped or not): {}",
                missing.len(),
                missing.join(", ")
            )
        };
        return Err(format!(
            "{how} names {}, which {problem} (they ship with this repository in data/mnist, and in Yann \
             LeCun's MNIST distribution)",
            dir.display()
        )
        .into());
    }
    let candidates = [
        PathBuf::from("data/mnist"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist"),
    ];
    find_mnist(&candidates)
}

/// This process's place in an MPI job (`mpirun -np P …`, feature `mpi`): rank 0 prints,
/// saves and checkpoints; the others train in step with it, silent.
#[cfg(feature = "mpi")]
pub struct Job {
    /// The collective the trainer sums through.
    pub mpi: batchprop_train::Mpi,
    stderr: Option<std::fs::File>, // rank > 0: the real stderr, kept for the error line
}

#[cfg(feature = "mpi")]
impl Job {
    /// Starts MPI. On ranks other than 0, stdout and stderr go to /dev/null (the job prints
    /// once), a copy of stderr kept for [`Job::fail`].
    pub fn start() -> Result<Job, BoxError> {
        use std::os::fd::{AsRawFd, FromRawFd};

        use batchprop_train::Collective;
        let mpi = batchprop_train::Mpi::init().ok_or("MPI was already started in this process")?;
        let mut stderr = None;
        if mpi.rank() > 0 {
            let devnull = std::fs::File::options().write(true).open("/dev/null")?;
            // SAFETY: dup and dup2 on this process's own descriptors 1 and 2; the copy of 2 is
            // owned by the File made from it and nothing else.
            unsafe {
                let copy = libc::dup(2);
                if copy < 0 || libc::dup2(devnull.as_raw_fd(), 1) < 0 || libc::dup2(devnull.as_raw_fd(), 2) < 0 {
                    return Err(format!(
                        "cannot silence rank {}: {}",
                        mpi.rank(),
                        std::io::Error::last_os_error()
                    )
                    .into());
                }
                stderr = Some(std::fs::File::from_raw_fd(copy));
            }
        }
        Ok(Job { mpi, stderr })
    }

    /// The collective to train through, if the job has more than one process.
    pub fn collective(&self) -> Option<&dyn batchprop_train::Collective> {
        use batchprop_train::Collective;
        (self.mpi.size() > 1).then_some(&self.mpi as &dyn Collective)
    }

    /// An error: in a job of several processes, one line on this process's stderr naming
    /// its rank, then the whole job ends (`MPI_Abort`), so that no process waits for this
    /// one; alone, the line as the tools print it.
    pub fn fail(&self, e: &dyn std::fmt::Display) -> std::process::ExitCode {
        use std::io::Write;

        use batchprop_train::Collective;
        let (rank, size) = (self.mpi.rank(), self.mpi.size());
        if size == 1 {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
        let line = format!("error (rank {rank} of {size}): {e}\n");
        match &self.stderr {
            Some(f) => drop((&mut &*f).write_all(line.as_bytes())),
            None => drop(std::io::stderr().write_all(line.as_bytes())),
        }
        self.mpi.abort(1)
    }
}

/// Runs `train` once: with MPI (feature `mpi`) as this process's part of the job, given the
/// collective when the job has more than one process, a failure ending the whole job
/// ([`Job::fail`]); without, alone. MPI is started, used and ended on the calling thread.
pub fn in_job(
    train: impl FnOnce(Option<&dyn batchprop_train::Collective>) -> Result<std::process::ExitCode, BoxError>,
) -> Result<std::process::ExitCode, BoxError> {
    #[cfg(feature = "mpi")]
    {
        let job = Job::start()?;
        Ok(train(job.collective()).unwrap_or_else(|e| job.fail(&e)))
    }
    #[cfg(not(feature = "mpi"))]
    train(None)
}
