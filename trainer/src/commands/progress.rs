//! The progress bar every long command shows (lists scored, users prepared, epochs fitted).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps labelled `what`, on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}
