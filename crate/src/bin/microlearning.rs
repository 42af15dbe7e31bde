//! `microlearning`: the lab's experiments from the command line.

use clap::{Parser, Subcommand};

// A training step frees and re-allocates the same large buffers; glibc's malloc gives them back
// to the kernel and faults them in again (with a TLB shootdown per page on 2 threads). mimalloc
// keeps them for reuse.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use microlearning::cli::{
    CompareArgs, DeviceChoice, GridArgs, HumanCompareArgs, RobustnessArgs, ServeArgs, StudyArgs,
    TrainArgs, run_compare, run_grid, run_human_compare, run_robustness, run_serve, run_study,
    run_train,
};

#[derive(Parser)]
#[command(
    version,
    about = "Microlearning Lab: learning rules, front ends and human comparison"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where to compute: cpu (burn flex; the same seed gives the same numbers), gpu (burn's
    /// wgpu backend; needs the `gpu` cargo feature) or auto (a hardware GPU if there is one).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "cpu",
        env = "MICROLEARNING_DEVICE"
    )]
    device: DeviceChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Train the seed network and write a results JSON (and optionally the weights).
    Train(TrainArgs),
    /// Train every rule × task for several seeds; writes each run and a mean ± sd summary.
    Grid(GridArgs),
    /// Compare trained models' representations: CKA, RDMs/RSA and PCA, layer by layer.
    Compare(CompareArgs),
    /// Test accuracy of trained models under pixel noise and contrast reduction.
    Robustness(RobustnessArgs),
    /// People and models on the same stimuli: accuracy per condition, error consistency (κ),
    /// models ranked by human-likeness.
    HumanCompare(HumanCompareArgs),
    /// Serve the lab and the collection server (participants' trials into SQLite or PostgreSQL).
    Serve(ServeArgs),
    /// Create, list, close and export the collection server's studies.
    Study(StudyArgs),
}

fn main() {
    let cli = Cli::parse();
    if cli.device != DeviceChoice::Cpu {
        match microlearning::cli::device::choose(cli.device) {
            Ok(compute) => eprintln!("computing on {}", compute.description),
            Err(e) => {
                eprintln!(
                    "error: --device {}: {e}",
                    format!("{:?}", cli.device).to_lowercase()
                );
                std::process::exit(1);
            }
        }
    }
    let outcome = match &cli.command {
        Command::Train(args) => run_train(args).map(|_| ()),
        Command::Grid(args) => run_grid(args).map(|_| ()),
        Command::Compare(args) => run_compare(args),
        Command::Robustness(args) => run_robustness(args),
        Command::HumanCompare(args) => run_human_compare(args),
        Command::Serve(args) => run_serve(args),
        Command::Study(args) => run_study(args),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
