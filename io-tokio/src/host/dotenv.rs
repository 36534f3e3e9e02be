//! The `.env` file in the working directory: read before the configuration,
//! its variables added to the environment (a variable already set wins). A
//! file that cannot be read or parsed stops the start (exit 2) with the
//! line's number and variable name; never its value, which may be a
//! password.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The file's name, looked for in the working directory only.
pub const DOTENV_FILE: &str = ".env";

/// Why the `.env` file was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DotenvError {
    #[error("{path}: line {line} ({name}) is malformed (expected NAME=value)")]
    Malformed {
        path: PathBuf,
        line: usize,
        /// The variable the line sets, or a note that it names none.
        name: String,
    },
    #[error("{path}: cannot read it: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

/// Loads `path` into the process environment; `Ok(false)` when there is
/// no such file.
pub fn load(path: &Path) -> Result<bool, DotenvError> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(true),
        Err(err) if err.not_found() => Ok(false),
        Err(dotenvy::Error::LineParse(text, _)) => {
            let content = std::fs::read_to_string(path).unwrap_or_default();
            Err(malformed(path, &content, &text))
        }
        Err(err) => Err(DotenvError::Unreadable {
            path: path.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// Names the line `text` (as the parser quotes it) of `content`: its
/// number and the variable it sets, no value.
fn malformed(path: &Path, content: &str, text: &str) -> DotenvError {
    let line = content
        .find(text.trim_end_matches(['\r', '\n']))
        .map_or(0, |at| content[..at].matches('\n').count() + 1);
    let head = text.trim_start();
    let head = head.strip_prefix("export ").unwrap_or(head);
    let name = head
        .split_once('=')
        .map(|(name, _)| name.trim())
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
        .map_or_else(|| "no variable name".to_owned(), str::to_owned);
    DotenvError::Malformed {
        path: path.to_owned(),
        line,
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_line_is_named_by_number_and_variable_without_its_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# comment\nDATABASE_URL=\"postgres://u:hunter2@h/db\nX=2\n",
        )
        .expect("write");
        let err = load(&path).expect_err("unterminated quote");
        let DotenvError::Malformed { line, name, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!((*line, name.as_str()), (2, "DATABASE_URL"));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_line_without_a_name_says_so() {
        let err = malformed(Path::new(".env"), "A=1\n=oops'\n", "=oops'\n");
        assert_eq!(
            err,
            DotenvError::Malformed {
                path: PathBuf::from(".env"),
                line: 2,
                name: "no variable name".into()
            }
        );
    }

    #[test]
    fn a_missing_file_is_fine() {
        // (A good file loading is the binary's test: it changes the
        // process environment, which other unit tests share.)
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(load(&dir.path().join(".env")), Ok(false));
    }
}
