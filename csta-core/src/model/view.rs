//! The computing function's view of one monitored device.
