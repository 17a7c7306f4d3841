//! The crate-wide error type. Each module has its own error enum; this one wraps them so the
//! CLI can map every failure to an exit code (2 for bad input or usage, 1 otherwise).

use std::path::PathBuf;

/// Crate result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way custseg can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input data that cannot be used (file, row and column are in the message).
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Feature computation or specification problems.
    #[error(transparent)]
    Feature(#[from] crate::features::FeatureError),
    /// Invalid training parameters or a fit that cannot proceed.
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    /// Model files that cannot be read, written or understood.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Operating-system I/O on a named path. The I/O error is part of the message and not
    /// also a `source()`, so a printed chain names it once.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    /// The input-data error inside, whether it came from reading or from training.
    pub fn data_error(&self) -> Option<&crate::data::DataError> {
        match self {
            Error::Data(e) => Some(e),
            Error::Train(e) => e.data_error(),
            _ => None,
        }
    }

    /// True when the failure is the user's input or usage (exit code 2), false for
    /// environment failures such as a full disk (exit code 1).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Data(e) => e.is_user_error(),
            Error::Feature(_) => true,
            Error::Train(e) => e.is_user_error(),
            Error::Model(e) => e.is_user_error(),
            Error::Io { cause, .. } => matches!(
                cause.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataError;
    use crate::train::TrainError;

    #[test]
    fn a_data_error_is_found_whether_reading_or_training_raised_it() {
        let data = || DataError::Empty {
            path: "t.csv".into(),
        };
        let read = Error::from(data());
        let trained = Error::from(TrainError::from(data()));
        for e in [&read, &trained] {
            assert!(
                matches!(e.data_error(), Some(DataError::Empty { .. })),
                "{e}"
            );
            assert!(e.is_user_error());
            assert_eq!(
                e.to_string(),
                "t.csv: file is empty",
                "the message is the data's"
            );
        }
        let fit = Error::from(TrainError::NoInputs);
        assert!(fit.data_error().is_none());
        assert!(fit.is_user_error());
    }
}
