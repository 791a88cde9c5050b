//! Feedback on long work (pages fetched, landings judged, tickets
//! inspected) for a person watching a terminal.
//!
//! A [`Progress`] is passed down to the work that reports, never a global:
//! the command line makes one on stderr when stderr is a terminal and a
//! quiet one otherwise, so CI logs and piped output stay as they were; the
//! bot and the tests pass a quiet one, or one on a writer they read back.
//! Reporting never fails the work: a line that cannot be written is dropped.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

/// Where progress lines go, if anywhere.
pub struct Progress {
    sink: Option<Mutex<Box<dyn Write + Send>>>,
}

impl Progress {
    /// Reports nothing.
    pub fn quiet() -> Self {
        Progress { sink: None }
    }

    /// Reports to `writer`, a line at a time.
    pub fn to(writer: impl Write + Send + 'static) -> Self {
        Progress { sink: Some(Mutex::new(Box::new(writer))) }
    }

    /// Reports on stderr when it is a terminal; quiet otherwise (a CI log,
    /// a file, a pipe).
    pub fn on_stderr() -> Self {
        Self::on(io::stderr().is_terminal(), io::stderr())
    }

    /// Reports to `writer` when `terminal`; quiet otherwise.
    pub fn on(terminal: bool, writer: impl Write + Send + 'static) -> Self {
        if terminal { Self::to(writer) } else { Self::quiet() }
    }

    /// Whether anything is reported (to skip work done only to report).
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Reports one line.
    pub fn say(&self, line: impl fmt::Display) {
        if let Some(sink) = &self.sink {
            let mut w = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = writeln!(w, "changegate: {line}");
            let _ = w.flush();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::quiet()
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_on() { "Progress(on)" } else { "Progress(quiet)" })
    }
}

/// A writer whose bytes can be read back: what tests hand a [`Progress`].
#[derive(Debug, Clone, Default)]
pub struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_the_writer_only_on_a_terminal() {
        let seen = Captured::default();
        let p = Progress::on(true, seen.clone());
        assert!(p.is_on());
        p.say("pull requests 25/120");
        p.say(format_args!("{} landing(s) judged", 3));
        assert_eq!(seen.text(), "changegate: pull requests 25/120\nchangegate: 3 landing(s) judged\n");

        let unseen = Captured::default();
        let q = Progress::on(false, unseen.clone());
        assert!(!q.is_on());
        q.say("not shown");
        assert_eq!(unseen.text(), "");
        Progress::quiet().say("nowhere");
    }

    #[test]
    fn a_writer_that_fails_does_not_fail_the_work() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::other("closed"))
            }
        }
        Progress::to(Broken).say("dropped");
    }
}
