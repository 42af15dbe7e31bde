//! The library's face to the browser (wasm32 only): [`WebLab`], driven by the page's web worker
//! (`www/worker.js`). Values cross the boundary typed: `#[derive(Serialize, Deserialize)]`
//! structs through serde-wasm-bindgen, bulk pixels and floats as `Uint8Array`/`Float32Array`,
//! files as their bytes or text. What only goes back and forth stays on this side: the models'
//! answers to the human stimuli, the run's timing, the kept models.
//!
//! Nothing here may panic on user input: a panic in wasm kills the whole module. Every method
//! returns a `Result` (a thrown JS `Error` or a rejected promise). If a panic happens anyway,
//! the hook set in [`WebLab::new`] reports it to the worker, which restarts the module.
//!
//! State lives in `Rc<RefCell<..>>`; an async method marks the state busy ([`state::BusyGuard`]),
//! takes what it needs out of the cell, awaits, and puts it back, so no borrow is held across an
//! await and an overlapping call gets a "busy" error instead of a wedged lab. The worker also
//! queues its calls, so overlaps do not happen in practice.
//!
//! Files, one concern each: `lab.rs` (the session object, its status, menus, panic hook),
//! `state.rs` (what a session holds, the busy guard), `convert.rs` (values across the boundary),
//! `backend.rs` (CPU or WebGPU, moving models between them), `training.rs` (a run, batch by
//! batch), `files.rs` (data, weights and results files), `predict.rs` (the drawing pad's
//! guesses), `inspect.rs` (filters, response maps, robustness), `compare.rs` (representation
//! comparison of the kept models), `human.rs` (the human experiment's stimuli and comparison).

mod backend;
mod compare;
mod convert;
mod files;
mod human;
mod inspect;
mod lab;
mod predict;
mod state;
mod training;

pub use lab::WebLab;
