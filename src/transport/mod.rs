//! Transport-layer lessons (OSI 4): TCP echo, the lossy UDP link, reliable UDP, compare.
