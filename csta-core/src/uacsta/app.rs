//! The application side of a uaCSTA session.
