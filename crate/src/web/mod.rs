//! The library's face to the browser (wasm32 only): [`WebLab`], driven by the page's web worker
//! (`www/worker.js`). Data crosses the boundary as JSON text or byte arrays, so the worker's
//! message protocol (`www/protocol.js`) is the one typed shape the page sees.
//!
//! Nothing here may panic on user input: a panic in wasm kills the whole module. Every method
//! returns a `Result` (a thrown JS `Error` or a rejected promise). State lives in
//! `Rc<RefCell<..>>`; an async method takes what it needs out of the cell, awaits, and puts it
//! back, so no borrow is ever held across an await and an overlapping call gets a "busy" error.

//! Files: `session.rs` (data, device, training run, files), `compare.rs` (representation
//! comparison of the models kept in the session), `inspect.rs` (front-end responses,
//! robustness), `human.rs` (the human experiment's stimuli and comparison), `backend.rs` (CPU or WebGPU).

mod backend;
mod compare;
mod human;
mod inspect;
mod session;

pub use session::WebLab;
