//! IAM-style policy documents and their evaluation (key policies, identity
//! policies, grants). Pure: no I/O, no token access.
