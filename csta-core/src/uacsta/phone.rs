//! The phone side of a uaCSTA session.
