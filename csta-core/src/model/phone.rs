//! The switching function: a device's calls as the phone keeps them.
