//! Text for transport events and reports.
